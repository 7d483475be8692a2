package amt_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/wsman"
)

func TestIdentify(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL())

	id, err := c.Identify(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "11.8.50.3425", id.Firmware, "from the Server header")
	assert.Equal(t, "Intel(r)", id.ProductVendor)
	assert.Equal(t, "AMT 11.8", id.ProductVersion)
	assert.Equal(t, wsman.NSWSMan, id.ProtocolVersion)
	assert.NotEmpty(t, id.SecurityProfiles)
	assert.Zero(t, dev.Stats().FailedLogins, "Identify sends no credentials")
	assert.Equal(t, 1, dev.Stats().Actions["Identify"])
}

func TestIdentifyOtherVersionOverTLS(t *testing.T) {
	t.Parallel()
	sim, _ := newSim(t, amtsim.Options{Version: "16.1.25.2124"})
	c := newClient(t, sim.TLSURL(), amt.WithPinnedCertificate(sim.CertificateSHA256()))

	id, err := c.Identify(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "16.1.25.2124", id.Firmware)
	assert.Equal(t, "AMT 16.1", id.ProductVersion)
}

func TestParseServerHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Intel(R) Active Management Technology 11.8.50.3425", "11.8.50.3425", true},
		{"  Intel(R) Active Management Technology 16.1.25.2124  ", "16.1.25.2124", true},
		{"Intel(R) Active Management Technology", "", false},
		{"Intel(R) Active Management Technology   ", "", false},
		{"nginx/1.25.3", "", false},
		{"", "", false},
		{"Apache (Intel(R) Active Management Technology 11.8)", "", false},
	}
	for _, tt := range tests {
		got, ok := amt.ParseServerHeader(tt.header)
		assert.Equal(t, tt.ok, ok, "%q", tt.header)
		assert.Equal(t, tt.want, got, "%q", tt.header)
	}
}

func TestIsAMTServer(t *testing.T) {
	t.Parallel()
	assert.True(t, amt.IsAMTServer("Intel(R) Active Management Technology 11.8.50.3425"))
	assert.True(t, amt.IsAMTServer(" Intel(R) Active Management Technology 6.2.61.3535"))
	assert.True(t, amt.IsAMTServer("Intel(R) Active Management Technology"))
	assert.False(t, amt.IsAMTServer(""))
	assert.False(t, amt.IsAMTServer("Go-http-server"))
	assert.False(t, amt.IsAMTServer("intel active management"))
}

func TestParseVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   amt.Version
		string string
	}{
		{"11.8.50.3425", amt.Version{11, 8, 50, 3425}, "11.8.50.3425"},
		{"12.0.67", amt.Version{12, 0, 67, 0}, "12.0.67"},
		{"11.8", amt.Version{11, 8, 0, 0}, "11.8.0"},
		{" 16.1.25.2124 ", amt.Version{16, 1, 25, 2124}, "16.1.25.2124"},
		{"6.2.61.0", amt.Version{6, 2, 61, 0}, "6.2.61"},
	}
	for _, tt := range tests {
		v, err := amt.ParseVersion(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, v, tt.in)
		assert.Equal(t, tt.string, v.String(), tt.in)
	}
	for _, bad := range []string{"", "11", "11.8.50.3425.1", "11.x", "11.-8", "11..8", "+11.8", "11.8 .1", "AMT 11.8"} {
		_, err := amt.ParseVersion(bad)
		assert.Error(t, err, "%q", bad)
	}
}
