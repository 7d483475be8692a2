package amt_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/internal/testiso"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/redirect"
)

func TestRedirectBootFromImage(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{TLSPort: -1, RMCPPort: -1, RedirectPort: 0, RedirectTLSPort: -1})
	img := testiso.Make(256, 4)
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, password), amt.WithRedirectPort(sim.RedirectPort()))
	assert.Equal(t, dev.RedirectAddr(), c.Redirect.Addr())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Redirect.BootFromImage(ctx, redirect.BootOptions{
		Media:       redirect.IDERMedia{CD: &redirect.Medium{Reader: bytes.NewReader(img), Size: int64(len(img))}},
		IdleTimeout: 300 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NotNil(t, res)
	b, err := dev.WaitIDERBoot(ctx, 1)
	require.NoError(t, err)
	assert.True(t, b.OK, b.Err)
	assert.Equal(t, "cd", b.Medium)
	boot := sha256.Sum256(img[20*testiso.BlockSize : 20*testiso.BlockSize+4*512])
	assert.Equal(t, hex.EncodeToString(boot[:]), b.BootImageSHA256, "the machine booted the image served")
	boots := dev.Boots()
	require.NotEmpty(t, boots)
	assert.Equal(t, amtsim.BootSourceIDERCD, boots[len(boots)-1].Source)
	assert.False(t, dev.RedirectionSessionOpen(), "the session is closed afterwards")

	// The boot settings were restored: the next reset boots from disk.
	require.NoError(t, c.Power.Set(ctx, power.Reset))
	_, err = c.Power.WaitFor(ctx, power.StateOn)
	require.NoError(t, err)
	boots = dev.Boots()
	assert.Equal(t, amtsim.BootSourceHDD, boots[len(boots)-1].Source)
}

func TestRedirectWrongPassword(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{TLSPort: -1, RMCPPort: -1, RedirectTLSPort: -1})
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, "wrong"), amt.WithRedirectPort(sim.RedirectPort()))
	_, err := c.Redirect.Dial(context.Background(), redirect.IDER)
	assert.ErrorIs(t, err, amt.ErrAuthFailed)
	assert.Equal(t, 1, dev.Stats().FailedLogins, "the WS-Man login failed first; the redirection port was not tried")
}

func TestRedirectBootNeedsConsent(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{TLSPort: -1, RMCPPort: -1, RedirectTLSPort: -1,
		OptInRequired: 4294967295, RedirectionState: 32768, ListenerDisabled: true})
	img := testiso.Make(128, 4)
	media := redirect.IDERMedia{CD: &redirect.Medium{Reader: bytes.NewReader(img), Size: int64(len(img))}}
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, password), amt.WithRedirectPort(sim.RedirectPort()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Without a way to ask for the code: a typed error, and nothing left changed.
	_, err := c.Redirect.BootFromImage(ctx, redirect.BootOptions{Media: media, IdleTimeout: 300 * time.Millisecond})
	require.Error(t, err)
	assert.ErrorIs(t, err, redirect.ErrConsentRequired)
	assert.Equal(t, 32768, dev.RedirectionState(), "the redirection state is put back")
	assert.False(t, dev.ListenerEnabled(), "and so is the listener")
	assert.Empty(t, dev.Boots())

	// With the code the machine shows, the boot goes through.
	asked := 0
	res, err := c.Redirect.BootFromImage(ctx, redirect.BootOptions{
		Media:       media,
		IdleTimeout: 300 * time.Millisecond,
		ConsentCode: func(context.Context) (string, error) { asked++; return dev.OptInCode(), nil },
	})
	require.NoError(t, err)
	assert.Equal(t, 1, asked)
	require.NotNil(t, res.Stats)
	b, err := dev.WaitIDERBoot(ctx, 1)
	require.NoError(t, err)
	assert.True(t, b.OK, b.Err)
	assert.Equal(t, 32768, dev.RedirectionState(), "IDE-R disabled again afterwards")
	assert.False(t, dev.ListenerEnabled(), "listener closed again afterwards")
}
