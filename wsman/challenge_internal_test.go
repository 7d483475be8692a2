package wsman

import (
	"testing"

	"github.com/icholy/digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseChallengeMatchesLibrary: the challenge reader agrees with the
// library on what AMT sends, and leaves other forms to it.
func TestParseChallengeMatchesLibrary(t *testing.T) {
	for _, h := range []string{
		`Digest realm="Digest:727734D63A1FC0423736E48DA554E462", nonce="B9AX94iAAAAAAAAAx6rrSfPHGUrx/3uA",stale="false",qop="auth"`,
		`Digest realm="Digest:A4070000000000000000000000000000", nonce="abc", stale="true", qop="auth,auth-int", opaque="xyz"`,
		`Digest realm="r", nonce="n", algorithm=MD5, qop=auth`,
	} {
		got, ok := parseChallenge(h)
		require.True(t, ok, h)
		want, err := digest.ParseChallenge(h)
		require.NoError(t, err, h)
		assert.Equal(t, want.Realm, got.Realm)
		assert.Equal(t, want.Nonce, got.Nonce)
		assert.Equal(t, want.Opaque, got.Opaque)
		assert.Equal(t, want.Stale, got.Stale)
		assert.Equal(t, want.QOP, got.QOP)
		assert.Equal(t, want.Algorithm, got.Algorithm)
	}
	for _, h := range []string{`Basic realm="x"`, `Digest realm="a\"b", nonce="n"`, `Digest realm="r"`, `Digest realm="r", nonce="n", userhash=true`, `Digest nonce="unterminated`} {
		_, ok := parseChallenge(h)
		assert.False(t, ok, h)
	}
}
