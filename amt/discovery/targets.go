package discovery

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrTooManyAddresses is returned by Scan when the targets hold more
// addresses than Options.MaxAddresses allows.
var ErrTooManyAddresses = errors.New("too many addresses")

// DefaultMaxAddresses is the largest scan Scan runs unless
// Options.MaxAddresses says otherwise: a /12, about a minute and a half of
// pings at the default rate. A /8 (16.7 million addresses) is refused,
// because it is nearly always a typo.
const DefaultMaxAddresses = 1 << 20

// lookupTimeout bounds the resolution of one host name.
const lookupTimeout = 5 * time.Second

// Targets is a parsed list of what to scan: IPv4 CIDR ranges, IPv4
// address ranges, single IPv4 or IPv6 addresses and host names. It is
// expanded lazily, so even a /8 takes a few bytes until it is iterated.
// A Targets value is immutable and safe for concurrent use.
type Targets struct {
	specs []span
	count uint64
}

// span is one target: an inclusive IPv4 range, one address, or a name.
type span struct {
	first, last uint32     // IPv4 range, when !single && name == ""
	addr        netip.Addr // one address (IPv4 or IPv6)
	single      bool
	name        string // host name to resolve
}

func (s span) size() uint64 {
	if s.single || s.name != "" {
		return 1
	}
	return uint64(s.last) - uint64(s.first) + 1
}

// Target is one address to scan.
type Target struct {
	Addr netip.Addr
	// Host is the host name the address was resolved from; empty for
	// addresses given as such.
	Host string
	// Err is set when Host could not be resolved; Addr is then invalid.
	Err error
}

// ParseTargets parses target specifications:
//
//   - an IPv4 CIDR, "192.0.2.0/24" (the network and broadcast addresses
//     are left out for prefixes up to /30);
//   - an IPv4 range, "192.0.2.10-192.0.2.50" or "192.0.2.10-50";
//   - an IPv4 or IPv6 address ("2001:db8::5"; IPv6 ranges are refused,
//     being too large to sweep);
//   - a host name, resolved when the scan reaches it;
//   - "@file": the targets in a file, one or more per line, with "#"
//     starting a comment.
//
// Specifications may also be separated by commas or spaces.
func ParseTargets(specs ...string) (*Targets, error) {
	t := &Targets{}
	for _, spec := range specs {
		if err := t.add(spec, ""); err != nil {
			return nil, err
		}
	}
	if len(t.specs) == 0 {
		return nil, errors.New("discovery: no targets")
	}
	return t, nil
}

func (t *Targets) add(spec, file string) error {
	for _, f := range strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if strings.HasPrefix(f, "@") {
			if file != "" {
				return fmt.Errorf("discovery: %s: nested target file %q", file, f)
			}
			if err := t.addFile(f[1:]); err != nil {
				return err
			}
			continue
		}
		s, err := parseSpan(f)
		if err != nil {
			if file != "" {
				return fmt.Errorf("discovery: %s: %w", file, err)
			}
			return fmt.Errorf("discovery: %w", err)
		}
		t.specs = append(t.specs, s)
		t.count += s.size()
	}
	return nil
}

func (t *Targets) addFile(path string) error {
	if path == "" {
		return errors.New("discovery: empty target file name after @")
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("discovery: targets: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		if err := t.add(text, path+":"+strconv.Itoa(line)); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("discovery: %s: %w", path, err)
	}
	return nil
}

func parseSpan(s string) (span, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return span{}, fmt.Errorf("target %q: %w", s, err)
		}
		p = p.Masked()
		if !p.Addr().Is4() {
			if p.Bits() == 128 {
				return span{addr: p.Addr(), single: true}, nil
			}
			return span{}, fmt.Errorf("target %q: IPv6 ranges cannot be swept; name single IPv6 addresses", s)
		}
		first := v4(p.Addr())
		hostBits := 32 - p.Bits()
		last := first | uint32(uint64(1)<<hostBits-1)
		if hostBits >= 2 {
			first, last = first+1, last-1 // network and broadcast
		}
		return span{first: first, last: last}, nil
	}
	if i := strings.IndexByte(s, '-'); i > 0 && !strings.Contains(s, ":") {
		if a, err := netip.ParseAddr(s[:i]); err == nil && a.Is4() {
			rest := s[i+1:]
			var last uint32
			if b, err := netip.ParseAddr(rest); err == nil && b.Is4() {
				last = v4(b)
			} else if n, err := strconv.ParseUint(rest, 10, 8); err == nil && isDigits(rest) {
				last = v4(a)&^0xFF | uint32(n)
			} else {
				return span{}, fmt.Errorf("target %q: range end %q is neither an IPv4 address nor a last octet", s, rest)
			}
			if last < v4(a) {
				return span{}, fmt.Errorf("target %q: range ends before it starts", s)
			}
			return span{first: v4(a), last: last}, nil
		}
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return span{addr: a.Unmap(), single: true}, nil
	}
	if !validHostName(s) {
		return span{}, fmt.Errorf("target %q is not an address, range, CIDR or host name", s)
	}
	return span{name: s}, nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func validHostName(s string) bool {
	if s == "" || len(s) > 253 || strings.Trim(s, "0123456789.") == "" {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func v4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func fromV4(n uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return netip.AddrFrom4(b)
}

// Len returns the number of addresses, counting each host name as one.
func (t *Targets) Len() uint64 { return t.count }

// Addresses iterates over the targets in order, resolving host names as
// it reaches them (to the first IPv4 address, else the first address).
// A name that does not resolve yields a Target with Err set. It holds no
// more than one target in memory at a time.
func (t *Targets) Addresses(ctx context.Context) iter.Seq[Target] {
	return func(yield func(Target) bool) {
		for _, s := range t.specs {
			switch {
			case s.single:
				if !yield(Target{Addr: s.addr}) {
					return
				}
			case s.name != "":
				if ctx.Err() != nil {
					return
				}
				if !yield(resolve(ctx, s.name)) {
					return
				}
			default:
				for n := uint64(s.first); n <= uint64(s.last); n++ {
					if !yield(Target{Addr: fromV4(uint32(n))}) {
						return
					}
				}
			}
		}
	}
}

func resolve(ctx context.Context, name string) Target {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		return Target{Host: name, Err: fmt.Errorf("discovery: resolve %s: %w", name, err)}
	}
	best := addrs[0].Unmap()
	for _, a := range addrs {
		if a.Unmap().Is4() {
			best = a.Unmap()
			break
		}
	}
	return Target{Addr: best, Host: name}
}
