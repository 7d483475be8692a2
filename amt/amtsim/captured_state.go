package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// capturedState is the state of the captured class families that have
// any. Guarded by Device.mu.
type capturedState struct {
	clockOffset time.Duration // device clock minus the host's
	events      [][]byte      // event log records, newest first
	audit       [][]byte      // audit log records, oldest first
	started     bool
}

// Records the captures hold (AMT_MessageLog/GetRecordsResponse__gwm__1 and
// AMT_AuditLog/ReadRecordsResponse__gwm__1): a new device's logs start
// with them.
var (
	capturedEventRecords = []string{"Y8iYZf8GbwVoEP8mYaoKAAAAAAAA", "IgYBZf8PbwJoAf8iAEAHAAAAAAAA", "IgYBZf8PbwJoAf8iAEAHAAAAAAAA"}
	capturedAuditRecords = []string{"ABMAAAI/9M1uAgAQAAwAAAAoBZkADAAAACQFlA==", "ABMAAAI/9M1vAgAQAAwAAAAoBZkADAAAACQFlA=="}
)

const (
	eventLogCapacity = 390 // AMT_MessageLog.MaxNumberOfRecords in the captures
	auditPerRead     = 10  // records per ReadRecords answer [modelled]
)

// ext returns the device's captured-family state, initialising it on
// first use. Call with d.mu held.
func (d *Device) ext() *capturedState {
	s := &d.captured
	if !s.started {
		s.started = true
		for _, r := range capturedEventRecords {
			b, _ := base64.StdEncoding.DecodeString(r)
			s.events = append(s.events, b)
		}
		for _, r := range capturedAuditRecords {
			b, _ := base64.StdEncoding.DecodeString(r)
			s.audit = append(s.audit, b)
		}
	}
	return s
}

// SetClockOffset sets how far the device's clock is from the host's
// (positive: ahead). A new device's clock is the host's.
func (d *Device) SetClockOffset(off time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ext().clockOffset = off
}

// ClockOffset reports how far the device's clock is from the host's.
func (d *Device) ClockOffset() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ext().clockOffset
}

// AppendEventLog adds raw 21-byte PET records to the event log, as the
// newest. The log keeps its 390 newest records.
func (d *Device) AppendEventLog(records ...[]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.ext()
	for _, r := range records {
		s.events = append([][]byte{append([]byte(nil), r...)}, s.events...)
	}
	if len(s.events) > eventLogCapacity {
		s.events = s.events[:eventLogCapacity]
	}
}

// AppendAuditLog adds raw audit records to the audit log, as the newest.
func (d *Device) AppendAuditLog(records ...[]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.ext()
	for _, r := range records {
		s.audit = append(s.audit, append([]byte(nil), r...))
	}
}

// ClearLogs empties the event and audit logs.
func (d *Device) ClearLogs() {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.ext()
	s.events, s.audit = nil, nil
}

func (d *Device) deviceNow() time.Time { return time.Now().Add(d.ext().clockOffset) }

func paramText(input *soap.Node, ns, name string) (string, bool) {
	v := input.Child(ns, name)
	if v == nil {
		return "", false
	}
	return v.Value(), true
}

func u32Param(input *soap.Node, ns, name string) (uint64, bool) {
	v, ok := paramText(input, ns, name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	return n, err == nil
}

// PT_STATUS codes (protocol.md §1.8) the families below answer.
const (
	ptInvalidIndex  = 35
	ptInvalidHandle = 2053
)

// setupCapturedBehaviours fills capturedBehaviours and protocolClasses.
func setupCapturedBehaviours() {
	ns := func(class string) string { return capturedURI(class) }

	// Time: the device keeps a clock offset from the host's.
	timeNS := ns("AMT_TimeSynchronizationService")
	capturedBehaviours["AMT_TimeSynchronizationService"] = &capturedBehaviour{methods: map[string]methodFunc{
		"GetLowAccuracyTimeSynch": func(d *Device, _ *instance, _ *soap.Node) ([]outParam, *soap.Fault) {
			return []outParam{
				{"Ta0", []string{strconv.FormatInt(d.deviceNow().Unix(), 10)}},
				{"ReturnValue", []string{"0"}},
			}, nil
		},
		// The device takes Tm2 (the console's time when it sent the
		// request) as the time now [modelled]. A missing or non-numeric
		// parameter answers PT_STATUS_INVALID_PARAMETER [modelled].
		"SetHighAccuracyTimeSynch": func(d *Device, _ *instance, in *soap.Node) ([]outParam, *soap.Fault) {
			_, ok0 := u32Param(in, timeNS, "Ta0")
			_, ok1 := u32Param(in, timeNS, "Tm1")
			tm2, ok2 := u32Param(in, timeNS, "Tm2")
			if !ok0 || !ok1 || !ok2 {
				return returnValue(ptInvalidParameter), nil
			}
			d.ext().clockOffset = time.Unix(int64(tm2), 0).Sub(time.Now().Truncate(time.Second))
			return returnValue(0), nil
		},
	}}

	// Event log: PositionToFirstRecord and GetRecords page through the
	// records, newest first. IterationIdentifier is the 1-based index of
	// the next record to read; the answer that ends the log carries the
	// index of the last record, as the capture does (3 after 3 records)
	// [modelled].
	logNS := ns("AMT_MessageLog")
	capturedBehaviours["AMT_MessageLog"] = &capturedBehaviour{
		methods: map[string]methodFunc{
			"PositionToFirstRecord": func(*Device, *instance, *soap.Node) ([]outParam, *soap.Fault) {
				return []outParam{{"IterationIdentifier", []string{"1"}}, {"ReturnValue", []string{"0"}}}, nil
			},
			"GetRecords": func(d *Device, _ *instance, in *soap.Node) ([]outParam, *soap.Fault) {
				s := d.ext()
				start, ok1 := u32Param(in, logNS, "IterationIdentifier")
				max, ok2 := u32Param(in, logNS, "MaxReadRecords")
				if !ok1 || !ok2 || start < 1 || max < 1 {
					return returnValue(ptInvalidParameter), nil
				}
				if int(start) > len(s.events)+1 {
					return returnValue(ptInvalidIndex), nil
				}
				from := int(start) - 1
				to := min(len(s.events), from+int(max))
				recs := make([]string, 0, to-from)
				for _, r := range s.events[from:to] {
					recs = append(recs, base64.StdEncoding.EncodeToString(r))
				}
				done := to == len(s.events)
				next := to + 1
				if done {
					next = to
				}
				out := []outParam{
					{"IterationIdentifier", []string{strconv.Itoa(next)}},
					{"NoMoreRecords", []string{boolString(done)}},
				}
				if len(recs) > 0 {
					out = append(out, outParam{"RecordArray", recs})
				}
				return append(out, outParam{"ReturnValue", []string{"0"}}), nil
			},
		},
		live: func(d *Device) {
			s := d.ext()
			for _, in := range d.instancesOf("AMT_MessageLog") {
				in.set("CurrentNumberOfRecords", strconv.Itoa(len(s.events)))
				in.set("PercentageNearFull", strconv.Itoa(len(s.events)*100/eventLogCapacity))
			}
		},
	}

	// Audit log: ReadRecords from a 1-based StartIndex, oldest first, at
	// most auditPerRead records per answer [modelled].
	auditNS := ns("AMT_AuditLog")
	capturedBehaviours["AMT_AuditLog"] = &capturedBehaviour{
		methods: map[string]methodFunc{
			"ReadRecords": func(d *Device, _ *instance, in *soap.Node) ([]outParam, *soap.Fault) {
				s := d.ext()
				start, ok := u32Param(in, auditNS, "StartIndex")
				if !ok || start < 1 {
					return returnValue(ptInvalidParameter), nil
				}
				if int(start) > len(s.audit)+1 {
					return returnValue(ptInvalidIndex), nil
				}
				from := int(start) - 1
				to := min(len(s.audit), from+auditPerRead)
				recs := make([]string, 0, to-from)
				for _, r := range s.audit[from:to] {
					recs = append(recs, base64.StdEncoding.EncodeToString(r))
				}
				out := []outParam{
					{"TotalRecordCount", []string{strconv.Itoa(len(s.audit))}},
					{"RecordsReturned", []string{strconv.Itoa(len(recs))}},
				}
				if len(recs) > 0 {
					out = append(out, outParam{"EventRecords", recs})
				}
				return append(out, outParam{"ReturnValue", []string{"0"}}), nil
			},
		},
		live: func(d *Device) {
			for _, in := range d.instancesOf("AMT_AuditLog") {
				in.set("CurrentNumberOfRecords", strconv.Itoa(len(d.ext().audit)))
			}
		},
	}

	// ACLs: the first account is the administrator (GetAdminAclEntry); the
	// others are user entries with handles 1, 2, ... in configuration
	// order. Their realms are modelled: 3 (PT administration) for a full
	// account, 13 (general info) for a read-only one; AccessPermission 2
	// (local and network).
	aclNS := ns("AMT_AuthorizationService")
	userEntry := func(d *Device, in *soap.Node) (Account, bool) {
		h, ok := u32Param(in, aclNS, "Handle")
		if !ok || h < 1 || int(h) >= len(d.accounts) {
			return Account{}, false
		}
		return d.accounts[h], true
	}
	capturedBehaviours["AMT_AuthorizationService"] = &capturedBehaviour{methods: map[string]methodFunc{
		"GetAdminAclEntry": func(d *Device, _ *instance, _ *soap.Node) ([]outParam, *soap.Fault) {
			user := ""
			if len(d.accounts) > 0 {
				user = d.accounts[0].User
			}
			return []outParam{{"Username", []string{user}}, {"ReturnValue", []string{"0"}}}, nil
		},
		"EnumerateUserAclEntries": func(d *Device, _ *instance, in *soap.Node) ([]outParam, *soap.Fault) {
			start := uint64(1)
			if v, ok := u32Param(in, aclNS, "StartIndex"); ok {
				start = v
			}
			total := max(len(d.accounts)-1, 0)
			var handles []string
			for h := max(int(start), 1); h <= total && len(handles) < 50; h++ {
				handles = append(handles, strconv.Itoa(h))
			}
			out := []outParam{
				{"TotalCount", []string{strconv.Itoa(total)}},
				{"HandlesCount", []string{strconv.Itoa(len(handles))}},
			}
			if len(handles) > 0 {
				out = append(out, outParam{"Handles", handles})
			}
			return append(out, outParam{"ReturnValue", []string{"0"}}), nil
		},
		"GetUserAclEntryEx": func(d *Device, _ *instance, in *soap.Node) ([]outParam, *soap.Fault) {
			a, ok := userEntry(d, in)
			if !ok {
				return returnValue(ptInvalidHandle), nil
			}
			realm := "3"
			if a.ReadOnly {
				realm = "13"
			}
			return []outParam{
				{"DigestUsername", []string{a.User}},
				{"AccessPermission", []string{"2"}},
				{"Realms", []string{realm}},
				{"ReturnValue", []string{"0"}},
			}, nil
		},
		// Read-only status methods answer as captured.
		"GetAclEnabledState": func(*Device, *instance, *soap.Node) ([]outParam, *soap.Fault) {
			return []outParam{{"Enabled", []string{"true"}}, {"ReturnValue", []string{"0"}}}, nil
		},
		"GetAdminAclEntryStatus": func(*Device, *instance, *soap.Node) ([]outParam, *soap.Fault) {
			return []outParam{{"IsDefault", []string{"false"}}, {"ReturnValue", []string{"0"}}}, nil
		},
		"GetAdminNetAclEntryStatus": func(*Device, *instance, *soap.Node) ([]outParam, *soap.Fault) {
			return []outParam{{"IsDefault", []string{"false"}}, {"ReturnValue", []string{"0"}}}, nil
		},
	}}

	// KVM: the redirection service unit holds its state (kvm.go).
	setupKVMBehaviours()

	// Identity values of the device in classes that carry them.
	capturedBehaviours["CIM_SystemPackaging"] = &capturedBehaviour{subst: func(d *Device, in *instance) {
		if _, ok := in.props["PlatformGUID"]; ok {
			in.set("PlatformGUID", d.guid)
		}
	}}
	macHex := func(d *Device) string { return strings.ToLower(strings.ReplaceAll(d.mac, "-", "")) }
	capturedBehaviours["CIM_EthernetPort"] = &capturedBehaviour{subst: func(d *Device, in *instance) {
		in.set("NetworkAddresses", macHex(d))
	}}
	capturedBehaviours["IPS_LANEndpoint"] = &capturedBehaviour{subst: func(d *Device, in *instance) {
		in.set("MACAddress", macHex(d))
	}}

	// CIM_ElementSettingData (protocol.md §3.3) ties the host to its boot
	// configuration: IsNext 3 (IsNextForSingleUse) while a one-time boot
	// is armed with SetBootConfigRole, else 2 (IsNotNext); IsDefault 2.
	// No capture holds it: its property set is protocol.md's.
	esd := &classDef{
		name:      "CIM_ElementSettingData",
		uri:       soap.PrefixCIM + "CIM_ElementSettingData",
		singleton: true,
		keys:      []string{"ManagedElement", "SettingData"},
		build: func(*Device) []*instance {
			return []*instance{newInstance().
				set("IsDefault", "2").
				set("IsNext", "2").
				setEPR("ManagedElement", eprValue{address: soap.URIAnon, resourceURI: soap.PrefixCIM + "CIM_ComputerSystem",
					selectors: []attr{{"CreationClassName", "CIM_ComputerSystem"}, {"Name", "ManagedSystem"}}}).
				setEPR("SettingData", eprValue{address: soap.URIAnon, resourceURI: soap.PrefixCIM + "CIM_BootConfigSetting",
					selectors: []attr{{"InstanceID", "Intel(r) AMT: Boot Configuration 0"}}})}
		},
		live: func(d *Device) {
			next := "2"
			if d.bootState.armed {
				next = "3"
			}
			for _, in := range d.instancesOf("CIM_ElementSettingData") {
				in.set("IsNext", next)
			}
		},
	}
	protocolClasses = append(protocolClasses, esd)
}
