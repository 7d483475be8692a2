package amt_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/wsman"
)

func TestHardware(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		version, chassis, bios, cpu string
		memory                      int
		speed                       *int
		media                       int
	}{
		// AMT 12 serves the NUC9 captures, with the processor named by its
		// CIM_Chip and memory clock speeds.
		{"12.0.67.1579", "NUC9V7QNX", "QNCFLX70.0054.2020.0810.2227", "Intel(R) Core(TM) i7-9850H CPU @ 2.60GHz", 2, ptr(2400), 2},
		// The AMT 8 device of the captures reports no clock and no chip.
		{"8.1.71.3608", "NUC9V7QNX", "KBQ7710H.86A.0038.2012.0425.1537", "", 2, nil, 1},
	} {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			_, dev := newSim(t, amtsim.Options{Version: tt.version, RMCPPort: -1})
			c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, password))
			hw, err := c.Hardware(context.Background())
			require.NoError(t, err)
			assert.Equal(t, dev.HTTPAddr(), hw.Host)
			require.NotNil(t, hw.Chassis)
			assert.Equal(t, tt.chassis, hw.Chassis.Model)
			assert.Equal(t, "Intel(R) Client Systems", hw.Chassis.Manufacturer)
			assert.Equal(t, "JRQN0243007J", hw.Chassis.SerialNumber)
			assert.Empty(t, hw.Chassis.AssetTag, "Tag holds the class name: no asset tag")
			require.NotNil(t, hw.Baseboard)
			require.NotNil(t, hw.BIOS)
			assert.Equal(t, "Intel Corp.", hw.BIOS.Vendor)
			assert.Equal(t, tt.bios, hw.BIOS.Version)
			assert.False(t, hw.BIOS.ReleaseDate.IsZero())
			require.Len(t, hw.Processors, 1)
			assert.Equal(t, "CPU 0", hw.Processors[0].DeviceID)
			assert.Equal(t, tt.cpu, hw.Processors[0].Model)
			require.Len(t, hw.Memory, tt.memory)
			assert.Equal(t, tt.speed, hw.Memory[0].SpeedMHz)
			assert.NotNil(t, hw.Memory[0].SizeBytes)
			assert.Len(t, hw.Storage, tt.media)
			require.Len(t, hw.Batteries, 1)
			assert.Equal(t, "CC03056XL", hw.Batteries[0].DeviceID)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestHardwareWrongPassword(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{RMCPPort: -1})
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, "wrong"))
	_, err := c.Hardware(context.Background())
	require.ErrorIs(t, err, amt.ErrAuthFailed)
	_, err = c.Logs.Events(context.Background())
	require.ErrorIs(t, err, amt.ErrAuthFailed)
	_, err = c.Clock.Read(context.Background())
	require.ErrorIs(t, err, amt.ErrAuthFailed)
}

func TestLogs(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{RMCPPort: -1})
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, password))
	ctx := context.Background()

	// The device starts with the captured records.
	evs, err := c.Logs.Events(ctx)
	require.NoError(t, err)
	require.Len(t, evs, 3)
	assert.Equal(t, "out-of-band access password violation", evs[0].Description)
	assert.Equal(t, "critical", evs[0].SeverityName)
	aud, err := c.Logs.Audit(ctx)
	require.NoError(t, err)
	require.Len(t, aud, 2)
	assert.Equal(t, "Firmware Updated", aud[0].EventName)

	// A full event log pages through GetRecords (390 a call); the audit log
	// through ReadRecords (10 a call).
	dev.ClearLogs()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 400 {
		ts := uint32(base.Add(time.Duration(i) * time.Minute).Unix())
		dev.AppendEventLog([]byte{byte(ts), byte(ts >> 8), byte(ts >> 16), byte(ts >> 24), 0xFF, 0x0F, 0x6F, 0x02, 0x68, 0x01, 0xFF, 0x22, 0, 0x40, 0x07, 0, 0, 0, 0, 0, 0})
	}
	for i := range 25 {
		ts := uint32(base.Add(time.Duration(i) * time.Hour).Unix())
		dev.AppendAuditLog(append([]byte{0, 17, 0, 3, 0, 5, 'a', 'd', 'm', 'i', 'n', byte(ts >> 24), byte(ts >> 16), byte(ts >> 8), byte(ts), 0, 9}, append([]byte("127.0.0.1"), 0)...))
	}
	evs, err = c.Logs.Events(ctx)
	require.NoError(t, err)
	require.Len(t, evs, 390, "the device keeps its 390 newest records")
	assert.Equal(t, base.Add(399*time.Minute), evs[0].Time, "newest first")
	assert.Equal(t, "system firmware progress: PCI resource configuration", evs[0].Description)
	evs, err = c.Logs.Events(ctx, amt.Since(base.Add(390*time.Minute)))
	require.NoError(t, err)
	assert.Len(t, evs, 10)

	aud, err = c.Logs.Audit(ctx)
	require.NoError(t, err)
	require.Len(t, aud, 25)
	assert.Equal(t, base, aud[0].Time, "oldest first")
	assert.Equal(t, "admin", aud[24].Initiator)
	assert.Equal(t, "127.0.0.1", aud[24].Address)
	assert.Equal(t, "Remote Control", aud[24].GroupName)
	assert.Equal(t, "Performed Reset", aud[24].EventName)
	aud, err = c.Logs.Audit(ctx, amt.Since(base.Add(20*time.Hour)))
	require.NoError(t, err)
	assert.Len(t, aud, 5)

	// A record the device garbled is a malformed response.
	dev.AppendEventLog([]byte{1, 2, 3})
	_, err = c.Logs.Events(ctx)
	require.ErrorIs(t, err, wsman.ErrMalformedResponse)
}

func TestClock(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{RMCPPort: -1})
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, password))
	ctx := context.Background()
	r, err := c.Clock.Read(ctx)
	require.NoError(t, err)
	assert.Less(t, r.Offset.Abs(), 2*time.Second)

	dev.SetClockOffset(-26 * time.Hour)
	r, err = c.Clock.Read(ctx)
	require.NoError(t, err)
	assert.InDelta(t, (-26 * time.Hour).Seconds(), r.Offset.Seconds(), 2)
	before, err := c.Clock.Set(ctx)
	require.NoError(t, err)
	assert.InDelta(t, (-26 * time.Hour).Seconds(), before.Offset.Seconds(), 2)
	r, err = c.Clock.Read(ctx)
	require.NoError(t, err)
	assert.Less(t, r.Offset.Abs(), 2*time.Second, "set from the console's clock")
	assert.Less(t, dev.ClockOffset().Abs(), 2*time.Second)
}

// TestServicesConcurrent reads hardware, logs and clock from one client at
// once (run with -race).
func TestServicesConcurrent(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{RMCPPort: -1})
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, password))
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for range 4 {
		wg.Add(3)
		go func() { defer wg.Done(); _, err := c.Hardware(ctx); errs <- err }()
		go func() { defer wg.Done(); _, err := c.Logs.Events(ctx); errs <- err }()
		go func() { defer wg.Done(); _, err := c.Clock.Read(ctx); errs <- err }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestLogsCancelled(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{RMCPPort: -1})
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, password))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Logs.Audit(ctx)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
}
