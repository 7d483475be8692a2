package amtsim

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pinger sends datagrams from one unconnected UDP socket and collects the
// answers.
type pinger struct {
	t *testing.T
	c *net.UDPConn
}

func newPinger(t *testing.T) *pinger {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &pinger{t: t, c: c}
}

func (p *pinger) send(addr string, pkt []byte) {
	p.t.Helper()
	ua, err := net.ResolveUDPAddr("udp4", addr)
	require.NoError(p.t, err)
	_, err = p.c.WriteToUDP(pkt, ua)
	require.NoError(p.t, err)
}

type datagram struct {
	from string
	data []byte
}

// collect reads datagrams until none arrives within quiet.
func (p *pinger) collect(quiet time.Duration) []datagram {
	p.t.Helper()
	var out []datagram
	buf := make([]byte, 1500)
	for {
		require.NoError(p.t, p.c.SetReadDeadline(time.Now().Add(quiet)))
		n, from, err := p.c.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			require.ErrorAs(p.t, err, &ne)
			require.True(p.t, ne.Timeout(), "%v", err)
			return out
		}
		out = append(out, datagram{from.String(), bytes.Clone(buf[:n])})
	}
}

// await reads until want datagrams have arrived (or fails after 5s).
func (p *pinger) await(want int) []datagram {
	p.t.Helper()
	var out []datagram
	buf := make([]byte, 1500)
	require.NoError(p.t, p.c.SetReadDeadline(time.Now().Add(5*time.Second)))
	for len(out) < want {
		n, from, err := p.c.ReadFromUDP(buf)
		require.NoError(p.t, err, "after %d of %d datagrams", len(out), want)
		out = append(out, datagram{from.String(), bytes.Clone(buf[:n])})
	}
	return out
}

func presencePing(seq, tag byte) []byte {
	return []byte{0x06, 0x00, seq, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, tag, 0x00, 0x00}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func intp(v int) *int { return &v }

// mixedFleet has one device per kind of pong.
func mixedFleet() *FleetSpec {
	return &FleetSpec{Groups: []DeviceGroup{
		{Name: "v11", Weight: 1, Version: "11.8.50.3425"},
		{Name: "v16", Weight: 1, Version: "16.1.25.2124", SKU: 16400, ProvisioningMode: intp(4)},
		{Name: "unprov", Weight: 1, Version: "12.0.67.1579", ProvisioningState: intp(0)},
		{Name: "tlsonly", Weight: 1, Version: "15.0.23.1706", TLSOnly: true},
		{Name: "quiet", Weight: 1, Version: "14.1.67.2050", NoRMCP: true},
	}}
}

func byGroup(t *testing.T, sim *Server) map[string]*Device {
	t.Helper()
	out := map[string]*Device{}
	for _, d := range sim.Devices() {
		if out[d.Group()] == nil {
			out[d.Group()] = d
		}
	}
	return out
}

func TestRMCPPong(t *testing.T) {
	t.Parallel()
	sim := startSim(t, Options{DevicesCIDR: "127.77.20.0/29", Fleet: mixedFleet()})
	groups := byGroup(t, sim)
	require.Len(t, groups, 5, "every group has a device")
	require.Positive(t, sim.RMCPPort())

	want := map[string]string{
		// header (seq FF), ASF IANA, pong, tag, 0, len 16 | Intel IANA | port | ver | state | ent | int | 22 23 | reserved
		// Devices serving TLS advertise 16993 (protocol.md §5.1).
		"v11":     "0600FF06 000011BE 40 2A 00 10 00000157 4261 B8 02 01 20 0000 00000000",
		"v16":     "0600FF06 000011BE 40 2A 00 10 00000157 4261 00 02 01 20 1001 00000000",
		"unprov":  "0600FF06 000011BE 40 2A 00 10 00000157 0000 C0 00 01 20 0000 00000000",
		"tlsonly": "0600FF06 000011BE 40 2A 00 10 00000157 4261 F0 02 01 20 0000 00000000",
	}
	p := newPinger(t)
	for name, hexPong := range want {
		d := groups[name]
		require.True(t, d.RMCPEnabled(), name)
		require.Equal(t, net.JoinHostPort(d.IP(), itoa(sim.RMCPPort())), d.RMCPAddr(), name)
		p.send(d.RMCPAddr(), presencePing(0xFF, 0x2A))
		got := p.await(1)
		require.Len(t, got[0].data, 28, name)
		assert.Equal(t, d.RMCPAddr(), got[0].from, "%s: answered from the device's own address", name)
		assert.Equal(t, mustHex(t, hexPong), got[0].data, "%s: % X", name, got[0].data)
		assert.Equal(t, 1, d.Stats().RMCPPings, name)
	}

	quiet := groups["quiet"]
	assert.False(t, quiet.RMCPEnabled())
	assert.Empty(t, quiet.RMCPAddr())
	p.send(net.JoinHostPort(quiet.IP(), itoa(sim.RMCPPort())), presencePing(0xFF, 1))
	assert.Empty(t, p.collect(150*time.Millisecond), "a device with RMCP responses disabled stays silent")
	assert.Equal(t, 0, quiet.Stats().RMCPPings)
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestRMCPPongPorts: a device without TLS advertises 16992, one serving
// TLS 16993; AMT 4.x-5.0 put the DASH bit (bit 5) in the supported
// entities byte, AMT 5.1 and later in the supported interactions byte
// (protocol.md §5.1).
func TestRMCPPongPorts(t *testing.T) {
	t.Parallel()
	p := newPinger(t)
	for i, tc := range []struct {
		version   string
		tlsPort   int
		port      string // bytes 16..19
		ent, intr byte
	}{
		{"11.8.50.3425", -1, "4260B802", 0x01, 0x20},
		{"11.8.50.3425", 0, "4261B802", 0x01, 0x20},
		{"5.0.1.1000", -1, "00000000", 0x21, 0x00},
		{"5.1.1.1000", -1, "00000000", 0x01, 0x20},
		{"4.2.1.1000", -1, "00000000", 0x21, 0x00},
	} {
		sim := startSim(t, Options{Addr: "127.142.0." + itoa(i+1), Version: tc.version, TLSPort: tc.tlsPort, RedirectTLSPort: -1})
		d := sim.Devices()[0]
		p.send(d.RMCPAddr(), presencePing(0xFF, byte(i)))
		got := p.await(1)[0].data
		require.Len(t, got, 28)
		assert.Equal(t, mustHex(t, tc.port), got[16:20], "%s tls port %d", tc.version, tc.tlsPort)
		assert.Equal(t, tc.ent, got[20], "%s: supported entities", tc.version)
		assert.Equal(t, tc.intr, got[21], "%s: supported interactions", tc.version)
	}
}

func TestRMCPAgreesWithWSMan(t *testing.T) {
	t.Parallel()
	sim := startSim(t, Options{DevicesCIDR: "127.77.21.0/29", Fleet: mixedFleet()})
	for name, d := range byGroup(t, sim) {
		base := "http://" + d.HTTPAddr()
		var tc *tls.Config
		if d.TLSOnly() {
			base = "https://" + d.TLSAddr()
			tc = &tls.Config{InsecureSkipVerify: true}
		}
		wc := newClientTLS(t, base, testUser, testPass, tc)
		_, data := wc.post(getReq(uriSetup))
		setup := parseDoc(t, data)
		assert.Equal(t, itoa(d.ProvisioningState()), textOf(setup, uriSetup, "ProvisioningState"), name)
		assert.Equal(t, itoa(d.ProvisioningMode()), textOf(setup, uriSetup, "ProvisioningMode"), name)
		_, data = wc.post(getReq(uriSoftware, sel{"InstanceID", "Sku"}))
		assert.Equal(t, itoa(d.SKU()), textOf(parseDoc(t, data), uriSoftware, "VersionString"), name)
		_, data = wc.post(getReq(uriSoftware, sel{"InstanceID", "AMT"}))
		assert.True(t, strings.HasPrefix(d.Version(), textOf(parseDoc(t, data), uriSoftware, "VersionString")+"."), name)
		resp, data := wc.post(identifyBody)
		assert.Equal(t, "Intel(R) Active Management Technology "+d.Version(), resp.Header.Get("Server"), name)
		maj, minor, _ := strings.Cut(d.Version(), ".")
		minor, _, _ = strings.Cut(minor, ".")
		assert.Equal(t, "AMT "+maj+"."+minor, textOf(parseDoc(t, data), soap.NSIdentity, "ProductVersion"), name)
		_, data = wc.post(getReq(uriGeneral))
		assert.Equal(t, boolString(d.RMCPEnabled()), textOf(parseDoc(t, data), uriGeneral, "RmcpPingResponseEnabled"), name)
	}
	assert.Equal(t, "mixed", strings.Fields(sim.ReadyLine())[3][len("version="):])
}

func TestRMCPAckAndToggle(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.Addr = "127.77.22.1"
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	p := newPinger(t)

	// A sequence number other than 0xFF asks for an RMCP ACK first.
	p.send(d.RMCPAddr(), presencePing(0x07, 0x99))
	got := p.await(2)
	assert.Equal(t, []byte{0x06, 0x00, 0x07, 0x86}, got[0].data)
	require.Len(t, got[1].data, 28)
	assert.Equal(t, byte(0x07), got[1].data[2], "sequence echoed")
	assert.Equal(t, byte(0x99), got[1].data[9], "tag echoed")

	// Turning RmcpPingResponseEnabled off through WS-Man silences the device.
	wc := newClient(t, sim.URL(), testUser, testPass)
	body := `<h:AMT_GeneralSettings xmlns:h="` + uriGeneral + `"><h:RmcpPingResponseEnabled>false</h:RmcpPingResponseEnabled></h:AMT_GeneralSettings>`
	resp, data := wc.post(envelope(soap.ActPut, uriGeneral, "9", nil, body))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	assert.False(t, d.RMCPEnabled())
	assert.Empty(t, d.RMCPAddr())
	p.send(net.JoinHostPort(d.IP(), itoa(sim.RMCPPort())), presencePing(0xFF, 1))
	assert.Empty(t, p.collect(150*time.Millisecond))
	assert.Equal(t, 1, d.Stats().RMCPPings)
}

func TestRMCPIgnoresMalformed(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.Addr = "127.77.22.2"
	sim := startSim(t, opts)
	d := sim.Devices()[0]
	good := presencePing(0xFF, 0x10)
	mod := func(i int, v byte) []byte { b := bytes.Clone(good); b[i] = v; return b }
	bad := [][]byte{
		{},
		{0x06},
		good[:11],                        // truncated
		append(bytes.Clone(good), 0x00),  // too long
		mod(0, 0x07),                     // RMCP version
		mod(3, 0x86),                     // an ACK
		mod(3, 0x07),                     // IPMI-ish class
		mod(7, 0xBF),                     // IANA
		mod(4, 0x01),                     // IANA high byte
		mod(8, 0x81),                     // capabilities request
		mod(8, 0x40),                     // a pong
		mod(11, 0x01),                    // data length
		make([]byte, 28),                 // zeros
		bytes.Repeat([]byte{0xFF}, 1400), // junk
	}
	p := newPinger(t)
	for _, b := range bad {
		p.send(d.RMCPAddr(), b)
	}
	p.send(d.RMCPAddr(), presencePing(0xFF, 0x77))
	got := p.await(1)
	assert.Equal(t, byte(0x77), got[0].data[9], "the first answer is the well-formed ping's")
	assert.Empty(t, p.collect(100*time.Millisecond))
	assert.Equal(t, 1, d.Stats().RMCPPings)
}

func TestRMCPVersions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version string
		pong    string // bytes 16..23; "" for no answer
	}{
		{"3.2.1.1000", ""},
		{"5.0.1.1000", "0000 00 00 21 00 0000"}, // the DASH bit in the entities byte
		{"5.1.1.1000", "0000 00 00 01 20 0000"},
		{"6.0.1.1000", "4260 60 02 01 20 0000"},
		{"15.15.1.1", "4260 FF 02 01 20 0000"},
		{"11.16.1.1", "4260 00 02 01 20 0B10"},
		{"18.0.5.2098", "4260 00 02 01 20 1200"},
	} {
		opts := plainOpts()
		opts.Version = tc.version
		sim := startSim(t, opts)
		d := sim.Devices()[0]
		p := newPinger(t)
		p.send(net.JoinHostPort(d.IP(), itoa(sim.RMCPPort())), presencePing(0xFF, 3))
		if tc.pong == "" {
			assert.False(t, d.RMCPEnabled(), tc.version)
			assert.Empty(t, p.collect(100*time.Millisecond), tc.version)
			continue
		}
		got := p.await(1)
		assert.Equal(t, mustHex(t, tc.pong), got[0].data[16:24], tc.version)
	}
}

func TestRMCPDisabled(t *testing.T) {
	t.Parallel()
	opts := plainOpts()
	opts.RMCPPort = -1
	sim := startSim(t, opts)
	assert.Equal(t, -1, sim.RMCPPort())
	assert.Empty(t, sim.Devices()[0].RMCPAddr())
	assert.False(t, sim.Devices()[0].RMCPEnabled())
	assert.Contains(t, sim.ReadyLine(), " rmcp=off")
}

func TestRMCPFixedPortConflict(t *testing.T) {
	t.Parallel()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 77, 22, 3)})
	require.NoError(t, err)
	defer c.Close()
	opts := plainOpts()
	opts.Addr = "127.77.22.3"
	opts.RMCPPort = c.LocalAddr().(*net.UDPAddr).Port
	_, err = New(opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "RMCP")
}
