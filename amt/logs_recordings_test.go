package amt

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/internal/recordings"
	"github.com/amtkit/amtkit/wsman"
)

func TestDecodeEventRecordings(t *testing.T) {
	t.Parallel()
	got := captured(t, "AMT_MessageLog")
	out := got["GetRecordsResponse__gwm__1.resp.xml"]
	require.Len(t, out, 1)
	recs := out[0].Values("RecordArray")
	require.Len(t, recs, 3)
	var evs []*Event
	for _, r := range recs {
		ev, err := DecodeEvent(r)
		require.NoError(t, err)
		assert.Len(t, ev.Raw, 21)
		evs = append(evs, ev)
	}
	// Newest first, as the device returns the log.
	e := evs[0]
	assert.Equal(t, time.Date(2024, 1, 6, 3, 26, 27, 0, time.UTC), e.Time)
	assert.Equal(t, 0x06, e.SensorType)
	assert.Equal(t, "platform security violation attempt", e.SensorTypeName)
	assert.Equal(t, 0x6F, e.EventType)
	assert.Equal(t, 5, e.EventOffset)
	assert.Equal(t, "critical", e.SeverityName)
	assert.Equal(t, 0x26, e.Entity)
	assert.Equal(t, "remote management communication device", e.EntityName)
	assert.Equal(t, "out-of-band access password violation", e.Description)

	e = evs[1]
	assert.Equal(t, time.Date(2023, 9, 13, 0, 45, 22, 0, time.UTC), e.Time)
	assert.Equal(t, "system firmware progress", e.SensorTypeName)
	assert.Equal(t, "monitor", e.SeverityName)
	assert.Equal(t, "BIOS", e.EntityName)
	assert.Equal(t, "system firmware progress: PCI resource configuration", e.Description)
	assert.Equal(t, evs[1], evs[2])

	// The other captures describe the log the records come from.
	for _, file := range []string{"GetResponse__gwm__1.resp.xml", "GetResponse__mps__1.resp.xml", "PullResponse__gwm__1.resp.xml"} {
		require.Len(t, got[file], 1, file)
		assert.Equal(t, "21", got[file][0].String("MaxRecordSize"), file)
	}
	pos := got["PositionToFirstRecordResponse__gwm__1.resp.xml"]
	require.Len(t, pos, 1)
	assert.Equal(t, "1", pos[0].String("IterationIdentifier"))
}

func TestDecodeEventRejectsBadRecords(t *testing.T) {
	t.Parallel()
	for _, rec := range []string{"not base64!", base64.StdEncoding.EncodeToString(make([]byte, 20)), ""} {
		_, err := DecodeEvent(rec)
		assert.ErrorIs(t, err, wsman.ErrMalformedResponse, rec)
	}
}

func TestDecodeAuditRecordings(t *testing.T) {
	t.Parallel()
	got := captured(t, "AMT_AuditLog")
	out := got["ReadRecordsResponse__gwm__1.resp.xml"]
	require.Len(t, out, 1)
	assert.Equal(t, "2", out[0].String("TotalRecordCount"))
	recs := out[0].Values("EventRecords")
	require.Len(t, recs, 2)
	for i, r := range recs {
		a, err := DecodeAuditRecord(r)
		require.NoError(t, err)
		assert.Equal(t, 19, a.Group)
		assert.Equal(t, "Firmware Update Manager", a.GroupName)
		assert.Equal(t, 0, a.Event)
		assert.Equal(t, "Firmware Updated", a.EventName)
		assert.Equal(t, 2, a.InitiatorType)
		assert.Equal(t, "local", a.Initiator)
		assert.Equal(t, 2, a.AddressType, "no network address")
		assert.Equal(t, "", a.Address)
		assert.Len(t, a.ExtendedData, 16)
		assert.Equal(t, "from 12.0.40.1433 to 12.0.36.1428", a.Description)
		// This device's clock had not been set: 2004.
		assert.Equal(t, time.Date(2004, 1, 2, 1, 46, 22+i, 0, time.UTC), a.Time)
	}
	for _, file := range []string{"GetResponse__gwm__1.resp.xml", "GetResponse__mps__1.resp.xml", "PullResponse__gwm__1.resp.xml"} {
		require.Len(t, got[file], 1, file)
		assert.Equal(t, "Intel(r) AMT:Audit Log", got[file][0].String("Name"), file)
	}
}

// TestAuditNamesCoverPolicy checks that every event an audit policy in the
// captures audits has a group and an event name.
func TestAuditNamesCoverPolicy(t *testing.T) {
	t.Parallel()
	dir := recordings.Dir(t)
	data, err := os.ReadFile(filepath.Join(dir, "AMT_AuditPolicyRule", "GetResponse__mps__1.resp.xml"))
	require.NoError(t, err)
	m, err := wsman.ParseMessage(data)
	require.NoError(t, err)
	in, err := m.Instance()
	require.NoError(t, err)
	ids := in.Values("AuditApplicationEventID")
	require.NotEmpty(t, ids)
	for _, v := range ids {
		id, err := strconv.Atoi(v)
		require.NoError(t, err)
		assert.NotEmpty(t, auditGroupNames[id>>16], "group of %d", id)
		assert.NotEmpty(t, auditEventNames[auditKey{id >> 16, id & 0xFFFF}], "event %d/%d", id>>16, id&0xFFFF)
	}
}

func TestDecodeAuditRecordInitiators(t *testing.T) {
	t.Parallel()
	// A digest user over IPv4 with no extended data.
	rec := []byte{0x00, 0x11, 0x00, 0x03, 0x00, 5, 'a', 'd', 'm', 'i', 'n', 0x65, 0x98, 0xC8, 0x63, 0x00, 9, '1', '0', '.', '0', '.', '0', '.', '1', '2', 0}
	a, err := DecodeAuditRecord(base64.StdEncoding.EncodeToString(rec))
	require.NoError(t, err)
	assert.Equal(t, "Remote Control", a.GroupName)
	assert.Equal(t, "Performed Reset", a.EventName)
	assert.Equal(t, "admin", a.Initiator)
	assert.Equal(t, "10.0.0.12", a.Address)
	assert.Equal(t, time.Unix(0x6598C863, 0).UTC(), a.Time)
	assert.Empty(t, a.ExtendedData)
	// Every truncation is a malformed response, never a panic.
	for n := range len(rec) - 1 {
		_, err := DecodeAuditRecord(base64.StdEncoding.EncodeToString(rec[:n]))
		assert.ErrorIs(t, err, wsman.ErrMalformedResponse, "%d bytes", n)
	}
}

func TestDecodeClockRecordings(t *testing.T) {
	t.Parallel()
	got := captured(t, "AMT_TimeSynchronizationService")
	want := map[string]time.Time{
		"GetLowAccuracyTimeSynchResponse__gwm__1.resp.xml": time.Date(2024, 1, 4, 18, 49, 20, 0, time.UTC),
		"GetLowAccuracyTimeSynchResponse__gwm__2.resp.xml": time.Date(2024, 1, 7, 0, 21, 5, 0, time.UTC),
	}
	for file, w := range want {
		require.Len(t, got[file], 1, file)
		d, ta0, err := decodeTa0(got[file][0])
		require.NoError(t, err, file)
		assert.Equal(t, w, d, file)
		assert.Equal(t, strconv.FormatInt(w.Unix(), 10), ta0)
	}
	for _, file := range []string{"SetHighAccuracyTimeSynchResponse__gwm__1.resp.xml", "SetHighAccuracyTimeSynchResponse__gwm__2.resp.xml"} {
		require.Len(t, got[file], 1, file)
		assert.Equal(t, "0", got[file][0].String("ReturnValue"), file)
	}
	bad := wsman.NewInstance(uriTimeSync)
	bad.Set("Ta0", "-5")
	_, _, err := decodeTa0(bad)
	assert.ErrorIs(t, err, wsman.ErrMalformedResponse)
}
