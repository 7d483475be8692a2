package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/logs"
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"encoding/base64"
	"strconv"
)

// The log family: the event and audit logs (internal/logs) bound to
// AMT_MessageLog and AMT_AuditLog, whose other properties are captured.

// logUnit is the device's log family: the logs and the store holding the
// captured log instances whose record counts follow them.
type logUnit struct {
	logs  *logs.Unit // the device's (Device.units); has its own lock
	store *instanceStore
}

var eventLogs = family[logUnit]{unit: func(d *Device) logUnit { return logUnit{logs: &d.units.logs, store: &d.store} }}

// Records the captures hold (AMT_MessageLog/GetRecordsResponse__gwm__1 and
// AMT_AuditLog/ReadRecordsResponse__gwm__1): a new device's logs start
// with them. Shared by every device; the logs never change them in place.
var capturedEventRecords, capturedAuditRecords = decodeRecords(
	"Y8iYZf8GbwVoEP8mYaoKAAAAAAAA", "IgYBZf8PbwJoAf8iAEAHAAAAAAAA", "IgYBZf8PbwJoAf8iAEAHAAAAAAAA",
), decodeRecords(
	"ABMAAAI/9M1uAgAQAAwAAAAoBZkADAAAACQFlA==", "ABMAAAI/9M1vAgAQAAwAAAAoBZkADAAAACQFlA==",
)

func decodeRecords(b64 ...string) [][]byte {
	out := make([][]byte, 0, len(b64))
	for _, r := range b64 {
		b, _ := base64.StdEncoding.DecodeString(r)
		out = append(out, b)
	}
	return out
}

func encodeRecords(recs [][]byte) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, base64.StdEncoding.EncodeToString(r))
	}
	return out
}

// messageLog: PositionToFirstRecord and GetRecords page through the event
// log, newest first (internal/logs); CurrentNumberOfRecords and
// PercentageNearFull follow it.
var messageLog = &unitClass[logUnit]{
	methods: map[string]func(logUnit, *instance, *soap.Node) ([]outParam, *soap.Fault){
		"PositionToFirstRecord": func(logUnit, *instance, *soap.Node) ([]outParam, *soap.Fault) {
			return []outParam{{name: "IterationIdentifier", values: []string{"1"}}, {name: "ReturnValue", values: []string{"0"}}}, nil
		},
		"GetRecords": func(u logUnit, _ *instance, in *soap.Node) ([]outParam, *soap.Fault) {
			ns := capturedURI("AMT_MessageLog")
			start, ok1 := u32Param(in, ns, "IterationIdentifier")
			max, ok2 := u32Param(in, ns, "MaxReadRecords")
			if !ok1 || !ok2 {
				return returnValue(logs.StatusInvalidParameter), nil
			}
			page, status := u.logs.Events(start, max)
			if status != logs.StatusOK {
				return returnValue(status), nil
			}
			out := []outParam{
				{name: "IterationIdentifier", values: []string{strconv.Itoa(page.Next)}},
				{name: "NoMoreRecords", values: []string{boolString(page.Done)}},
			}
			if len(page.Records) > 0 {
				out = append(out, outParam{name: "RecordArray", values: encodeRecords(page.Records)})
			}
			return append(out, outParam{name: "ReturnValue", values: []string{"0"}}), nil
		},
	},
	live: func(u logUnit) {
		n, _ := u.logs.Counts()
		for _, in := range u.store.of("AMT_MessageLog") {
			in.set("CurrentNumberOfRecords", strconv.Itoa(n))
			in.set("PercentageNearFull", strconv.Itoa(n*100/logs.EventCapacity))
		}
	},
}

// auditLog: ReadRecords reads the audit log from a 1-based StartIndex,
// oldest first (internal/logs); CurrentNumberOfRecords follows it.
var auditLog = &unitClass[logUnit]{
	methods: map[string]func(logUnit, *instance, *soap.Node) ([]outParam, *soap.Fault){
		"ReadRecords": func(u logUnit, _ *instance, in *soap.Node) ([]outParam, *soap.Fault) {
			start, ok := u32Param(in, capturedURI("AMT_AuditLog"), "StartIndex")
			if !ok {
				return returnValue(logs.StatusInvalidParameter), nil
			}
			recs, total, status := u.logs.Audit(start)
			if status != logs.StatusOK {
				return returnValue(status), nil
			}
			out := []outParam{
				{name: "TotalRecordCount", values: []string{strconv.Itoa(total)}},
				{name: "RecordsReturned", values: []string{strconv.Itoa(len(recs))}},
			}
			if len(recs) > 0 {
				out = append(out, outParam{name: "EventRecords", values: encodeRecords(recs)})
			}
			return append(out, outParam{name: "ReturnValue", values: []string{"0"}}), nil
		},
	},
	live: func(u logUnit) {
		_, n := u.logs.Counts()
		for _, in := range u.store.of("AMT_AuditLog") {
			in.set("CurrentNumberOfRecords", strconv.Itoa(n))
		}
	},
}

// AppendEventLog adds raw 21-byte PET records to the event log, as the
// newest. The log keeps its 390 newest records.
func (d *Device) AppendEventLog(records ...[]byte) { d.units.logs.AppendEvents(records...) }

// AppendAuditLog adds raw audit records to the audit log, as the newest.
func (d *Device) AppendAuditLog(records ...[]byte) { d.units.logs.AppendAudit(records...) }

// ClearLogs empties the event and audit logs.
func (d *Device) ClearLogs() { d.units.logs.Clear() }
