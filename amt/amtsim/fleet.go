package amtsim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"time"
)

// FleetSpec describes a mix of device kinds. Each device of the simulator
// belongs to one group; a group's settings override the Options for its
// devices. See the package documentation for the JSON format.
type FleetSpec struct {
	Groups []DeviceGroup `json:"groups"`
}

// DeviceGroup is one kind of device in a fleet. Zero-valued fields inherit
// the corresponding Options value.
type DeviceGroup struct {
	// Name identifies the group (Device.Group); required and unique.
	Name string `json:"name"`
	// Weight is the group's share of the fleet's devices, normalised over
	// the groups; it must be positive. Assignment is deterministic from
	// Options.Seed and the device addresses.
	Weight float64 `json:"weight"`
	// Version is the firmware version "maj.min.hotfix.build".
	Version string `json:"version,omitempty"`
	// SKU is the CIM_SoftwareIdentity "Sku" value, e.g. 16392 (full AMT)
	// or 16400 (Standard Manageability).
	SKU int `json:"sku,omitempty"`
	// ProvisioningState is 0 pre-provisioning (not activated), 1
	// in-provisioning or 2 post-provisioning.
	ProvisioningState *int `json:"provisioning_state,omitempty"`
	// ProvisioningMode is 1 admin control mode (ACM) or 4 client control
	// mode (CCM); 0, 2 and 3 are accepted for legacy modes.
	ProvisioningMode *int `json:"provisioning_mode,omitempty"`
	// TLSOnly devices have no plain-HTTP listener (the HTTP port refuses
	// connections), like firmware with TLS enforced; their presence pong
	// advertises 16993.
	TLSOnly bool `json:"tls_only,omitempty"`
	// NoRMCP devices do not answer presence pings
	// (AMT_GeneralSettings.RmcpPingResponseEnabled false).
	NoRMCP bool `json:"no_rmcp,omitempty"`
	// Accounts replace Options.User, Password and Accounts for the group's
	// devices.
	Accounts []Account `json:"accounts,omitempty"`
	// PowerState is the initial host power state: "on", "sleep",
	// "hibernate" or "off".
	PowerState string `json:"power_state,omitempty"`
	// NoOSAgent and NoOSPowerSaving are as in Options.
	NoOSAgent       bool `json:"no_os_agent,omitempty"`
	NoOSPowerSaving bool `json:"no_os_power_saving,omitempty"`
	// PowerStateLost is as in Options.
	PowerStateLost bool `json:"power_state_lost,omitempty"`
	// RedirectionState, ListenerDisabled and OptInRequired are as in
	// Options; OptInRequired is a pointer so that 0 (none) can override.
	RedirectionState int    `json:"redirection_state,omitempty"`
	ListenerDisabled bool   `json:"listener_disabled,omitempty"`
	OptInRequired    *int64 `json:"opt_in_required,omitempty"`
	// SystemDefense and HostTraffic replace the Options values for the
	// group's devices.
	SystemDefense *SystemDefenseOptions `json:"system_defense,omitempty"`
	HostTraffic   []HostTraffic         `json:"host_traffic,omitempty"`

	// The failure mixes of a fleet (see the package documentation,
	// Fleets at scale).

	// Latency delays every HTTP answer of the group's devices (401s
	// included) by this long, plus a uniformly random extra of up to
	// LatencyJitter, replacing Options.Latency and LatencyJitter. In the
	// fleet spec Go duration strings such as "50ms".
	Latency       time.Duration `json:"-"`
	LatencyJitter time.Duration `json:"-"`
	// ResetAfterRequests, if set, makes the group's devices reset every
	// TCP connection (plain and TLS) after answering that many requests on
	// it: 0 resets each connection as soon as it is accepted, before a
	// TLS handshake or any request; n answers n requests and resets the
	// connection when the next one arrives, without executing it.
	ResetAfterRequests *int `json:"reset_after_requests,omitempty"`
	// NoAMT places at the group's addresses a machine without AMT whose
	// web server listens on the plain WS-Man port: every request is
	// answered 404 Not Found with a small HTML page, no Server header and
	// no digest challenge. Nothing listens on the TLS, RMCP and
	// redirection ports.
	NoAMT bool `json:"no_amt,omitempty"`
	// Empty leaves the group's addresses without a device: nothing is
	// bound on them, so connections are refused and pings go unanswered.
	// An empty group takes no other setting.
	Empty bool `json:"empty,omitempty"`
}

// UnmarshalJSON reads a group strictly, with latency and latency_jitter
// as Go duration strings.
func (g *DeviceGroup) UnmarshalJSON(data []byte) error {
	type plain DeviceGroup
	var v struct {
		plain
		Latency       string `json:"latency"`
		LatencyJitter string `json:"latency_jitter"`
	}
	if err := strictJSON(data, &v); err != nil {
		return err
	}
	*g = DeviceGroup(v.plain)
	for _, f := range []struct {
		name string
		in   string
		out  *time.Duration
	}{{"latency", v.Latency, &g.Latency}, {"latency_jitter", v.LatencyJitter, &g.LatencyJitter}} {
		if f.in == "" {
			continue
		}
		d, err := time.ParseDuration(f.in)
		if err != nil {
			return fmt.Errorf("group %q: %s: %w", g.Name, f.name, err)
		}
		*f.out = d
	}
	return nil
}

// ParseFleetSpec reads a JSON fleet spec. Unknown fields, trailing data and
// invalid values are errors.
func ParseFleetSpec(r io.Reader) (*FleetSpec, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var spec FleetSpec
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("amtsim: fleet spec: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("amtsim: fleet spec: unexpected data after the top-level object")
	}
	if err := spec.validate(); err != nil {
		return nil, err
	}
	return &spec, nil
}

// ReadFleetSpecFile reads a JSON fleet spec from a file.
func ReadFleetSpecFile(path string) (*FleetSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("amtsim: fleet spec: %w", err)
	}
	spec, err := ParseFleetSpec(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return spec, nil
}

// powerStateNames maps DeviceGroup.PowerState to DMTF PowerState values.
var powerStateNames = map[string]int{"on": powerOn, "sleep": powerSleep, "hibernate": powerHibernate, "off": powerOff}

func (spec *FleetSpec) validate() error {
	if len(spec.Groups) == 0 {
		return errors.New("amtsim: fleet spec: no groups")
	}
	names := map[string]bool{}
	for i := range spec.Groups {
		g := &spec.Groups[i]
		fail := func(format string, args ...any) error {
			return fmt.Errorf("amtsim: fleet spec: group %d (%q): %s", i+1, g.Name, fmt.Sprintf(format, args...))
		}
		if g.Name == "" {
			return fail("name is required")
		}
		if names[g.Name] {
			return fail("duplicate name")
		}
		names[g.Name] = true
		if math.IsNaN(g.Weight) || math.IsInf(g.Weight, 0) || g.Weight <= 0 {
			return fail("weight must be a positive number, got %v", g.Weight)
		}
		if g.Version != "" {
			if _, err := parseVersion(g.Version); err != nil {
				return fail("%v", err)
			}
		}
		if g.SKU < 0 {
			return fail("sku must not be negative")
		}
		if p := g.ProvisioningState; p != nil && (*p < 0 || *p > 2) {
			return fail("provisioning_state %d: want 0 (pre), 1 (in) or 2 (post)", *p)
		}
		if p := g.ProvisioningMode; p != nil && (*p < 0 || *p > 4) {
			return fail("provisioning_mode %d: want 1 (ACM) or 4 (CCM)", *p)
		}
		if g.PowerState != "" {
			if _, ok := powerStateNames[g.PowerState]; !ok {
				return fail("power_state %q: want on, sleep, hibernate or off", g.PowerState)
			}
		}
		if err := validateAccounts(g.Accounts); err != nil {
			return fail("%v", err)
		}
		if err := validateRedirection(g.RedirectionState, g.OptInRequired); err != nil {
			return fail("%v", err)
		}
		if err := g.SystemDefense.validate(); err != nil {
			return fail("%v", err)
		}
		if _, err := parseTraffic(g.HostTraffic); err != nil {
			return fail("%v", err)
		}
		if g.Latency < 0 || g.LatencyJitter < 0 {
			return fail("latency and latency_jitter must not be negative")
		}
		if r := g.ResetAfterRequests; r != nil && *r < 0 {
			return fail("reset_after_requests %d must not be negative", *r)
		}
		if g.NoAMT && g.TLSOnly {
			return fail("no_amt and tls_only exclude each other (a machine without AMT serves plain HTTP)")
		}
		if g.Empty && !reflect.DeepEqual(*g, DeviceGroup{Name: g.Name, Weight: g.Weight, Empty: true}) {
			return fail("an empty group takes no setting but name and weight")
		}
	}
	return nil
}

// validateRedirection checks a RedirectionState (0 for the default) and
// an OptInRequired (nil for the default).
func validateRedirection(state int, optIn *int64) error {
	if state != 0 && (state < redirStateBase || state > redirStateAll) {
		return fmt.Errorf("redirection state %d: want 32768 to 32771", state)
	}
	if optIn != nil && *optIn != optInNone && *optIn != optInKVM && *optIn != optInAll {
		return fmt.Errorf("opt-in required %d: want 0, 1 or 4294967295", *optIn)
	}
	return nil
}

func validateAccounts(accts []Account) error {
	seen := map[string]bool{}
	for _, a := range accts {
		if a.User == "" || a.Password == "" {
			return errors.New("account with empty user or password")
		}
		if seen[a.User] {
			return fmt.Errorf("duplicate account %q", a.User)
		}
		seen[a.User] = true
	}
	return nil
}

// profile is what distinguishes one kind of device from another. Devices
// share their group's profile, which never changes once built.
type profile struct {
	group           string
	version         string
	ver             [4]int
	sku             int
	provState       int
	provMode        int
	tlsOnly         bool
	noRMCP          bool
	accounts        []Account
	powerState      int
	noOSAgent       bool
	noOSPowerSaving bool
	powerStateLost  bool
	redirState      int   // initial AMT_RedirectionService.EnabledState
	listenerOff     bool  // initial ListenerEnabled false
	optInRequired   int64 // IPS_OptInService.OptInRequired (all in CCM)
	defense         *SystemDefenseOptions
	traffic         []trafficFlow
	latency         time.Duration // added to every HTTP answer
	jitter          time.Duration // up to this much more, uniformly random
	resetAfter      int           // requests answered per connection before a reset; -1 never
	noAMT           bool          // a web server that is not AMT (404 to everything)
	empty           bool          // no device at all
}

// delay is how long the device waits before handling an HTTP request.
func (p *profile) delay() time.Duration {
	if p.jitter <= 0 {
		return p.latency
	}
	return p.latency + rand.N(p.jitter+1)
}

// finish applies the rules that follow from other settings: client
// control mode always requires consent for everything.
func (p *profile) finish() *profile {
	if p.provMode == provModeCCM {
		p.optInRequired = optInAll
	}
	if p.noAMT {
		p.noRMCP = true
	}
	return p
}

// baseProfile is the profile of devices without a fleet spec; opts must be
// normalised.
func baseProfile(opts *Options) *profile {
	ver, _ := parseVersion(opts.Version)
	accts := append([]Account{{User: opts.User, Password: opts.Password}}, opts.Accounts...)
	return (&profile{
		version:         opts.Version,
		ver:             ver,
		sku:             opts.SKU,
		provState:       opts.ProvisioningState,
		provMode:        opts.ProvisioningMode,
		tlsOnly:         opts.HTTPPort == -1,
		accounts:        accts,
		powerState:      opts.PowerState,
		noOSAgent:       opts.NoOSAgent,
		noOSPowerSaving: opts.NoOSPowerSaving,
		powerStateLost:  opts.PowerStateLost,
		redirState:      cmp.Or(opts.RedirectionState, redirStateAll),
		listenerOff:     opts.ListenerDisabled,
		optInRequired:   opts.OptInRequired,
		defense:         opts.SystemDefense,
		traffic:         must(parseTraffic(opts.HostTraffic)),
		latency:         opts.Latency,
		jitter:          opts.LatencyJitter,
		resetAfter:      -1,
	}).finish()
}

// groupProfile applies a group's overrides to the base profile.
func groupProfile(base *profile, g *DeviceGroup) *profile {
	p := *base
	p.group = g.Name
	if g.Version != "" {
		p.version = g.Version
		p.ver, _ = parseVersion(g.Version)
	}
	if g.SKU != 0 {
		p.sku = g.SKU
	}
	if g.ProvisioningState != nil {
		p.provState = *g.ProvisioningState
	}
	if g.ProvisioningMode != nil {
		p.provMode = *g.ProvisioningMode
	}
	p.tlsOnly = base.tlsOnly || g.TLSOnly
	p.noRMCP = g.NoRMCP
	if len(g.Accounts) > 0 {
		p.accounts = slices.Clone(g.Accounts)
	}
	if g.PowerState != "" {
		p.powerState = powerStateNames[g.PowerState]
	}
	p.noOSAgent = base.noOSAgent || g.NoOSAgent
	p.noOSPowerSaving = base.noOSPowerSaving || g.NoOSPowerSaving
	p.powerStateLost = base.powerStateLost || g.PowerStateLost
	if g.RedirectionState != 0 {
		p.redirState = g.RedirectionState
	}
	p.listenerOff = base.listenerOff || g.ListenerDisabled
	if g.OptInRequired != nil {
		p.optInRequired = *g.OptInRequired
	}
	if g.SystemDefense != nil {
		p.defense = g.SystemDefense
	}
	if g.HostTraffic != nil {
		p.traffic = must(parseTraffic(g.HostTraffic))
	}
	if g.Latency != 0 || g.LatencyJitter != 0 {
		p.latency, p.jitter = g.Latency, g.LatencyJitter
	}
	if g.ResetAfterRequests != nil {
		p.resetAfter = *g.ResetAfterRequests
	}
	p.noAMT = g.NoAMT
	p.empty = g.Empty
	return p.finish()
}

// mix64 is the SplitMix64 finaliser: a fixed, well-distributed hash that
// keeps every seeded choice reproducible across Go releases.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Purposes of seeded keys, so that placement and grouping are independent.
const (
	keyPlacement = 0x706c616365 // "place"
	keyGroup     = 0x67726f7570 // "group"
	keyOptIn     = 0x6f7074696e // "optin": user consent codes
)

// seededKey ranks an IPv4 address for a purpose under a seed.
func seededKey(seed int64, purpose uint64, addr uint32) uint64 {
	return mix64(mix64(uint64(seed)^purpose<<24) ^ uint64(addr))
}

// pickAddresses chooses k of the n host addresses start..start+n-1: those
// with the smallest seeded keys, returned in address order.
func pickAddresses(start uint32, n, k int, seed int64) []uint32 {
	out := make([]uint32, 0, k)
	if k >= n {
		for i := range n {
			out = append(out, start+uint32(i))
		}
		return out
	}
	type ranked struct {
		key  uint64
		addr uint32
	}
	all := make([]ranked, n)
	for i := range n {
		a := start + uint32(i)
		all[i] = ranked{seededKey(seed, keyPlacement, a), a}
	}
	slices.SortFunc(all, func(x, y ranked) int {
		switch {
		case x.key < y.key:
			return -1
		case x.key > y.key:
			return 1
		}
		return int(x.addr) - int(y.addr)
	})
	for _, r := range all[:k] {
		out = append(out, r.addr)
	}
	slices.Sort(out)
	return out
}

// groupQuotas divides n devices over the weights by the largest remainder
// method. While there are at least as many devices as groups, every group
// gets at least one device, taken from the largest group.
func groupQuotas(weights []float64, n int) []int {
	var total float64
	for _, w := range weights {
		total += w
	}
	quotas := make([]int, len(weights))
	rems := make([]float64, len(weights))
	given := 0
	for i, w := range weights {
		exact := float64(n) * w / total
		quotas[i] = int(math.Floor(exact))
		rems[i] = exact - float64(quotas[i])
		given += quotas[i]
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rems[a] > rems[b]:
			return -1
		case rems[a] < rems[b]:
			return 1
		}
		return 0
	})
	for i := 0; given < n; i++ {
		quotas[order[i%len(order)]]++
		given++
	}
	if n >= len(weights) {
		for i := range quotas {
			if quotas[i] > 0 {
				continue
			}
			largest := 0
			for j := range quotas {
				if quotas[j] > quotas[largest] {
					largest = j
				}
			}
			quotas[largest]--
			quotas[i]++
		}
	}
	return quotas
}

// assignGroups returns, for each address (in the given order), the index
// of its group: addresses are ranked by a seeded key and handed out to the
// groups in spec order by quota.
func assignGroups(addrs []uint32, weights []float64, seed int64) []int {
	quotas := groupQuotas(weights, len(addrs))
	idx := make([]int, len(addrs))
	for i := range idx {
		idx[i] = i
	}
	keys := make([]uint64, len(addrs))
	for i, a := range addrs {
		keys[i] = seededKey(seed, keyGroup, a)
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case keys[a] < keys[b]:
			return -1
		case keys[a] > keys[b]:
			return 1
		}
		return int(addrs[a]) - int(addrs[b])
	})
	out := make([]int, len(addrs))
	pos := 0
	for g, q := range quotas {
		for range q {
			out[idx[pos]] = g
			pos++
		}
	}
	return out
}
