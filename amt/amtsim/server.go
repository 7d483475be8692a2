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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/redirport"
	"github.com/amtkit/amtkit/amt/amtsim/internal/wire"
)

// Server runs one simulated device or a fleet of them. Create it with New
// and stop it with Close.
type Server struct {
	opts     Options
	nonceKey [32]byte
	log      *slog.Logger

	devices []*Device
	byIP    map[string]*Device

	cert     *tls.Certificate
	leaf     *x509.Certificate
	httpPort int // 0: no plain listener
	tlsPort  int // 0: no TLS listener
	rmcpPort int // 0: RMCP disabled

	redirPort    int               // 0: no plain redirection listener
	redirTLSPort int               // 0: no TLS redirection listener
	redir        *redirport.Server // the redirection listeners (internal/redirport)

	servers []*wire.Server
	udp     []*net.UDPConn
	wg      sync.WaitGroup
	done    chan struct{}

	// timerMu guards timersClosed: once set, devices arm no more timers.
	timerMu      sync.Mutex
	timersClosed bool

	closeOnce sync.Once
	closeErr  error
}

// New validates opts, creates the devices, binds every listener and starts
// serving. It returns once everything listens, like httptest.NewServer.
func New(opts Options) (*Server, error) {
	ips, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts: opts,
		log:  opts.Logger,
		byIP: make(map[string]*Device, len(ips)),
		done: make(chan struct{}),
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
	profiles, groupOf := deviceProfiles(&opts, ips)
	indexes := make([]map[string]Account, len(profiles))
	for i, p := range profiles {
		indexes[i] = accountIndex(p.accounts)
	}
	// plainIPs listen on plain HTTP; amtIPs are the devices with AMT (TLS,
	// RMCP and redirection), amtPlainIPs those of them with plain HTTP.
	var plainIPs, amtIPs, amtPlainIPs []net.IP
	for i, ip := range ips {
		g := groupOf[i]
		p := profiles[g]
		if p.empty {
			continue
		}
		d := newDevice(s, ip, p, indexes[g], mask)
		d.forgetEvery = opts.FaultForgetNoncesEvery
		if opts.FaultAnswerDelay > 0 {
			d.faults = append(d.faults, &queuedFault{Fault: Fault{Kind: FaultDelayAnswer, Action: opts.FaultMethod, Delay: opts.FaultAnswerDelay}})
		}
		s.devices = append(s.devices, d)
		s.byIP[d.ip] = d
		if !p.tlsOnly {
			plainIPs = append(plainIPs, ip)
		}
		if !p.noAMT {
			amtIPs = append(amtIPs, ip)
			if !p.tlsOnly {
				amtPlainIPs = append(amtPlainIPs, ip)
			}
		}
	}
	if len(s.devices) == 0 {
		return nil, errors.New("amtsim: the fleet's empty groups leave no device")
	}

	if err := checkFDBudget(listeningSockets(&opts, len(plainIPs), len(amtIPs), len(amtPlainIPs)), fdLimit()); err != nil {
		return nil, err
	}

	var tlsConf *tls.Config
	if opts.TLSPort != -1 || opts.RedirectTLSPort != -1 {
		if err := s.setupCertificate(ips); err != nil {
			return nil, err
		}
		tlsConf = s.tlsConfig()
	}

	var plainLs, tlsLs, redirLs, redirTLSLs []net.Listener
	var udp []*net.UDPConn
	fail := func(err error) (*Server, error) {
		closeListeners(plainLs)
		closeListeners(tlsLs)
		closeListeners(redirLs)
		closeListeners(redirTLSLs)
		closeUDP(udp)
		return nil, err
	}
	if opts.HTTPPort != -1 && len(plainIPs) > 0 {
		if plainLs, s.httpPort, err = listenAll(plainIPs, opts.HTTPPort); err != nil {
			return fail(err)
		}
	}
	if opts.TLSPort != -1 && len(amtIPs) > 0 {
		if tlsLs, s.tlsPort, err = listenAll(amtIPs, opts.TLSPort); err != nil {
			return fail(err)
		}
	}
	if opts.RMCPPort != -1 && len(amtIPs) > 0 {
		if udp, s.rmcpPort, err = listenUDPAll(amtIPs, opts.RMCPPort); err != nil {
			return fail(err)
		}
	}
	if len(amtIPs) > 0 {
		if redirLs, redirTLSLs, err = s.listenRedirect(amtPlainIPs, amtIPs); err != nil {
			return fail(err)
		}
	}
	next := 0 // the next RMCP socket: one per device with AMT, in order
	for _, d := range s.devices {
		if s.httpPort != 0 && !d.prof.tlsOnly {
			d.httpAddr = net.JoinHostPort(d.ip, strconv.Itoa(s.httpPort))
		}
		if d.prof.noAMT {
			continue
		}
		if s.redirPort != 0 && !d.prof.tlsOnly {
			d.redirAddr = net.JoinHostPort(d.ip, strconv.Itoa(s.redirPort))
		}
		if s.redirTLSPort != 0 {
			d.redirTLSAddr = net.JoinHostPort(d.ip, strconv.Itoa(s.redirTLSPort))
		}
		if s.tlsPort != 0 {
			d.tlsAddr = net.JoinHostPort(d.ip, strconv.Itoa(s.tlsPort))
		}
		if s.rmcpPort != 0 {
			d.rmcpAddr = net.JoinHostPort(d.ip, strconv.Itoa(s.rmcpPort))
			s.wg.Add(1)
			go s.serveRMCP(d, udp[next])
			next++
		}
	}
	s.udp = udp
	if plainLs != nil {
		s.serve(s.resetOnAccept(plainLs))
	}
	if tlsLs != nil {
		tlsLs = s.resetOnAccept(tlsLs)
		for i, l := range tlsLs {
			tlsLs[i] = tls.NewListener(l, tlsConf)
		}
		s.serve(tlsLs)
	}
	s.serveRedirect(redirLs, nil)
	if redirTLSLs != nil {
		s.serveRedirect(redirTLSLs, s.redirectTLSConfig(tlsConf))
	}
	s.startHostTraffic()
	s.log.Info("amtsim listening", "devices", len(s.devices), "http_port", s.HTTPPort(), "tls_port", s.TLSPort(),
		"rmcp_port", s.RMCPPort(), "redirect_port", s.RedirectPort(), "redirect_tls_port", s.RedirectTLSPort(),
		"version", s.versionSummary())
	return s, nil
}

// deviceProfiles returns the profiles in use and, per device address, the
// index of its profile.
func deviceProfiles(opts *Options, ips []net.IP) ([]*profile, []int) {
	base := baseProfile(opts)
	groupOf := make([]int, len(ips))
	if opts.Fleet == nil {
		return []*profile{base}, groupOf
	}
	profiles := make([]*profile, len(opts.Fleet.Groups))
	weights := make([]float64, len(opts.Fleet.Groups))
	for i := range opts.Fleet.Groups {
		g := &opts.Fleet.Groups[i]
		profiles[i] = groupProfile(base, g)
		weights[i] = g.Weight
	}
	addrs := make([]uint32, len(ips))
	for i, ip := range ips {
		addrs[i] = ipUint32(ip)
	}
	return profiles, assignGroups(addrs, weights, opts.Seed)
}

func (s *Server) serve(ls []net.Listener) {
	ws := &wire.Server{
		Handler:           s.serveWire,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxBody:           maxBodySize,
		Accept: func(c *wire.Conn) {
			if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
				c.Value = s.byIP[normalizeIP(a.IP)]
			}
		},
	}
	s.servers = append(s.servers, ws)
	for _, l := range ls {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = ws.Serve(l)
		}()
	}
}

// listeningSockets counts the sockets New binds: plain HTTP, TLS, RMCP
// and the two redirection ports, each where enabled.
func listeningSockets(opts *Options, plain, amt, amtPlain int) int {
	n := 0
	for _, p := range []struct{ port, count int }{
		{opts.HTTPPort, plain}, {opts.TLSPort, amt}, {opts.RMCPPort, amt},
		{opts.RedirectPort, amtPlain}, {opts.RedirectTLSPort, amt},
	} {
		if p.port != -1 {
			n += p.count
		}
	}
	return n
}

// resetOnAccept wraps the listeners of devices that reset every
// connection at once (reset_after_requests 0).
func (s *Server) resetOnAccept(ls []net.Listener) []net.Listener {
	for i, l := range ls {
		a, _ := l.Addr().(*net.TCPAddr)
		if a == nil {
			continue
		}
		if d := s.byIP[normalizeIP(a.IP)]; d != nil && d.prof.resetAfter == 0 {
			ls[i] = resetListener{l}
		}
	}
	return ls
}

// resetListener accepts connections and resets them at once, never
// returning one.
type resetListener struct{ net.Listener }

func (l resetListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		wire.Abort(c)
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

// Close stops every listener, ends the redirection sessions, aborts
// injected delays, waits for requests in progress and for every goroutine
// the server started.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		closeUDP(s.udp)
		s.closeRedirect()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, hs := range s.servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := hs.Shutdown(ctx); err != nil {
					mu.Lock()
					s.closeErr = err
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		s.stopTimers()
		s.wg.Wait()
	})
	return s.closeErr
}

// stopTimers cancels the devices' timers; a callback already running is
// waited for by Close through s.wg.
func (s *Server) stopTimers() {
	s.timerMu.Lock()
	s.timersClosed = true
	s.timerMu.Unlock()
	for _, d := range s.devices {
		d.mu.Lock()
		d.stopSettleLocked()
		d.mu.Unlock()
	}
}

// ForgetNonces makes every device forget its digest nonces (see
// Device.ForgetNonces).
func (s *Server) ForgetNonces() {
	for _, d := range s.devices {
		d.ForgetNonces()
	}
}

// HTTPPort returns the plain WS-Man port, or -1 when no device listens on
// plain HTTP.
func (s *Server) HTTPPort() int { return portOrOff(s.httpPort) }

// TLSPort returns the TLS WS-Man port, or -1 when TLS is disabled.
func (s *Server) TLSPort() int { return portOrOff(s.tlsPort) }

// RMCPPort returns the UDP port of RMCP presence pings, or -1 when RMCP is
// disabled.
func (s *Server) RMCPPort() int { return portOrOff(s.rmcpPort) }

func portOrOff(p int) int {
	if p == 0 {
		return -1
	}
	return p
}

// versionSummary is the firmware version of every device, or "mixed".
func (s *Server) versionSummary() string {
	v := s.devices[0].prof.version
	for _, d := range s.devices[1:] {
		if d.prof.version != v {
			return "mixed"
		}
	}
	return v
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

// URL returns http://ip:port of the first device ("" if it has no plain
// HTTP listener).
func (s *Server) URL() string {
	if s.devices[0].httpAddr == "" {
		return ""
	}
	return "http://" + s.devices[0].httpAddr
}

// TLSURL returns https://ip:port of the first device ("" if TLS is
// disabled).
func (s *Server) TLSURL() string {
	if s.devices[0].tlsAddr == "" {
		return ""
	}
	return "https://" + s.devices[0].tlsAddr
}

// Certificate returns the TLS leaf certificate (nil if both TLS ports are
// disabled).
func (s *Server) Certificate() *x509.Certificate { return s.leaf }

// CertificateSHA256 returns the lower-case hex SHA-256 of the leaf
// certificate's DER encoding ("" if both TLS ports are disabled).
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
//	amtsim: ready devices=1 version=11.8.50.3425 http=127.0.0.1:16992 tls=127.0.0.1:16993 rmcp=127.0.0.1:623 redirect=127.0.0.1:16994 redirect-tls=127.0.0.1:16995 tls-sha256=…
//
// For a fleet the addresses are written first-last:port, where first and
// last are the lowest and highest device addresses, and the version is
// "mixed" when the devices differ. Disabled ports are written "off".
func (s *Server) ReadyLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "amtsim: ready devices=%d version=%s", len(s.devices), s.versionSummary())
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
	fmt.Fprintf(&b, " http=%s tls=%s rmcp=%s redirect=%s redirect-tls=%s", addr(s.httpPort), addr(s.tlsPort), addr(s.rmcpPort),
		addr(s.redirPort), addr(s.redirTLSPort))
	if s.leaf != nil {
		fmt.Fprintf(&b, " tls-sha256=%s", s.CertificateSHA256())
	}
	return b.String()
}
