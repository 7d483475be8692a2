package fleet

import (
	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/power"
)

// PowerRecord is Result.Data of power status, with the keys and types of
// `amtctl power status --output json`. OSPowerSaving is null in a fleet
// read: reading it costs a second request per machine.
type PowerRecord struct {
	PowerState       int      `json:"power_state"`
	PowerStateName   string   `json:"power_state_name"`
	OSPowerSaving    *string  `json:"os_power_saving"`
	Transitioning    bool     `json:"transitioning"`
	TransitioningTo  *string  `json:"transitioning_to"`
	AvailableActions []string `json:"available_actions"`
}

func newPowerRecord(st *power.Status, withOS bool) PowerRecord {
	r := PowerRecord{PowerState: int(st.State), PowerStateName: st.State.String(), Transitioning: st.Transitioning, AvailableActions: []string{}}
	if withOS && st.State == power.StateOn {
		s := st.OSPowerSaving.String()
		r.OSPowerSaving = &s
	}
	if st.Transitioning {
		s := st.TransitioningTo.String()
		for _, a := range power.Actions() {
			if int(a) == int(st.TransitioningTo) {
				s = a.String()
			}
		}
		r.TransitioningTo = &s
	}
	for _, a := range st.Available {
		r.AvailableActions = append(r.AvailableActions, a.String())
	}
	return r
}

func recordOf(st *power.Status) *PowerRecord {
	if st == nil {
		return nil
	}
	r := newPowerRecord(st, true)
	return &r
}

// changeRecord is Result.Data of a power change or boot: whether a
// request was sent, which power action (null when nothing was sent), and
// the status read before.
type changeRecord struct {
	Sent        bool         `json:"sent"`
	PowerAction *string      `json:"power_action"`
	BootTarget  *string      `json:"boot_target,omitempty"`
	Before      *PowerRecord `json:"before"`
}

type clockRecord struct {
	DeviceTime    string  `json:"device_time"`
	ConsoleTime   string  `json:"console_time"`
	OffsetSeconds float64 `json:"offset_seconds"`
}

type defenseRecord struct {
	Policy     string `json:"policy"`
	PolicyID   string `json:"policy_id"`
	Filters    int    `json:"filters"`
	Writes     int    `json:"writes"`
	RoundTrips int    `json:"round_trips"`
}

type removeRecord struct {
	Policies   int `json:"policies"`
	Filters    int `json:"filters"`
	Bindings   int `json:"bindings"`
	RoundTrips int `json:"round_trips"`
}

// inventoryRecord has the keys of `amtctl info --output json`.
type inventoryRecord struct {
	AMTVersion        *string      `json:"amt_version"`
	Build             *string      `json:"build"`
	SKU               *string      `json:"sku"`
	SKUValue          *uint32      `json:"sku_value"`
	ProvisioningState *string      `json:"provisioning_state"`
	ProvisioningMode  *string      `json:"provisioning_mode"`
	DigestRealm       *string      `json:"digest_realm"`
	Hostname          *string      `json:"hostname"`
	DomainName        *string      `json:"domain_name"`
	UUID              *string      `json:"uuid"`
	PlatformGUID      *string      `json:"platform_guid"`
	Ports             []portRecord `json:"ports"`
}

type portRecord struct {
	InstanceID string  `json:"instance_id"`
	Wireless   bool    `json:"wireless"`
	MAC        string  `json:"mac"`
	IPAddress  *string `json:"ip_address"`
	DHCP       bool    `json:"dhcp"`
	LinkUp     bool    `json:"link_up"`
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func newInventoryRecord(inv *amt.Inventory) inventoryRecord {
	sku := uint32(inv.SKU)
	r := inventoryRecord{
		AMTVersion: str(inv.AMTVersion), Build: str(inv.Build), SKU: str(inv.SKU.String()), SKUValue: &sku,
		ProvisioningState: str(inv.ProvisioningState.String()), ProvisioningMode: str(inv.ProvisioningMode.String()),
		DigestRealm: str(inv.DigestRealm), Hostname: str(inv.Hostname), DomainName: str(inv.DomainName),
		UUID: str(inv.UUID), PlatformGUID: str(inv.PlatformGUID), Ports: []portRecord{},
	}
	for _, p := range inv.Ports {
		r.Ports = append(r.Ports, portRecord{InstanceID: p.InstanceID, Wireless: p.Wireless, MAC: p.MAC, IPAddress: str(p.IPAddress), DHCP: p.DHCP, LinkUp: p.LinkUp})
	}
	return r
}
