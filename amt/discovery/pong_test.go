package discovery_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/discovery"
)

// pongBytes decodes a hexadecimal pong written with spaces.
func pongBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

// pong builds a pong the way protocol.md §5.1 lays it out.
func pong(tag byte, iana uint32, port uint16, ver, state, entities, interactions, major, minor byte) []byte {
	return []byte{
		0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x40, tag, 0x00, 0x10,
		byte(iana >> 24), byte(iana >> 16), byte(iana >> 8), byte(iana),
		byte(port >> 8), byte(port), ver, state, entities, interactions, major, minor,
		0, 0, 0, 0,
	}
}

func TestParsePong(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      []byte
		amt     bool
		version string
		port    uint16
		tls     bool
		setUp   bool
		state   amt.ProvisioningState
		dash    bool
	}{
		{
			name: "AMT 11.8 nibble version, provisioned, plain",
			in:   pongBytes(t, "060 0FF06 000011BE 40 2A 00 10 00000157 4260 B8 02 01 20 0000 00000000"),
			amt:  true, version: "11.8", port: 16992, setUp: true, state: amt.PostProvisioning, dash: true,
		},
		{
			name: "AMT 16.1 bytes 22/23, TLS",
			in:   pong(7, 343, 16993, 0, 2, 0x01, 0x20, 16, 1),
			amt:  true, version: "16.1", port: 16993, tls: true, setUp: true, state: amt.PostProvisioning, dash: true,
		},
		{
			name: "unprovisioned: port 0, state 0",
			in:   pong(7, 343, 0, 0xC0, 0, 0x01, 0x20, 0, 0),
			amt:  true, version: "12.0", port: 0, state: amt.PreProvisioning, dash: true,
		},
		{
			name: "in provisioning",
			in:   pong(7, 343, 16992, 0x90, 1, 0x01, 0x00, 0, 0),
			amt:  true, version: "9.0", port: 16992, setUp: true, state: amt.InProvisioning,
		},
		{
			name: "AMT 4.x: DASH bit in supported entities",
			in:   pong(7, 343, 0, 0, 0, 0x21, 0x00, 0, 0),
			amt:  true, dash: true,
		},
		{
			name: "ASF without OEM data",
			in:   pong(7, 4542, 0, 0, 0, 0x81, 0x00, 0, 0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := discovery.ParsePong(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.amt, p.AMT())
			assert.Equal(t, tt.version, p.Version())
			assert.Equal(t, tt.port, p.Port)
			assert.Equal(t, tt.tls, p.TLS())
			assert.Equal(t, tt.setUp, p.SetUp())
			assert.Equal(t, tt.state, p.State)
			assert.Equal(t, tt.dash, p.DASH)
		})
	}
	p, err := discovery.ParsePong(pong(0x55, 343, 16992, 0xB8, 2, 0x81, 0x20, 0, 0))
	require.NoError(t, err)
	assert.Equal(t, uint8(0x55), p.Tag)
	assert.Equal(t, uint8(0xFF), p.Sequence)
	assert.True(t, p.IPMI)
	assert.True(t, p.Extended())
}

func TestParsePongMalformed(t *testing.T) {
	t.Parallel()
	good := pong(1, 343, 16992, 0xB8, 2, 1, 0x20, 0, 0)
	mutate := func(i int, v byte) []byte {
		b := append([]byte(nil), good...)
		b[i] = v
		return b
	}
	tests := map[string][]byte{
		"empty":                nil,
		"one byte":             {0x06},
		"header only":          good[:12],
		"truncated data":       good[:20],
		"one byte short":       good[:27],
		"RMCP version":         mutate(0, 0x07),
		"RMCP ACK":             {0x06, 0x00, 0x05, 0x86, 0x00, 0x00, 0x11, 0xBE, 0x40, 0, 0, 0x10},
		"class IPMI":           mutate(3, 0x07),
		"ASF IANA":             mutate(7, 0xBF),
		"a ping, not a pong":   mutate(8, 0x80),
		"capabilities message": mutate(8, 0x41),
		"short data length":    mutate(11, 0x08),
		"data length too long": mutate(11, 0x20),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := discovery.ParsePong(in)
			require.Error(t, err)
			assert.Nil(t, p)
			assert.ErrorIs(t, err, discovery.ErrMalformedPong)
			var pe *discovery.PongError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, len(in), pe.Len)
		})
	}
}

func FuzzParsePong(f *testing.F) {
	f.Add(pong(1, 343, 16992, 0xB8, 2, 1, 0x20, 0, 0))
	f.Add(pong(1, 343, 16993, 0, 2, 1, 0x20, 16, 1))
	f.Add(pong(1, 4542, 0, 0, 0, 0, 0, 0, 0))
	f.Add([]byte{0x06, 0x00, 0xFF, 0x06})
	f.Add(append(pong(1, 343, 0, 0, 0, 0, 0, 0, 0), 1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := discovery.ParsePong(b)
		if err != nil {
			if p != nil || !strings.Contains(err.Error(), "malformed") {
				t.Fatalf("error %v with pong %+v", err, p)
			}
			return
		}
		if len(b) < 28 {
			t.Fatalf("accepted %d bytes", len(b))
		}
		if p.State > 3 || p.Major > 255 || p.Minor > 255 {
			t.Fatalf("impossible fields %+v", p)
		}
		_ = p.Version()
		_ = p.TLS()
	})
}
