package amtsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/sysdefense"
)

// HostTraffic is a steady trickle of simulated host traffic to one peer,
// run through System Defense like Device.HostPacket so that filter
// statistics move on a running simulator. Every Interval the host sends
// one packet to the peer and receives its reply: for "tcp" and "udp" from
// an ephemeral source port to Port and back, for "icmp" an echo request
// and its reply.
type HostTraffic struct {
	// Peer is the peer's IP address.
	Peer string `json:"peer"`
	// Protocol is "tcp", "udp" or "icmp".
	Protocol string `json:"protocol"`
	// Port is the peer's port, 1-65535 (tcp and udp only).
	Port int `json:"port,omitempty"`
	// Interval between exchanges; default 1s, at least 1ms. In the fleet
	// spec a Go duration string such as "500ms".
	Interval time.Duration `json:"-"`
	// Interface is "wired" (default) or "wireless".
	Interface string `json:"interface,omitempty"`
}

// UnmarshalJSON reads a traffic entry strictly, with interval as a Go
// duration string.
func (h *HostTraffic) UnmarshalJSON(data []byte) error {
	type plain HostTraffic
	var v struct {
		plain
		Interval string `json:"interval"`
	}
	if err := strictJSON(data, &v); err != nil {
		return err
	}
	*h = HostTraffic(v.plain)
	if v.Interval != "" {
		d, err := time.ParseDuration(v.Interval)
		if err != nil {
			return fmt.Errorf("host_traffic interval: %w", err)
		}
		h.Interval = d
	}
	return nil
}

// UnmarshalJSON reads System Defense options strictly, with
// timeout_minute as a Go duration string.
func (o *SystemDefenseOptions) UnmarshalJSON(data []byte) error {
	type plain SystemDefenseOptions
	var v struct {
		plain
		TimeoutMinute string `json:"timeout_minute"`
	}
	if err := strictJSON(data, &v); err != nil {
		return err
	}
	*o = SystemDefenseOptions(v.plain)
	if v.TimeoutMinute != "" {
		d, err := time.ParseDuration(v.TimeoutMinute)
		if err != nil {
			return fmt.Errorf("system_defense timeout_minute: %w", err)
		}
		o.TimeoutMinute = d
	}
	return nil
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// trafficFlow is a validated HostTraffic.
type trafficFlow struct {
	peer     netip.Addr
	proto    uint8
	port     uint16
	interval time.Duration
	iface    int
}

func parseTraffic(list []HostTraffic) ([]trafficFlow, error) {
	var out []trafficFlow
	for i, h := range list {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("host traffic %d: %s", i+1, fmt.Sprintf(format, args...))
		}
		peer, err := netip.ParseAddr(h.Peer)
		if err != nil {
			return nil, fail("peer %q is not an IP address", h.Peer)
		}
		f := trafficFlow{peer: peer.Unmap(), interval: h.Interval}
		switch h.Protocol {
		case "tcp", "udp":
			f.proto = 6
			if h.Protocol == "udp" {
				f.proto = 17
			}
			if h.Port < 1 || h.Port > 65535 {
				return nil, fail("port %d is not 1-65535", h.Port)
			}
			f.port = uint16(h.Port)
		case "icmp":
			f.proto = 1
			if peer.Unmap().Is6() {
				f.proto = 58
			}
			if h.Port != 0 {
				return nil, fail("icmp takes no port")
			}
		default:
			return nil, fail("protocol %q: want tcp, udp or icmp", h.Protocol)
		}
		switch h.Interface {
		case "", "wired":
		case "wireless":
			f.iface = sysdefense.PortWireless
		default:
			return nil, fail("interface %q: want wired or wireless", h.Interface)
		}
		switch {
		case f.interval == 0:
			f.interval = time.Second
		case f.interval < time.Millisecond:
			return nil, fail("interval %v is below 1ms", f.interval)
		}
		out = append(out, f)
	}
	return out, nil
}

// exchange runs one request and its reply through System Defense.
func (d *Device) exchange(i int, f trafficFlow) {
	host, err := netip.ParseAddr(d.ip)
	if err != nil {
		return
	}
	host = host.Unmap()
	ephemeral := uint16(49152 + i%16384)
	out := Packet{Port: f.iface, Direction: HostTransmit, Src: host, Dst: f.peer, Protocol: f.proto}
	back := Packet{Port: f.iface, Direction: HostReceive, Src: f.peer, Dst: host, Protocol: f.proto}
	if f.proto == 6 || f.proto == 17 {
		out.SrcPort, out.DstPort = ephemeral, f.port
		back.SrcPort, back.DstPort = f.port, ephemeral
	}
	d.defense.HostPacket(out)
	d.defense.HostPacket(back)
}

// startHostTraffic starts one goroutine that sends every device's trickle
// of host traffic until Close.
func (s *Server) startHostTraffic() {
	type job struct {
		d    *Device
		i    int
		f    trafficFlow
		next time.Time
	}
	var jobs []*job
	now := time.Now()
	for _, d := range s.devices {
		for i, f := range d.traffic {
			jobs = append(jobs, &job{d: d, i: i, f: f, next: now.Add(f.interval)})
		}
	}
	if len(jobs) == 0 {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			next := jobs[0].next
			for _, j := range jobs[1:] {
				if j.next.Before(next) {
					next = j.next
				}
			}
			t := time.NewTimer(time.Until(next))
			select {
			case <-s.done:
				t.Stop()
				return
			case now := <-t.C:
				for _, j := range jobs {
					if !j.next.After(now) {
						j.d.exchange(j.i, j.f)
						j.next = j.next.Add(j.f.interval)
						if j.next.Before(now) {
							j.next = now.Add(j.f.interval)
						}
					}
				}
			}
		}
	}()
}

// must returns v for a value validated before (Options.normalize and the
// fleet spec check the traffic lists).
func must[T any](v T, _ error) T { return v }
