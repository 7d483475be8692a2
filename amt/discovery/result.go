package discovery

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/amtkit/amtkit/power"
)

// Classification sums up what a scan learned about one address.
type Classification int

// Classifications, from least to most informative.
const (
	// NoAMT: nothing that looks like Intel AMT answered. Addresses where
	// nothing answered at all are reported only with Options.ReportAll.
	NoAMT Classification = iota
	// NotProvisioned: AMT is present but not provisioned (activated), or
	// provisioning is in progress.
	NotProvisioned
	// Provisioned: AMT is provisioned; the mode (ACM or CCM) is known
	// only from an inventory.
	Provisioned
	// AuthFailed: AMT is provisioned, but the inventory's credentials
	// were rejected (or further attempts would risk the account lockout).
	AuthFailed
	// Error: the address could not be probed as far as it should have
	// been; Result.Err says why.
	Error
)

var classNames = [...]string{"no_amt", "not_provisioned", "provisioned", "auth_failed", "error"}

func (c Classification) String() string {
	if c >= 0 && int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("classification(%d)", int(c))
}

// MarshalText encodes c as its name, e.g. "not_provisioned".
func (c Classification) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText decodes a name written by MarshalText.
func (c *Classification) UnmarshalText(b []byte) error {
	for i, n := range classNames {
		if n == string(b) {
			*c = Classification(i)
			return nil
		}
	}
	return fmt.Errorf("discovery: unknown classification %q", b)
}

// Result is what a scan learned about one address. The JSON form is what
// amtctl discover prints, one object per line.
type Result struct {
	Address netip.Addr `json:"address"`
	// Host is the host name the address was resolved from, if any.
	Host string `json:"host,omitempty"`
	// AMT reports whether Intel AMT answered: an RMCP pong with Intel's
	// enterprise number, or an AMT Server header or Identify answer.
	AMT            bool           `json:"amt"`
	Classification Classification `json:"classification"`
	// Version is the most precise firmware version learned: the inventory's
	// (major.minor.hotfix.build), else the Server header's, else the
	// pong's or Identify's major.minor.
	Version string `json:"version,omitempty"`
	// ProvisioningState is "pre-provisioning", "in-provisioning" or
	// "post-provisioning" (amt.ProvisioningState names); empty when
	// unknown.
	ProvisioningState string `json:"provisioning_state,omitempty"`
	// ProvisioningMode is "ACM", "CCM" (amt.ProvisioningMode names), known
	// only from an inventory; empty otherwise.
	ProvisioningMode string `json:"provisioning_mode,omitempty"`
	// TLS reports whether the device offers WS-Management over TLS.
	TLS bool `json:"tls"`
	// Port is the WS-Management port that answered as AMT (the TLS port
	// when both did); 0 when none did.
	Port int `json:"port,omitempty"`
	// Realm is the HTTP digest realm, "Digest:" and 32 hexadecimal digits.
	Realm string `json:"realm,omitempty"`
	// SKU is "AMT" (full) or "ISM" (Standard Manageability), known only
	// from an inventory.
	SKU string `json:"sku,omitempty"`
	// RMCP reports whether the address answered the RMCP presence ping.
	RMCP bool `json:"rmcp"`
	// DASH reports DASH support (from the pong or from Identify).
	DASH bool `json:"dash"`
	// ProductVersion is WS-Man Identify's, e.g. "AMT 11.8".
	ProductVersion string `json:"product_version,omitempty"`
	// CertSHA256 is the SHA-256 fingerprint (lower-case hex) of the TLS
	// certificate the device presented. It was read without verification:
	// discovery is unauthenticated, so it says what answered, not that it
	// is genuine.
	CertSHA256 string `json:"cert_sha256,omitempty"`
	// Error is Err's text, for JSON.
	Error string `json:"error,omitempty"`
	// Inventory is the authenticated "OOB capability" record, with
	// Options.Inventory.
	Inventory *Capability `json:"inventory,omitempty"`

	// Err is why the classification is Error or AuthFailed, or a
	// diagnostic for another classification (a probe that failed where
	// the pong had already told enough).
	Err error `json:"-"`
	// Pong is the decoded RMCP presence pong, if one came.
	Pong *Pong `json:"-"`
	// Probes are the stage-2 probes of the WS-Management ports, in order.
	Probes []Probe `json:"-"`
}

// Probe is the unauthenticated probe of one WS-Management port.
type Probe struct {
	Port int
	TLS  bool
	// Open reports whether the TCP connection (and TLS handshake) succeeded.
	Open bool
	// Server is the HTTP Server header; AMT reports whether it names AMT.
	Server string
	AMT    bool
	// Firmware is the version the Server header names, e.g. "11.8.50.3425".
	Firmware string
	// Realm is the digest realm from WWW-Authenticate.
	Realm string
	// Status is the HTTP status of the unauthenticated request (401 from AMT).
	Status int
	// ProductVendor, ProductVersion and DASHVersion come from WS-Man
	// Identify, empty when it was not answered without credentials.
	ProductVendor, ProductVersion, DASHVersion string
	// CertSHA256 is the fingerprint of the TLS certificate, read without
	// verification; TLSVersion the protocol version negotiated;
	// LegacyTLS whether the handshake needed TLS below 1.2 or RSA key
	// exchange.
	CertSHA256 string
	TLSVersion string
	LegacyTLS  bool
	// Err is why the probe stopped short; nil when it completed.
	Err error
}

// Capability is the "OOB capability" record an authenticated inventory
// gives. A part the device does not serve (an older firmware's missing
// class, say) is left unknown (nil or empty) and named in Unavailable; it
// never fails the record.
type Capability struct {
	// Firmware is CIM_SoftwareIdentity "AMT" (major.minor.hotfix), Build
	// its "Build Number".
	Firmware string `json:"firmware"`
	Build    string `json:"build,omitempty"`
	// SKU is "AMT" or "ISM"; SKUValue the raw bitmask; SKUFeatures the
	// names of its bits.
	SKU         string   `json:"sku"`
	SKUValue    uint32   `json:"sku_value"`
	SKUFeatures []string `json:"sku_features,omitempty"`
	// ProvisioningState and ProvisioningMode are amt's names.
	ProvisioningState string `json:"provisioning_state"`
	ProvisioningMode  string `json:"provisioning_mode"`
	Hostname          string `json:"hostname,omitempty"`
	DomainName        string `json:"domain_name,omitempty"`
	UUID              string `json:"uuid,omitempty"`
	// Boot lists what the firmware can do at boot ("ider", "sol",
	// "bios_setup", ...); nil when unknown. BootCapabilities is the same,
	// decoded.
	Boot             []string                `json:"boot"`
	BootCapabilities *power.BootCapabilities `json:"-"`
	// Redirection is AMT_RedirectionService's state; nil when unknown.
	Redirection *Redirection `json:"redirection"`
	// UserConsent is IPS_OptInService.OptInRequired: "none", "kvm", "all"
	// or "" when unknown.
	UserConsent string `json:"user_consent,omitempty"`
	// SystemDefense is the System Defense limits; nil when unknown.
	SystemDefense *SystemDefenseLimits `json:"system_defense"`
	// PowerState is the host's power state ("on", "off", ...), "" when
	// unknown.
	PowerState string `json:"power_state,omitempty"`
	// CredentialOrigin and CredentialProfile say which credential worked
	// (never the credential itself).
	CredentialOrigin  string `json:"credential_origin,omitempty"`
	CredentialProfile string `json:"credential_profile,omitempty"`
	// Unavailable names the parts left unknown, with why.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// Redirection is the state of AMT_RedirectionService (protocol.md §3.4).
type Redirection struct {
	EnabledState int  `json:"enabled_state"`
	SOL          bool `json:"sol"`
	IDER         bool `json:"ider"`
	// Listener is ListenerEnabled: the TCP listener on 16994/16995 is open.
	Listener bool `json:"listener"`
}

// SystemDefenseLimits are AMT_GeneralSystemDefenseCapabilities' global
// limits (protocol.md §4.7).
type SystemDefenseLimits struct {
	MaxPolicies int `json:"max_policies"`
	MaxFilters  int `json:"max_filters"`
}

// bootFeatures names the boot capabilities set in b.
func bootFeatures(b *power.BootCapabilities) []string {
	out := []string{}
	add := func(ok bool, name string) {
		if ok {
			out = append(out, name)
		}
	}
	add(b.IDER, "ider")
	add(b.SOL, "sol")
	add(b.BIOSSetup, "bios_setup")
	add(b.BIOSPause, "bios_pause")
	add(b.BIOSReflash, "bios_reflash")
	add(b.ForcePXEBoot, "pxe")
	add(b.ForceHardDriveBoot, "hard_drive")
	add(b.ForceHardDriveSafeModeBoot, "safe_mode")
	add(b.ForceCDorDVDBoot, "cd_dvd")
	add(b.KeyboardLock, "keyboard_lock")
	add(b.PowerButtonLock, "power_button_lock")
	add(b.ResetButtonLock, "reset_button_lock")
	add(b.SleepButtonLock, "sleep_button_lock")
	add(b.UserPasswordBypass, "user_password_bypass")
	add(b.ForcedProgressEvents, "forced_progress_events")
	add(b.ConfigurationDataReset, "configuration_data_reset")
	return out
}

// mostlyZeroRealm reports whether a realm is the mostly-zero realm of an
// unprovisioned device ("Digest:A4070000000000000000000000000000").
func mostlyZeroRealm(realm string) bool {
	hex, ok := strings.CutPrefix(realm, "Digest:")
	if !ok || len(hex) != 32 {
		return false
	}
	return strings.Count(hex, "0") >= 24
}
