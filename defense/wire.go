package defense

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/amtkit/amtkit/wsman"
)

// encodeFilter builds the Create body of a filter (protocol.md §4.2, §4.4).
// mark goes into ElementName.
func encodeFilter(f *Filter, mark string) *wsman.Instance {
	uri := uriIPFilter
	if f.Kind == Ethernet {
		uri = uriEthFilter
	}
	in := wsman.NewInstance(uri)
	in.Set("InstanceID", "0")
	in.Set("Name", f.Name)
	in.Set("CreationClassName", "n/a")
	in.Set("SystemName", "n/a")
	in.Set("SystemCreationClassName", "n/a")
	in.Set("ElementName", mark)
	in.Set("FilterDirection", strconv.Itoa(int(f.Direction)))
	in.Set("FilterProfile", strconv.Itoa(profile(f.Action, f.Statistics)))
	if f.Action == RateLimit {
		in.Set("FilterProfileData", strconv.FormatUint(uint64(f.RatePPS), 10))
	}
	in.Set("ActionEventOnMatch", strconv.FormatBool(f.EventOnMatch))
	if f.Kind == Ethernet {
		in.Set("HdrProtocolID8021", strconv.Itoa(int(f.EtherType)))
		setMAC := func(addr, mask string, m MAC) {
			if m.Addr != nil {
				in.Set(addr, base64.StdEncoding.EncodeToString(m.Addr))
			}
			if m.Mask != nil {
				in.Set(mask, base64.StdEncoding.EncodeToString(m.Mask))
			}
		}
		setMAC("HdrSrcMACAddr8021", "HdrSrcMACMask8021", f.SrcMAC)
		setMAC("HdrDestMACAddr8021", "HdrDestMACMask8021", f.DstMAC)
		if f.Priority != nil {
			in.Set("HdrPriorityValue8021", strconv.Itoa(int(*f.Priority)))
		}
		if f.VLAN != nil {
			in.Set("HdrVLANID8021", strconv.Itoa(int(*f.VLAN)))
		}
		return in
	}
	if v := f.ipVersion(); v != 0 {
		in.Set("HdrIPVersion", strconv.Itoa(v))
	}
	setAddr := func(prefix string, a Addr) {
		if !a.Addr.IsValid() {
			return
		}
		in.Set("Hdr"+prefix+"Address", hexAddr(a.Addr))
		if a.Mask.IsValid() {
			in.Set("Hdr"+prefix+"Mask", hexAddr(a.Mask))
		}
		if a.End.IsValid() {
			in.Set("Hdr"+prefix+"AddressEndOfRange", hexAddr(a.End))
		}
	}
	setAddr("Src", f.Src)
	setAddr("Dest", f.Dst)
	if f.Protocol != ProtoAny {
		in.Set("HdrProtocolID", strconv.Itoa(int(f.Protocol)))
	}
	setPorts := func(prefix string, r *PortRange) {
		if r != nil {
			in.Set("Hdr"+prefix+"PortStart", strconv.Itoa(int(r.Start)))
			in.Set("Hdr"+prefix+"PortEnd", strconv.Itoa(int(r.End)))
		}
	}
	setPorts("Src", f.SrcPorts)
	setPorts("Dest", f.DstPorts)
	if len(f.DSCP) > 0 {
		vals := make([]string, len(f.DSCP))
		for i, d := range f.DSCP {
			vals[i] = strconv.Itoa(int(d))
		}
		in.Set("HdrDSCP", vals...)
	}
	if f.FlowLabel != nil {
		l := *f.FlowLabel
		in.Set("HdrFlowLabel", strings.ToUpper(hex.EncodeToString([]byte{byte(l >> 16), byte(l >> 8), byte(l)})))
	}
	return in
}

// hexAddr writes an address as AMT's hex octet string (C0A80100).
func hexAddr(a netip.Addr) string { return strings.ToUpper(hex.EncodeToString(a.AsSlice())) }

// parseHexAddr reads a hex octet string of 4 or 16 bytes (20-byte IPv6
// strings carry the address in their first 16 bytes).
func parseHexAddr(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address %q is not hexadecimal", clip(s))
	}
	switch len(b) {
	case 4, 16:
	case 20:
		b = b[:16]
	default:
		return netip.Addr{}, fmt.Errorf("address %q is %d bytes, not 4 or 16", clip(s), len(b))
	}
	a, _ := netip.AddrFromSlice(b)
	return a, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// devFilter is a filter as read from the device.
type devFilter struct {
	ID          string
	URI         string
	ElementName string
	Filter      Filter
}

func (d *devFilter) ours() bool { return strings.HasPrefix(d.ElementName, Marker) }

func uintIn(in *wsman.Instance, name string, limit uint64) (uint64, bool, error) {
	if !in.Has(name) {
		return 0, false, nil
	}
	v, err := in.Uint(name)
	if err != nil {
		return 0, true, err
	}
	if v > limit {
		return 0, true, fmt.Errorf("%s.%s = %d is above %d", in.Class, name, v, limit)
	}
	return v, true, nil
}

// decodeFilter reads an AMT_IPHeadersFilter or AMT_Hdr8021Filter instance.
// It does not validate the filter against the SDK's rules: what the device
// holds is reported as it is.
func decodeFilter(in *wsman.Instance) (*devFilter, error) {
	d := &devFilter{ID: in.String("InstanceID"), URI: in.ResourceURI, ElementName: in.String("ElementName")}
	f := &d.Filter
	f.Name = in.String("Name")
	fail := func(err error) (*devFilter, error) {
		return nil, fmt.Errorf("defense: %s %q: %w", in.Class, clip(d.ID), err)
	}
	dir, _, err := uintIn(in, "FilterDirection", 1)
	if err != nil {
		return fail(err)
	}
	f.Direction = Direction(dir)
	prof, _, err := uintIn(in, "FilterProfile", 4)
	if err != nil {
		return fail(err)
	}
	if f.Action, f.Statistics, err = actionOfProfile(int(prof)); err != nil {
		return fail(err)
	}
	if v, ok, err := uintIn(in, "FilterProfileData", 1<<32-1); err != nil {
		return fail(err)
	} else if ok && f.Action == RateLimit {
		f.RatePPS = uint32(v)
	}
	if in.Has("ActionEventOnMatch") {
		if f.EventOnMatch, err = in.Bool("ActionEventOnMatch"); err != nil {
			return fail(err)
		}
	}
	switch in.Class {
	case "AMT_Hdr8021Filter":
		f.Kind = Ethernet
		v, _, err := uintIn(in, "HdrProtocolID8021", 0xFFFF)
		if err != nil {
			return fail(err)
		}
		f.EtherType = uint16(v)
		mac := func(name string) (net.HardwareAddr, error) {
			s, ok := in.Get(name)
			if !ok {
				return nil, nil
			}
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
			if err != nil || len(b) != 6 {
				return nil, fmt.Errorf("%s is not a base64 6-byte address", name)
			}
			return net.HardwareAddr(b), nil
		}
		for _, m := range []struct {
			dst  *net.HardwareAddr
			name string
		}{{&f.SrcMAC.Addr, "HdrSrcMACAddr8021"}, {&f.SrcMAC.Mask, "HdrSrcMACMask8021"}, {&f.DstMAC.Addr, "HdrDestMACAddr8021"}, {&f.DstMAC.Mask, "HdrDestMACMask8021"}} {
			if *m.dst, err = mac(m.name); err != nil {
				return fail(err)
			}
		}
		if v, ok, err := uintIn(in, "HdrPriorityValue8021", 7); err != nil {
			return fail(err)
		} else if ok {
			p := uint8(v)
			f.Priority = &p
		}
		if v, ok, err := uintIn(in, "HdrVLANID8021", 4095); err != nil {
			return fail(err)
		} else if ok {
			x := uint16(v)
			f.VLAN = &x
		}
	case "AMT_IPHeadersFilter":
		f.Kind = IPHeader
		if v, ok, err := uintIn(in, "HdrIPVersion", 6); err != nil {
			return fail(err)
		} else if ok {
			f.IPVersion = int(v)
		}
		addr := func(prefix string) (Addr, error) {
			var a Addr
			for _, p := range []struct {
				dst  *netip.Addr
				name string
			}{{&a.Addr, "Hdr" + prefix + "Address"}, {&a.Mask, "Hdr" + prefix + "Mask"}, {&a.End, "Hdr" + prefix + "AddressEndOfRange"}} {
				s, ok := in.Get(p.name)
				if !ok || strings.TrimSpace(s) == "" {
					continue
				}
				ip, err := parseHexAddr(s)
				if err != nil {
					return Addr{}, fmt.Errorf("%s: %w", p.name, err)
				}
				*p.dst = ip
			}
			return a, nil
		}
		if f.Src, err = addr("Src"); err != nil {
			return fail(err)
		}
		if f.Dst, err = addr("Dest"); err != nil {
			return fail(err)
		}
		if v, ok, err := uintIn(in, "HdrProtocolID", 255); err != nil {
			return fail(err)
		} else if ok {
			f.Protocol = Protocol(v)
		}
		ports := func(prefix string) (*PortRange, error) {
			s, sok, err := uintIn(in, "Hdr"+prefix+"PortStart", 65535)
			if err != nil {
				return nil, err
			}
			e, eok, err := uintIn(in, "Hdr"+prefix+"PortEnd", 65535)
			if err != nil {
				return nil, err
			}
			switch {
			case !sok && !eok:
				return nil, nil
			case !eok:
				e = s
			case !sok:
				s = e
			}
			return &PortRange{uint16(s), uint16(e)}, nil
		}
		if f.SrcPorts, err = ports("Src"); err != nil {
			return fail(err)
		}
		if f.DstPorts, err = ports("Dest"); err != nil {
			return fail(err)
		}
		for _, v := range in.Values("HdrDSCP") {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 8)
			if err != nil || n > 63 {
				return fail(fmt.Errorf("HdrDSCP %q is not 0..63", clip(v)))
			}
			f.DSCP = append(f.DSCP, uint8(n))
		}
		if s, ok := in.Get("HdrFlowLabel"); ok && strings.TrimSpace(s) != "" {
			b, err := hex.DecodeString(strings.TrimSpace(s))
			if err != nil || len(b) != 3 {
				return fail(fmt.Errorf("HdrFlowLabel %q is not a 3-byte hex string", clip(s)))
			}
			l := (uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])) & 0xFFFFF
			f.FlowLabel = &l
		}
	default:
		return fail(fmt.Errorf("not a filter class"))
	}
	return d, nil
}

// encodePolicy builds the Create body of a policy.
func encodePolicy(p *Policy, handles []string, mark string, antiMode int) *wsman.Instance {
	in := wsman.NewInstance(uriPolicy)
	in.Set("InstanceID", "0")
	in.Set("ElementName", mark)
	in.Set("PolicyName", p.Name)
	in.Set("PolicyPrecedence", strconv.FormatUint(uint64(p.Precedence), 10))
	anti := 0
	if p.AntiSpoofing {
		anti = antiMode
	}
	in.Set("AntiSpoofingSupport", strconv.Itoa(anti))
	if len(handles) > 0 {
		in.Set("FilterCreationHandles", handles...)
	}
	b := strconv.FormatBool
	in.Set("TxDefaultDrop", b(p.TxDefaultDrop))
	in.Set("TxDefaultCount", b(p.TxDefaultCount))
	in.Set("TxDefaultMatchEvent", b(p.TxDefaultEvent))
	in.Set("RxDefaultDrop", b(p.RxDefaultDrop))
	in.Set("RxDefaultCount", b(p.RxDefaultCount))
	in.Set("RxDefaultMatchEvent", b(p.RxDefaultEvent))
	return in
}

// devPolicy is a policy as read from the device.
type devPolicy struct {
	ID          string
	ElementName string
	Name        string
	Precedence  uint32
	AntiMode    int
	Handles     []string
	TxDrop      bool
	RxDrop      bool
	TxCount     bool
	RxCount     bool
	TxEvent     bool
	RxEvent     bool
}

func decodePolicy(in *wsman.Instance) (*devPolicy, error) {
	p := &devPolicy{ID: in.String("InstanceID"), ElementName: in.String("ElementName"), Name: in.String("PolicyName")}
	fail := func(err error) (*devPolicy, error) {
		return nil, fmt.Errorf("defense: AMT_SystemDefensePolicy %q: %w", clip(p.ID), err)
	}
	if v, _, err := uintIn(in, "PolicyPrecedence", 1<<32-1); err != nil {
		return fail(err)
	} else {
		p.Precedence = uint32(v)
	}
	if v, _, err := uintIn(in, "AntiSpoofingSupport", 1<<16); err != nil {
		return fail(err)
	} else {
		p.AntiMode = int(v)
	}
	for _, h := range in.Values("FilterCreationHandles") {
		if h = strings.TrimSpace(h); h != "" {
			p.Handles = append(p.Handles, h)
		}
	}
	for _, b := range []struct {
		dst  *bool
		name string
	}{{&p.TxDrop, "TxDefaultDrop"}, {&p.RxDrop, "RxDefaultDrop"}, {&p.TxCount, "TxDefaultCount"}, {&p.RxCount, "RxDefaultCount"}, {&p.TxEvent, "TxDefaultMatchEvent"}, {&p.RxEvent, "RxDefaultMatchEvent"}} {
		if !in.Has(b.name) {
			continue
		}
		v, err := in.Bool(b.name)
		if err != nil {
			return fail(err)
		}
		*b.dst = v
	}
	return p, nil
}

// devBinding is an AMT_NetworkPortSystemDefensePolicy association.
type devBinding struct {
	Port       int
	PolicyID   string
	Enabled    *bool
	Active     *bool
	Antecedent wsman.EPR
	Dependent  wsman.EPR
}

func decodeBinding(in *wsman.Instance) (*devBinding, error) {
	ant, ok1 := in.Ref("Antecedent")
	dep, ok2 := in.Ref("Dependent")
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("defense: %s without Antecedent and Dependent references", in.Class)
	}
	b := &devBinding{Antecedent: *ant, Dependent: *dep}
	dev, _ := ant.Selector("DeviceID")
	n, ok := trailingNumber(dev)
	if !ok {
		return nil, fmt.Errorf("defense: %s names port %q", in.Class, clip(dev))
	}
	b.Port = n
	b.PolicyID, _ = dep.Selector("InstanceID")
	for _, f := range []struct {
		dst  **bool
		name string
	}{{&b.Enabled, "Enabled"}, {&b.Active, "Active"}} {
		if in.Has(f.name) {
			v, err := in.Bool(f.name)
			if err != nil {
				return nil, fmt.Errorf("defense: %w", err)
			}
			*f.dst = &v
		}
	}
	return b, nil
}

// decodeStat reads an AMT_ActiveFilterStatistics instance: the port, the
// filter (by the InstanceID or Name inside the nested Dependent
// reference) and ReadCount.
func decodeStat(in *wsman.Instance) (port int, filterID, filterName string, count uint64, err error) {
	ant, ok1 := in.Ref("Antecedent")
	dep, ok2 := in.Ref("Dependent")
	if !ok1 || !ok2 {
		return 0, "", "", 0, fmt.Errorf("defense: %s without Antecedent and Dependent references", in.Class)
	}
	dev, _ := ant.Selector("DeviceID")
	if port, ok1 = trailingNumber(dev); !ok1 {
		return 0, "", "", 0, fmt.Errorf("defense: %s names port %q", in.Class, clip(dev))
	}
	filterID, filterName = findFilter(dep, 0)
	if count, _, err = uintIn(in, "ReadCount", 1<<63); err != nil {
		return 0, "", "", 0, fmt.Errorf("defense: %w", err)
	}
	return port, filterID, filterName, count, nil
}

// findFilter looks through a (nested) reference for the filter it names.
func findFilter(e *wsman.EPR, depth int) (id, name string) {
	if e == nil || depth > 4 {
		return "", ""
	}
	cls := wsman.ClassName(e.ResourceURI)
	if strings.HasSuffix(cls, "Filter") {
		id, _ = e.Selector("InstanceID")
		name, _ = e.Selector("Name")
		return id, name
	}
	for _, s := range e.Selectors {
		if s.Ref != nil {
			if id, name = findFilter(s.Ref, depth+1); id != "" || name != "" {
				return id, name
			}
		}
	}
	return "", ""
}
