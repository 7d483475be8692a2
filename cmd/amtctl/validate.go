package main

// Validation helpers: a command checks its values before it sends
// anything, and each check returns a usageError (exit 2) whose message
// names the flag, e.g.
//
//	if err := firstError(
//		checkPort("--redirect-port", rf.port, true),
//		checkPositive("--wait-timeout", waitTimeout),
//		checkConflict(cmd, "wait", "dry-run"),
//	); err != nil {
//		return err
//	}

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"
)

// firstError returns the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkPort checks a port flag: 1..65535, or 0 when zeroMeansDefault.
func checkPort(flag string, port int, zeroMeansDefault bool) error {
	if port == 0 && zeroMeansDefault {
		return nil
	}
	if port < 1 || port > 65535 {
		return usageError{fmt.Errorf("%s %d is not a port (1-65535)", flag, port)}
	}
	return nil
}

// checkHost checks --host: a host name or address, optionally with a port
// (host:port, [v6]:port) or as an http(s) URL; the port, when given, must be
// 1..65535.
func checkHost(flag, host string) error {
	if strings.TrimSpace(host) == "" {
		return usageError{fmt.Errorf("%s is required", flag)}
	}
	h := host
	if strings.Contains(h, "://") {
		u, err := url.Parse(h)
		if err != nil || u.Host == "" {
			return usageError{fmt.Errorf("%s %q is not a host or URL", flag, host)}
		}
		h = u.Host
	}
	name, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: a bare name or address (an IPv6 address has colons).
		if strings.Count(h, ":") >= 2 && net.ParseIP(strings.Trim(h, "[]")) != nil {
			return nil
		}
		if strings.Contains(h, ":") {
			return usageError{fmt.Errorf("%s %q: want host or host:port", flag, host)}
		}
		name = h
	} else {
		n, perr := strconv.Atoi(port)
		if perr != nil || n < 1 || n > 65535 {
			return usageError{fmt.Errorf("%s %q: the port must be a number 1-65535", flag, host)}
		}
	}
	if name == "" || strings.ContainsFunc(name, unicode.IsSpace) {
		return usageError{fmt.Errorf("%s %q has no host name", flag, host)}
	}
	return nil
}

// checkPositive checks a duration flag that must be above zero.
func checkPositive(flag string, d time.Duration) error {
	if d <= 0 {
		return usageError{fmt.Errorf("%s must be a positive duration (e.g. 30s, 2m), not %s", flag, d)}
	}
	return nil
}

// checkNotNegative checks a duration flag where 0 means "none".
func checkNotNegative(flag string, d time.Duration) error {
	if d < 0 {
		return usageError{fmt.Errorf("%s must not be negative", flag)}
	}
	return nil
}

// checkRange checks an integer flag.
func checkRange(flag string, v, lo, hi int) error {
	if v < lo || v > hi {
		return usageError{fmt.Errorf("%s must be %d-%d, not %d", flag, lo, hi, v)}
	}
	return nil
}

// checkName checks a name (a profile's, say): not empty, at most 64
// characters, no spaces or control characters.
func checkName(flag, name string) error {
	switch {
	case name == "":
		return usageError{fmt.Errorf("%s must not be empty", flag)}
	case len(name) > 64:
		return usageError{fmt.Errorf("%s is longer than 64 characters", flag)}
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return usageError{fmt.Errorf("%s %q must not hold spaces or control characters", flag, name)}
	}
	return nil
}

// checkDigits checks a flag that must be digits only (a consent code), of
// length lo..hi.
func checkDigits(flag, v string, lo, hi int) error {
	if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r < '0' || r > '9' }) {
		return usageError{fmt.Errorf("%s must be digits only", flag)}
	}
	if len(v) < lo || len(v) > hi {
		return usageError{fmt.Errorf("%s must be %d-%d digits", flag, lo, hi)}
	}
	return nil
}

// checkOneOf checks a flag with a fixed set of values.
func checkOneOf(flag, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return usageError{fmt.Errorf("%s must be %s, not %q", flag, orList(allowed), v)}
}

// orList writes "a, b or c".
func orList(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// checkConflict refuses flags given together (by their names, without
// dashes) when more than one of them was set on the command line.
func checkConflict(cmd *cobra.Command, names ...string) error {
	var set []string
	for _, n := range names {
		if f := cmd.Flags().Lookup(n); f != nil && f.Changed {
			set = append(set, "--"+n)
		}
	}
	if len(set) > 1 {
		return usageError{fmt.Errorf("%s and %s cannot be used together", strings.Join(set[:len(set)-1], ", "), set[len(set)-1])}
	}
	return nil
}

// errNoTerminal is why a value that may be typed was not asked for.
var errNoTerminal = errors.New("standard input is not a terminal")
