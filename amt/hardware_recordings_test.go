package amt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/internal/recordings"
	"github.com/amtkit/amtkit/wsman"
)

// captured returns the instances of every Get and Pull response capture of
// a class (EnumerateResponses carry none), by file name.
func captured(t *testing.T, class string) map[string][]*wsman.Instance {
	t.Helper()
	dir := recordings.Dir(t)
	files, err := filepath.Glob(filepath.Join(dir, class, "*.resp.xml"))
	require.NoError(t, err)
	out := map[string][]*wsman.Instance{}
	for _, f := range files {
		base := filepath.Base(f)
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		m, err := wsman.ParseMessage(data)
		require.NoError(t, err, base)
		switch {
		case strings.HasPrefix(base, "PullResponse"):
			p, err := m.Pull()
			require.NoError(t, err, base)
			out[base] = p.Items
		case !strings.HasPrefix(base, "EnumerateResponse"): // Get, Put and method responses
			in, err := m.Instance()
			require.NoError(t, err, base)
			out[base] = []*wsman.Instance{in}
		}
	}
	require.NotEmpty(t, out, "no captures of %s", class)
	return out
}

func TestDecodePackageRecordings(t *testing.T) {
	t.Parallel()
	want := map[string]PhysicalPackage{
		"CIM_Chassis/GetResponse__gwm__1.resp.xml":  {Manufacturer: "Intel(R) Client Systems", Model: "NUC9V7QNX", SerialNumber: "JRQN0243007J", Version: "K47174-402"},
		"CIM_Chassis/PullResponse__gwm__1.resp.xml": {Manufacturer: "Intel(R) Client Systems", Model: "NUC9V7QNX", SerialNumber: "JRQN0243007J", Version: "K47174-402"},
		"CIM_Card/GetResponse__gwm__1.resp.xml":     {Manufacturer: "Intel Corporation", Model: "NUC9V7QNB", SerialNumber: "KNQN0221020W", Version: "K47180-402"},
		"CIM_Card/PullResponse__gwm__1.resp.xml":    {Manufacturer: "Intel Corporation", Model: "NUC9V7QNB", SerialNumber: "KNQN0221020W", Version: "K47180-402"},
		"CIM_Card/GetResponse__mps__1.resp.xml":     {Manufacturer: "Dell Inc.", Model: "0MVDNX", SerialNumber: "/6KB3PF3/CNPEC0017500BC/", Version: "A00"},
		// The 2012 board reports the SMBIOS asset tag its BIOS left unset.
		"CIM_Card/PullResponse__mps__1.resp.xml": {Manufacturer: "Intel Corporation", Model: "DQ77KB", SerialNumber: "BTKB2440008L", Version: "AAG40294-402", AssetTag: "To be filled by O.E.M."},
		// An enumeration of the parent class returns the board.
		"CIM_PhysicalPackage/PullResponse__gwm__1.resp.xml": {Manufacturer: "Intel Corporation", Model: "NUC9V7QNB", SerialNumber: "KNQN0221020W", Version: "K47180-402"},
	}
	seen := 0
	for _, class := range []string{"CIM_Chassis", "CIM_Card", "CIM_PhysicalPackage"} {
		for file, ins := range captured(t, class) {
			key := class + "/" + file
			w, ok := want[key]
			require.True(t, ok, "capture %s has no expectation", key)
			got := decodePackage(first(ins, ins[0].Class))
			require.NotNil(t, got, key)
			assert.Equal(t, w, *got, key)
			seen++
		}
	}
	assert.Equal(t, len(want), seen)
}

func TestDecodeBIOSRecordings(t *testing.T) {
	t.Parallel()
	want := map[string]BIOS{
		"GetResponse__gwm__1.resp.xml":  {Vendor: "Intel Corp.", Version: "QNCFLX70.0054.2020.0810.2227", ReleaseDate: time.Date(2020, 8, 10, 0, 0, 0, 0, time.UTC)},
		"PullResponse__gwm__1.resp.xml": {Vendor: "Intel Corp.", Version: "QNCFLX70.0054.2020.0810.2227", ReleaseDate: time.Date(2020, 8, 10, 0, 0, 0, 0, time.UTC)},
		"PullResponse__mps__1.resp.xml": {Vendor: "Intel Corp.", Version: "KBQ7710H.86A.0038.2012.0425.1537", ReleaseDate: time.Date(2012, 4, 25, 0, 0, 0, 0, time.UTC)},
	}
	got := captured(t, "CIM_BIOSElement")
	require.Len(t, got, len(want))
	for file, ins := range got {
		b := decodeBIOS(ins)
		require.NotNil(t, b, file)
		assert.Equal(t, want[file], *b, file)
	}
}

func TestDecodeProcessorRecordings(t *testing.T) {
	t.Parallel()
	chips := captured(t, "CIM_Chip")
	// The AMT 12 capture names CPU 0; the 2012 device's CIM_Chip
	// enumeration returned only memory (CIM_PhysicalMemory is a subclass).
	nuc := chips["PullResponse__gwm__1.resp.xml"]
	require.Len(t, nuc, 1)
	assert.Empty(t, decodeProcessors(chips["PullResponse__mps__1.resp.xml"], nil))
	assert.Len(t, decodeMemory(chips["PullResponse__mps__1.resp.xml"]), 2)
	type cpu struct {
		cur, max, family int
		stepping, model  string
	}
	want := map[string]cpu{
		"GetResponse__gwm__1.resp.xml":  {2400, 8300, 198, "13", "Intel(R) Core(TM) i7-9850H CPU @ 2.60GHz"},
		"PullResponse__gwm__1.resp.xml": {2400, 8300, 198, "13", "Intel(R) Core(TM) i7-9850H CPU @ 2.60GHz"},
		"PullResponse__mps__1.resp.xml": {3000, 3800, 205, "9", ""},
	}
	got := captured(t, "CIM_Processor")
	require.Len(t, got, len(want))
	for file, ins := range got {
		var named []*wsman.Instance
		if strings.Contains(file, "gwm") {
			named = nuc
		}
		ps := decodeProcessors(ins, named)
		require.Len(t, ps, 1, file)
		p, w := ps[0], want[file]
		assert.Equal(t, "CPU 0", p.DeviceID, file)
		assert.Equal(t, w.cur, *p.CurrentClockMHz, file)
		assert.Equal(t, w.max, *p.MaxClockMHz, file)
		assert.Equal(t, w.family, *p.Family, file)
		assert.Equal(t, w.stepping, p.Stepping, file)
		assert.Equal(t, w.model, p.Model, file)
		assert.Equal(t, 1, *p.Status, file)
		if w.model != "" {
			assert.Equal(t, "Intel(R) Corporation", p.Manufacturer, file)
		}
	}
}

func TestDecodeMemoryRecordings(t *testing.T) {
	t.Parallel()
	got := captured(t, "CIM_PhysicalMemory")
	require.Len(t, got, 2)
	nuc := decodeMemory(got["PullResponse__gwm__1.resp.xml"])
	require.Len(t, nuc, 2)
	assert.Equal(t, "BANK 0", nuc[0].Slot)
	assert.Equal(t, "BANK 2", nuc[1].Slot)
	for _, m := range nuc {
		assert.Equal(t, uint64(16<<30), *m.SizeBytes)
		assert.Equal(t, 2400, *m.SpeedMHz, "ConfiguredMemoryClockSpeed, Speed is 0")
		assert.Equal(t, "CT16G4SFD824A.M16FE", m.PartNumber)
		assert.Equal(t, 26, *m.MemoryType)
		assert.Equal(t, 13, *m.FormFactor)
	}
	old := decodeMemory(got["PullResponse__mps__1.resp.xml"])
	require.Len(t, old, 2)
	assert.Equal(t, []string{"CHANNEL A SLOT 0", "CHANNEL B SLOT 0"}, []string{old[0].Slot, old[1].Slot})
	for _, m := range old {
		assert.Equal(t, uint64(4<<30), *m.SizeBytes)
		assert.Nil(t, m.SpeedMHz, "the 2012 device reports Speed 0 and no clock")
		assert.Equal(t, 24, *m.MemoryType)
		assert.Equal(t, "830B", m.Manufacturer)
	}
	assert.Equal(t, "8A6A2E6B", old[0].SerialNumber)
}

func TestDecodeStorageRecordings(t *testing.T) {
	t.Parallel()
	got := captured(t, "CIM_MediaAccessDevice")
	require.Len(t, got, 2)
	nuc := decodeStorage(got["PullResponse__gwm__1.resp.xml"])
	require.Len(t, nuc, 2)
	assert.Equal(t, "MEDIA DEV 0", nuc[0].DeviceID)
	assert.Equal(t, uint64(960197124), *nuc[0].MaxMediaSizeKB)
	assert.Equal(t, uint64(500107862), *nuc[1].MaxMediaSizeKB)
	assert.Equal(t, []int{4}, nuc[0].Capabilities)
	old := decodeStorage(got["PullResponse__mps__1.resp.xml"])
	require.Len(t, old, 1)
	assert.Equal(t, uint64(80026361), *old[0].MaxMediaSizeKB)
	assert.Equal(t, []int{4, 10}, old[0].Capabilities)
}

func TestDecodeBatteryRecordings(t *testing.T) {
	t.Parallel()
	got := captured(t, "CIM_Battery")
	require.Len(t, got, 2)
	for file, ins := range got {
		bs := decodeBatteries(ins)
		require.Len(t, bs, 1, file)
		b := bs[0]
		assert.Equal(t, "CC03056XL", b.DeviceID, file)
		assert.Equal(t, 5601, *b.DesignCapacityMWh, file)
		assert.Equal(t, 11550, *b.DesignVoltageMV, file)
		assert.Equal(t, 0, *b.ChargePercent, file)
		assert.Equal(t, 2, *b.BatteryStatus, file)
		assert.Equal(t, 2, *b.Chemistry, file)
	}
}
