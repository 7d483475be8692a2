package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"

	"github.com/amtkit/amtkit/amt/discovery"
)

// readTargetSpecs expands the TARGET arguments: @FILE is the file's
// targets, @- standard input's (one or more per line, # starts a comment).
func readTargetSpecs(args []string, stdin io.Reader) ([]string, error) {
	var specs []string
	stdinUsed := false
	for _, a := range args {
		if !strings.HasPrefix(a, "@") {
			specs = append(specs, a)
			continue
		}
		name := a[1:]
		var r io.Reader
		switch {
		case name == "":
			return nil, usageError{fmt.Errorf("target %q: name a file after @, or @- for standard input", a)}
		case name == "-":
			if stdinUsed {
				return nil, usageError{fmt.Errorf("@- given twice")}
			}
			stdinUsed = true
			r = stdin
		default:
			f, err := os.Open(name)
			if err != nil {
				return nil, usageError{fmt.Errorf("targets: %w", err)}
			}
			defer f.Close()
			r = f
		}
		sc := bufio.NewScanner(r)
		line := 0
		for sc.Scan() {
			line++
			text := sc.Text()
			if i := strings.IndexByte(text, '#'); i >= 0 {
				text = text[:i]
			}
			for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
				if strings.HasPrefix(f, "@") {
					return nil, usageError{fmt.Errorf("%s:%d: a target file cannot name another (%s)", name, line, f)}
				}
				specs = append(specs, f)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("reading %s: %w", a, err)
		}
	}
	return specs, nil
}

// uniqueTargets parses the specs and merges them so that every address is
// scanned, and counted, once: overlapping IPv4 ranges become one, a host
// name named twice is one. Above limit addresses (before merging) the
// specs are parsed as they are, and the scan's own limit refuses them.
func uniqueTargets(specs []string, limit uint64) (*discovery.Targets, error) {
	raw, err := discovery.ParseTargets(specs...)
	if err != nil {
		return nil, usageError{err}
	}
	if raw.Len() > limit {
		return raw, nil
	}
	type run struct{ first, last uint32 }
	var runs []run
	var others []string
	seen := map[string]bool{}
	for _, s := range specs {
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if !ipv4Spec(f) {
				key := strings.ToLower(f)
				if a, err := netip.ParseAddr(f); err == nil {
					key = a.Unmap().String()
				}
				if !seen[key] {
					seen[key] = true
					others = append(others, f)
				}
				continue
			}
			one, err := discovery.ParseTargets(f)
			if err != nil {
				return nil, usageError{err}
			}
			for t := range one.Addresses(context.Background()) {
				b := t.Addr.As4()
				n := binary.BigEndian.Uint32(b[:])
				if k := len(runs) - 1; k >= 0 && runs[k].last+1 == n && runs[k].last != ^uint32(0) {
					runs[k].last = n
				} else {
					runs = append(runs, run{n, n})
				}
			}
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].first < runs[j].first })
	var merged []run
	for _, r := range runs {
		if k := len(merged) - 1; k >= 0 && uint64(r.first) <= uint64(merged[k].last)+1 {
			if r.last > merged[k].last {
				merged[k].last = r.last
			}
			continue
		}
		merged = append(merged, r)
	}
	out := make([]string, 0, len(merged)+len(others))
	addr := func(n uint32) string {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], n)
		return netip.AddrFrom4(b).String()
	}
	for _, r := range merged {
		if r.first == r.last {
			out = append(out, addr(r.first))
		} else {
			out = append(out, addr(r.first)+"-"+addr(r.last))
		}
	}
	out = append(out, others...)
	t, err := discovery.ParseTargets(out...)
	if err != nil {
		return nil, usageError{err}
	}
	return t, nil
}

// ipv4Spec reports whether a target is an IPv4 address, range or CIDR
// (not an IPv6 address or a host name).
func ipv4Spec(s string) bool {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr().Is4()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().Is4()
	}
	if i := strings.IndexByte(s, '-'); i > 0 {
		a, err := netip.ParseAddr(s[:i])
		return err == nil && a.Is4()
	}
	return false
}
