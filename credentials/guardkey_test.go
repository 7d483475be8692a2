package credentials_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/amtkit/amtkit/credentials"
)

func TestDeviceKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		" 192.0.2.1 ":          "192.0.2.1",
		"192.0.2.1:16992":      "192.0.2.1",
		"192.0.2.1:16993":      "192.0.2.1",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"[::ffff:192.0.2.1]:1": "192.0.2.1",
		"2001:0db8:0::1":       "2001:db8::1",
		"[2001:db8::1]:16993":  "2001:db8::1",
		"[2001:db8::1]":        "2001:db8::1",
		"Host.Example.":        "host.example",
		"host.example:16992":   "host.example",
	} {
		assert.Equal(t, want, credentials.DeviceKey(in), in)
	}
	// A canonical address, the common case, costs nothing.
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = credentials.DeviceKey("192.0.2.1") }))
}

func TestKeyedHash(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	var fp credentials.Fingerprint
	copy(fp[:], "a candidate's fingerprint")
	// The hash is what guard stores keep: it must not change between
	// versions, or a store's records stop matching their candidates.
	const want = "d2cd70f8937a21ffe3f6e3a48f2dfd27c9cb11c422a35ca20c0d77d4ba89d333"
	got := credentials.KeyedHash(key, fp)
	assert.Equal(t, want, hex.EncodeToString(got))
	assert.Equal(t, got, credentials.NewCandidateHasher(key).Hash(fp))
	other := credentials.KeyedHash(bytes.Repeat([]byte{8}, 32), fp)
	assert.NotEqual(t, got, other, "another store key hashes differently")
	fp[0] ^= 1
	assert.NotEqual(t, got, credentials.KeyedHash(key, fp), "another candidate hashes differently")
}
