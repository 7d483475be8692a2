package amt

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/amtkit/amtkit/wsman"
)

var (
	uriMessageLog = wsman.ResourceURI("AMT_MessageLog")
	uriAuditLog   = wsman.ResourceURI("AMT_AuditLog")
)

// Bounds on what a device may make the client read: AMT's event log holds
// at most 390 records (AMT_MessageLog.MaxNumberOfRecords) and its audit log
// a few thousand, so a device that keeps going is broken or hostile.
const (
	maxLogRecords = 1 << 16
	maxLogCalls   = 4096
	// eventsPerCall is the MaxReadRecords asked of GetRecords: the whole
	// log at once, as consoles ask.
	eventsPerCall = 390
)

// LogService reads a device's event log (AMT_MessageLog) and security
// audit log (AMT_AuditLog). It is safe for concurrent use.
type LogService struct{ c *Client }

// Event is one record of the platform event log: a PET (Platform Event
// Trap) record of 21 bytes, as AMT stores it.
type Event struct {
	Time           time.Time // device clock, UTC
	DeviceAddress  int
	SensorType     int // IPMI sensor type, e.g. 6 platform security, 15 firmware progress
	SensorTypeName string
	EventType      int // IPMI event/reading type, 0x6F sensor-specific
	EventOffset    int
	SourceType     int // PET event source type, 0x68 ASF 1.0
	Severity       int // PET severity code
	SeverityName   string
	SensorNumber   int
	Entity         int // IPMI entity ID, e.g. 0x22 BIOS
	EntityName     string
	EntityInstance int
	EventData      []byte // 8 bytes
	Description    string
	Raw            []byte
}

// AuditRecord is one record of the security audit log.
type AuditRecord struct {
	Time time.Time // device clock, UTC
	// Group is the auditing application (AuditAppID), Event the event
	// within it; GroupName and EventName are "" when not known.
	Group     int
	GroupName string
	Event     int
	EventName string
	// InitiatorType: 0 digest user, 1 Kerberos user, 2 local, 3 KVM
	// default port.
	InitiatorType int
	Initiator     string // user name, SID, "local" or "KVM default port"
	// AddressType: 0 IPv4, 1 IPv6, 2 none; Address is the initiator's
	// network address as the device wrote it.
	AddressType  int
	Address      string
	ExtendedData []byte
	Description  string // decoded ExtendedData where the event is known
	Raw          []byte
}

// LogOption narrows a log read.
type LogOption func(*logConfig)

type logConfig struct{ since time.Time }

// Since keeps only the records at or after t.
func Since(t time.Time) LogOption { return func(c *logConfig) { c.since = t } }

// Events reads the whole event log, newest first as the device returns it.
func (s *LogService) Events(ctx context.Context, opts ...LogOption) (_ []Event, err error) {
	ctx, done := s.c.wsmanTracker(ctx, "log events", nil)
	defer func() { done(err) }()
	var cfg logConfig
	for _, o := range opts {
		o(&cfg)
	}
	const op = "event log"
	ws, err := s.c.conn(ctx)
	if err != nil {
		return nil, s.c.wrap(op, err)
	}
	pos, err := ws.Invoke(ctx, uriMessageLog, "PositionToFirstRecord", nil)
	if err != nil {
		return nil, s.c.wrap(op, err)
	}
	iter := pos.String("IterationIdentifier")
	if iter == "" {
		return nil, s.c.wrap(op, fmt.Errorf("%w: PositionToFirstRecord returned no IterationIdentifier", wsman.ErrMalformedResponse))
	}
	out := []Event{}
	n := 0
	for call := 0; ; call++ {
		if call >= maxLogCalls {
			return nil, s.c.wrap(op, fmt.Errorf("%w: event log did not end after %d reads", wsman.ErrMalformedResponse, maxLogCalls))
		}
		res, err := ws.Invoke(ctx, uriMessageLog, "GetRecords", []wsman.Property{
			wsman.Param("IterationIdentifier", iter),
			wsman.Param("MaxReadRecords", strconv.Itoa(eventsPerCall)),
		})
		if err != nil {
			return nil, s.c.wrap(op, err)
		}
		recs := res.Values("RecordArray")
		n += len(recs)
		if n > maxLogRecords {
			return nil, s.c.wrap(op, fmt.Errorf("%w: event log longer than %d records", wsman.ErrMalformedResponse, maxLogRecords))
		}
		for _, r := range recs {
			ev, err := DecodeEvent(r)
			if err != nil {
				return nil, s.c.wrap(op, err)
			}
			if ev.Time.Before(cfg.since) {
				continue
			}
			out = append(out, *ev)
		}
		done, err := res.Bool("NoMoreRecords")
		if err != nil {
			return nil, s.c.wrap(op, err)
		}
		next := res.String("IterationIdentifier")
		if done || len(recs) == 0 {
			return out, nil
		}
		if next == "" {
			return nil, s.c.wrap(op, fmt.Errorf("%w: GetRecords returned no IterationIdentifier", wsman.ErrMalformedResponse))
		}
		iter = next
	}
}

// Audit reads the whole audit log, oldest first as the device returns it.
// Reading it needs an account with the audit log realm.
func (s *LogService) Audit(ctx context.Context, opts ...LogOption) (_ []AuditRecord, err error) {
	ctx, done := s.c.wsmanTracker(ctx, "log audit", nil)
	defer func() { done(err) }()
	var cfg logConfig
	for _, o := range opts {
		o(&cfg)
	}
	const op = "audit log"
	ws, err := s.c.conn(ctx)
	if err != nil {
		return nil, s.c.wrap(op, err)
	}
	out := []AuditRecord{}
	start := 1 // ReadRecords counts from 1
	for call := 0; ; call++ {
		if call >= maxLogCalls {
			return nil, s.c.wrap(op, fmt.Errorf("%w: audit log did not end after %d reads", wsman.ErrMalformedResponse, maxLogCalls))
		}
		res, err := ws.Invoke(ctx, uriAuditLog, "ReadRecords", []wsman.Property{wsman.Param("StartIndex", strconv.Itoa(start))})
		if err != nil {
			return nil, s.c.wrap(op, err)
		}
		total, err := res.Uint("TotalRecordCount")
		if err != nil {
			return nil, s.c.wrap(op, err)
		}
		if total > maxLogRecords {
			return nil, s.c.wrap(op, fmt.Errorf("%w: audit log of %d records", wsman.ErrMalformedResponse, total))
		}
		recs := res.Values("EventRecords")
		for _, r := range recs {
			rec, err := DecodeAuditRecord(r)
			if err != nil {
				return nil, s.c.wrap(op, err)
			}
			if rec.Time.Before(cfg.since) {
				continue
			}
			out = append(out, *rec)
		}
		start += len(recs)
		if len(recs) == 0 || uint64(start) > total {
			return out, nil
		}
	}
}

// DecodeEvent decodes one base64 RecordArray entry of
// AMT_MessageLog.GetRecords: timestamp (4 bytes, little-endian seconds
// since 1970), device address, sensor type, event type, event offset,
// event source type, severity, sensor number, entity, entity instance and
// 8 bytes of event data.
func DecodeEvent(record string) (*Event, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(record))
	if err != nil {
		return nil, fmt.Errorf("%w: event record is not base64: %v", wsman.ErrMalformedResponse, err)
	}
	if len(b) < 21 {
		return nil, fmt.Errorf("%w: event record of %d bytes, want 21", wsman.ErrMalformedResponse, len(b))
	}
	ts := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	e := &Event{
		Time:           time.Unix(int64(ts), 0).UTC(),
		DeviceAddress:  int(b[4]),
		SensorType:     int(b[5]),
		EventType:      int(b[6]),
		EventOffset:    int(b[7]),
		SourceType:     int(b[8]),
		Severity:       int(b[9]),
		SensorNumber:   int(b[10]),
		Entity:         int(b[11]),
		EntityInstance: int(b[12]),
		EventData:      append([]byte(nil), b[13:21]...),
		Raw:            b,
	}
	e.SensorTypeName = sensorTypeNames[e.SensorType]
	e.SeverityName = severityNames[e.Severity]
	e.EntityName = entityNames[e.Entity]
	e.Description = describeEvent(e)
	return e, nil
}

// DecodeAuditRecord decodes one base64 EventRecords entry of
// AMT_AuditLog.ReadRecords: AuditAppID and EventID (2 bytes each,
// big-endian), initiator type and initiator, timestamp (4 bytes,
// big-endian), network address type, length and address, and the
// extended data with its length.
func DecodeAuditRecord(record string) (*AuditRecord, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(record))
	if err != nil {
		return nil, fmt.Errorf("%w: audit record is not base64: %v", wsman.ErrMalformedResponse, err)
	}
	short := func(what string) error {
		return fmt.Errorf("%w: audit record of %d bytes ends inside its %s", wsman.ErrMalformedResponse, len(b), what)
	}
	if len(b) < 5 {
		return nil, short("header")
	}
	r := &AuditRecord{
		Group:         int(b[0])<<8 | int(b[1]),
		Event:         int(b[2])<<8 | int(b[3]),
		InitiatorType: int(b[4]),
		Raw:           b,
	}
	p := 5
	switch r.InitiatorType {
	case 0: // digest user: length, name
		if p >= len(b) || p+1+int(b[p]) > len(b) {
			return nil, short("user name")
		}
		n := int(b[p])
		r.Initiator = string(b[p+1 : p+1+n])
		p += 1 + n
	case 1: // Kerberos user: 4-byte domain flag, length, SID
		if p+5 > len(b) || p+5+int(b[p+4]) > len(b) {
			return nil, short("Kerberos SID")
		}
		n := int(b[p+4])
		r.Initiator = formatSID(b[p+5 : p+5+n])
		p += 5 + n
	case 2:
		r.Initiator = "local"
	case 3:
		r.Initiator = "KVM default port"
	default:
		return nil, fmt.Errorf("%w: audit record initiator type %d", wsman.ErrMalformedResponse, r.InitiatorType)
	}
	if p+4 > len(b) {
		return nil, short("timestamp")
	}
	ts := uint32(b[p])<<24 | uint32(b[p+1])<<16 | uint32(b[p+2])<<8 | uint32(b[p+3])
	r.Time = time.Unix(int64(ts), 0).UTC()
	p += 4
	if p+2 > len(b) {
		return nil, short("network address")
	}
	r.AddressType = int(b[p])
	n := int(b[p+1])
	p += 2
	if p+n > len(b) {
		return nil, short("network address")
	}
	r.Address = strings.TrimRight(string(b[p:p+n]), "\x00")
	p += n
	r.ExtendedData = []byte{}
	if p < len(b) {
		n = int(b[p])
		p++
		if p+n > len(b) {
			return nil, short("extended data")
		}
		r.ExtendedData = append(r.ExtendedData, b[p:p+n]...)
	}
	r.GroupName = auditGroupNames[r.Group]
	r.EventName = auditEventNames[auditKey{r.Group, r.Event}]
	r.Description = describeAudit(r)
	return r, nil
}

// formatSID writes a Windows security identifier as S-1-... text.
func formatSID(b []byte) string {
	if len(b) < 8 {
		return fmt.Sprintf("%X", b)
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	s := "S-" + strconv.Itoa(int(b[0])) + "-" + strconv.FormatUint(auth, 10)
	for i := 8; i+4 <= len(b) && (i-8)/4 < int(b[1]); i += 4 {
		sub := uint32(b[i]) | uint32(b[i+1])<<8 | uint32(b[i+2])<<16 | uint32(b[i+3])<<24
		s += "-" + strconv.FormatUint(uint64(sub), 10)
	}
	return s
}

func describeAudit(r *AuditRecord) string {
	x := r.ExtendedData
	switch (auditKey{r.Group, r.Event}) {
	case auditKey{19, 0}, auditKey{19, 1}: // firmware updated / update failed: old and new versions
		if len(x) >= 16 {
			v := func(b []byte) string {
				return fmt.Sprintf("%d.%d.%d.%d", int(b[0])<<8|int(b[1]), int(b[2])<<8|int(b[3]), int(b[4])<<8|int(b[5]), int(b[6])<<8|int(b[7]))
			}
			return "from " + v(x[0:8]) + " to " + v(x[8:16])
		}
	}
	return ""
}

func describeEvent(e *Event) string {
	if e.EventType == 0x6F {
		switch e.SensorType {
		case 0x06:
			if s, ok := securityViolations[e.EventOffset]; ok {
				return s
			}
		case 0x0F:
			switch e.EventOffset {
			case 0x00:
				return "system firmware error"
			case 0x01:
				return "system firmware hang"
			case 0x02:
				if s, ok := firmwareProgress[int(e.EventData[1])]; ok {
					return "system firmware progress: " + s
				}
				return fmt.Sprintf("system firmware progress: code 0x%02X", e.EventData[1])
			}
		}
	}
	name := e.SensorTypeName
	if name == "" {
		name = fmt.Sprintf("sensor type 0x%02X", e.SensorType)
	}
	return fmt.Sprintf("%s, event 0x%02X/%d", name, e.EventType, e.EventOffset)
}
