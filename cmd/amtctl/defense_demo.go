package main

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/defense"
)

// demoBadPolicy forgets the replies of the management server: filters are
// stateless, so the machine could send to it but never hear back.
const demoBadPolicy = `name: remediate
defaults:
  tx: {action: drop}
  rx: {action: drop}
filters:
  - {name: arp-tx, type: ethernet, direction: tx, action: pass, ether_type: arp}
  - {name: arp-rx, type: ethernet, direction: rx, action: pass, ether_type: arp}
  - {name: mgmt-tx, direction: tx, action: pass, dst: 10.0.0.10, protocol: tcp, dst_ports: 443}
`

// demoQuarantine shows the check refusing a policy that would cut off the
// management server, then a quarantine applied with a timeout, its
// statistics under simulated traffic, and its removal.
func demoQuarantine(cmd *cobra.Command, c *amt.Client, dev *amtsim.Device, output string) error {
	out, ctx := cmd.OutOrStdout(), cmd.Context()
	flags := fmt.Sprintf("--host %s --tls --pin %s --user %s", c.Host(), "<sha256>", demoUser)

	fmt.Fprintf(out, "\nSystem Defense. A hand-written policy that forgets the management server's replies:\n")
	fmt.Fprintf(out, "$ amtctl defense check --policy remediate.yaml --require 10.0.0.10:443/tcp\n")
	bad, err := defense.ParsePolicyFile([]byte(demoBadPolicy))
	if err != nil {
		return err
	}
	need, err := defense.ParseFlows("10.0.0.10:443/tcp")
	if err != nil {
		return err
	}
	r := defense.Check(bad, need)
	if r.OK() {
		return fmt.Errorf("the check passed a policy that cuts off the management server")
	}
	fmt.Fprint(out, r.String())
	fmt.Fprintf(out, "(exit %d: refused, nothing would be sent)\n", exitRefused)

	args := "--allow 10.0.0.10:443 --allow 10.0.2.0/24:80,443 --dns 10.0.0.53 --statistics --timeout 30m"
	fmt.Fprintf(out, "\n$ amtctl defense quarantine %s %s\n", args, flags)
	var allow []defense.Endpoint
	for _, s := range []string{"10.0.0.10:443", "10.0.2.0/24:80,443"} {
		e, err := defense.ParseEndpoint(s)
		if err != nil {
			return err
		}
		allow = append(allow, e)
	}
	p, err := defense.Quarantine(defense.QuarantineOptions{Allow: allow, DNS: []netip.Addr{netip.MustParseAddr("10.0.0.53")}, Statistics: true})
	if err != nil {
		return err
	}
	res, err := c.Defense.Apply(ctx, p, defense.ApplyOptions{Timeout: 30 * time.Minute})
	if err != nil {
		return err
	}
	if err := printAction(cmd, output, actionResult{Host: c.Host(), Action: "quarantine", Accepted: true, Changed: boolp(true),
		Message: fmt.Sprintf("policy %q applied with %d filters, timeout 30m, on wired; %d round trips", p.Name, len(res.FilterIDs), res.RoundTrips),
		Extra:   map[string]any{"policy_id": res.PolicyID, "round_trips": res.RoundTrips}}); err != nil {
		return err
	}

	// The simulated host talks: to the management server (allowed) and to
	// a web site (dropped).
	host := netip.MustParseAddr(dev.IP())
	for _, peer := range []string{"10.0.0.10", "10.0.0.10", "10.0.0.10", "203.0.113.80"} {
		srv := netip.MustParseAddr(peer)
		dev.HostPacket(amtsim.Packet{Direction: amtsim.HostTransmit, Src: host, Dst: srv, Protocol: 6, SrcPort: 50123, DstPort: 443})
		dev.HostPacket(amtsim.Packet{Direction: amtsim.HostReceive, Src: srv, Dst: host, Protocol: 6, SrcPort: 443, DstPort: 50123})
	}
	fmt.Fprintf(out, "\n(the machine sends 3 packets to 10.0.0.10:443 and 1 to 203.0.113.80:443)\n$ amtctl defense stats %s\n", flags)
	stats, err := c.Defense.Statistics(ctx, false)
	if err != nil {
		return err
	}
	if err := printDefenseStats(out, output, c.Host(), stats, false); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n$ amtctl defense remove %s\n", flags)
	rm, err := c.Defense.Remove(ctx, defense.RemoveOptions{})
	if err != nil {
		return err
	}
	return printAction(cmd, output, actionResult{Host: c.Host(), Action: "remove", Accepted: true, Changed: boolp(true),
		Message: fmt.Sprintf("removed %d policies, %d filters; the machine's traffic is unfiltered again", len(rm.Policies), len(rm.Filters)),
		Extra:   map[string]any{"round_trips": rm.RoundTrips}})
}
