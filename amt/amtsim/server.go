package amtsim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server runs one simulated device or a fleet of them. Create it with New
// and stop it with Close.
type Server struct {
	opts     Options
	accounts map[string]Account
	nonceKey [32]byte
	log      *slog.Logger

	devices []*Device
	byIP    map[string]*Device

	cert     *tls.Certificate
	leaf     *x509.Certificate
	httpPort int
	tlsPort  int

	servers []*http.Server
	wg      sync.WaitGroup
	done    chan struct{}

	closeOnce sync.Once
	closeErr  error
}

type connKey struct{}

// connInfo is attached to every connection's context.
type connInfo struct {
	dev *Device
	tls bool
}

// New validates opts, creates the devices, binds every listener and starts
// serving. It returns once everything listens, like httptest.NewServer.
func New(opts Options) (*Server, error) {
	ips, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	ver, _ := parseVersion(opts.Version)
	s := &Server{
		opts:     opts,
		accounts: map[string]Account{opts.User: {User: opts.User, Password: opts.Password}},
		log:      opts.Logger,
		byIP:     make(map[string]*Device, len(ips)),
		done:     make(chan struct{}),
	}
	for _, a := range opts.Accounts {
		s.accounts[a.User] = a
	}
	if _, err := rand.Read(s.nonceKey[:]); err != nil {
		return nil, err
	}
	var mask net.IPMask
	if opts.DevicesCIDR != "" {
		_, n, _ := net.ParseCIDR(opts.DevicesCIDR)
		if ones, _ := n.Mask.Size(); ones <= 30 {
			mask = n.Mask
		}
	}
	for _, ip := range ips {
		d := newDevice(s, ip, ver, mask)
		s.devices = append(s.devices, d)
		s.byIP[d.ip] = d
	}

	var tlsConf *tls.Config
	if opts.TLSPort != -1 {
		if err := s.setupCertificate(ips); err != nil {
			return nil, err
		}
		tlsConf = s.tlsConfig()
	}

	var plainLs, tlsLs []net.Listener
	if opts.HTTPPort != -1 {
		plainLs, s.httpPort, err = listenAll(ips, opts.HTTPPort)
		if err != nil {
			return nil, err
		}
	}
	if opts.TLSPort != -1 {
		tlsLs, s.tlsPort, err = listenAll(ips, opts.TLSPort)
		if err != nil {
			closeListeners(plainLs)
			return nil, err
		}
	}
	for _, d := range s.devices {
		if s.httpPort != 0 {
			d.httpAddr = net.JoinHostPort(d.ip, strconv.Itoa(s.httpPort))
		}
		if s.tlsPort != 0 {
			d.tlsAddr = net.JoinHostPort(d.ip, strconv.Itoa(s.tlsPort))
		}
	}
	if plainLs != nil {
		s.serve(plainLs, false)
	}
	if tlsLs != nil {
		for i, l := range tlsLs {
			tlsLs[i] = tls.NewListener(l, tlsConf)
		}
		s.serve(tlsLs, true)
	}
	s.log.Info("amtsim listening", "devices", len(s.devices), "http_port", s.httpPort, "tls_port", s.tlsPort, "version", opts.Version)
	return s, nil
}

func (s *Server) serve(ls []net.Listener, isTLS bool) {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			var d *Device
			if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
				d = s.byIP[normalizeIP(a.IP)]
			}
			return context.WithValue(ctx, connKey{}, &connInfo{dev: d, tls: isTLS})
		},
	}
	s.servers = append(s.servers, hs)
	for _, l := range ls {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = hs.Serve(l)
		}()
	}
}

func normalizeIP(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.String()
}

// listenAll binds every address on one port. With port 0 the first bind
// picks the port and the others reuse it; a conflict retries a few times.
func listenAll(ips []net.IP, port int) ([]net.Listener, int, error) {
	var lastErr error
	for attempt := 0; attempt < 8; attempt++ {
		ls, p, err := listenOnce(ips, port)
		if err == nil {
			return ls, p, nil
		}
		lastErr = err
		if port != 0 || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, 0, lastErr
}

func listenOnce(ips []net.IP, port int) ([]net.Listener, int, error) {
	ls := make([]net.Listener, 0, len(ips))
	for _, ip := range ips {
		l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
		if err != nil {
			closeListeners(ls)
			return nil, 0, fmt.Errorf("amtsim: listen: %w", err)
		}
		if port == 0 {
			port = l.Addr().(*net.TCPAddr).Port
		}
		ls = append(ls, l)
	}
	return ls, port, nil
}

func closeListeners(ls []net.Listener) {
	for _, l := range ls {
		_ = l.Close()
	}
}

// Close stops every listener, aborts injected delays, waits for requests
// in progress and for every goroutine the server started.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, hs := range s.servers {
			if err := hs.Shutdown(ctx); err != nil {
				_ = hs.Close()
				s.closeErr = err
			}
		}
		s.wg.Wait()
	})
	return s.closeErr
}

// Devices returns the devices in address order.
func (s *Server) Devices() []*Device { return append([]*Device(nil), s.devices...) }

// Device returns the device with the given IP, or nil.
func (s *Server) Device(ip string) *Device {
	if p := net.ParseIP(ip); p != nil {
		return s.byIP[normalizeIP(p)]
	}
	return nil
}

// URL returns http://ip:port of the first device ("" if HTTP is disabled).
func (s *Server) URL() string {
	if s.httpPort == 0 {
		return ""
	}
	return "http://" + s.devices[0].httpAddr
}

// TLSURL returns https://ip:port of the first device ("" if TLS is
// disabled).
func (s *Server) TLSURL() string {
	if s.tlsPort == 0 {
		return ""
	}
	return "https://" + s.devices[0].tlsAddr
}

// Certificate returns the TLS leaf certificate (nil if TLS is disabled).
func (s *Server) Certificate() *x509.Certificate { return s.leaf }

// CertificateSHA256 returns the lower-case hex SHA-256 of the leaf
// certificate's DER encoding ("" if TLS is disabled).
func (s *Server) CertificateSHA256() string {
	if s.leaf == nil {
		return ""
	}
	sum := sha256.Sum256(s.leaf.Raw)
	return hex.EncodeToString(sum[:])
}

// ReadyLine returns the single line the amtsim program prints once it
// listens, e.g.
//
//	amtsim: ready devices=1 version=11.8.50.3425 http=127.0.0.1:16992 tls=127.0.0.1:16993 tls-sha256=…
//
// For a fleet the addresses are written first-last:port.
func (s *Server) ReadyLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "amtsim: ready devices=%d version=%s", len(s.devices), s.opts.Version)
	addr := func(port int) string {
		if port == 0 {
			return "off"
		}
		first, last := s.devices[0].ip, s.devices[len(s.devices)-1].ip
		if first == last {
			return net.JoinHostPort(first, strconv.Itoa(port))
		}
		return first + "-" + last + ":" + strconv.Itoa(port)
	}
	fmt.Fprintf(&b, " http=%s tls=%s", addr(s.httpPort), addr(s.tlsPort))
	if s.leaf != nil {
		fmt.Fprintf(&b, " tls-sha256=%s", s.CertificateSHA256())
	}
	return b.String()
}
