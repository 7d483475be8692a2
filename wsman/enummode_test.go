package wsman_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/internal/recordings"
	"github.com/amtkit/amtkit/wsman"
)

var uriBootConfig = wsman.PrefixCIM + "CIM_BootConfigSetting"

// The captured PullResponse of an EnumerateObjectAndEPR enumeration:
// w:Item wrappers with the instance and its endpoint reference.
func TestDecodeObjectAndEPRRecording(t *testing.T) {
	dir := recordings.Dir(t)
	data, err := os.ReadFile(filepath.Join(dir, "CIM_BootConfigSetting", "PullResponse__goamt__1.resp.xml"))
	require.NoError(t, err)
	msg, err := wsman.ParseMessage(data)
	require.NoError(t, err)
	page, err := msg.Pull()
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	in := page.Items[0]
	assert.Equal(t, "CIM_BootConfigSetting", in.Class)
	assert.Equal(t, "Intel(r) AMT: Boot Configuration 0", in.String("InstanceID"))
	require.NotNil(t, in.EPR)
	assert.Equal(t, uriBootConfig, in.EPR.ResourceURI)
	id, ok := in.EPR.Selector("InstanceID")
	assert.True(t, ok)
	assert.Equal(t, "Intel(r) AMT: Boot Configuration 0", id)
	assert.True(t, page.End)
}

// Enumerate in each mode against the simulator.
func TestEnumerationModes(t *testing.T) {
	t.Parallel()
	sim, _ := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	ctx := context.Background()

	objs, err := c.EnumerateAll(ctx, uriBootConfig)
	require.NoError(t, err)
	require.NotEmpty(t, objs)
	assert.Nil(t, objs[0].EPR)
	assert.NotEmpty(t, objs[0].String("InstanceID"))

	eprs, err := c.EnumerateAll(ctx, uriBootConfig, wsman.WithEnumerationMode(wsman.EnumerateEPR))
	require.NoError(t, err)
	require.Len(t, eprs, len(objs))
	require.NotNil(t, eprs[0].EPR)
	assert.Empty(t, eprs[0].Properties, "references only")
	assert.Equal(t, "CIM_BootConfigSetting", eprs[0].Class)
	id, ok := eprs[0].EPR.Selector("InstanceID")
	assert.True(t, ok)
	assert.Equal(t, objs[0].String("InstanceID"), id)

	both, err := c.EnumerateAll(ctx, uriBootConfig, wsman.WithEnumerationMode(wsman.EnumerateObjectAndEPR))
	require.NoError(t, err)
	require.Len(t, both, len(objs))
	require.NotNil(t, both[0].EPR)
	assert.Equal(t, objs[0].String("InstanceID"), both[0].String("InstanceID"))
	id, _ = both[0].EPR.Selector("InstanceID")
	assert.Equal(t, objs[0].String("InstanceID"), id)
}

// A Pull whose answer is lost is not resent (the device may have moved
// the enumeration on), the enumeration is not started again, and the
// context the device still holds is released.
func TestLostPullIsNotResentAndReleases(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	ctx := context.Background()
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultResetAfterRequest, Action: "Pull", Times: 1})
	n := 0
	var gotErr error
	for in, err := range c.Enumerate(ctx, uriSoftware, wsman.PullMaxElements(2)) {
		if err != nil {
			gotErr = err
			break
		}
		require.NotNil(t, in)
		n++
	}
	require.Error(t, gotErr)
	assert.Zero(t, n)
	st := dev.Stats()
	assert.Equal(t, 1, st.Actions[wsman.ActionPull], "the Pull was sent once")
	assert.Equal(t, 1, st.Actions[wsman.ActionEnumerate], "the enumeration was not started again")
	assert.Equal(t, 1, st.Actions[wsman.ActionRelease], "the context was released")
}

// A loop body that panics still releases the enumeration.
func TestEnumeratePanicReleases(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())
	func() {
		defer func() { _ = recover() }()
		for range c.Enumerate(context.Background(), uriSoftware, wsman.PullMaxElements(2)) {
			panic("caller bug")
		}
	}()
	assert.Equal(t, 1, dev.Stats().Actions[wsman.ActionRelease])
}
