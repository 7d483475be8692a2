package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
)

func TestHWJSON(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{Version: "12.0.67.1579", RMCPPort: -1})
	code, out, errOut := amtctl(t, "hw", "--host", dev.HTTPAddr(), "--password", password, "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	rec := decodeContractLine(t, t.Name(), out)
	for _, k := range []string{"host", "chassis", "baseboard", "bios", "processors", "memory", "storage", "batteries"} {
		assert.Contains(t, rec, k)
	}
	chassis := rec["chassis"].(map[string]any)
	assert.Equal(t, "NUC9V7QNX", chassis["model"])
	assert.Contains(t, chassis, "asset_tag")
	assert.Nil(t, chassis["asset_tag"], "no asset tag: null")
	bios := rec["bios"].(map[string]any)
	assert.Equal(t, "2020-08-10", bios["release_date"])
	cpu := rec["processors"].([]any)[0].(map[string]any)
	assert.Equal(t, "Intel(R) Core(TM) i7-9850H CPU @ 2.60GHz", cpu["model"])
	mem := rec["memory"].([]any)
	require.Len(t, mem, 2)
	assert.Equal(t, float64(2400), mem[0].(map[string]any)["speed_mhz"])
	assert.Equal(t, float64(16<<30), mem[0].(map[string]any)["size_bytes"])

	// The AMT 8 device reports no memory clock: the key stays, null.
	_, old := newSim(t, amtsim.Options{Addr: "127.0.0.2", Version: "8.1.71.3608", RMCPPort: -1})
	code, out, errOut = amtctl(t, "hw", "--host", old.HTTPAddr(), "--password", password, "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	m := decodeContractLine(t, t.Name(), out)["memory"].([]any)[0].(map[string]any)
	assert.Contains(t, m, "speed_mhz")
	assert.Nil(t, m["speed_mhz"])

	code, out, errOut = amtctl(t, "hw", "--host", dev.HTTPAddr(), "--password", password)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "NUC9V7QNX")
	assert.Contains(t, out, "Memory BANK 0")
}

func TestLogEventsAndAudit(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{RMCPPort: -1})
	code, out, errOut := amtctl(t, "log", "events", "--host", dev.HTTPAddr(), "--password", password, "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	rec := decodeContractLine(t, t.Name(), out)
	evs := rec["events"].([]any)
	require.Len(t, evs, 3)
	e := evs[0].(map[string]any)
	assert.Equal(t, "2024-01-06T03:26:27Z", e["time"])
	assert.Equal(t, "critical", e["severity_name"])
	assert.Equal(t, "out-of-band access password violation", e["description"])

	code, out, errOut = amtctl(t, "log", "events", "--host", dev.HTTPAddr(), "--password", password, "-o", "json", "--since", "2024-01-01")
	require.Equal(t, exitOK, code, errOut)
	assert.Len(t, decodeContractLine(t, t.Name(), out)["events"].([]any), 1)

	code, out, errOut = amtctl(t, "log", "audit", "--host", dev.HTTPAddr(), "--password", password, "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	recs := decodeContractLine(t, t.Name(), out)["records"].([]any)
	require.Len(t, recs, 2)
	a := recs[0].(map[string]any)
	assert.Equal(t, "Firmware Update Manager", a["group_name"])
	assert.Equal(t, "Firmware Updated", a["event_name"])
	assert.Equal(t, "local", a["initiator"])
	assert.Nil(t, a["address"])
	assert.Equal(t, "from 12.0.40.1433 to 12.0.36.1428", a["description"])

	// Nothing since a recent time: an empty list, not null.
	code, out, errOut = amtctl(t, "log", "audit", "--host", dev.HTTPAddr(), "--password", password, "-o", "json", "--since", "1h")
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, []any{}, decodeContractLine(t, t.Name(), out)["records"])

	code, out, _ = amtctl(t, "log", "audit", "--host", dev.HTTPAddr(), "--password", password)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "Firmware Updated")
}

func TestLogUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"log"},
		{"log", "events", "--host", "127.0.0.1", "--since", "yesterday"},
		{"log", "audit", "--host", "127.0.0.1", "--since", "-5h"},
		{"log", "nosuch"},
		{"time", "--host", "127.0.0.1", "--set=maybe"},
		{"hw"},
	} {
		code, _, errOut := amtctl(t, args...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, errOut)
	}
}

func TestTimeSet(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{RMCPPort: -1})
	dev.SetClockOffset(-2 * time.Hour)
	code, out, errOut := amtctl(t, "time", "--host", dev.HTTPAddr(), "--password", password, "-o", "json")
	require.Equal(t, exitOK, code, errOut)
	rec := decodeContractLine(t, t.Name(), out)
	assert.InDelta(t, -7200, rec["offset_seconds"], 2)
	for _, k := range []string{"host", "device_time", "console_time", "offset_seconds"} {
		assert.Contains(t, rec, k)
	}

	// A dry run sends nothing that changes the clock.
	code, out, errOut = amtctl(t, "time", "--host", dev.HTTPAddr(), "--password", password, "-o", "json", "--set", "--dry-run")
	require.Equal(t, exitOK, code, errOut)
	rec = decodeContractLine(t, t.Name(), out)
	assert.Equal(t, true, rec["dry_run"])
	ws := rec["would_send"].([]any)
	require.Len(t, ws, 2)
	assert.Equal(t, "SetHighAccuracyTimeSynch", ws[1].(map[string]any)["method"])
	assert.InDelta(t, (-2 * time.Hour).Seconds(), dev.ClockOffset().Seconds(), 1)

	code, out, errOut = amtctl(t, "time", "--host", dev.HTTPAddr(), "--password", password, "-o", "json", "--set")
	require.Equal(t, exitOK, code, errOut)
	rec = decodeContractLine(t, t.Name(), out)
	for _, k := range []string{"host", "action", "accepted", "changed", "message", "dry_run", "would_send", "device_time", "console_time", "offset_seconds", "offset_after_seconds"} {
		assert.Contains(t, rec, k)
	}
	assert.Equal(t, true, rec["accepted"])
	assert.Equal(t, true, rec["changed"])
	assert.InDelta(t, -7200, rec["offset_seconds"], 2)
	assert.InDelta(t, 0, rec["offset_after_seconds"], 2)
	assert.Less(t, dev.ClockOffset().Abs(), 2*time.Second)

	code, _, _ = amtctl(t, "time", "--host", dev.HTTPAddr(), "--password", password, "--dry-run")
	assert.Equal(t, exitUsage, code, "--dry-run without --set")
}

// TestHWLogTimeBinary runs the built amtctl against the simulator: output,
// and the exit status of a wrong password.
func TestHWLogTimeBinary(t *testing.T) {
	t.Parallel()
	amtctlBinary(t)
	_, dev := newSim(t, amtsim.Options{RMCPPort: -1})
	dev.SetClockOffset(time.Hour)

	// A state of its own: the lockout guard kept there remembers the wrong
	// password below by address, across runs of this test (-count).
	state := filepath.Join(t.TempDir(), "state")
	runBin := func(args ...string) (int, string, string) {
		return execBinary(t, append(os.Environ(), "AMT_PASSWORD=", "AMTKIT_STATE="+state), nil, args...)
	}
	code, out2, errOut := runBin("hw", "--host", dev.HTTPAddr(), "--password", password, "-o", "json")
	require.Equal(t, 0, code, errOut)
	assert.NotNil(t, decodeContractLine(t, t.Name(), out2)["chassis"])
	code, out2, errOut = runBin("log", "events", "--host", dev.HTTPAddr(), "--password", password, "-o", "json")
	require.Equal(t, 0, code, errOut)
	assert.Len(t, decodeContractLine(t, t.Name(), out2)["events"].([]any), 3)
	code, out2, errOut = runBin("log", "audit", "--host", dev.HTTPAddr(), "--password", password, "-o", "json")
	require.Equal(t, 0, code, errOut)
	assert.Len(t, decodeContractLine(t, t.Name(), out2)["records"].([]any), 2)
	code, out2, errOut = runBin("time", "--host", dev.HTTPAddr(), "--password", password, "--set", "-o", "json")
	require.Equal(t, 0, code, errOut)
	assert.InDelta(t, 3600, decodeContractLine(t, t.Name(), out2)["offset_seconds"], 2)
	assert.Less(t, dev.ClockOffset().Abs(), 2*time.Second)

	code, out2, errOut = runBin("log", "audit", "--host", dev.HTTPAddr(), "--password", "wrong")
	assert.Equal(t, exitAuthFailed, code, errOut)
	assert.Empty(t, out2)
	code, _, _ = runBin("time", "--host", dev.HTTPAddr(), "--password", password, "--since", "1h")
	assert.Equal(t, exitUsage, code)
}
