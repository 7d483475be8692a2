package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/defense"
)

// The JSON of "amtctl defense": every key always present, null when
// unknown or unset.

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func interfaceNames(is []defense.Interface) []string {
	out := make([]string, 0, len(is))
	for _, i := range is {
		out = append(out, i.String())
	}
	return out
}

// filterJSON is a filter with its match fields (null when unset), as
// defense status and fleet jobs' System Defense status print it.
type filterJSON = fleet.DefenseFilterRecord

func filterToJSON(id string, f defense.Filter, matched *uint64) filterJSON {
	return fleet.NewDefenseFilterRecord(id, f, matched)
}

func policyJSON(p *defense.Policy) map[string]any {
	fs := make([]filterJSON, 0, len(p.Filters))
	for _, f := range p.Filters {
		fs = append(fs, filterToJSON("", f, nil))
	}
	return map[string]any{
		"name": p.Name, "precedence": p.Precedence, "anti_spoofing": p.AntiSpoofing,
		"tx_default": defaultName(p.TxDefaultDrop), "rx_default": defaultName(p.RxDefaultDrop),
		"tx_default_count": p.TxDefaultCount, "rx_default_count": p.RxDefaultCount, "filters": fs,
	}
}

func defaultName(drop bool) string {
	if drop {
		return "drop"
	}
	return "pass"
}

func reportJSON(r *defense.Report) map[string]any {
	flows := make([]map[string]any, 0, len(r.Flows))
	for _, f := range r.Flows {
		legs := make([]map[string]any, 0, len(f.Legs))
		for _, l := range f.Legs {
			legs = append(legs, map[string]any{"direction": l.Direction.String(), "packets": l.Packet, "verdict": l.Verdict.String(), "by": l.By, "certain": l.Certain})
		}
		var reason *string
		if !f.Passes {
			reason = nullString(f.Reason())
		}
		flows = append(flows, map[string]any{"flow": f.Flow.String(), "passes": f.Passes, "reason": reason, "legs": legs})
	}
	return map[string]any{"ok": r.OK(), "flows": flows}
}

// printPolicy writes the filters and the policy that would be created.
func printPolicy(w io.Writer, p *defense.Policy) {
	fmt.Fprintf(w, "policy %q precedence %d: tx default %s, rx default %s, anti-spoofing %v\n", p.Name, p.Precedence,
		defaultName(p.TxDefaultDrop), defaultName(p.RxDefaultDrop), p.AntiSpoofing)
	t := newTable(w)
	fmt.Fprintln(t, "  FILTER\tDIR\tACTION\tMATCH")
	for _, f := range p.Filters {
		fmt.Fprintf(t, "  %s\t%s\t%s\t%s\n", f.Name, f.Direction, actionText(f), matchText(f))
	}
	_ = t.Flush()
}

func actionText(f defense.Filter) string {
	s := f.Action.String()
	if f.Action == defense.RateLimit {
		s += fmt.Sprintf(" %d/s", f.RatePPS)
	}
	if f.Statistics {
		s += " +count"
	}
	return s
}

func matchText(f defense.Filter) string {
	var parts []string
	if f.Kind == defense.Ethernet {
		parts = append(parts, fmt.Sprintf("ethertype 0x%04x", f.EtherType))
		if !f.SrcMAC.IsZero() {
			parts = append(parts, "src-mac "+f.SrcMAC.String())
		}
		if !f.DstMAC.IsZero() {
			parts = append(parts, "dst-mac "+f.DstMAC.String())
		}
		if f.VLAN != nil {
			parts = append(parts, fmt.Sprintf("vlan %d", *f.VLAN))
		}
		if f.Priority != nil {
			parts = append(parts, fmt.Sprintf("priority %d", *f.Priority))
		}
		return strings.Join(parts, " ")
	}
	if f.IPVersion != 0 {
		parts = append(parts, fmt.Sprintf("ipv%d", f.IPVersion))
	}
	if f.Protocol != defense.ProtoAny {
		parts = append(parts, f.Protocol.String())
	}
	if !f.Src.IsZero() || f.SrcPorts != nil {
		s := "from " + f.Src.String()
		if f.SrcPorts != nil {
			s += " port " + f.SrcPorts.String()
		}
		parts = append(parts, s)
	}
	if !f.Dst.IsZero() || f.DstPorts != nil {
		s := "to " + f.Dst.String()
		if f.DstPorts != nil {
			s += " port " + f.DstPorts.String()
		}
		parts = append(parts, s)
	}
	if len(f.DSCP) > 0 {
		parts = append(parts, fmt.Sprintf("dscp %v", f.DSCP))
	}
	if len(parts) == 0 {
		return "any IP"
	}
	return strings.Join(parts, " ")
}

func policyInfoJSON(p *defense.PolicyInfo) map[string]any {
	if p == nil {
		return nil
	}
	return map[string]any{"id": p.ID, "name": p.Name, "precedence": p.Precedence, "amtkit": p.Amtkit}
}

func printDefenseStatus(w io.Writer, format, host string, st *defense.Status) error {
	if format == "json" {
		// The record a fleet job's defense-status task keeps per machine.
		return writeJSON(w, fleet.NewDefenseStatusRecord(host, st))
	}
	fmt.Fprintf(w, "%s: %s\n", host, strings.ToUpper(st.Mode.String()))
	for _, is := range st.Interfaces {
		if is.Active == nil {
			names := make([]string, 0, len(is.Enabled))
			for _, p := range is.Enabled {
				names = append(names, p.Name)
			}
			extra := ""
			if len(names) > 0 {
				extra = " (enabled, not active: " + strings.Join(names, ", ") + ")"
			}
			fmt.Fprintf(w, "  %s: no active policy, traffic unfiltered%s\n", is.Interface, extra)
			continue
		}
		left := "no timeout"
		if is.TimeoutRemaining != nil {
			left = formatDuration(*is.TimeoutRemaining) + " left"
		}
		fmt.Fprintf(w, "  %s: policy %q (%s), %s, anti-spoofing %v\n", is.Interface, is.Active.Name, is.Active.ID, left, *is.AntiSpoofing)
		t := newTable(w)
		fmt.Fprintln(t, "    FILTER\tDIR\tACTION\tMATCH\tMATCHED")
		for _, f := range is.Filters {
			m := "-"
			if f.MatchedPackets != nil {
				m = fmt.Sprint(*f.MatchedPackets)
			}
			fmt.Fprintf(t, "    %s\t%s\t%s\t%s\t%s\n", f.Filter.Name, f.Filter.Direction, actionText(f.Filter), matchText(f.Filter), m)
		}
		_ = t.Flush()
	}
	return nil
}

func printDefenseStats(w io.Writer, format, host string, stats []defense.PortStatistics, reset bool) error {
	if format == "json" {
		ports := make([]map[string]any, 0, len(stats))
		for _, ps := range stats {
			fs := make([]map[string]any, 0, len(ps.Filters))
			for _, f := range ps.Filters {
				fs = append(fs, map[string]any{"id": f.ID, "name": f.Name, "direction": f.Direction.String(), "action": f.Action.String(), "matched_packets": f.Matched})
			}
			ports = append(ports, map[string]any{"interface": ps.Interface.String(), "active_policy": policyInfoJSON(&ps.Policy),
				"filters": fs, "tx_default_matched_packets": ps.TxDefault, "rx_default_matched_packets": ps.RxDefault})
		}
		return writeJSON(w, map[string]any{"host": host, "reset": reset, "interfaces": ports})
	}
	if len(stats) == 0 {
		fmt.Fprintf(w, "%s: no active System Defense policy\n", host)
		return nil
	}
	for _, ps := range stats {
		fmt.Fprintf(w, "%s %s: policy %q\n", host, ps.Interface, ps.Policy.Name)
		t := newTable(w)
		fmt.Fprintln(t, "  COUNTER\tDIR\tACTION\tMATCHED")
		for _, f := range ps.Filters {
			fmt.Fprintf(t, "  %s\t%s\t%s\t%d\n", f.Name, f.Direction, f.Action, f.Matched)
		}
		if ps.TxDefault != nil {
			fmt.Fprintf(t, "  tx default\ttx\t\t%d\n", *ps.TxDefault)
		}
		if ps.RxDefault != nil {
			fmt.Fprintf(t, "  rx default\trx\t\t%d\n", *ps.RxDefault)
		}
		_ = t.Flush()
	}
	if reset {
		fmt.Fprintln(w, "counters reset")
	}
	return nil
}

func printDefenseCaps(w io.Writer, format, host string, c *defense.Capabilities) error {
	if format == "json" {
		ports := make([]map[string]any, 0, len(c.Ports))
		for _, p := range c.Ports {
			ports = append(ports, map[string]any{
				"interface":           p.Interface.String(),
				"ipv4_max_tx_filters": p.IPv4MaxTxFilters, "ipv4_max_tx_counters": p.IPv4MaxTxCounters,
				"ipv4_max_rx_filters": p.IPv4MaxRxFilters, "ipv4_max_rx_counters": p.IPv4MaxRxCounters,
				"ipv4_anti_spoofing":  p.IPv4AntiSpoofing,
				"ipv6_max_tx_filters": p.IPv6MaxTxFilters, "ipv6_max_tx_counters": p.IPv6MaxTxCounters,
				"ipv6_max_rx_filters": p.IPv6MaxRxFilters, "ipv6_max_rx_counters": p.IPv6MaxRxCounters,
				"ipv6_anti_spoofing": p.IPv6AntiSpoofing, "ipv6_to_ipv4_ratio": p.IPv6ToIPv4Ratio,
			})
		}
		return writeJSON(w, map[string]any{"host": host, "mode": c.Mode.String(), "system_defense_available": c.Mode != defense.ModeCCM,
			"max_policies": c.MaxPolicies, "max_filters": c.MaxFilters, "interfaces": ports})
	}
	avail := "available"
	if c.Mode == defense.ModeCCM {
		avail = "unavailable (System Defense needs Admin Control Mode)"
	}
	fmt.Fprintf(w, "%s: %s, System Defense %s; at most %d policies and %d filters\n", host, strings.ToUpper(c.Mode.String()), avail, c.MaxPolicies, c.MaxFilters)
	t := newTable(w)
	fmt.Fprintln(t, "  PORT\tTX FILTERS\tTX COUNTERS\tRX FILTERS\tRX COUNTERS\tANTI-SPOOFING\tIPV6 RATIO")
	for _, p := range c.Ports {
		fmt.Fprintf(t, "  %s\t%d\t%d\t%d\t%d\t%v\t%d\n", p.Interface, p.IPv4MaxTxFilters, p.IPv4MaxTxCounters, p.IPv4MaxRxFilters, p.IPv4MaxRxCounters, p.IPv4AntiSpoofing, p.IPv6ToIPv4Ratio)
	}
	return t.Flush()
}
