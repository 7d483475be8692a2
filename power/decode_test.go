package power_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/internal/recordings"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/wsman"
)

func readMessage(t *testing.T, rel string) *wsman.Message {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(recordings.Dir(t), rel))
	require.NoError(t, err)
	msg, err := wsman.ParseMessage(data)
	require.NoError(t, err)
	return msg
}

func TestDecodeStatusRecording(t *testing.T) {
	in, err := readMessage(t, "CIM_AssociatedPowerManagementService/GetResponse__gwm__1.resp.xml").Instance()
	require.NoError(t, err)
	st, err := power.DecodeStatus(in)
	require.NoError(t, err)
	assert.Equal(t, power.StateOn, st.State)
	assert.Equal(t, []power.Action{power.Reset, power.Off, power.PowerCycle, power.NMI, power.Sleep, power.Hibernate, power.SoftReset, power.SoftOff}, st.Available)
	assert.False(t, st.Transitioning)
	assert.True(t, st.Offers(power.Reset))
	assert.False(t, st.Offers(power.On))
}

func TestDecodeStatusFromPullRecording(t *testing.T) {
	page, err := readMessage(t, "CIM_AssociatedPowerManagementService/PullResponse__gwm__1.resp.xml").Pull()
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	st, err := power.DecodeStatus(page.Items[0])
	require.NoError(t, err)
	assert.Equal(t, power.StateOn, st.State)
}

func TestDecodeCapabilitiesRecording(t *testing.T) {
	in, err := readMessage(t, "CIM_PowerManagementCapabilities/GetResponse__gwm__1.resp.xml").Instance()
	require.NoError(t, err)
	c, err := power.DecodeCapabilities(in)
	require.NoError(t, err)
	assert.NotEmpty(t, c.PowerChangeCapabilities)
	assert.Contains(t, c.ActionsSupported, power.Reset)
	assert.Contains(t, c.StatesSupported, power.StateOn)
}

func TestDecodeRequestPowerStateChangeOutputRecording(t *testing.T) {
	for _, rel := range []string{
		"CIM_PowerManagementService/RequestPowerStateChangeResponse__amtc__1.resp.xml",
		"CIM_PowerManagementService/RequestPowerStateChangeResponse__gwm__1.resp.xml",
	} {
		out, err := readMessage(t, rel).Instance()
		require.NoError(t, err, rel)
		assert.Equal(t, "RequestPowerStateChange_OUTPUT", out.Class, rel)
		_, err = out.Uint("ReturnValue")
		assert.NoError(t, err, rel)
	}
}

func TestDecodeBootRecordings(t *testing.T) {
	in, err := readMessage(t, "AMT_BootSettingData/GetResponse__gwm__1.resp.xml").Instance()
	require.NoError(t, err)
	assert.Equal(t, "AMT_BootSettingData", in.Class)
	opt, err := in.Bool("OptionsCleared")
	require.NoError(t, err)
	assert.True(t, opt)
	assert.Equal(t, []string{"2", "0"}, in.Values("BIOSLastStatus"))

	put, err := readMessage(t, "AMT_BootSettingData/PutResponse__gwm__1.resp.xml").Instance()
	require.NoError(t, err)
	assert.Equal(t, "AMT_BootSettingData", put.Class)

	capsIn, err := readMessage(t, "AMT_BootCapabilities/GetResponse__gwm__1.resp.xml").Instance()
	require.NoError(t, err)
	caps := power.DecodeBootCapabilities(capsIn)
	assert.True(t, caps.ForcePXEBoot)
	assert.True(t, caps.IDER)
}

func TestDecodeOSPowerSavingRecording(t *testing.T) {
	in, err := readMessage(t, "IPS_PowerManagementService/GetResponse__gwm__1.resp.xml").Instance()
	require.NoError(t, err)
	v, err := in.Uint("OSPowerSavingState")
	require.NoError(t, err)
	assert.Contains(t, []power.OSPowerSaving{power.OSFullPower, power.OSPowerSavingOn, power.OSPowerSavingUnsupported, power.OSPowerSavingUnknown}, power.OSPowerSaving(v))
}

func TestNames(t *testing.T) {
	for _, a := range power.Actions() {
		got, err := power.ParseAction(a.String())
		require.NoError(t, err)
		assert.Equal(t, a, got)
	}
	_, err := power.ParseAction("off-hard")
	assert.Error(t, err)
	assert.Equal(t, "off", power.Off.String())
	assert.EqualValues(t, 8, power.Off, "AMT's ordinary power-off is DMTF 8, Off - Soft")
	assert.EqualValues(t, 5, power.PowerCycle)
	assert.EqualValues(t, 10, power.Reset)
	assert.Equal(t, "Off - Hard", power.State(6).String())
	st, err := power.ParseState("hibernate")
	require.NoError(t, err)
	assert.Equal(t, power.StateHibernate, st)
	for _, name := range []string{"pxe", "hdd", "cd", "bios", "ider-cd", "ider-floppy"} {
		tg, err := power.ParseBootTarget(name)
		require.NoError(t, err)
		assert.Equal(t, name, tg.String())
	}
}
