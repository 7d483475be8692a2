package digest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

func TestTable(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tb := NewTable([]byte("key"), "192.0.2.1", time.Minute)
	n := tb.Issue(now)
	if got := tb.Check(n, now); got != Live {
		t.Fatalf("fresh nonce: %v", got)
	}
	if !tb.Use(n, 1, true, now) || !tb.Use(n, 5, true, now) {
		t.Fatal("increasing counts refused")
	}
	if tb.Use(n, 5, true, now) || tb.Use(n, 2, true, now) {
		t.Fatal("repeated or lower count accepted")
	}
	if !tb.Use(n, 0, false, now) {
		t.Fatal("uncounted use refused")
	}
	other := NewTable([]byte("key"), "192.0.2.2", time.Minute)
	if got := other.Check(n, now); got != Foreign {
		t.Fatalf("another device's nonce: %v", got)
	}
	if got := tb.Check("garbage", now); got != Foreign {
		t.Fatalf("garbage: %v", got)
	}
	if got := tb.Check(n, now.Add(2*time.Minute)); got != Expired {
		t.Fatalf("old nonce: %v", got)
	}
	m := tb.Issue(now)
	tb.Forget()
	if got := tb.Check(m, now); got != Forgotten {
		t.Fatalf("forgotten nonce: %v", got)
	}
	k := tb.Issue(now)
	tb.Expire(now)
	if got := tb.Check(k, now); got != Expired {
		t.Fatalf("expired nonce: %v", got)
	}
	// Beyond MaxLive the least recently used is forgotten.
	first := tb.Issue(now)
	for i := range MaxLive {
		tb.Issue(now.Add(time.Duration(i+1) * time.Millisecond))
	}
	if got := tb.Check(first, now.Add(time.Second)); got != Forgotten {
		t.Fatalf("least recently used nonce: %v", got)
	}
}

func TestParseHeader(t *testing.T) {
	p, ok := ParseHeader(`Digest username="admin", realm="Digest:AB", nonce="n\"x", uri="/wsman", qop=auth, nc=00000001, cnonce="c", response="r"`)
	if !ok || p["username"] != "admin" || p["nonce"] != `n"x` || p["qop"] != "auth" || p["nc"] != "00000001" {
		t.Fatalf("%v %v", p, ok)
	}
	for _, h := range []string{"Basic YQ==", `Digest username="unterminated`, "Digest =x"} {
		if _, ok := ParseHeader(h); ok {
			t.Errorf("%q accepted", h)
		}
	}
	if !IsHex8("0000000a") || IsHex8("1") || IsHex8("0000000g") {
		t.Error("IsHex8")
	}
}

func TestParseParamsAndVerify(t *testing.T) {
	h := `Digest username="ad\"min", realm="Digest:AB", nonce="n0nce", uri="/wsman", response="ABCDEF", qop=auth, nc=00000001, cnonce="c"`
	p, ok := ParseParams(h)
	if !ok {
		t.Fatal("not parsed")
	}
	want := Params{Username: `ad"min`, Realm: "Digest:AB", Nonce: "n0nce", URI: "/wsman", Response: "ABCDEF", QOP: "auth", NC: "00000001", CNonce: "c"}
	if p != want {
		t.Fatalf("got %+v", p)
	}
	m, _ := ParseHeader(h)
	if m["username"] != `ad"min` || m["nc"] != "00000001" {
		t.Fatalf("map %v", m)
	}
	for _, bad := range []string{`Basic abc`, `Digest username="x`, `Digest =x`, ``} {
		if _, ok := ParseParams(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	resp := ResponseAuth("admin", "Digest:AB", "pw", "POST", "/wsman", "n", "00000001", "c")
	for _, r := range []string{resp, strings.ToUpper(resp)} {
		if !VerifyAuth("admin", "Digest:AB", "pw", "POST", "/wsman", "n", "00000001", "c", r) {
			t.Errorf("%s not verified", r)
		}
	}
	if VerifyAuth("admin", "Digest:AB", "pw2", "POST", "/wsman", "n", "00000001", "c", resp) ||
		VerifyAuth("admin", "Digest:AB", "pw", "POST", "/wsman", "n", "00000001", "c", resp[:31]) {
		t.Error("a wrong response verified")
	}
	if n := testing.AllocsPerRun(100, func() {
		p, _ := ParseParams(h[:len(h)-0])
		_ = VerifyAuth("admin", p.Realm, "pw", "POST", p.URI, p.Nonce, p.NC, p.CNonce, resp)
	}); n > 1 {
		t.Errorf("%v allocations per parse and check", n)
	}
}

// TestNonceLayout checks a nonce's bytes: the issue time (Unix ns,
// big-endian) and the first 16 bytes of HMAC-SHA256 over the device's
// identity, a zero byte and that time, under the key; tables sharing a
// Key sign as tables keyed on their own.
func TestNonceLayout(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 123)
	shared := NewKey(key)
	for _, tb := range []*Table{NewTable(key, "192.0.2.7", time.Minute), NewTableKey(shared, "192.0.2.7", time.Minute)} {
		for i := 0; i < 3; i++ {
			n := tb.Issue(now)
			raw, err := base64.StdEncoding.DecodeString(n)
			if err != nil || len(raw) != 24 {
				t.Fatalf("nonce %q: %v, %d bytes", n, err, len(raw))
			}
			m := hmac.New(sha256.New, key)
			m.Write([]byte("192.0.2.7\x00"))
			m.Write(raw[:8])
			if want := m.Sum(nil)[:16]; !bytes.Equal(raw[8:], want) {
				t.Fatalf("tag %x, want %x", raw[8:], want)
			}
			if ts := int64(binary.BigEndian.Uint64(raw[:8])); ts < now.UnixNano() {
				t.Fatalf("issue time %d before %d", ts, now.UnixNano())
			}
		}
	}
	// A nonce of one table is known to another table of the same key and
	// identity (Forgotten), not of another key (Foreign).
	n := NewTableKey(shared, "192.0.2.7", time.Minute).Issue(now)
	if got := NewTable(key, "192.0.2.7", time.Minute).Check(n, now); got != Forgotten {
		t.Fatalf("same key: %v", got)
	}
	if got := NewTable([]byte("other"), "192.0.2.7", time.Minute).Check(n, now); got != Foreign {
		t.Fatalf("other key: %v", got)
	}
}

func BenchmarkIssue(b *testing.B) {
	k := NewKey([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Now()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		NewTableKey(k, "192.0.2.7", time.Minute).Issue(now)
	}
}

// TestVerifyAuthHA checks the response from HA1 and HA2 against the
// response computed from the parameters, for the WS-Man request (whose
// HA2 is computed once) and another.
func TestVerifyAuthHA(t *testing.T) {
	for _, mu := range [][2]string{{"POST", "/wsman"}, {"GET", "/index.htm"}, {"POST", "/wsman?x"}} {
		r := ResponseAuth("admin", "Digest:ABC", "P@ssw0rd", mu[0], mu[1], "n0nce", "00000001", "c0ffee")
		ha1, ha2 := HA1("admin", "Digest:ABC", "P@ssw0rd"), HA2(mu[0], mu[1])
		if !VerifyAuthHA(&ha1, &ha2, "n0nce", "00000001", "c0ffee", strings.ToUpper(r)) {
			t.Errorf("%s %s: the right response refused", mu[0], mu[1])
		}
		if VerifyAuthHA(&ha1, &ha2, "n0nce", "00000002", "c0ffee", r) {
			t.Errorf("%s %s: a response for another count accepted", mu[0], mu[1])
		}
	}
}
