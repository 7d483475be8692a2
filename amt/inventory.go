package amt

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/amtkit/amtkit/wsman"
)

// Resource URIs of the classes Inventory reads.
var (
	uriGeneralSettings   = wsman.ResourceURI("AMT_GeneralSettings")
	uriSoftwareIdentity  = wsman.ResourceURI("CIM_SoftwareIdentity")
	uriSetupAndConfig    = wsman.ResourceURI("AMT_SetupAndConfigurationService")
	uriSystemPackage     = wsman.ResourceURI("CIM_ComputerSystemPackage")
	uriEthernetPortSetts = wsman.ResourceURI("AMT_EthernetPortSettings")
)

// ProvisioningState is AMT_SetupAndConfigurationService.ProvisioningState.
type ProvisioningState int

// Provisioning states (protocol.md §5.5).
const (
	PreProvisioning  ProvisioningState = 0 // not activated
	InProvisioning   ProvisioningState = 1
	PostProvisioning ProvisioningState = 2 // activated
)

func (s ProvisioningState) String() string {
	switch s {
	case PreProvisioning:
		return "pre-provisioning"
	case InProvisioning:
		return "in-provisioning"
	case PostProvisioning:
		return "post-provisioning"
	}
	return "state " + strconv.Itoa(int(s))
}

// ProvisioningMode is AMT_SetupAndConfigurationService.ProvisioningMode.
type ProvisioningMode int

// Provisioning modes (protocol.md §5.5).
const (
	ModeNone               ProvisioningMode = 0
	ModeACM                ProvisioningMode = 1 // Admin Control Mode (formerly Enterprise)
	ModeSmallBusiness      ProvisioningMode = 2 // legacy, before AMT 7
	ModeRemoteConnectivity ProvisioningMode = 3
	ModeCCM                ProvisioningMode = 4 // Client Control Mode
)

func (m ProvisioningMode) String() string {
	switch m {
	case ModeNone:
		return "none"
	case ModeACM:
		return "ACM"
	case ModeSmallBusiness:
		return "small business"
	case ModeRemoteConnectivity:
		return "remote connectivity"
	case ModeCCM:
		return "CCM"
	}
	return "mode " + strconv.Itoa(int(m))
}

// EthernetPort is one AMT network interface (AMT_EthernetPortSettings).
type EthernetPort struct {
	InstanceID string
	Wireless   bool
	MAC        string
	IPAddress  string
	DHCP       bool
	LinkUp     bool
}

// Inventory is what an authenticated console learns about a device.
type Inventory struct {
	Host              string
	AMTVersion        string // CIM_SoftwareIdentity "AMT", e.g. "12.0.67"
	Build             string // CIM_SoftwareIdentity "Build Number"
	FlashVersion      string
	SKU               SKU
	ProvisioningState ProvisioningState
	ProvisioningMode  ProvisioningMode
	DigestRealm       string
	Hostname          string
	DomainName        string
	// UUID is the platform UUID in the text form the BIOS and the operating
	// system show; PlatformGUID is the same 16 bytes as AMT reports them.
	UUID         string
	PlatformGUID string
	Ports        []EthernetPort
	// SoftwareIdentity holds every CIM_SoftwareIdentity entry by InstanceID.
	SoftwareIdentity map[string]string
}

// Inventory reads firmware version, build and SKU, provisioning state and
// mode, digest realm, names, platform UUID and network ports.
func (c *Client) Inventory(ctx context.Context) (_ *Inventory, err error) {
	ctx, done := c.wsmanTracker(ctx, "info", nil)
	defer func() { done(err) }()
	inv := &Inventory{Host: c.host, SoftwareIdentity: map[string]string{}}
	ws, err := c.conn(ctx)
	if err != nil {
		return nil, c.wrap("Inventory", err)
	}

	gs, err := ws.Get(ctx, uriGeneralSettings)
	if err != nil {
		return nil, c.wrap("Inventory", err)
	}
	inv.DigestRealm = gs.String("DigestRealm")
	inv.Hostname = gs.String("HostName")
	inv.DomainName = gs.String("DomainName")

	ids, err := ws.EnumerateAll(ctx, uriSoftwareIdentity)
	if err != nil {
		return nil, c.wrap("Inventory", err)
	}
	for _, in := range ids {
		inv.SoftwareIdentity[in.String("InstanceID")] = in.String("VersionString")
	}
	inv.AMTVersion = inv.SoftwareIdentity["AMT"]
	inv.Build = inv.SoftwareIdentity["Build Number"]
	inv.FlashVersion = inv.SoftwareIdentity["Flash"]
	if s, ok := inv.SoftwareIdentity["Sku"]; ok {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return nil, c.wrap("Inventory", fmt.Errorf("%w: SKU %q is not a number", wsman.ErrMalformedResponse, s))
		}
		inv.SKU = SKU(n)
	}

	sc, err := ws.Get(ctx, uriSetupAndConfig)
	if err != nil {
		return nil, c.wrap("Inventory", err)
	}
	state, err := sc.Uint("ProvisioningState")
	if err != nil {
		return nil, c.wrap("Inventory", err)
	}
	inv.ProvisioningState = ProvisioningState(state)
	if sc.Has("ProvisioningMode") {
		mode, err := sc.Uint("ProvisioningMode")
		if err != nil {
			return nil, c.wrap("Inventory", err)
		}
		inv.ProvisioningMode = ProvisioningMode(mode)
	}

	// Older firmware may lack the next two classes; the rest of the
	// inventory stands without them.
	pkg, err := ws.Get(ctx, uriSystemPackage)
	switch {
	case err == nil:
		inv.PlatformGUID = pkg.String("PlatformGUID")
		inv.UUID = GUIDToUUID(inv.PlatformGUID)
	case !optionalClassMissing(err):
		return nil, c.wrap("Inventory", err)
	}
	ports, err := ws.EnumerateAll(ctx, uriEthernetPortSetts)
	switch {
	case err == nil:
		for _, p := range ports {
			ep := EthernetPort{
				InstanceID: p.String("InstanceID"),
				MAC:        p.String("MACAddress"),
				IPAddress:  p.String("IPAddress"),
			}
			ep.DHCP, _ = p.Bool("DHCPEnabled")
			ep.LinkUp, _ = p.Bool("LinkIsUp")
			if t, err := p.Uint("PhysicalConnectionType"); err == nil {
				ep.Wireless = t == 3
			} else {
				ep.Wireless = strings.HasSuffix(ep.InstanceID, " 1")
			}
			inv.Ports = append(inv.Ports, ep)
		}
	case !optionalClassMissing(err):
		return nil, c.wrap("Inventory", err)
	}
	return inv, nil
}

func optionalClassMissing(err error) bool {
	return errors.Is(err, wsman.ErrDestinationUnreachable) || errors.Is(err, wsman.ErrActionNotSupported)
}

// GUIDToUUID formats AMT's 32-hex-digit PlatformGUID as a UUID string in
// the byte order SMBIOS and operating systems display: the first three
// fields are stored little-endian. It returns "" for malformed input.
func GUIDToUUID(g string) string {
	g = strings.ToLower(strings.TrimSpace(g))
	if len(g) != 32 {
		return ""
	}
	for _, r := range g {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return ""
		}
	}
	return g[6:8] + g[4:6] + g[2:4] + g[0:2] + "-" + g[10:12] + g[8:10] + "-" + g[14:16] + g[12:14] + "-" + g[16:20] + "-" + g[20:32]
}
