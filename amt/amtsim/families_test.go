package amtsim

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestCapturedClassesInTable: every class the captures hold is served,
// through its line in the class table, under its own resource URI.
func TestCapturedClassesInTable(t *testing.T) {
	t.Parallel()
	for _, cc := range capturedClasses {
		c := classByURI[capturedURI(cc.name)]
		if assert.NotNil(t, c, cc.name) {
			assert.Equal(t, cc.name, c.name)
			assert.NotNil(t, c.build, cc.name)
		}
	}
}

// TestClassTableURIsUnique: the table maps each resource URI to one
// class.
func TestClassTableURIsUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, c := range classTable {
		if prev, ok := seen[c.uri]; ok {
			t.Errorf("%s: resource URI %s also bound to %s", c.name, c.uri, prev)
		}
		seen[c.uri] = c.name
		assert.Same(t, c, classByURI[c.uri], c.name)
	}
}

// TestFamilyUnitsPerDevice: each device's units hold its own state; the
// logs two devices start with are shared and unchanged by either.
func TestFamilyUnitsPerDevice(t *testing.T) {
	t.Parallel()
	srv, err := New(Options{DevicesCIDR: "127.195.0.0/30", RMCPPort: -1, TLSPort: -1, RedirectPort: -1, RedirectTLSPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	devs := srv.Devices()
	if !assert.GreaterOrEqual(t, len(devs), 2) {
		return
	}
	a, b := devs[0], devs[1]
	a.AppendAuditLog([]byte{1, 2, 3})
	a.AppendEventLog([]byte{4, 5, 6})
	ea, aa := a.units.logs.Counts()
	eb, ab := b.units.logs.Counts()
	assert.Equal(t, []int{len(capturedEventRecords) + 1, len(capturedAuditRecords) + 1}, []int{ea, aa})
	assert.Equal(t, []int{len(capturedEventRecords), len(capturedAuditRecords)}, []int{eb, ab})
	assert.Len(t, capturedAuditRecords, 2)
	b.ClearLogs()
	ea, aa = a.units.logs.Counts()
	assert.Equal(t, []int{len(capturedEventRecords) + 1, len(capturedAuditRecords) + 1}, []int{ea, aa})

	a.SetClockOffset(3600e9)
	assert.EqualValues(t, 3600e9, a.ClockOffset())
	assert.Zero(t, b.ClockOffset())
}
