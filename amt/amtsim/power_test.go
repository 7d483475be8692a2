package amtsim

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/beevik/etree"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	uriAPMS = soap.PrefixCIM + "CIM_AssociatedPowerManagementService"
	uriSAE  = soap.PrefixCIM + "CIM_ServiceAvailableToElement"
)

func managedElementXML(pfx, name string) string {
	return `<` + pfx + `:ManagedElement xmlns:a="` + soap.NSAddr + `" xmlns:w="` + soap.NSWSMan + `"><a:Address>` + soap.URIAnon +
		`</a:Address><a:ReferenceParameters><w:ResourceURI>` + soap.PrefixCIM + `CIM_ComputerSystem</w:ResourceURI><w:SelectorSet>` +
		`<w:Selector Name="Name">` + name + `</w:Selector><w:Selector Name="CreationClassName">CIM_ComputerSystem</w:Selector>` +
		`</w:SelectorSet></a:ReferenceParameters></` + pfx + `:ManagedElement>`
}

func powerReq(ps int) string {
	return envelope(uriPowerService+"/RequestPowerStateChange", uriPowerService, "10", nil,
		`<h:RequestPowerStateChange_INPUT xmlns:h="`+uriPowerService+`"><h:PowerState>`+strconv.Itoa(ps)+`</h:PowerState>`+
			managedElementXML("h", "ManagedSystem")+`</h:RequestPowerStateChange_INPUT>`)
}

func osSavingReq(state int) string {
	return envelope(uriIPSPowerService+"/RequestOSPowerSavingStateChange", uriIPSPowerService, "11", nil,
		`<h:RequestOSPowerSavingStateChange_INPUT xmlns:h="`+uriIPSPowerService+`"><h:OSPowerSavingState>`+strconv.Itoa(state)+
			`</h:OSPowerSavingState>`+managedElementXML("h", "ManagedSystem")+`</h:RequestOSPowerSavingStateChange_INPUT>`)
}

func sourceRef(id string) string {
	return `<h:Source xmlns:a="` + soap.NSAddr + `" xmlns:w="` + soap.NSWSMan + `"><a:Address>` + soap.URIAnon +
		`</a:Address><a:ReferenceParameters><w:ResourceURI>` + uriBootSourceSetting +
		`</w:ResourceURI><w:SelectorSet><w:Selector Name="InstanceID">` + esc(id) +
		`</w:Selector></w:SelectorSet></a:ReferenceParameters></h:Source>`
}

func changeBootOrderReq(ids ...string) string {
	body := `<h:ChangeBootOrder_INPUT xmlns:h="` + uriBootConfigSetting + `">`
	for _, id := range ids {
		body += sourceRef(id)
	}
	body += `</h:ChangeBootOrder_INPUT>`
	return envelope(uriBootConfigSetting+"/ChangeBootOrder", uriBootConfigSetting, "12",
		[]sel{{"InstanceID", bootConfigID}}, body)
}

func setRoleReq(role int) string {
	return envelope(uriBootService+"/SetBootConfigRole", uriBootService, "13", []sel{{"Name", "Intel(r) AMT Boot Service"}},
		`<h:SetBootConfigRole_INPUT xmlns:h="`+uriBootService+`">`+bootConfigRef("h")+`<h:Role>`+strconv.Itoa(role)+`</h:Role></h:SetBootConfigRole_INPUT>`)
}

func bootPutReq(props string) string {
	return envelope(soap.ActPut, uriBootSettingData, "14", nil,
		`<r:AMT_BootSettingData xmlns:r="`+uriBootSettingData+`">`+props+`</r:AMT_BootSettingData>`)
}

// returnValue posts a method call and returns its ReturnValue.
func (c *wsClient) returnValue(body string) int {
	c.t.Helper()
	resp, data := c.post(body)
	require.Equal(c.t, http.StatusOK, resp.StatusCode, "%s", data)
	var rv *etree.Element
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		if e.Tag == "ReturnValue" {
			rv = e
		}
		for _, ch := range e.ChildElements() {
			walk(ch)
		}
	}
	walk(parseDoc(c.t, data))
	require.NotNil(c.t, rv, "no ReturnValue in %s", data)
	n, err := strconv.Atoi(rv.Text())
	require.NoError(c.t, err)
	return n
}

// powerInstance reads CIM_AssociatedPowerManagementService.
func (c *wsClient) powerInstance() *etree.Element {
	c.t.Helper()
	resp, data := c.post(getReq(uriAPMS))
	require.Equal(c.t, http.StatusOK, resp.StatusCode, "%s", data)
	inst := find(parseDoc(c.t, data), uriAPMS, "CIM_AssociatedPowerManagementService")
	require.NotNil(c.t, inst)
	return inst
}

func ints(es []*etree.Element) []int {
	var out []int
	for _, e := range es {
		n, _ := strconv.Atoi(e.Text())
		out = append(out, n)
	}
	return out
}

func TestPowerStateMachine(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)

	type outcome struct {
		rv    int
		state int
		boot  string // cause of the boot it causes, "" none
		event string
	}
	refused := outcome{rv: rvInvalidTransition}
	table := map[int]map[int]outcome{
		powerOn: {
			powerReset:     {0, powerOn, CauseReset, "reset"},
			powerCycle:     {0, powerOn, CausePowerCycle, "power-cycle"},
			powerOff:       {0, powerOff, "", "off"},
			powerNMI:       {0, powerOn, "", "nmi"},
			powerSoftOff:   {0, powerOff, "", "soft-off"},
			powerSoftReset: {0, powerOn, CauseSoftReset, "soft-reset"},
			powerSleep:     {0, powerSleep, "", "sleep"},
			powerHibernate: {0, powerHibernate, "", "hibernate"},
			powerOn:        {0, powerOn, "", ""}, // protocol.md: accepted, a no-op
		},
		powerOff:       {powerOn: {0, powerOn, CausePowerOn, "power-on"}},
		powerHibernate: {powerOn: {0, powerOn, CausePowerOn, "power-on"}},
		powerSleep:     {powerOn: {0, powerOn, "", "resume"}},
	}
	requests := []int{powerOn, powerSleep, powerCycle, powerHibernate, powerOff, powerReset, powerNMI, powerSoftOff, powerSoftReset}
	for _, from := range []int{powerOn, powerSleep, powerHibernate, powerOff} {
		for _, req := range requests {
			t.Run(fmt.Sprintf("from%d/request%d", from, req), func(t *testing.T) {
				want, ok := table[from][req]
				if !ok {
					want = refused
				}
				if want.rv != 0 {
					want.state = from
				}
				d.SetPowerState(from)
				boots, events, reqs := len(d.Boots()), len(d.PowerEvents()), len(d.PowerRequests())
				require.Equal(t, want.rv, wc.returnValue(powerReq(req)))
				assert.Equal(t, want.state, d.PowerState())
				assert.Equal(t, want.state, ints(findAll(wc.powerInstance(), uriAPMS, "PowerState"))[0])
				newBoots := d.Boots()[boots:]
				newEvents := d.PowerEvents()[events:]
				if want.rv != 0 {
					assert.Empty(t, newBoots)
					assert.Empty(t, newEvents)
					assert.Len(t, d.PowerRequests(), reqs, "refused requests are not recorded")
					return
				}
				assert.Equal(t, req, d.PowerRequests()[reqs])
				if want.event == "" {
					assert.Empty(t, newEvents, "a no-op changes nothing")
					assert.Empty(t, newBoots)
					return
				}
				require.Len(t, newEvents, 1)
				assert.Equal(t, want.event, newEvents[0].Kind)
				if want.boot == "" {
					assert.Empty(t, newBoots)
					return
				}
				require.Len(t, newBoots, 1)
				assert.Equal(t, want.boot, newBoots[0].Cause)
				assert.Equal(t, BootSourceHDD, newBoots[0].Source)
			})
		}
	}

	t.Run("Available", func(t *testing.T) {
		d.SetPowerState(powerOn)
		require.Equal(t, 0, wc.returnValue(powerReq(powerSoftReset)))
		inst := wc.powerInstance()
		assert.Equal(t, []int{10, 8, 5, 11, 4, 7, 14, 12}, ints(findAll(inst, uriAPMS, "AvailableRequestedPowerStates")))
		assert.Nil(t, find(inst, uriAPMS, "RequestedPowerState"), "not with AvailableRequestedPowerStates, as captured")
		assert.Nil(t, find(inst, uriAPMS, "TransitioningToPowerState"), "idle")
		for _, s := range []int{powerSleep, powerHibernate, powerOff} {
			d.SetPowerState(s)
			assert.Equal(t, []int{2}, ints(findAll(wc.powerInstance(), uriAPMS, "AvailableRequestedPowerStates")))
		}
		// The parent association class returns the same instance.
		resp, data := wc.post(enumerateReq(uriSAE))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, data = wc.post(pullReq(uriSAE, textOf(parseDoc(t, data), soap.NSEnum, "EnumerationContext"), 10))
		items := findAll(parseDoc(t, data), uriAPMS, "CIM_AssociatedPowerManagementService")
		require.Len(t, items, 1)
		assert.Equal(t, "8", textOf(items[0], uriAPMS, "PowerState"))
	})

	t.Run("Unsupported", func(t *testing.T) {
		d.SetPowerState(powerOn)
		for _, ps := range []int{0, 1, 3, 6, 9, 13, 15, 16, 17, 99} {
			assert.Equal(t, rvUnknownError, wc.returnValue(powerReq(ps)), "PowerState %d", ps)
		}
		assert.Equal(t, powerOn, d.PowerState())
	})

	t.Run("InvalidParameter", func(t *testing.T) {
		d.SetPowerState(powerOn)
		n := len(d.PowerRequests())
		for _, body := range []string{
			`<h:RequestPowerStateChange_INPUT xmlns:h="` + uriPowerService + `"><h:PowerState>10</h:PowerState></h:RequestPowerStateChange_INPUT>`,
			`<h:RequestPowerStateChange_INPUT xmlns:h="` + uriPowerService + `"><h:PowerState>10</h:PowerState>` + managedElementXML("h", "Intel(r) AMT") + `</h:RequestPowerStateChange_INPUT>`,
			`<h:RequestPowerStateChange_INPUT xmlns:h="` + uriPowerService + `">` + managedElementXML("h", "ManagedSystem") + `</h:RequestPowerStateChange_INPUT>`,
			`<h:RequestPowerStateChange_INPUT xmlns:h="` + uriPowerService + `"><h:PowerState>ten</h:PowerState>` + managedElementXML("h", "ManagedSystem") + `</h:RequestPowerStateChange_INPUT>`,
		} {
			assert.Equal(t, rvInvalidParameter, wc.returnValue(envelope(uriPowerService+"/RequestPowerStateChange", uriPowerService, "1", nil, body)))
		}
		assert.Len(t, d.PowerRequests(), n)
		// The four keys of the service are accepted as selectors.
		assert.Equal(t, 0, wc.returnValue(envelope(uriPowerService+"/RequestPowerStateChange", uriPowerService, "1",
			[]sel{{"Name", powerServiceName}, {"SystemName", "Intel(r) AMT"}, {"CreationClassName", "CIM_PowerManagementService"}, {"SystemCreationClassName", "CIM_ComputerSystem"}},
			`<h:RequestPowerStateChange_INPUT xmlns:h="`+uriPowerService+`"><h:PowerState>11</h:PowerState>`+managedElementXML("h", "ManagedSystem")+`</h:RequestPowerStateChange_INPUT>`)))
	})
}

func TestPowerWithoutAgent(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.NoOSAgent = true
	opts.Version = "16.1.27.2176"
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	assert.Equal(t, []int{10, 8, 5, 11}, ints(findAll(wc.powerInstance(), uriAPMS, "AvailableRequestedPowerStates")))
	for _, ps := range []int{powerSleep, powerHibernate, powerSoftOff, powerSoftReset} {
		assert.Equal(t, rvInvalidTransition, wc.returnValue(powerReq(ps)), "PowerState %d", ps)
	}
	assert.Equal(t, rvInvalidTransition, wc.returnValue(osSavingReq(osSavingSaving)), "entering OS power saving needs the agent")
	assert.Empty(t, d.PowerRequests())
	assert.Equal(t, powerOn, d.PowerState())

	d.SetOSAgent(true)
	assert.Equal(t, []int{10, 8, 5, 11, 4, 7, 14, 12}, ints(findAll(wc.powerInstance(), uriAPMS, "AvailableRequestedPowerStates")))
	assert.Equal(t, 0, wc.returnValue(powerReq(powerSleep)))
	assert.Equal(t, powerSleep, d.PowerState())
}

func TestPowerOldFirmware(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.Version = "8.1.71.3608"
	sim := startSim(t, opts)
	wc := newClient(t, sim.URL(), testUser, testPass)
	assert.Nil(t, find(wc.powerInstance(), uriAPMS, "AvailableRequestedPowerStates"), "before AMT 9: RequestedPowerState instead")
	d := sim.Devices()[0]
	d.mu.Lock()
	assert.Equal(t, []int{10, 8, 5, 11}, d.power.AvailableStates(), "what the device still accepts")
	d.mu.Unlock()
	for _, ps := range []int{powerSleep, powerHibernate, powerSoftOff, powerSoftReset} {
		assert.Equal(t, rvUnknownError, wc.returnValue(powerReq(ps)), "PowerState %d is not supported before AMT 9", ps)
	}
	resp, data := wc.post(getReq(uriIPSPowerService))
	requireFault(t, resp, data, "b:DestinationUnreachable")
	_, data = wc.post(getReq(soap.PrefixCIM + "CIM_PowerManagementCapabilities"))
	assert.Equal(t, []int{5, 8, 2, 10, 11}, ints(findAll(parseDoc(t, data), soap.PrefixCIM+"CIM_PowerManagementCapabilities", "PowerStatesSupported")))
}

func TestPowerRedirectionSession(t *testing.T) {
	t.Parallel()
	sim := startSim(t, plainOpts())
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	d.SetRedirectionSession(true)
	require.True(t, d.RedirectionSessionOpen())
	for _, ps := range []int{powerCycle, powerOff} {
		assert.Equal(t, rvInvalidTransition, wc.returnValue(powerReq(ps)), "PowerState %d", ps)
		assert.Equal(t, powerOn, d.PowerState())
	}
	assert.Empty(t, d.Boots())
	assert.Equal(t, 0, wc.returnValue(powerReq(powerReset)), "reset is how to boot into IDE-R")
	require.Len(t, d.Boots(), 1)
	d.SetRedirectionSession(false)
	assert.Equal(t, 0, wc.returnValue(powerReq(powerOff)))
	assert.Equal(t, powerOff, d.PowerState())
}

func TestPowerTransitionTime(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.TransitionTime = time.Hour // applied by the next change, or never
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)

	// Accepted with 0; PowerState shows the state before the change, and
	// no property tells of a change in progress (no capture has one).
	require.Equal(t, 0, wc.returnValue(powerReq(powerOff)))
	inst := wc.powerInstance()
	assert.Equal(t, "2", textOf(inst, uriAPMS, "PowerState"))
	assert.Nil(t, find(inst, uriAPMS, "TransitioningToPowerState"))
	assert.Nil(t, find(inst, uriAPMS, "RequestedPowerState"), "AMT 9 and later: not with AvailableRequestedPowerStates")
	assert.Equal(t, []int{10, 8, 5, 11, 4, 7, 14, 12}, ints(findAll(inst, uriAPMS, "AvailableRequestedPowerStates")))
	assert.Equal(t, powerOn, d.PowerState())
	assert.Empty(t, d.PowerEvents())

	// Never Busy: a second change first applies the pending one (off),
	// then is answered for the state it left (reset from off: 4097).
	assert.Equal(t, rvUnknownError, wc.returnValue(powerReq(99)), "unsupported values are refused first")
	assert.Equal(t, powerOn, d.PowerState(), "a refused value applies nothing")
	assert.Equal(t, rvInvalidTransition, wc.returnValue(powerReq(powerReset)))
	assert.Equal(t, powerOff, d.PowerState())
	require.Len(t, d.PowerEvents(), 1)
	assert.Equal(t, "off", d.PowerEvents()[0].Kind)
	require.Equal(t, 0, wc.returnValue(powerReq(powerOn)))
	assert.Equal(t, powerOff, d.PowerState(), "still off until the change is applied")
	require.Equal(t, 0, wc.returnValue(powerReq(powerReset)), "power on is applied, then the reset accepted")
	assert.Equal(t, []int{powerOff, powerOn, powerReset}, d.PowerRequests(), "refusals are not recorded")
	require.Len(t, d.Boots(), 1, "the power-on booted once")
	assert.Equal(t, CausePowerOn, d.Boots()[0].Cause)

	// A short transition is applied on its own.
	short := plainOpts()
	short.TransitionTime = 20 * time.Millisecond
	sim2 := startSim(t, short)
	d2 := sim2.Devices()[0]
	wc2 := newClient(t, sim2.URL(), testUser, testPass)
	require.Equal(t, 0, wc2.returnValue(powerReq(powerReset)))
	b, err := d2.WaitBoot(waitCtx(t), 1)
	require.NoError(t, err, "the reset is applied on its own")
	assert.Equal(t, CauseReset, b.Cause)
	_, err = d2.WaitBoot(waitCtx(t), 0)
	assert.Error(t, err)
	assert.Equal(t, "2", textOf(wc2.powerInstance(), uriAPMS, "PowerState"))
}

// TestPowerPropertiesBeforeAMT9 reports PowerState with RequestedPowerState
// and no AvailableRequestedPowerStates, as the AMT 8 capture shows.
func TestPowerPropertiesBeforeAMT9(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.Version = "8.1.71.3608"
	sim := startSim(t, opts)
	wc := newClient(t, sim.URL(), testUser, testPass)
	inst := wc.powerInstance()
	assert.Equal(t, "2", textOf(inst, uriAPMS, "PowerState"))
	assert.Equal(t, "2", textOf(inst, uriAPMS, "RequestedPowerState"))
	assert.Nil(t, find(inst, uriAPMS, "AvailableRequestedPowerStates"))
	require.Equal(t, 0, wc.returnValue(powerReq(powerOff)))
	inst = wc.powerInstance()
	assert.Equal(t, "8", textOf(inst, uriAPMS, "PowerState"))
	assert.Equal(t, "8", textOf(inst, uriAPMS, "RequestedPowerState"))
}

func TestOSPowerSaving(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.Version = "16.1.27.2176"
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	osState := func() string {
		_, data := wc.post(getReq(uriIPSPowerService))
		return textOf(parseDoc(t, data), uriIPSPowerService, "OSPowerSavingState")
	}
	assert.Equal(t, "2", osState())
	assert.Equal(t, rvInvalidTransition, wc.returnValue(osSavingReq(osSavingFull)), "already at full power")
	assert.Equal(t, 0, wc.returnValue(osSavingReq(osSavingSaving)))
	assert.Equal(t, "3", osState())
	assert.Equal(t, osSavingSaving, d.OSPowerSavingState())
	assert.Equal(t, powerOn, d.PowerState(), "hardware stays on")
	assert.Equal(t, rvInvalidTransition, wc.returnValue(osSavingReq(osSavingSaving)))
	assert.Equal(t, rvInvalidParameter, wc.returnValue(osSavingReq(4)))
	assert.Equal(t, 0, wc.returnValue(osSavingReq(osSavingFull)))
	assert.Equal(t, "2", osState())

	d.SetPowerState(powerOff)
	assert.Equal(t, rvInvalidTransition, wc.returnValue(osSavingReq(osSavingSaving)), "only while on")

	d.SetPowerState(powerOn)
	d.SetOSPowerSavingSupported(false)
	assert.Equal(t, "1", osState())
	assert.Equal(t, rvNotSupported, wc.returnValue(osSavingReq(osSavingSaving)))

	kinds := []string{}
	for _, e := range d.PowerEvents() {
		kinds = append(kinds, e.Kind)
	}
	assert.Equal(t, []string{"os-power-saving", "os-full-power"}, kinds)

	unsupported := plainOpts()
	unsupported.Version = "12.0.67.1579"
	unsupported.NoOSPowerSaving = true
	sim2 := startSim(t, unsupported)
	wc2 := newClient(t, sim2.URL(), testUser, testPass)
	_, data := wc2.post(getReq(uriIPSPowerService))
	assert.Equal(t, "1", textOf(parseDoc(t, data), uriIPSPowerService, "OSPowerSavingState"))
}

func TestInitialPowerState(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.PowerState = powerOff
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	assert.Equal(t, powerOff, d.PowerState())
	assert.Panics(t, func() { d.SetPowerState(3) })
	for _, bad := range []Options{{PowerState: 3}, {TransitionTime: -time.Second}, {BootCapabilities: map[string]bool{"Nope": true}}} {
		bad.TLSPort = -1
		_, err := New(bad)
		assert.Error(t, err)
	}
}

func TestPowerAccessAndFaults(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.Accounts = []Account{{User: "viewer", Password: "V1ewer!!", ReadOnly: true}}
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	ro := newClient(t, sim.URL(), "viewer", "V1ewer!!")

	for _, req := range []string{powerReq(powerReset), changeBootOrderReq(sourcePXE), setRoleReq(1), bootPutReq(`<r:UseSOL>true</r:UseSOL>`)} {
		resp, data := ro.post(req)
		requireFault(t, resp, data, "e:AccessDenied")
	}
	assert.Empty(t, d.PowerRequests())
	assert.Equal(t, 1, d.Stats().Actions[uriPowerService+"/RequestPowerStateChange"])

	// The reset executes exactly once although the client sees the
	// connection reset.
	d.InjectFault(Fault{Kind: FaultResetAfterRequest, Action: "RequestPowerStateChange", Times: 1})
	_, _, err := wc.tryPost(powerReq(powerReset))
	require.Error(t, err)
	assert.Equal(t, []int{powerReset}, d.PowerRequests())
	boots := d.Boots()
	require.Len(t, boots, 1)
	assert.Equal(t, CauseReset, boots[0].Cause)
	assert.Equal(t, 2, d.Stats().Actions[uriPowerService+"/RequestPowerStateChange"])
}

// logBuffer collects slog output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestOneTimeBoot(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	opts := plainOpts()
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	lastBoot := func() BootRecord {
		t.Helper()
		b := d.Boots()
		require.NotEmpty(t, b)
		return b[len(b)-1]
	}
	reset := func() BootRecord {
		t.Helper()
		n := len(d.Boots())
		require.Equal(t, 0, wc.returnValue(powerReq(powerReset)))
		require.Len(t, d.Boots(), n+1)
		return lastBoot()
	}
	bootSettings := func() *etree.Element {
		t.Helper()
		resp, data := wc.post(getReq(uriBootSettingData))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return find(parseDoc(t, data), uriBootSettingData, "AMT_BootSettingData")
	}

	t.Run("PXE once", func(t *testing.T) {
		require.Equal(t, 0, wc.returnValue(changeBootOrderReq(sourcePXE, sourceHDD)))
		require.Equal(t, 0, wc.returnValue(setRoleReq(roleIsNextSingleUse)))
		b := reset()
		assert.Equal(t, BootSourcePXE, b.Source)
		assert.Equal(t, BootSourcePXE, b.Requested)
		assert.True(t, b.OneTime)
		assert.Equal(t, CauseReset, b.Cause)
		assert.Equal(t, BootSourceHDD, reset().Source, "consumed by the first boot")
		assert.Contains(t, logs.String(), `msg="amtsim boot" device=127.0.0.1 seq=1 cause=reset source=pxe`)
	})
	t.Run("not armed", func(t *testing.T) {
		require.Equal(t, 0, wc.returnValue(changeBootOrderReq(sourceCD)))
		b := reset()
		assert.Equal(t, BootSourceHDD, b.Source, "without SetBootConfigRole BIOS ignores the settings")
		assert.False(t, b.OneTime)
		require.Equal(t, 0, wc.returnValue(setRoleReq(roleIsNextSingleUse)))
		require.Equal(t, 0, wc.returnValue(setRoleReq(roleIsNotNext)))
		assert.Equal(t, BootSourceHDD, reset().Source, "disarmed")
		require.Equal(t, 0, wc.returnValue(setRoleReq(roleIsNextSingleUse)))
		assert.Equal(t, BootSourceCD, reset().Source, "the selection survived until armed")
	})
	t.Run("IDER CD with SOL", func(t *testing.T) {
		require.Equal(t, 0, wc.returnValue(changeBootOrderReq()))
		resp, data := wc.post(bootPutReq(`<r:IDERBootDevice>1</r:IDERBootDevice><r:UseIDER>true</r:UseIDER><r:UseSOL>true</r:UseSOL><r:LockKeyboard>true</r:LockKeyboard>`))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		put := find(parseDoc(t, data), uriBootSettingData, "AMT_BootSettingData")
		assert.Equal(t, "true", textOf(put, uriBootSettingData, "UseIDER"), "Put returns the updated instance")
		assert.Equal(t, "false", textOf(put, uriBootSettingData, "OptionsCleared"))
		require.Equal(t, 0, wc.returnValue(setRoleReq(roleIsNextSingleUse)))
		d.SetPowerState(powerOff)
		require.Equal(t, 0, wc.returnValue(powerReq(powerOn)))
		b := lastBoot()
		assert.Equal(t, CausePowerOn, b.Cause)
		assert.Equal(t, BootSourceHDD, b.Source, "no IDE-R session: BIOS falls back to the hard drive")
		assert.Equal(t, BootSourceIDERCD, b.Requested)
		require.Equal(t, 1, b.IDERBoot)
		ib := d.IDERBoots()
		require.Len(t, ib, 1)
		assert.Equal(t, IDERBoot{Seq: 1, BootSeq: b.Seq, Medium: "cd", Err: "no IDE-R session open"}, ib[0])
		assert.True(t, b.UseSOL)
		assert.True(t, b.LockKeyboard)
		assert.Equal(t, 1, b.IDERBootDevice)

		bsd := bootSettings()
		for _, p := range []string{"UseIDER", "UseSOL", "LockKeyboard", "BIOSSetup"} {
			assert.Equal(t, "false", textOf(bsd, uriBootSettingData, p), p)
		}
		assert.Equal(t, "0", textOf(bsd, uriBootSettingData, "IDERBootDevice"))
		assert.Equal(t, "true", textOf(bsd, uriBootSettingData, "OptionsCleared"))
	})
	t.Run("IDER floppy", func(t *testing.T) {
		resp, data := wc.post(bootPutReq(`<r:UseIDER>true</r:UseIDER>`))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		require.Equal(t, 0, wc.returnValue(setRoleReq(roleIsNextSingleUse)))
		b := reset()
		assert.Equal(t, BootSourceHDD, b.Source)
		assert.True(t, b.UseIDER)
		assert.Equal(t, 0, b.IDERBootDevice)
		ib, err := d.WaitIDERBoot(t.Context(), b.IDERBoot)
		require.NoError(t, err)
		assert.Equal(t, "floppy", ib.Medium)
		assert.False(t, ib.OK)
	})
	t.Run("BIOS setup", func(t *testing.T) {
		resp, data := wc.post(bootPutReq(`<r:BIOSSetup>true</r:BIOSSetup><r:UseSOL>true</r:UseSOL>`))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		require.Equal(t, 0, wc.returnValue(setRoleReq(roleIsNextSingleUse)))
		b := reset()
		assert.Equal(t, BootSourceBIOSSetup, b.Source)
		assert.True(t, b.BIOSSetup)
		assert.True(t, b.UseSOL)
	})
	t.Run("resume is no boot", func(t *testing.T) {
		require.Equal(t, 0, wc.returnValue(changeBootOrderReq(sourcePXE)))
		require.Equal(t, 0, wc.returnValue(setRoleReq(roleIsNextSingleUse)))
		require.Equal(t, 0, wc.returnValue(powerReq(powerSleep)))
		n := len(d.Boots())
		require.Equal(t, 0, wc.returnValue(powerReq(powerOn)))
		assert.Len(t, d.Boots(), n)
		ev := d.PowerEvents()
		assert.Equal(t, "resume", ev[len(ev)-1].Kind)
		assert.Equal(t, BootSourcePXE, reset().Source, "the armed settings wait for a real boot")
	})
	t.Run("power cycle and soft reset boot", func(t *testing.T) {
		require.Equal(t, 0, wc.returnValue(powerReq(powerCycle)))
		assert.Equal(t, CausePowerCycle, lastBoot().Cause)
		require.Equal(t, 0, wc.returnValue(powerReq(powerSoftReset)))
		assert.Equal(t, CauseSoftReset, lastBoot().Cause)
	})
}

func TestBootSettingsRefused(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.Version = "16.1.27.2176"
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	wc := newClient(t, sim.URL(), testUser, testPass)
	get := func() *etree.Element {
		_, data := wc.post(getReq(uriBootSettingData))
		return find(parseDoc(t, data), uriBootSettingData, "AMT_BootSettingData")
	}
	requireStatus := func(data []byte, status string) {
		t.Helper()
		assert.Equal(t, "AMT-STATUS "+status, textOf(parseDoc(t, data), soap.NSSOAP, "Detail"))
	}

	t.Run("read-only property", func(t *testing.T) {
		// Changed read-only values are refused.
		for _, p := range []string{"<r:OptionsCleared>false</r:OptionsCleared>", "<r:BIOSLastStatus>0</r:BIOSLastStatus><r:BIOSLastStatus>0</r:BIOSLastStatus>",
			"<r:WinREBootEnabled>false</r:WinREBootEnabled>", "<r:BootguardStatus>1</r:BootguardStatus>", "<r:RPEEnabled>false</r:RPEEnabled>"} {
			resp, data := wc.post(bootPutReq(`<r:UseSOL>true</r:UseSOL>` + p))
			requireFault(t, resp, data, "d:InvalidRepresentation")
		}
		assert.Equal(t, "false", textOf(get(), uriBootSettingData, "UseSOL"), "nothing changed")

		// The whole instance as read back is accepted, as the go-wsman
		// capture shows firmware accepting it; read-only values stay.
		whole := get()
		var props string
		for _, c := range whole.ChildElements() {
			props += "<r:" + c.Tag + ">" + esc(c.Text()) + "</r:" + c.Tag + ">"
		}
		resp, data := wc.post(bootPutReq(props))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		assert.Equal(t, "true", textOf(parseDoc(t, data), uriBootSettingData, "OptionsCleared"), "AMT 16: OptionsCleared stays true after a Put, as captured")
		assert.Nil(t, find(parseDoc(t, data), uriBootSettingData, "UefiBootParametersArray"))
	})
	t.Run("conflict with boot source", func(t *testing.T) {
		require.Equal(t, 0, wc.returnValue(changeBootOrderReq(sourcePXE)))
		for _, opt := range bootSourceConflicts {
			if opt == "BIOSPause" {
				continue // refused by capability anyway
			}
			resp, data := wc.post(bootPutReq(`<r:` + opt + `>true</r:` + opt + `>`))
			root := requireFault(t, resp, data, "e:InternalError")
			assert.Equal(t, "a:Receiver", textOf(find(root, soap.NSSOAP, "Code"), soap.NSSOAP, "Value"))
			requireStatus(data, "2050")
		}
		resp, data := wc.post(bootPutReq(`<r:LockKeyboard>true</r:LockKeyboard>`))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		require.Equal(t, 0, wc.returnValue(changeBootOrderReq()))
		resp, data = wc.post(bootPutReq(`<r:UseSOL>true</r:UseSOL>`))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	})
	t.Run("capability", func(t *testing.T) {
		for _, p := range []string{"<r:BIOSPause>true</r:BIOSPause>", "<r:LockPowerButton>true</r:LockPowerButton>",
			"<r:FirmwareVerbosity>2</r:FirmwareVerbosity>", "<r:SecureErase>true</r:SecureErase>"} {
			resp, data := wc.post(bootPutReq(p))
			requireFault(t, resp, data, "e:InternalError")
			requireStatus(data, "2050")
		}
		resp, data := wc.post(bootPutReq(`<r:IDERBootDevice>7</r:IDERBootDevice>`))
		requireFault(t, resp, data, "e:InternalError")
		requireStatus(data, "36")
		resp, data = wc.post(bootPutReq(`<r:UseIDER>maybe</r:UseIDER>`))
		requireFault(t, resp, data, "e:SchemaValidationError")
		resp, data = wc.post(bootPutReq(`<r:ElementName>other</r:ElementName>`))
		requireFault(t, resp, data, "d:InvalidRepresentation")
	})
	t.Run("write-only password", func(t *testing.T) {
		resp, data := wc.post(bootPutReq(`<r:RSEPassword>secret</r:RSEPassword>`))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		assert.Equal(t, "", textOf(parseDoc(t, data), uriBootSettingData, "RSEPassword"))
	})
	t.Run("method references", func(t *testing.T) {
		assert.Equal(t, rvInvalidReference, wc.returnValue(changeBootOrderReq("Intel(r) AMT: Force Diagnostic Boot")))
		assert.Equal(t, rvInvalidReference, wc.returnValue(envelope(uriBootConfigSetting+"/ChangeBootOrder", uriBootConfigSetting, "1", nil,
			`<h:ChangeBootOrder_INPUT xmlns:h="`+uriBootConfigSetting+`"><h:Source>source</h:Source></h:ChangeBootOrder_INPUT>`)))
		for _, role := range []int{0, 2, 32769} {
			assert.Equal(t, rvInvalidParameter, wc.returnValue(setRoleReq(role)), "role %d", role)
		}
		assert.Equal(t, rvInvalidReference, wc.returnValue(envelope(uriBootService+"/SetBootConfigRole", uriBootService, "1", nil,
			`<h:SetBootConfigRole_INPUT xmlns:h="`+uriBootService+`"><h:Role>1</h:Role></h:SetBootConfigRole_INPUT>`)))
	})

	// With the capability granted, BIOSPause works and is recorded.
	opts.BootCapabilities = map[string]bool{"BIOSPause": true, "SOL": false}
	sim2 := startSim(t, opts)
	wc2 := newClient(t, sim2.URL(), testUser, testPass)
	resp, data := wc2.post(bootPutReq(`<r:UseSOL>true</r:UseSOL>`))
	requireFault(t, resp, data, "e:InternalError")
	resp, data = wc2.post(bootPutReq(`<r:BIOSPause>true</r:BIOSPause>`))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	require.Equal(t, 0, wc2.returnValue(setRoleReq(roleIsNextSingleUse)))
	require.Equal(t, 0, wc2.returnValue(powerReq(powerReset)))
	boots := sim2.Devices()[0].Boots()
	require.Len(t, boots, 1)
	assert.True(t, boots[0].BIOSPause)
	assert.Empty(t, d.Boots())
}

// TestPowerStateLost models the management engine that lost the host's
// power state: PowerState 0 and every change failing until the OS reboots
// the machine once; a fleet spec group can start that way.
func TestPowerStateLost(t *testing.T) {
	t.Parallel()
	spec, err := ParseFleetSpec(strings.NewReader(`{"groups": [{"name": "lost", "weight": 1, "power_state_lost": true}]}`))
	require.NoError(t, err)
	opts := plainOpts()
	opts.Fleet = spec
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	require.True(t, d.PowerStateLost())
	wc := newClient(t, sim.URL(), testUser, testPass)
	assert.Equal(t, "0", textOf(wc.powerInstance(), uriAPMS, "PowerState"), "Unknown")
	for _, ps := range []int{powerReset, powerOn, powerOff} {
		assert.Equal(t, rvUnknownError, wc.returnValue(powerReq(ps)), "PowerState %d", ps)
	}
	assert.Empty(t, d.PowerRequests())
	assert.Empty(t, d.Boots())

	require.NoError(t, d.RebootFromOS())
	assert.False(t, d.PowerStateLost())
	require.Len(t, d.Boots(), 1)
	assert.Equal(t, CauseOSReboot, d.Boots()[0].Cause)
	assert.Equal(t, "2", textOf(wc.powerInstance(), uriAPMS, "PowerState"))
	assert.Equal(t, 0, wc.returnValue(powerReq(powerReset)))

	d.SetPowerStateLost(true)
	assert.Equal(t, "0", textOf(wc.powerInstance(), uriAPMS, "PowerState"))
	d.SetPowerState(powerOff)
	assert.Error(t, d.RebootFromOS(), "the OS cannot reboot a host that is off")
}
