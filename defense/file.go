package defense

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The policy file is YAML. Every key is optional unless marked; an unknown
// key, a duplicate key, a value of the wrong type, a bad address, a port
// outside 0..65535 or a name over 16 characters is an error that gives the
// line. Anchors and aliases are not accepted.
//
//	name: quarantine          # required, at most 16 characters
//	precedence: 1             # the highest among a port's enabled policies is active
//	anti_spoofing: false
//	defaults:                 # packets no filter matches
//	  tx: {action: drop, count: false, event: false}   # action: pass or drop
//	  rx: {action: drop, count: false, event: false}
//	filters:                  # at most 62
//	  - name: arp-tx          # required, unique, at most 16 characters
//	    type: ethernet        # ip (default) or ethernet
//	    direction: tx         # required: tx (host sends) or rx (host receives)
//	    action: pass          # required: pass, drop or rate-limit
//	    rate_pps: 100         # rate-limit only, > 0
//	    statistics: false     # count matches (not with rate-limit)
//	    event_on_match: false
//	    ether_type: arp       # ethernet: arp, ipv4, ipv6 or a number (required)
//	    src_mac: 00:11:22:33:44:55   # ethernet; with src_mac_mask, dst_mac, dst_mac_mask
//	    priority: 0           # ethernet: 802.1Q priority 0..7
//	    vlan: 10              # ethernet: 802.1Q VLAN 0..4095
//	  - name: web-tx
//	    direction: tx
//	    action: pass
//	    ip_version: 4         # ip: 4 or 6 (else from the addresses)
//	    src: any              # ip: ADDR, ADDR/BITS, ADDR/MASK or ADDR-ADDR
//	    dst: 10.0.0.5
//	    protocol: tcp         # ip: tcp, udp, icmp, icmpv6 or a number; needed for ports
//	    src_ports: 1024-65535 # ip: PORT or PORT-PORT; a range on one side only
//	    dst_ports: 443
//	    dscp: [46]            # ip: any of these DSCP values
//	    flow_label: 0         # ip: IPv6 flow label
//	require:                  # flows Apply and check insist on (FLOW syntax of ParseFlows)
//	  - 10.0.0.5:443/tcp
//	  - dhcp
//	  - arp
//
// ParsePolicyFile reads this format.

// MaxFileSize is the largest policy file ParsePolicyFile reads.
const MaxFileSize = 1 << 20

// FileError is an error in a policy file, at a line (and column).
type FileError struct {
	Line, Column int
	Msg          string
}

func (e *FileError) Error() string {
	if e.Line == 0 {
		return "policy file: " + e.Msg
	}
	return fmt.Sprintf("policy file: line %d: %s", e.Line, e.Msg)
}

func ferr(n *yaml.Node, format string, args ...any) error {
	return &FileError{Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
}

// ParsePolicyFile parses a policy file (format above) and validates the
// policy. The flows under require are returned in Policy.Flows.
func ParsePolicyFile(data []byte) (*Policy, error) {
	if len(data) > MaxFileSize {
		return nil, &FileError{Msg: fmt.Sprintf("larger than %d bytes", MaxFileSize)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, ferr(&extra, "a second YAML document; a policy file holds one")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &FileError{Msg: "empty"}
	}
	if err := noAliases(doc.Content[0], 0); err != nil {
		return nil, err
	}
	p := &Policy{}
	root := doc.Content[0]
	var nameNode *yaml.Node
	err := fields(root, "policy", map[string]func(*yaml.Node) error{
		"name": func(n *yaml.Node) (err error) {
			nameNode = n
			p.Name, err = nameValue(n)
			return err
		},
		"precedence": func(n *yaml.Node) error {
			v, err := uintValue(n, 0, 1<<32-1)
			p.Precedence = uint32(v)
			return err
		},
		"anti_spoofing": func(n *yaml.Node) (err error) { p.AntiSpoofing, err = boolValue(n); return err },
		"defaults": func(n *yaml.Node) error {
			dir := func(drop, count, event *bool) func(*yaml.Node) error {
				return func(n *yaml.Node) error {
					return fields(n, "default", map[string]func(*yaml.Node) error{
						"action": func(n *yaml.Node) error {
							a, err := scalar(n)
							if err != nil {
								return err
							}
							switch strings.ToLower(a) {
							case "drop":
								*drop = true
							case "pass":
								*drop = false
							default:
								return ferr(n, "default action %q is not pass or drop", a)
							}
							return nil
						},
						"count": func(n *yaml.Node) (err error) { *count, err = boolValue(n); return err },
						"event": func(n *yaml.Node) (err error) { *event, err = boolValue(n); return err },
					}, nil)
				}
			}
			return fields(n, "defaults", map[string]func(*yaml.Node) error{
				"tx": dir(&p.TxDefaultDrop, &p.TxDefaultCount, &p.TxDefaultEvent),
				"rx": dir(&p.RxDefaultDrop, &p.RxDefaultCount, &p.RxDefaultEvent),
			}, nil)
		},
		"filters": func(n *yaml.Node) error {
			if n.Kind != yaml.SequenceNode {
				return ferr(n, "filters must be a list")
			}
			if len(n.Content) > MaxFilters {
				return ferr(n, "%d filters; a policy holds at most %d", len(n.Content), MaxFilters)
			}
			names := map[string]int{}
			for i, fn := range n.Content {
				f, err := parseFilter(fn)
				if err != nil {
					return err
				}
				if line, dup := names[f.Name]; dup {
					return ferr(fn, "filter name %q is also used at line %d", f.Name, line)
				}
				names[f.Name] = fn.Line
				if err := f.validate(""); err != nil {
					var fe *FieldError
					if errors.As(err, &fe) {
						return ferr(fn, "filters[%d] %q: %s: %s", i, f.Name, fe.Field, fe.Reason)
					}
					return ferr(fn, "filters[%d]: %v", i, err)
				}
				p.Filters = append(p.Filters, f)
			}
			return nil
		},
		"require": func(n *yaml.Node) error {
			if n.Kind != yaml.SequenceNode {
				return ferr(n, "require must be a list of flows")
			}
			for _, fn := range n.Content {
				s, err := scalar(fn)
				if err != nil {
					return err
				}
				fl, err := ParseFlows(s)
				if err != nil {
					return ferr(fn, "%v", err)
				}
				p.Flows = append(p.Flows, fl...)
			}
			return nil
		},
	}, []string{"name"})
	if err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		at := root
		if nameNode != nil {
			at = nameNode
		}
		return nil, ferr(at, "%v", strings.TrimPrefix(err.Error(), "defense: "))
	}
	return p, nil
}

// yamlError turns the YAML library's error into a FileError with its line.
func yamlError(err error) error {
	if errors.Is(err, io.EOF) {
		return &FileError{Msg: "empty"}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, perr := strconv.Atoi(rest[:i]); perr == nil {
				line, msg = n, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return &FileError{Line: line, Msg: msg}
}

func noAliases(n *yaml.Node, depth int) error {
	if depth > 64 {
		return ferr(n, "nested deeper than 64 levels")
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return ferr(n, "anchors and aliases are not allowed")
	}
	for _, c := range n.Content {
		if err := noAliases(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// fields walks a mapping, handing each known key's value to its handler.
func fields(n *yaml.Node, what string, handlers map[string]func(*yaml.Node) error, required []string) error {
	if n.Kind != yaml.MappingNode {
		return ferr(n, "%s must be a mapping of keys to values", what)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return ferr(k, "%s: keys must be plain words", what)
		}
		h, ok := handlers[k.Value]
		if !ok {
			return ferr(k, "unknown key %q in %s", k.Value, what)
		}
		if seen[k.Value] {
			return ferr(k, "key %q given twice in %s", k.Value, what)
		}
		seen[k.Value] = true
		if err := h(v); err != nil {
			return err
		}
	}
	for _, r := range required {
		if !seen[r] {
			return ferr(n, "%s needs %q", what, r)
		}
	}
	return nil
}

func scalar(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", ferr(n, "expected a single value")
	}
	return strings.TrimSpace(n.Value), nil
}

func nameValue(n *yaml.Node) (string, error) {
	s, err := scalar(n)
	if err != nil {
		return "", err
	}
	if why := validName(s); why != "" {
		return "", ferr(n, "name %s", why)
	}
	return s, nil
}

func boolValue(n *yaml.Node) (bool, error) {
	s, err := scalar(n)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, nil
	case "false", "no", "off":
		return false, nil
	}
	return false, ferr(n, "%q is not true or false", s)
}

func uintValue(n *yaml.Node, lo, hi uint64) (uint64, error) {
	s, err := scalar(n)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, ferr(n, "%q is not a whole number", s)
	}
	if v < lo || v > hi {
		return 0, ferr(n, "%d out of range %d..%d", v, lo, hi)
	}
	return v, nil
}

func addrValue(n *yaml.Node) (Addr, error) {
	s, err := scalar(n)
	if err != nil {
		return Addr{}, err
	}
	a, err := ParseAddr(s)
	if err != nil {
		return Addr{}, ferr(n, "%v", err)
	}
	return a, nil
}

func portsValue(n *yaml.Node) (*PortRange, error) {
	s, err := scalar(n)
	if err != nil {
		return nil, err
	}
	r, err := ParsePortRange(s)
	if err != nil {
		return nil, ferr(n, "%v", err)
	}
	return &r, nil
}

func macValue(n *yaml.Node) (net.HardwareAddr, error) {
	s, err := scalar(n)
	if err != nil {
		return nil, err
	}
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return nil, ferr(n, "%q is not a 6-byte MAC address", s)
	}
	return hw, nil
}

func parseFilter(n *yaml.Node) (Filter, error) {
	f := Filter{Kind: IPHeader}
	var kindSet bool
	var srcMask, dstMask net.HardwareAddr
	err := fields(n, "filter", map[string]func(*yaml.Node) error{
		"name": func(n *yaml.Node) (err error) { f.Name, err = nameValue(n); return err },
		"type": func(n *yaml.Node) error {
			s, err := scalar(n)
			if err != nil {
				return err
			}
			switch strings.ToLower(s) {
			case "ip":
				f.Kind = IPHeader
			case "ethernet":
				f.Kind = Ethernet
			default:
				return ferr(n, "type %q is not ip or ethernet", s)
			}
			kindSet = true
			return nil
		},
		"direction": func(n *yaml.Node) error {
			s, err := scalar(n)
			if err != nil {
				return err
			}
			if f.Direction, err = ParseDirection(s); err != nil {
				return ferr(n, "%v", err)
			}
			return nil
		},
		"action": func(n *yaml.Node) error {
			s, err := scalar(n)
			if err != nil {
				return err
			}
			if f.Action, err = ParseAction(s); err != nil {
				return ferr(n, "%v", err)
			}
			return nil
		},
		"rate_pps": func(n *yaml.Node) error {
			v, err := uintValue(n, 1, 1<<32-1)
			f.RatePPS = uint32(v)
			return err
		},
		"statistics":     func(n *yaml.Node) (err error) { f.Statistics, err = boolValue(n); return err },
		"event_on_match": func(n *yaml.Node) (err error) { f.EventOnMatch, err = boolValue(n); return err },
		"ip_version": func(n *yaml.Node) error {
			v, err := uintValue(n, 4, 6)
			if err == nil && v == 5 {
				err = ferr(n, "ip_version must be 4 or 6")
			}
			f.IPVersion = int(v)
			return err
		},
		"src": func(n *yaml.Node) (err error) { f.Src, err = addrValue(n); return err },
		"dst": func(n *yaml.Node) (err error) { f.Dst, err = addrValue(n); return err },
		"protocol": func(n *yaml.Node) error {
			s, err := scalar(n)
			if err != nil {
				return err
			}
			if f.Protocol, err = ParseProtocol(s); err != nil {
				return ferr(n, "%v", err)
			}
			return nil
		},
		"src_ports": func(n *yaml.Node) (err error) { f.SrcPorts, err = portsValue(n); return err },
		"dst_ports": func(n *yaml.Node) (err error) { f.DstPorts, err = portsValue(n); return err },
		"dscp": func(n *yaml.Node) error {
			items := []*yaml.Node{n}
			if n.Kind == yaml.SequenceNode {
				items = n.Content
			}
			for _, it := range items {
				v, err := uintValue(it, 0, 63)
				if err != nil {
					return err
				}
				f.DSCP = append(f.DSCP, uint8(v))
			}
			return nil
		},
		"flow_label": func(n *yaml.Node) error {
			v, err := uintValue(n, 0, 0xFFFFF)
			x := uint32(v)
			f.FlowLabel = &x
			return err
		},
		"ether_type": func(n *yaml.Node) error {
			s, err := scalar(n)
			if err != nil {
				return err
			}
			switch strings.ToLower(s) {
			case "arp":
				f.EtherType = EtherARP
			case "ipv4":
				f.EtherType = EtherIPv4
			case "ipv6":
				f.EtherType = EtherIPv6
			default:
				v, err := uintValue(n, 1, 0xFFFF)
				if err != nil {
					return err
				}
				f.EtherType = uint16(v)
			}
			return nil
		},
		"src_mac":      func(n *yaml.Node) (err error) { f.SrcMAC.Addr, err = macValue(n); return err },
		"src_mac_mask": func(n *yaml.Node) (err error) { srcMask, err = macValue(n); return err },
		"dst_mac":      func(n *yaml.Node) (err error) { f.DstMAC.Addr, err = macValue(n); return err },
		"dst_mac_mask": func(n *yaml.Node) (err error) { dstMask, err = macValue(n); return err },
		"priority": func(n *yaml.Node) error {
			v, err := uintValue(n, 0, 7)
			x := uint8(v)
			f.Priority = &x
			return err
		},
		"vlan": func(n *yaml.Node) error {
			v, err := uintValue(n, 0, 4095)
			x := uint16(v)
			f.VLAN = &x
			return err
		},
	}, []string{"name", "direction", "action"})
	if err != nil {
		return Filter{}, err
	}
	f.SrcMAC.Mask, f.DstMAC.Mask = srcMask, dstMask
	if !kindSet && (f.EtherType != 0 || !f.SrcMAC.IsZero() || !f.DstMAC.IsZero() || f.VLAN != nil || f.Priority != nil) {
		return Filter{}, ferr(n, "filter %q has Ethernet fields: say type: ethernet", f.Name)
	}
	return f, nil
}

// ParseFlows reads a required flow (the --require syntax):
//
//	arp                          ARP in both directions
//	dhcp                         DHCP (UDP 68 -> 67 and back)
//	ping[:ADDR]                  the machine answers ICMP from ADDR (any)
//	ADDR[:PORTS][/tcp|/udp|/icmp]   the host reaches ADDR (any address with "any")
//	from:ADDR[:PORTS][/tcp|/udp]    ADDR reaches the host's PORTS
//
// ADDR is an address, ADDR/BITS, ADDR/MASK, ADDR-ADDR or "any"; PORTS is a
// comma-separated list of PORT or PORT-PORT, one flow each; IPv6 addresses
// with ports go in brackets. Ports without a protocol mean TCP.
func ParseFlows(s string) ([]Flow, error) {
	orig := strings.TrimSpace(s)
	switch strings.ToLower(orig) {
	case "arp":
		return []Flow{{Name: "arp", ARP: true}}, nil
	case "dhcp":
		return []Flow{{Name: "dhcp", Protocol: ProtoUDP, PeerPorts: Port(67), HostPorts: Port(68)}}, nil
	case "ping":
		return []Flow{{Name: "ping", Protocol: ProtoICMP, Initiator: PeerInitiates}}, nil
	}
	if rest, ok := strings.CutPrefix(strings.ToLower(orig), "ping:"); ok {
		a, err := ParseAddr(rest)
		if err != nil {
			return nil, fmt.Errorf("flow %q: %w", orig, err)
		}
		proto := ProtoICMP
		if a.version() == 6 {
			proto = ProtoICMPv6
		}
		return []Flow{{Name: orig, Protocol: proto, Peer: a, Initiator: PeerInitiates}}, nil
	}
	body, init := orig, HostInitiates
	if rest, ok := strings.CutPrefix(body, "from:"); ok {
		body, init = rest, PeerInitiates
	}
	proto := ProtoAny
	if i := strings.LastIndexByte(body, '/'); i >= 0 {
		switch strings.ToLower(body[i+1:]) {
		case "icmp":
			proto, body = ProtoICMP, body[:i]
		case "icmpv6":
			proto, body = ProtoICMPv6, body[:i]
		}
	}
	anyPeer := false
	if low := strings.ToLower(body); low == "any" || strings.HasPrefix(low, "any:") || strings.HasPrefix(low, "any/") {
		anyPeer = true
		body = "0.0.0.0" + body[3:]
	}
	e, err := ParseEndpoint(body)
	if err != nil {
		return nil, fmt.Errorf("flow %q: %s", orig, strings.TrimPrefix(err.Error(), "endpoint "))
	}
	if anyPeer {
		e.Addr = Addr{}
	}
	if proto != ProtoAny {
		if len(e.Ports) > 0 || e.Protocol != ProtoAny {
			return nil, fmt.Errorf("flow %q: ICMP has no ports", orig)
		}
		e.Protocol = proto
	}
	if e.Protocol == ProtoAny {
		return nil, fmt.Errorf("flow %q: say which protocol (/tcp, /udp or /icmp)", orig)
	}
	if len(e.Ports) == 0 {
		f := Flow{Name: orig, Protocol: e.Protocol, Peer: e.Addr, Initiator: init}
		return []Flow{f}, f.validate("")
	}
	var out []Flow
	for _, pr := range e.Ports {
		f := Flow{Name: orig, Protocol: e.Protocol, Peer: e.Addr, Initiator: init}
		if len(e.Ports) > 1 {
			one := e
			one.Ports = []PortRange{pr}
			f.Name = one.String()
			if init == PeerInitiates {
				f.Name = "from:" + f.Name
			}
		}
		if init == PeerInitiates {
			f.HostPorts = &pr
		} else {
			f.PeerPorts = &pr
		}
		out = append(out, f)
	}
	return out, nil
}
