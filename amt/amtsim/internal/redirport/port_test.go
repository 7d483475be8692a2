package redirport

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/digest"
	"github.com/amtkit/amtkit/amt/amtsim/internal/redir"
	"github.com/amtkit/amtkit/amt/amtsim/internal/redirsvc"
)

// fakeDevice is the rest of a device as the port sees it; it checks that
// the port calls it with the device lock held.
type fakeDevice struct {
	t        *testing.T
	mu       *sync.Mutex
	password string
	booted   []int
}

func (f *fakeDevice) held() { redirsvc.MustHold(f.mu) }

func (f *fakeDevice) CheckDigest(a redir.AuthFields, typ byte) error {
	f.held()
	if !redir.DigestValid(a, typ, "Digest:TEST", "admin", f.password) {
		return errors.New("login failed")
	}
	return nil
}

func (f *fakeDevice) Challenge() (string, string) { f.held(); return "Digest:TEST", "nonce1" }
func (f *fakeDevice) TakeFault(Fault) bool        { f.held(); return false }
func (f *fakeDevice) SOLBanner() string           { f.held(); return "banner\r\n" }
func (f *fakeDevice) IDERBooted(seq int, _ bool)  { f.held(); f.booted = append(f.booted, seq) }

type rig struct {
	mu      sync.Mutex
	dev     *fakeDevice
	svc     *redirsvc.Service
	consent *redirsvc.Consent
	port    *Port
	addr    string
}

func newRig(t *testing.T, addr string) *rig {
	r := &rig{}
	r.dev = &fakeDevice{t: t, mu: &r.mu, password: "P@ssw0rd"}
	r.svc = redirsvc.NewService(redirsvc.ServiceConfig{Lock: &r.mu, EnabledState: redirsvc.StateAll})
	r.consent = redirsvc.NewConsent(redirsvc.ConsentConfig{Lock: &r.mu, Served: true,
		Code: func(uint64) string { return "123456" }})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r.port = New(Config{Lock: &r.mu, Device: r.dev, Service: r.svc, Consent: r.consent, Log: log, IP: "127.190.0.1",
		Major: 16, Minor: 1, KeepAlive: -1})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	srv := &Server{Lookup: func(net.Addr) *Port { return r.port }, Log: log, Done: done, WG: &wg}
	srv.Serve([]net.Listener{l}, nil)
	t.Cleanup(func() {
		close(done)
		srv.Close()
		wg.Wait()
	})
	r.addr = l.Addr().String()
	return r
}

func (r *rig) locked(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

func authMsg(fields ...string) []byte {
	var data []byte
	for _, f := range fields {
		data = append(data, byte(len(f)))
		data = append(data, f...)
	}
	m := make([]byte, redir.AuthHdrLen, redir.AuthHdrLen+len(data))
	m[0], m[4] = redir.Auth, redir.AuthDigest
	binary.LittleEndian.PutUint32(m[5:9], uint32(len(data)))
	return append(m, data...)
}

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

func startSession(t *testing.T, r *rig, tag string) (net.Conn, byte) {
	t.Helper()
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Write(append([]byte{redir.Start, 0, 0, 0}, tag...)); err != nil {
		t.Fatal(err)
	}
	reply := readN(t, c, redir.StartReplyLen)
	if reply[0] != redir.StartReply || reply[6] != 16 || reply[7] != 1 {
		t.Fatalf("StartRedirectionSessionReply % x", reply)
	}
	return c, reply[1]
}

// TestPortSOLSession runs an SOL session through the port over loopback
// against a fake device: the slot, the digest check through Device, the
// consent put in use, the banner, the session's end and the slot freed.
func TestPortSOLSession(t *testing.T) {
	r := newRig(t, "127.190.0.1:0")
	c, status := startSession(t, r, redir.TagSOL)
	if status != redir.StatusOK {
		t.Fatalf("SOL start: status %d", status)
	}
	resp := mustDigest("admin", "Digest:TEST", r.dev.password, "nonce1")
	if _, err := c.Write(authMsg("admin", "Digest:TEST", "nonce1", redir.URI, "", "", resp)); err != nil {
		t.Fatal(err)
	}
	if a := readN(t, c, redir.AuthHdrLen); a[0] != redir.AuthReply || a[1] != redir.StatusOK {
		t.Fatalf("AuthenticateSessionReply % x", a)
	}
	r.locked(func() {
		if !r.port.SessionOpen() {
			t.Error("authenticated session not open")
		}
	})
	start := make([]byte, redir.SOLStartLen)
	start[0] = redir.SOLStart
	binary.LittleEndian.PutUint16(start[8:10], 100)
	if _, err := c.Write(start); err != nil {
		t.Fatal(err)
	}
	if sr := readN(t, c, redir.SOLStartReplyLen); sr[0] != redir.SOLStartReply || sr[1] != 0 {
		t.Fatalf("StartSOLRedirectionReply % x", sr)
	}
	hdr := readN(t, c, redir.SOLDataHdrLen)
	if body := readN(t, c, int(binary.LittleEndian.Uint16(hdr[8:10]))); hdr[0] != redir.SOLDataFromHost || string(body) != "banner\r\n" {
		t.Fatalf("banner % x %q", hdr, body)
	}
	end := make([]byte, redir.IDERHdrLen)
	end[0] = redir.SOLEnd
	if _, err := c.Write(end); err != nil {
		t.Fatal(err)
	}
	if er := readN(t, c, redir.IDERHdrLen); er[0] != redir.SOLEndReply {
		t.Fatalf("End SOL reply % x", er)
	}
	r.locked(func() {
		if r.port.SessionOpen() || r.port.SOLSessions() != 1 {
			t.Errorf("after End SOL: open %v, SOL sessions %d", r.port.SessionOpen(), r.port.SOLSessions())
		}
	})
}

func mustDigest(user, realm, password, nonce string) string {
	return digest.ResponseNoQop(user, realm, password, redir.Method, redir.URI, nonce)
}

// TestPortRefusals: the port asks the service and the consent whether a
// session may start.
func TestPortRefusals(t *testing.T) {
	r := newRig(t, "127.190.0.2:0")
	r.locked(func() { r.svc.SetListener(false) })
	if _, st := startSession(t, r, redir.TagIDER); st != redir.StatusRefused {
		t.Errorf("listener closed: status %d, want %d", st, redir.StatusRefused)
	}
	r.locked(func() {
		r.svc.SetListener(true)
		r.svc.SetEnabledState(redirsvc.StateBase | redirsvc.FeatureIDER)
	})
	if _, st := startSession(t, r, redir.TagSOL); st != redir.StatusRefused {
		t.Errorf("SOL disabled: status %d, want %d", st, redir.StatusRefused)
	}
	r.locked(func() { r.consent.SetRequired(redirsvc.OptInAll) })
	if _, st := startSession(t, r, redir.TagIDER); st != redir.StatusConsent {
		t.Errorf("consent missing: status %d, want %d", st, redir.StatusConsent)
	}
	r.locked(func() {
		r.consent.Start(time.Now())
		r.consent.Send(time.Now(), 123456, true)
	})
	if _, st := startSession(t, r, redir.TagIDER); st != redir.StatusOK {
		t.Errorf("consent given: status %d, want 0", st)
	}
}

// TestPortNeedsDeviceLock: the port's methods refuse to run without the
// device lock, and an IDE-R boot without a session fails at once.
func TestPortNeedsDeviceLock(t *testing.T) {
	var mu sync.Mutex
	p := New(Config{Lock: &mu, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("StartIDERBoot without the device lock did not panic")
			}
		}()
		p.StartIDERBoot(1, true)
	}()
	mu.Lock()
	defer mu.Unlock()
	var none *Port // a device that has not needed its port yet
	none.TerminateIDER()
	none.TerminateSOL()
	if none.SessionOpen() || none.KVMOpen() || none.SOLSessions() != 0 || none.Boots() != nil {
		t.Error("a nil Port reports a session")
	}
	seq := p.StartIDERBoot(1, true)
	b, ok, _ := p.Boot(seq)
	if !ok || b.OK || b.Err != "no IDE-R session open" || b.Medium != "cd" {
		t.Fatalf("IDE-R boot without a session: %+v (finished %v)", b, ok)
	}
}
