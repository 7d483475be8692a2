package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/clock"
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"strconv"
	"time"
)

// The time family: the device clock (internal/clock) bound to
// AMT_TimeSynchronizationService, whose properties are captured.

var deviceClock = family[*clock.Unit]{unit: func(d *Device) *clock.Unit { return &d.units.clock }}

var timeSynchronization = &unitClass[*clock.Unit]{
	methods: map[string]func(*clock.Unit, *instance, *soap.Node) ([]outParam, *soap.Fault){
		"GetLowAccuracyTimeSynch": func(u *clock.Unit, _ *instance, _ *soap.Node) ([]outParam, *soap.Fault) {
			return []outParam{
				{name: "Ta0", values: []string{strconv.FormatInt(u.Now().Unix(), 10)}},
				{name: "ReturnValue", values: []string{"0"}},
			}, nil
		},
		// The device takes Tm2 (the console's time when it sent the
		// request) as the time now [modelled]. A missing or non-numeric
		// parameter answers PT_STATUS_INVALID_PARAMETER [modelled].
		"SetHighAccuracyTimeSynch": func(u *clock.Unit, _ *instance, in *soap.Node) ([]outParam, *soap.Fault) {
			ns := capturedURI("AMT_TimeSynchronizationService")
			_, ok0 := u32Param(in, ns, "Ta0")
			_, ok1 := u32Param(in, ns, "Tm1")
			tm2, ok2 := u32Param(in, ns, "Tm2")
			if !ok0 || !ok1 || !ok2 {
				return returnValue(ptInvalidParameter), nil
			}
			u.Set(time.Unix(int64(tm2), 0))
			return returnValue(0), nil
		},
	},
}

// SetClockOffset sets how far the device's clock is from the host's
// (positive: ahead). A new device's clock is the host's.
func (d *Device) SetClockOffset(off time.Duration) { d.units.clock.SetOffset(off) }

// ClockOffset reports how far the device's clock is from the host's.
func (d *Device) ClockOffset() time.Duration { return d.units.clock.Offset() }
