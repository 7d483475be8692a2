package sysdefense

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// Filter directions and profiles (protocol.md §4.2).
const (
	DirTx = 0
	DirRx = 1

	ProfileStatsPass = 0
	ProfileStatsDrop = 1
	ProfileRateLimit = 2
	ProfilePass      = 3
	ProfileDrop      = 4
)

// maxNameLen is the longest filter Name and PolicyName (protocol.md §4.2, §4.3).
const maxNameLen = 16

// fieldKind is how a property's text is validated.
type fieldKind int

const (
	kString fieldKind = iota
	kBool
	kUint8
	kUint16
	kUint32
	kHex    // octet string, hex-encoded
	kBase64 // octet string, base64
)

type fieldSpec struct {
	kind  fieldKind
	array bool
}

// commonFields are AMT_FilterEntryBase / AMT_ComplexFilterEntryBase.
var commonFields = map[string]fieldSpec{
	"InstanceID":              {kind: kString},
	"Name":                    {kind: kString},
	"CreationClassName":       {kind: kString},
	"SystemName":              {kind: kString},
	"SystemCreationClassName": {kind: kString},
	"ElementName":             {kind: kString},
	"FilterDirection":         {kind: kUint16},
	"FilterProfile":           {kind: kUint16},
	"FilterProfileData":       {kind: kUint32},
	"ActionEventOnMatch":      {kind: kBool},
	"IsNegated":               {kind: kBool},
}

var ethFields = map[string]fieldSpec{
	"HdrProtocolID8021":    {kind: kUint16},
	"HdrSrcMACAddr8021":    {kind: kBase64},
	"HdrSrcMACMask8021":    {kind: kBase64},
	"HdrDestMACAddr8021":   {kind: kBase64},
	"HdrDestMACMask8021":   {kind: kBase64},
	"HdrPriorityValue8021": {kind: kUint8},
	"HdrVLANID8021":        {kind: kUint32},
}

var ipFields = map[string]fieldSpec{
	"HdrIPVersion":             {kind: kUint8},
	"HdrSrcAddress":            {kind: kHex},
	"HdrSrcMask":               {kind: kHex},
	"HdrSrcAddressEndOfRange":  {kind: kHex},
	"HdrDestAddress":           {kind: kHex},
	"HdrDestMask":              {kind: kHex},
	"HdrDestAddressEndOfRange": {kind: kHex},
	"HdrProtocolID":            {kind: kUint8},
	"HdrSrcPortStart":          {kind: kUint16},
	"HdrSrcPortEnd":            {kind: kUint16},
	"HdrDestPortStart":         {kind: kUint16},
	"HdrDestPortEnd":           {kind: kUint16},
	"HdrDSCP":                  {kind: kUint8, array: true},
	"HdrFlowLabel":             {kind: kHex},
	"TCPFlagsOn":               {kind: kUint16, array: true},
	"TCPFlagsOff":              {kind: kUint16, array: true},
}

// fieldValues is a validated Create body: values by property name, and the
// names in document order.
type fieldValues struct {
	order  []string
	values map[string][]string
}

func (fv *fieldValues) has(name string) bool { _, ok := fv.values[name]; return ok }

func (fv *fieldValues) str(name string) string {
	if v := fv.values[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (fv *fieldValues) uint(name string) (uint64, bool) {
	v, ok := fv.values[name]
	if !ok {
		return 0, false
	}
	n, _ := strconv.ParseUint(v[0], 10, 64)
	return n, true
}

func (fv *fieldValues) bytes(name string) []byte {
	v, ok := fv.values[name]
	if !ok {
		return nil
	}
	if b, err := hex.DecodeString(v[0]); err == nil {
		return b
	}
	b, _ := base64.StdEncoding.DecodeString(v[0])
	return b
}

func (fv *fieldValues) uints(name string) []uint64 {
	var out []uint64
	for _, s := range fv.values[name] {
		n, _ := strconv.ParseUint(s, 10, 64)
		out = append(out, n)
	}
	return out
}

// readFields checks the body against the property specs: every field is
// known, EPRs only where allowed, scalars once, values of the right type.
func readFields(body []Field, specs ...map[string]fieldSpec) (*fieldValues, *Fault) {
	fv := &fieldValues{values: map[string][]string{}}
	for _, f := range body {
		var spec fieldSpec
		found := false
		for _, m := range specs {
			if s, ok := m[f.Name]; ok {
				spec, found = s, true
				break
			}
		}
		if !found {
			return nil, schemaFault("unknown property %s", f.Name)
		}
		if f.EPR != nil {
			return nil, schemaFault("%s is not a reference", f.Name)
		}
		if fv.has(f.Name) && !spec.array {
			return nil, schemaFault("%s given twice", f.Name)
		}
		v := strings.TrimSpace(f.Value)
		if !validValue(spec.kind, v) {
			return nil, schemaFault("%s: invalid value %q", f.Name, v)
		}
		if !fv.has(f.Name) {
			fv.order = append(fv.order, f.Name)
		}
		fv.values[f.Name] = append(fv.values[f.Name], v)
	}
	return fv, nil
}

func validValue(k fieldKind, v string) bool {
	bits := map[fieldKind]int{kUint8: 8, kUint16: 16, kUint32: 32}
	switch k {
	case kBool:
		return v == "true" || v == "false"
	case kUint8, kUint16, kUint32:
		if v == "" || v[0] == '+' {
			return false
		}
		_, err := strconv.ParseUint(v, 10, bits[k])
		return err == nil
	case kHex:
		_, err := hex.DecodeString(v)
		return err == nil && v != ""
	case kBase64:
		_, err := base64.StdEncoding.DecodeString(v)
		return err == nil && v != ""
	}
	return true
}

// filter is a created AMT_Hdr8021Filter or AMT_IPHeadersFilter.
type filter struct {
	class  string
	handle uint32
	id     string
	name   string
	fields *fieldValues // as created, for echo

	dir     int
	profile int
	rate    uint32
	negated bool

	// Ethernet
	etherType          uint16
	srcMAC, srcMACMask []byte
	dstMAC, dstMACMask []byte
	priority, vlan     int // -1: wildcard
	// IP
	ipVersion              int // 0: wildcard
	src, srcMask, srcEnd   []byte
	dst, dstMask, dstEnd   []byte
	protocol               int    // -1: wildcard
	srcPorts, dstPorts     [2]int // -1: wildcard
	dscp                   []int
	flowLabel              int // -1: wildcard
	flagsOn, flagsOff      uint16
	hasFlagsOn, hasFlagOff bool
}

// counting reports whether the filter keeps a counter.
func (f *filter) counting(cfg *Config) bool {
	switch f.profile {
	case ProfileStatsPass, ProfileStatsDrop:
		return true
	case ProfileRateLimit:
		return !cfg.RateLimitNoCounter
	}
	return false
}

func (f *filter) drops() bool { return f.profile == ProfileStatsDrop || f.profile == ProfileDrop }

// ipv6 reports whether the filter takes IPv6 slots.
func (f *filter) ipv6() bool { return f.ipVersion == 6 }

// parseFilter validates a Create body of a filter class. Type errors are
// schema faults; violated constraints are refused with the invalid status.
func parseFilter(class string, body []Field, cfg *Config) (*filter, *Fault) {
	specs := ethFields
	if class == ClassIPHeadersFilter {
		specs = ipFields
	}
	fv, fault := readFields(body, commonFields, specs)
	if fault != nil {
		return nil, fault
	}
	bad := func(format string, args ...any) (*filter, *Fault) {
		return nil, statusFault(cfg.InvalidStatus, format, args...)
	}
	for _, req := range []string{"Name", "FilterDirection", "FilterProfile", "ActionEventOnMatch"} {
		if !fv.has(req) {
			return nil, schemaFault("%s is required", req)
		}
	}
	f := &filter{class: class, fields: fv, name: fv.str("Name"), priority: -1, vlan: -1, protocol: -1,
		srcPorts: [2]int{-1, -1}, dstPorts: [2]int{-1, -1}, flowLabel: -1}
	if f.name == "" || len([]rune(f.name)) > maxNameLen {
		return bad("Name must have 1 to %d characters", maxNameLen)
	}
	dir, _ := fv.uint("FilterDirection")
	prof, _ := fv.uint("FilterProfile")
	if dir > DirRx {
		return bad("FilterDirection %d is neither 0 (Tx) nor 1 (Rx)", dir)
	}
	if prof > ProfileDrop {
		return bad("FilterProfile %d is not 0..4", prof)
	}
	f.dir, f.profile = int(dir), int(prof)
	if rate, ok := fv.uint("FilterProfileData"); ok {
		f.rate = uint32(rate)
	}
	if f.profile == ProfileRateLimit && f.rate == 0 {
		return bad("a rate limit needs FilterProfileData > 0")
	}
	f.negated = fv.str("IsNegated") == "true"
	if class == ClassHdr8021Filter {
		return f.parseEthernet(fv, bad)
	}
	return f.parseIP(fv, bad)
}

type badFunc func(format string, args ...any) (*filter, *Fault)

func (f *filter) parseEthernet(fv *fieldValues, bad badFunc) (*filter, *Fault) {
	et, ok := fv.uint("HdrProtocolID8021")
	if !ok {
		return nil, schemaFault("HdrProtocolID8021 is required")
	}
	f.etherType = uint16(et)
	macs := []struct {
		addr, mask string
		a, m       *[]byte
	}{
		{"HdrSrcMACAddr8021", "HdrSrcMACMask8021", &f.srcMAC, &f.srcMACMask},
		{"HdrDestMACAddr8021", "HdrDestMACMask8021", &f.dstMAC, &f.dstMACMask},
	}
	for _, m := range macs {
		a, err := base64.StdEncoding.DecodeString(fv.str(m.addr))
		if fv.has(m.addr) && (err != nil || len(a) != 6) {
			return bad("%s is not 6 bytes", m.addr)
		}
		k, err := base64.StdEncoding.DecodeString(fv.str(m.mask))
		if fv.has(m.mask) && (err != nil || len(k) != 6) {
			return bad("%s is not 6 bytes", m.mask)
		}
		if fv.has(m.mask) && !fv.has(m.addr) {
			return bad("%s without %s", m.mask, m.addr)
		}
		if fv.has(m.addr) {
			*m.a = a
		}
		if fv.has(m.mask) {
			*m.m = k
		}
	}
	if p, ok := fv.uint("HdrPriorityValue8021"); ok {
		if p > 7 {
			return bad("HdrPriorityValue8021 %d is not 0..7", p)
		}
		f.priority = int(p)
	}
	if v, ok := fv.uint("HdrVLANID8021"); ok {
		if v > 4095 {
			return bad("HdrVLANID8021 %d is not 0..4095", v)
		}
		f.vlan = int(v)
	}
	return f, nil
}

var addressFields = []string{"HdrSrcAddress", "HdrSrcMask", "HdrSrcAddressEndOfRange",
	"HdrDestAddress", "HdrDestMask", "HdrDestAddressEndOfRange"}

func (f *filter) parseIP(fv *fieldValues, bad badFunc) (*filter, *Fault) {
	if v, ok := fv.uint("HdrIPVersion"); ok {
		if v != 4 && v != 6 {
			return bad("HdrIPVersion %d is neither 4 nor 6", v)
		}
		f.ipVersion = int(v)
	} else {
		for _, name := range addressFields {
			if fv.has(name) {
				return bad("%s without HdrIPVersion", name)
			}
		}
	}
	sizeOK := func(b []byte) bool {
		if f.ipVersion == 4 {
			return len(b) == 4
		}
		return len(b) == 16 || len(b) == 20
	}
	sides := []struct {
		addr, mask, end string
		a, m, e         *[]byte
	}{
		{"HdrSrcAddress", "HdrSrcMask", "HdrSrcAddressEndOfRange", &f.src, &f.srcMask, &f.srcEnd},
		{"HdrDestAddress", "HdrDestMask", "HdrDestAddressEndOfRange", &f.dst, &f.dstMask, &f.dstEnd},
	}
	for _, s := range sides {
		for _, name := range []string{s.addr, s.mask, s.end} {
			if fv.has(name) && !sizeOK(fv.bytes(name)) {
				return bad("%s has the wrong size for IPv%d", name, f.ipVersion)
			}
		}
		if (fv.has(s.mask) || fv.has(s.end)) && !fv.has(s.addr) {
			return bad("a mask or an end of range needs %s", s.addr)
		}
		if fv.has(s.mask) && fv.has(s.end) {
			return bad("%s and %s are mutually exclusive", s.mask, s.end)
		}
		*s.a, *s.m, *s.e = trimAddr(fv.bytes(s.addr)), trimAddr(fv.bytes(s.mask)), trimAddr(fv.bytes(s.end))
		if *s.e != nil && bytes.Compare(*s.e, *s.a) < 0 {
			return bad("%s is below %s", s.end, s.addr)
		}
	}
	if p, ok := fv.uint("HdrProtocolID"); ok {
		f.protocol = int(p)
	}
	ports := []struct {
		start, end string
		dst        *[2]int
	}{
		{"HdrSrcPortStart", "HdrSrcPortEnd", &f.srcPorts},
		{"HdrDestPortStart", "HdrDestPortEnd", &f.dstPorts},
	}
	ranges := 0
	for _, p := range ports {
		if !fv.has(p.start) && !fv.has(p.end) {
			continue
		}
		if f.protocol < 0 {
			return bad("port fields need HdrProtocolID")
		}
		if !fv.has(p.start) || !fv.has(p.end) {
			return bad("%s and %s go together", p.start, p.end)
		}
		a, _ := fv.uint(p.start)
		b, _ := fv.uint(p.end)
		if a > b {
			return bad("%s is above %s", p.start, p.end)
		}
		if a != b {
			ranges++
		}
		*p.dst = [2]int{int(a), int(b)}
	}
	if ranges > 1 {
		return bad("a range of source ports and a range of destination ports cannot be combined")
	}
	for _, d := range fv.uints("HdrDSCP") {
		f.dscp = append(f.dscp, int(d))
	}
	if fv.has("HdrFlowLabel") {
		b := fv.bytes("HdrFlowLabel")
		if f.ipVersion != 6 || len(b) != 3 || b[0]&0xF0 != 0 {
			return bad("HdrFlowLabel needs IPv6 and 20 bits in 3 bytes")
		}
		f.flowLabel = int(b[0])<<16 | int(b[1])<<8 | int(b[2])
	}
	if fv.has("TCPFlagsOn") || fv.has("TCPFlagsOff") {
		if f.protocol != 6 {
			return bad("TCP flags need HdrProtocolID 6")
		}
	}
	for _, v := range fv.uints("TCPFlagsOn") {
		f.flagsOn |= uint16(v)
		f.hasFlagsOn = true
	}
	for _, v := range fv.uints("TCPFlagsOff") {
		f.flagsOff |= uint16(v)
		f.hasFlagOff = true
	}
	return f, nil
}

// trimAddr drops the 4 trailing bytes of a 20-byte IPv6 octet string; the
// match uses the 16-byte address.
func trimAddr(b []byte) []byte {
	if len(b) == 20 {
		return b[:16]
	}
	return b
}

// matches reports whether the packet matches the filter's criteria,
// ignoring its direction (the caller checks it) and honouring IsNegated.
func (f *filter) matches(p *Packet) bool {
	var m bool
	if f.class == ClassHdr8021Filter {
		m = f.matchEthernet(p)
	} else {
		m = f.matchIP(p)
	}
	return m != f.negated
}

func (f *filter) matchEthernet(p *Packet) bool {
	if p.etherType() != f.etherType {
		return false
	}
	if !macMatch(f.srcMAC, f.srcMACMask, p.SrcMAC) || !macMatch(f.dstMAC, f.dstMACMask, p.DstMAC) {
		return false
	}
	if f.priority >= 0 && (!p.Tagged || int(p.Priority) != f.priority) {
		return false
	}
	if f.vlan >= 0 && (!p.Tagged || int(p.VLANID) != f.vlan) {
		return false
	}
	return true
}

func macMatch(addr, mask, got []byte) bool {
	if addr == nil {
		return true
	}
	if len(got) != 6 {
		return false
	}
	for i := range 6 {
		m := byte(0xFF)
		if mask != nil {
			m = mask[i]
		}
		if addr[i]&m != got[i]&m {
			return false
		}
	}
	return true
}

func (f *filter) matchIP(p *Packet) bool {
	v := p.ipVersion()
	if v == 0 {
		return false // an IP headers filter matches IP packets only
	}
	if f.ipVersion != 0 && f.ipVersion != v {
		return false
	}
	if !addrMatch(f.src, f.srcMask, f.srcEnd, p.Src.AsSlice()) || !addrMatch(f.dst, f.dstMask, f.dstEnd, p.Dst.AsSlice()) {
		return false
	}
	if f.protocol >= 0 && int(p.Protocol) != f.protocol {
		return false
	}
	if !portMatch(f.srcPorts, p.SrcPort) || !portMatch(f.dstPorts, p.DstPort) {
		return false
	}
	if f.dscp != nil && !slices.Contains(f.dscp, int(p.DSCP)) {
		return false
	}
	if f.flowLabel >= 0 && int(p.FlowLabel&0xFFFFF) != f.flowLabel {
		return false
	}
	if f.hasFlagsOn && p.TCPFlags&f.flagsOn != f.flagsOn {
		return false
	}
	if f.hasFlagOff && p.TCPFlags&f.flagsOff != 0 {
		return false
	}
	return true
}

func addrMatch(addr, mask, end, got []byte) bool {
	if addr == nil {
		return true
	}
	if len(got) != len(addr) {
		return false
	}
	switch {
	case mask != nil:
		for i := range addr {
			if addr[i]&mask[i] != got[i]&mask[i] {
				return false
			}
		}
		return true
	case end != nil:
		return bytes.Compare(got, addr) >= 0 && bytes.Compare(got, end) <= 0
	}
	return bytes.Equal(addr, got)
}

func portMatch(r [2]int, port uint16) bool {
	if r[0] < 0 {
		return true
	}
	return int(port) >= r[0] && int(port) <= r[1]
}
