package redirect

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/credentials"
)

func dialTest(t *testing.T, f *fakeAMT, kind Kind, cred credentials.Credential) (*Session, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return Dial(ctx, f.addr(), kind, cred, Options{})
}

func TestDialDigest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		offered []byte
		want    byte
	}{
		{"qop", []byte{3, 4}, 4},
		{"qop and kerberos", []byte{2, 4, 3}, 4},
		{"fallback to type 3", []byte{1, 3}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAMT(t, nil, func(f *fakeAMT) { f.authTypes = tc.offered })
			s, err := dialTest(t, f, IDER, testCred)
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.AuthType())
			assert.Equal(t, IDER, s.Kind())
			require.NoError(t, s.Close())
			require.NoError(t, s.Close())
		})
	}
}

func TestDialSOLTag(t *testing.T) {
	t.Parallel()
	kinds := make(chan string, 1)
	f := newFakeAMT(t, func(p *peer) error { kinds <- p.kind; return nil })
	s, err := dialTest(t, f, SOL, testCred)
	require.NoError(t, err)
	assert.Equal(t, "SOL ", <-kinds)
	require.NoError(t, s.Close())
}

func TestDialWrongPasswordNotRetried(t *testing.T) {
	t.Parallel()
	f := newFakeAMT(t, nil)
	_, err := dialTest(t, f, IDER, credentials.Credential{User: testUser, Password: "wrong"})
	require.ErrorIs(t, err, ErrAuthFailed)
	var ae *AuthError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, byte(4), ae.Type)
	assert.NotContains(t, err.Error(), "wrong")
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Equal(t, 1, f.logins, "one login attempt, no retry")
	assert.Equal(t, 1, f.failures)
}

func TestDialRefused(t *testing.T) {
	t.Parallel()
	f := newFakeAMT(t, nil, func(f *fakeAMT) { f.startStatus, f.startOEM = 3, 255 })
	_, err := dialTest(t, f, IDER, testCred)
	require.ErrorIs(t, err, ErrRefused)
	var re *RefusedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, uint32(3), re.Status)
	assert.Equal(t, "session", re.Stage)
}

func TestDialHostileAuthLength(t *testing.T) {
	t.Parallel()
	f := newFakeAMT(t, nil, func(f *fakeAMT) { f.authHostile = true })
	_, err := dialTest(t, f, IDER, testCred)
	require.ErrorIs(t, err, ErrProtocol)
	var pe *ProtocolError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Got, "2147483647")
}

// Authentication data of 1,024 bytes is read; 1,025 is refused before
// anything is allocated for it.
func TestDialAuthLengthBoundary(t *testing.T) {
	t.Parallel()
	f := newFakeAMT(t, nil, func(f *fakeAMT) { f.authQueryLen = 1024 })
	s, err := dialTest(t, f, IDER, testCred)
	require.NoError(t, err, "1,024 bytes are allowed")
	_ = s.Close()

	f = newFakeAMT(t, nil, func(f *fakeAMT) { f.authQueryLen = 1025 })
	_, err = dialTest(t, f, IDER, testCred)
	require.ErrorIs(t, err, ErrProtocol)
	var pe *ProtocolError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Got, "a length of 1025")
}

func TestDialNoDigestOffered(t *testing.T) {
	t.Parallel()
	f := newFakeAMT(t, nil, func(f *fakeAMT) { f.authTypes = []byte{1, 2} })
	_, err := dialTest(t, f, IDER, testCred)
	require.ErrorIs(t, err, ErrProtocol)
	assert.False(t, errors.Is(err, ErrAuthFailed))
}

func TestDialPeerClosed(t *testing.T) {
	t.Parallel()
	f := newFakeAMT(t, nil, func(f *fakeAMT) { f.closeAfterTag = true })
	_, err := dialTest(t, f, IDER, testCred)
	require.ErrorIs(t, err, ErrPeerClosed)
}

func TestDialSilentPeerHonoursContext(t *testing.T) {
	t.Parallel()
	f := newFakeAMT(t, nil, func(f *fakeAMT) { f.silent = true })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, f.addr(), IDER, testCred, Options{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestDialRejectsBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := Dial(ctx, "127.0.0.1:1", Kind(9), testCred, Options{})
	require.Error(t, err)
	_, err = Dial(ctx, "127.0.0.1:1", IDER, credentials.Credential{}, Options{})
	require.Error(t, err)
}
