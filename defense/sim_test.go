package defense_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/defense"
	"github.com/amtkit/amtkit/wsman"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// createCounter injects a device fault on the Nth Create it forwards.
type createCounter struct {
	base   http.RoundTripper
	dev    atomic.Pointer[amtsim.Device]
	n      atomic.Int64
	failAt atomic.Int64
	kind   amtsim.FaultKind
}

func (c *createCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		if bytes.Contains(body, []byte(wsman.ActionCreate+"<")) && req.Header.Get("Authorization") != "" {
			n := c.n.Add(1)
			if at := c.failAt.Load(); at > 0 && n == at {
				c.dev.Load().InjectFault(amtsim.Fault{Kind: c.kind, Action: "Create", Times: 1})
			}
		}
	}
	return c.base.RoundTrip(req)
}

type fixture struct {
	svc *defense.Service
	dev *amtsim.Device
	ws  *wsman.Client
	cc  *createCounter
}

func setup(t *testing.T, opts amtsim.Options) *fixture {
	t.Helper()
	opts.TLSPort = -1
	sim, err := amtsim.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	cc := &createCounter{base: http.DefaultTransport.(*http.Transport).Clone(), kind: amtsim.FaultStatus}
	t.Cleanup(cc.base.(*http.Transport).CloseIdleConnections)
	dev := sim.Devices()[0]
	cc.dev.Store(dev)
	ws, err := wsman.NewClient(sim.URL()+"/wsman", wsman.WithCredentials("admin", "P@ssw0rd1"), wsman.WithTransport(cc))
	require.NoError(t, err)
	t.Cleanup(ws.CloseIdleConnections)
	return &fixture{svc: defense.New(ws), dev: dev, ws: ws, cc: cc}
}

// writes counts the requests that change System Defense.
func writes(d *amtsim.Device) int {
	n := 0
	for a, c := range d.Stats().Actions {
		if a == wsman.ActionCreate || a == wsman.ActionDelete || strings.HasSuffix(a, "/SetTimeout") {
			n += c
		}
	}
	return n
}

func requests(d *amtsim.Device) int {
	n := 0
	for _, c := range d.Stats().Actions {
		n += c
	}
	return n
}

// inventory lists the System Defense objects on the device, by class.
func inventory(t *testing.T, ws *wsman.Client) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, cls := range []string{"AMT_IPHeadersFilter", "AMT_Hdr8021Filter", "AMT_SystemDefensePolicy", "AMT_NetworkPortSystemDefensePolicy"} {
		all, err := ws.EnumerateAll(context.Background(), wsman.ResourceURI(cls))
		require.NoError(t, err)
		for _, in := range all {
			id := in.String("InstanceID")
			if cls == "AMT_SystemDefensePolicy" {
				id += ":" + in.String("PolicyName")
			}
			if cls == "AMT_NetworkPortSystemDefensePolicy" {
				dep, _ := in.Ref("Dependent")
				id, _ = dep.Selector("InstanceID")
			}
			out[cls] = append(out[cls], id)
		}
	}
	return out
}

func threeServers(t *testing.T) *defense.Policy {
	t.Helper()
	var allow []defense.Endpoint
	for _, s := range []string{"10.0.0.10:443", "10.0.0.20:8080/tcp", "10.0.0.30:514/udp"} {
		e, err := defense.ParseEndpoint(s)
		require.NoError(t, err)
		allow = append(allow, e)
	}
	p, err := defense.Quarantine(defense.QuarantineOptions{Allow: allow, DNS: []netip.Addr{netip.MustParseAddr("10.0.0.53")}, Statistics: true})
	require.NoError(t, err)
	return p
}

// tcp returns the two packets of one exchange of a host-initiated TCP
// connection from the device to peer:port.
func exchange(d *amtsim.Device, proto uint8, peer string, port uint16) (out, back amtsim.Packet) {
	host := netip.MustParseAddr(d.IP())
	srv := netip.MustParseAddr(peer)
	out = amtsim.Packet{Direction: amtsim.HostTransmit, Src: host, Dst: srv, Protocol: proto, SrcPort: 50123, DstPort: port}
	back = amtsim.Packet{Direction: amtsim.HostReceive, Src: srv, Dst: host, Protocol: proto, SrcPort: port, DstPort: 50123}
	return out, back
}

func reaches(d *amtsim.Device, proto uint8, peer string, port uint16) bool {
	out, back := exchange(d, proto, peer, port)
	return d.HostPacket(out).Pass && d.HostPacket(back).Pass
}

func TestQuarantineEndToEnd(t *testing.T) {
	f := setup(t, amtsim.Options{})
	ctx := context.Background()
	p := threeServers(t)
	before := requests(f.dev)
	res, err := f.svc.Apply(ctx, p, defense.ApplyOptions{Timeout: 30 * time.Minute})
	require.NoError(t, err)
	assert.Equal(t, requests(f.dev)-before, res.RoundTrips, "round trips counted as the device saw them")
	// 12 filters, the policy, SetTimeout, the binding.
	assert.Equal(t, 15, writes(f.dev))
	assert.Len(t, res.FilterIDs, 12)
	assert.Equal(t, res.PolicyID, f.dev.ActiveDefensePolicy(0))
	t.Logf("quarantine with three servers: %d round trips, %d of them writes", res.RoundTrips, writes(f.dev))

	assert.True(t, reaches(f.dev, 6, "10.0.0.10", 443))
	assert.True(t, reaches(f.dev, 6, "10.0.0.20", 8080))
	assert.True(t, reaches(f.dev, 17, "10.0.0.30", 514))
	assert.True(t, reaches(f.dev, 17, "10.0.0.53", 53))
	assert.False(t, reaches(f.dev, 6, "10.0.0.10", 22))
	assert.False(t, reaches(f.dev, 6, "192.0.2.1", 443))
	assert.False(t, reaches(f.dev, 17, "10.0.0.10", 514))
	assert.True(t, f.dev.HostPacket(amtsim.Packet{Direction: amtsim.HostReceive, EtherType: 0x0806}).Pass, "ARP")

	st, err := f.svc.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Interfaces, 2)
	w := st.Interfaces[0]
	require.NotNil(t, w.Active)
	assert.Equal(t, "quarantine", w.Active.Name)
	assert.True(t, w.Active.Amtkit)
	require.NotNil(t, w.TimeoutRemaining)
	assert.Equal(t, 30*time.Minute, *w.TimeoutRemaining)
	assert.Len(t, w.Filters, 12)
	assert.False(t, *w.AntiSpoofing)
	assert.Nil(t, st.Interfaces[1].Active)
	assert.Equal(t, defense.ModeACM, st.Mode)

	// Statistics move with simulated traffic.
	for range 3 {
		reaches(f.dev, 6, "10.0.0.10", 443)
	}
	reaches(f.dev, 6, "192.0.2.1", 443)
	stats, err := f.svc.Statistics(ctx, false)
	require.NoError(t, err)
	require.Len(t, stats, 1)
	counts := map[string]uint64{}
	for _, fc := range stats[0].Filters {
		counts[fc.Name] = fc.Matched
	}
	assert.Equal(t, uint64(4), counts["srv1-tx"]) // 1 in reaches above + 3
	assert.Equal(t, uint64(4), counts["srv1-rx"])
	require.NotNil(t, stats[0].TxDefault)
	assert.GreaterOrEqual(t, *stats[0].TxDefault, uint64(1))
	st, err = f.svc.Status(ctx)
	require.NoError(t, err)
	for _, fs := range st.Interfaces[0].Filters {
		if fs.Filter.Name == "srv1-tx" {
			require.NotNil(t, fs.MatchedPackets)
			assert.Equal(t, uint64(4), *fs.MatchedPackets)
		}
	}
	_, err = f.svc.Statistics(ctx, true)
	require.NoError(t, err)
	stats, err = f.svc.Statistics(ctx, false)
	require.NoError(t, err)
	for _, fc := range stats[0].Filters {
		assert.Zero(t, fc.Matched, fc.Name)
	}

	rm, err := f.svc.Remove(ctx, defense.RemoveOptions{})
	require.NoError(t, err)
	assert.Len(t, rm.Policies, 1)
	assert.Len(t, rm.Filters, 12)
	assert.Empty(t, inventory(t, f.ws))
	assert.Equal(t, "", f.dev.ActiveDefensePolicy(0))
	assert.True(t, reaches(f.dev, 6, "192.0.2.1", 443))
}

func TestPingOnlyWithAntiSpoofing(t *testing.T) {
	f := setup(t, amtsim.Options{})
	ctx := context.Background()
	p, err := defense.PingOnly(defense.PingOnlyOptions{AntiSpoofing: true})
	require.NoError(t, err)
	_, err = f.svc.Apply(ctx, p, defense.ApplyOptions{NoTimeout: true, Interface: defense.Both})
	require.NoError(t, err)
	for _, port := range []int{0, 1} {
		host := netip.MustParseAddr(f.dev.IP())
		peer := netip.MustParseAddr("10.9.9.9")
		in := amtsim.Packet{Port: port, Direction: amtsim.HostReceive, Src: peer, Dst: host, Protocol: 1}
		out := amtsim.Packet{Port: port, Direction: amtsim.HostTransmit, Src: host, Dst: peer, Protocol: 1}
		assert.True(t, f.dev.HostPacket(in).Pass)
		assert.True(t, f.dev.HostPacket(out).Pass)
		spoofed := out
		spoofed.Src = netip.MustParseAddr("10.66.66.66")
		v := f.dev.HostPacket(spoofed)
		assert.False(t, v.Pass)
		assert.Equal(t, amtsim.RuleAntiSpoofing, v.Rule)
		web := amtsim.Packet{Port: port, Direction: amtsim.HostTransmit, Src: host, Dst: peer, Protocol: 6, SrcPort: 5000, DstPort: 443}
		assert.False(t, f.dev.HostPacket(web).Pass)
	}
	st, err := f.svc.Status(ctx)
	require.NoError(t, err)
	for _, is := range st.Interfaces {
		require.NotNil(t, is.Active)
		assert.True(t, *is.AntiSpoofing)
		assert.Nil(t, is.TimeoutRemaining)
	}
}

func TestCustomPolicyFile(t *testing.T) {
	f := setup(t, amtsim.Options{})
	data, err := os.ReadFile("../examples/quarantine/policy.yaml")
	require.NoError(t, err)
	p, err := defense.ParsePolicyFile(data)
	require.NoError(t, err)
	_, err = f.svc.Apply(context.Background(), p, defense.ApplyOptions{Timeout: time.Hour})
	require.NoError(t, err)
	assert.True(t, reaches(f.dev, 6, "10.0.0.10", 443))
	assert.True(t, reaches(f.dev, 6, "10.0.2.7", 80))
	assert.False(t, reaches(f.dev, 6, "10.0.3.7", 80))
}

func TestReapplyReplacesWithoutDuplicates(t *testing.T) {
	f := setup(t, amtsim.Options{})
	ctx := context.Background()
	p := threeServers(t)
	first, err := f.svc.Apply(ctx, p, defense.ApplyOptions{Timeout: time.Hour})
	require.NoError(t, err)
	second, err := f.svc.Apply(ctx, p, defense.ApplyOptions{Timeout: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, []string{first.PolicyID}, second.Replaced)
	inv := inventory(t, f.ws)
	assert.Equal(t, []string{second.PolicyID + ":quarantine"}, inv["AMT_SystemDefensePolicy"])
	assert.Len(t, append(inv["AMT_IPHeadersFilter"], inv["AMT_Hdr8021Filter"]...), 12)
	assert.Equal(t, []string{second.PolicyID}, inv["AMT_NetworkPortSystemDefensePolicy"])
	assert.Equal(t, second.PolicyID, f.dev.ActiveDefensePolicy(0))
}

func TestConcurrentAppliesAreSerialised(t *testing.T) {
	f := setup(t, amtsim.Options{})
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.Apply(context.Background(), threeServers(t), defense.ApplyOptions{Timeout: time.Hour})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	inv := inventory(t, f.ws)
	assert.Len(t, inv["AMT_SystemDefensePolicy"], 1)
	assert.Len(t, inv["AMT_NetworkPortSystemDefensePolicy"], 1)
}

// A failure on the Nth Create deletes what the call created and leaves the
// earlier policy enabled and active.
func TestFailureMidApplyRollsBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind amtsim.FaultKind
		at   int64
	}{
		{"5th filter refused", amtsim.FaultStatus, 5},
		{"policy refused", amtsim.FaultStatus, 13},
		{"binding refused", amtsim.FaultStatus, 14},
		{"answer to 7th create lost", amtsim.FaultResetAfterRequest, 7},
		{"answer to the binding lost", amtsim.FaultResetAfterRequest, 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, amtsim.Options{})
			ctx := context.Background()
			ping, err := defense.PingOnly(defense.PingOnlyOptions{Name: "quarantine"})
			require.NoError(t, err)
			prev, err := f.svc.Apply(ctx, ping, defense.ApplyOptions{Timeout: time.Hour})
			require.NoError(t, err)
			before := inventory(t, f.ws)
			f.cc.kind = tc.kind
			f.cc.n.Store(0)
			f.cc.failAt.Store(tc.at)
			_, err = f.svc.Apply(ctx, threeServers(t), defense.ApplyOptions{Timeout: time.Hour})
			require.Error(t, err)
			t.Log(err)
			f.dev.ClearFaults()
			f.cc.failAt.Store(0)
			after := inventory(t, f.ws)
			assert.Equal(t, before, after)
			assert.Equal(t, prev.PolicyID, f.dev.ActiveDefensePolicy(0))
		})
	}
}

func TestRefusedInClientControlMode(t *testing.T) {
	f := setup(t, amtsim.Options{ProvisioningMode: 4})
	_, err := f.svc.Apply(context.Background(), threeServers(t), defense.ApplyOptions{Timeout: time.Hour})
	var ref *defense.RefusedError
	require.ErrorAs(t, err, &ref)
	assert.ErrorIs(t, err, defense.ErrUnsupported)
	assert.Contains(t, err.Error(), "Client Control Mode")
	assert.Zero(t, writes(f.dev))
	caps, err := f.svc.Capabilities(context.Background())
	require.NoError(t, err)
	assert.Equal(t, defense.ModeCCM, caps.Mode)
}

func TestLimitsRefusedBeforeSending(t *testing.T) {
	limits := &amtsim.SystemDefensePortLimits{IPv4MaxTxFilters: 6, IPv4MaxTxCounters: 2, IPv4MaxRxFilters: 16, IPv4MaxRxCounters: 8, IPv6ToIPv4Ratio: 2}
	f := setup(t, amtsim.Options{SystemDefense: &amtsim.SystemDefenseOptions{Wired: limits, MaxFilters: 10}})
	ctx := context.Background()
	caps, err := f.svc.Capabilities(ctx)
	require.NoError(t, err)
	assert.Equal(t, 10, caps.MaxFilters)
	pc, ok := caps.Port(defense.Wired)
	require.True(t, ok)
	assert.Equal(t, 6, pc.IPv4MaxTxFilters)
	p := threeServers(t)
	p.AntiSpoofing = true
	_, err = f.svc.Apply(ctx, p, defense.ApplyOptions{Timeout: time.Hour})
	var ref *defense.RefusedError
	require.ErrorAs(t, err, &ref)
	assert.ErrorIs(t, err, defense.ErrTooLarge)
	assert.ErrorIs(t, err, defense.ErrUnsupported) // no anti-spoofing on this port
	msg := err.Error()
	assert.Contains(t, msg, "8 Tx filter slots, the port allows 6") // 6 filters + 2 for anti-spoofing
	assert.Contains(t, msg, "Tx counters")
	assert.Contains(t, msg, "12 filters")
	assert.Zero(t, writes(f.dev))
	assert.Empty(t, inventory(t, f.ws))
}

func TestUnsafePolicyRefusedWithNothingSent(t *testing.T) {
	f := setup(t, amtsim.Options{})
	ctx := context.Background()
	p := threeServers(t)
	// Drop the Rx half of the management server's filters.
	var kept []defense.Filter
	for _, fl := range p.Filters {
		if fl.Name != "srv1-rx" {
			kept = append(kept, fl)
		}
	}
	p.Filters = kept
	mgmt, err := defense.ParseFlows("10.0.0.10:443/tcp")
	require.NoError(t, err)
	_, err = f.svc.Apply(ctx, p, defense.ApplyOptions{Require: mgmt})
	var ref *defense.RefusedError
	require.ErrorAs(t, err, &ref)
	assert.ErrorIs(t, err, defense.ErrUnsafe)
	assert.Contains(t, err.Error(), "rx dropped (tcp 10.0.0.10:443 -> host) by rx default")
	assert.Contains(t, err.Error(), "no timeout")
	assert.Len(t, ref.Problems, 3) // the preset's flow, the required one, the timeout
	assert.Zero(t, writes(f.dev))
	assert.Empty(t, inventory(t, f.ws))
}

func TestTimeoutExpiresAndTheMachineIsReachable(t *testing.T) {
	f := setup(t, amtsim.Options{})
	ctx := context.Background()
	res, err := f.svc.Apply(ctx, threeServers(t), defense.ApplyOptions{Timeout: 2 * time.Minute})
	require.NoError(t, err)
	assert.False(t, reaches(f.dev, 6, "192.0.2.1", 443))
	f.dev.AdvanceDefenseClock(61 * time.Second)
	st, err := f.svc.Status(ctx)
	require.NoError(t, err)
	require.NotNil(t, st.Interfaces[0].TimeoutRemaining)
	assert.Equal(t, time.Minute, *st.Interfaces[0].TimeoutRemaining)
	f.dev.AdvanceDefenseClock(2 * time.Minute)
	assert.Equal(t, "", f.dev.ActiveDefensePolicy(0))
	assert.True(t, reaches(f.dev, 6, "192.0.2.1", 443))
	st, err = f.svc.Status(ctx)
	require.NoError(t, err)
	assert.Nil(t, st.Interfaces[0].Active)
	require.Len(t, st.Interfaces[0].Enabled, 1)
	assert.Equal(t, res.PolicyID, st.Interfaces[0].Enabled[0].ID)
}

func TestDryRunSendsNothing(t *testing.T) {
	f := setup(t, amtsim.Options{})
	res, err := f.svc.Apply(context.Background(), threeServers(t), defense.ApplyOptions{Timeout: time.Hour, DryRun: true})
	require.NoError(t, err)
	assert.True(t, res.DryRun)
	assert.Equal(t, 15, res.Writes)
	assert.Zero(t, writes(f.dev))
	real, err := f.svc.Apply(context.Background(), threeServers(t), defense.ApplyOptions{Timeout: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, res.RoundTrips, real.RoundTrips)
}

func TestRemoveLeavesOthersAlone(t *testing.T) {
	f := setup(t, amtsim.Options{})
	ctx := context.Background()
	// A filter and policy made by another console.
	in := wsman.NewInstance(wsman.ResourceURI("AMT_Hdr8021Filter"))
	for _, kv := range [][2]string{{"InstanceID", "0"}, {"Name", "theirs"}, {"CreationClassName", "n/a"}, {"SystemName", "n/a"}, {"SystemCreationClassName", "n/a"}, {"HdrProtocolID8021", "2054"}, {"FilterProfile", "3"}, {"FilterDirection", "0"}, {"ActionEventOnMatch", "false"}} {
		in.Set(kv[0], kv[1])
	}
	epr, err := f.ws.Create(ctx, in)
	require.NoError(t, err)
	theirs, _ := epr.Selector("InstanceID")
	_, err = f.svc.Apply(ctx, threeServers(t), defense.ApplyOptions{NoTimeout: true})
	require.NoError(t, err)
	_, err = f.svc.Remove(ctx, defense.RemoveOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"AMT_Hdr8021Filter": {theirs}}, inventory(t, f.ws))
	rm, err := f.svc.Remove(ctx, defense.RemoveOptions{All: true})
	require.NoError(t, err)
	assert.Equal(t, []string{theirs}, rm.Filters)
	assert.Empty(t, inventory(t, f.ws))
}

func TestTimeoutMustBeExplicit(t *testing.T) {
	f := setup(t, amtsim.Options{})
	_, err := f.svc.Apply(context.Background(), threeServers(t), defense.ApplyOptions{})
	assert.ErrorIs(t, err, defense.ErrUnsafe)
	_, err = f.svc.Apply(context.Background(), threeServers(t), defense.ApplyOptions{Timeout: time.Minute, NoTimeout: true})
	var fe *defense.FieldError
	assert.True(t, errors.As(err, &fe))
	assert.Zero(t, writes(f.dev))
}
