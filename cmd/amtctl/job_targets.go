package main

// Targets of fleet jobs and collections. --targets takes, repeated or
// separated by commas or spaces:
//
//   - an address or host name, with an optional port (10.0.0.5,
//     10.0.0.5:16993, [2001:db8::5]:16992, pc-042.example.com);
//   - an IPv4 range (10.0.0.10-10.0.0.50, 10.0.0.10-50) or CIDR
//     (10.0.4.0/24, network and broadcast addresses left out);
//   - @FILE, the targets in a file (one or more per line, # starts a
//     comment), and @- for standard input's;
//   - %NAME, the machines of the collection NAME (amtctl collection).
//
// Every address is worked once, however often it is named.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/amtkit/amtkit/amt/discovery"
)

// defaultMaxTargets bounds a job (and a collection) unless --max-targets
// says otherwise: a typo such as /8 for /24 is refused before anything is
// stored.
const defaultMaxTargets = 100000

// collectionPrefix marks a collection name among targets.
const collectionPrefix = "%"

// targetFields splits a --targets value at commas, spaces and tabs.
func targetFields(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// parsedTargets are a job's targets: the machines named directly, and the
// collections named with %NAME (expanded by the durable layer when the
// job is stored, so the job holds the collection as it is then).
type parsedTargets struct {
	Hosts       []string
	Collections []string
}

// parseJobTargets expands --targets values. port, when not 0, is added to
// every address given without one. limit bounds the machines named
// directly (collections are bounded when they are made).
func parseJobTargets(values []string, stdin io.Reader, port, limit int) (parsedTargets, error) {
	var fields []string
	for _, v := range values {
		fields = append(fields, targetFields(v)...)
	}
	specs, err := readTargetSpecs(fields, stdin)
	if err != nil {
		return parsedTargets{}, err
	}
	var out parsedTargets
	var direct []string
	seenColl := map[string]bool{}
	for _, s := range specs {
		if name, ok := strings.CutPrefix(s, collectionPrefix); ok {
			if err := checkName("collection "+s, name); err != nil {
				return parsedTargets{}, err
			}
			if !seenColl[name] {
				seenColl[name] = true
				out.Collections = append(out.Collections, name)
			}
			continue
		}
		direct = append(direct, s)
	}
	if len(direct) > 0 {
		out.Hosts, err = expandTargets(direct, port, limit)
		if err != nil {
			return parsedTargets{}, err
		}
	}
	if len(out.Hosts) == 0 && len(out.Collections) == 0 {
		return parsedTargets{}, usageError{fmt.Errorf("--targets named no machine")}
	}
	return out, nil
}

// expandTargets turns target specifications (no @FILE or %NAME left) into
// one string per machine, "address" or "address:port", each once, in the
// order first named.
func expandTargets(specs []string, port, limit int) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(host string, p int) error {
		key := strings.ToLower(host)
		if a, err := netip.ParseAddr(host); err == nil {
			a = a.Unmap()
			host, key = a.String(), a.String()
		}
		if p == 0 {
			p = port
		}
		s := host
		if p != 0 {
			s = net.JoinHostPort(host, strconv.Itoa(p))
			key = net.JoinHostPort(key, strconv.Itoa(p))
		} else if strings.Contains(host, ":") {
			s = "[" + host + "]"
			key = s
		}
		if seen[key] {
			return nil
		}
		if len(out) >= limit {
			return usageError{fmt.Errorf("the targets name more than %d machines: give --max-targets to allow more", limit)}
		}
		seen[key] = true
		out = append(out, s)
		return nil
	}
	for _, s := range specs {
		if host, p, ok := hostWithPort(s); ok {
			if err := checkHost("target", s); err != nil {
				return nil, err
			}
			if err := add(host, p); err != nil {
				return nil, err
			}
			continue
		}
		t, err := discovery.ParseTargets(s)
		if err != nil {
			return nil, usageError{fmt.Errorf("target %q: %s", s, strings.TrimPrefix(err.Error(), "discovery: "))}
		}
		if !ipv4Spec(s) {
			// One address or a host name: kept as given (a name is resolved
			// by the worker that works it).
			if err := add(strings.Trim(s, "[]"), 0); err != nil {
				return nil, err
			}
			continue
		}
		if t.Len() > uint64(limit) {
			return nil, usageError{fmt.Errorf("target %s holds %d addresses, more than %d: give --max-targets to allow more", s, t.Len(), limit)}
		}
		for a := range t.Addresses(context.Background()) {
			if err := add(a.Addr.String(), 0); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// hostWithPort splits "host:port" and "[v6]:port"; ok is false for a spec
// without a port (an address, name, range or CIDR).
func hostWithPort(s string) (host string, port int, ok bool) {
	if strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
		return "", 0, false // a bare IPv6 address
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, false
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, false
	}
	return h, n, true
}
