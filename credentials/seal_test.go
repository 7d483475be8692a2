package credentials_test

import (
	"bytes"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/amtkit/amtkit/credentials"
)

// gcmNonce is the nonce of a sealed record: the 12 bytes after the version.
func gcmNonce(sealed []byte) []byte { return sealed[1:13] }

func TestSealerNonceIsRandom(t *testing.T) {
	t.Parallel()
	key := make([]byte, credentials.KeySize)
	_, _ = rand.Read(key)
	s, err := credentials.NewSealer(key)
	require.NoError(t, err)
	ad, secret := []byte("profiles\x00corp"), []byte("the same secret")
	a, err := s.Seal(ad, secret)
	require.NoError(t, err)
	b, err := s.Seal(ad, secret)
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "two sealings of the same secret must differ")
	assert.NotEqual(t, gcmNonce(a), gcmNonce(b), "GCM nonces must not repeat")
	assert.NotEqual(t, make([]byte, 12), gcmNonce(a), "the nonce must not be all zeros")
	assert.False(t, bytes.Contains(a, secret), "sealed, not in clear")
	for _, x := range [][]byte{a, b} {
		pt, err := s.Open(ad, x)
		require.NoError(t, err)
		assert.Equal(t, secret, pt)
	}
	_, err = s.Open([]byte("profiles\x00other"), a)
	require.ErrorIs(t, err, credentials.ErrCorrupt, "bound to its associated data")

	// Many sealings: no nonce seen twice.
	seen := map[string]bool{}
	for range 1000 {
		x, err := s.Seal(ad, secret)
		require.NoError(t, err)
		n := string(gcmNonce(x))
		require.False(t, seen[n], "nonce reused")
		seen[n] = true
	}
	_, err = credentials.NewSealer(key[:16])
	require.Error(t, err, "AES-256 only")
}

// The store's records on disk: the same profile stored twice is sealed
// under two different nonces.
func TestDBSealsEveryWriteWithAFreshNonce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, credentials.DatabaseFileName)
	var records [][]byte
	for range 2 {
		db := openTestDB(t, dir)
		require.NoError(t, db.PutProfile(t.Context(), amtProfile("corp", "admin", "Same-S3cret!", false)))
		require.NoError(t, db.Close())
		bdb, err := bolt.Open(path, 0o600, nil)
		require.NoError(t, err)
		require.NoError(t, bdb.View(func(tx *bolt.Tx) error {
			records = append(records, bytes.Clone(tx.Bucket([]byte("credentials.profiles")).Get([]byte("corp"))))
			return nil
		}))
		require.NoError(t, bdb.Close())
	}
	require.Len(t, records, 2)
	assert.NotEqual(t, records[0], records[1])
	assert.NotEqual(t, gcmNonce(records[0]), gcmNonce(records[1]))
	assert.NotEqual(t, make([]byte, 12), gcmNonce(records[0]))
	assert.False(t, bytes.Contains(records[0], []byte("Same-S3cret!")))
}
