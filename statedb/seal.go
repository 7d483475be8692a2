package statedb

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/amtkit/amtkit/credentials"
)

// KeySize is the size of the key in a key file: an AES-256 key.
const KeySize = 32

const (
	sealVersion  = 1
	metaKeyCheck = "key_check"
)

var checkPlaintext = []byte("amtkit state database key check v1")

// loadKey reads the key file and checks it against the database, or makes a
// key when the database holds no sealed record yet.
func (d *DB) loadKey(ctx context.Context) error {
	var check []byte
	err := d.q.queryRow(ctx, "SELECT value FROM amtkit_meta WHERE name = $1", metaKeyCheck).Scan(&check)
	if err != nil && !errors.Is(err, errNoRows) {
		return d.fail("reading the key check", err)
	}
	hasCheck := err == nil
	key, err := readKey(d.keyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist) && hasCheck:
		return fmt.Errorf("statedb: %w: %s (the secrets in %s cannot be read without it: restore the key file, copy it from a machine that uses this database, or set %s)",
			ErrKeyMissing, d.keyPath, d.where, KeyFileEnv)
	case errors.Is(err, fs.ErrNotExist):
		if key, err = createKey(d.keyPath); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	d.macKey = credentials.NewCandidateHasher(key)
	if d.aead, err = newAEAD(key); err != nil {
		return err
	}
	if !hasCheck {
		sealed, err := d.seal("amtkit_meta", metaKeyCheck, checkPlaintext)
		if err != nil {
			return err
		}
		if _, err := d.q.exec(ctx, "INSERT INTO amtkit_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", metaKeyCheck, sealed); err != nil {
			return d.fail("writing the key check", err)
		}
		// Another process may have written its own first.
		if err := d.q.queryRow(ctx, "SELECT value FROM amtkit_meta WHERE name = $1", metaKeyCheck).Scan(&check); err != nil {
			return d.fail("reading the key check", err)
		}
	}
	pt, err := d.open("amtkit_meta", metaKeyCheck, check)
	if err != nil || !bytes.Equal(pt, checkPlaintext) {
		return fmt.Errorf("statedb: %s: %w (key file %s; every process that shares the database needs the same key file)", d.where, ErrWrongKey, d.keyPath)
	}
	return nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("statedb: %w", err)
	}
	return cipher.NewGCM(block)
}

// associatedData binds a sealed value to its table and row, so that a value
// copied to another row or table does not open.
func associatedData(table, key string) []byte {
	ad := make([]byte, 0, 16+len(table)+len(key))
	ad = append(ad, "amtkit/state\x00"...)
	ad = append(ad, table...)
	ad = append(ad, 0)
	return append(ad, key...)
}

// seal returns version || random nonce || AES-256-GCM ciphertext.
func (d *DB) seal(table, key string, plaintext []byte) ([]byte, error) {
	ns := d.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+d.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("statedb: nonce: %w", err)
	}
	return d.aead.Seal(out, out[1:], plaintext, associatedData(table, key)), nil
}

func (d *DB) open(table, key string, sealed []byte) ([]byte, error) {
	ns := d.aead.NonceSize()
	if len(sealed) < 1+ns+d.aead.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: sealed value of %q in %s is malformed", ErrCorrupt, key, table)
	}
	pt, err := d.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], associatedData(table, key))
	if err != nil {
		return nil, fmt.Errorf("%w: sealed value of %q in %s does not open with the key", ErrCorrupt, key, table)
	}
	return pt, nil
}

// readKey reads a key file, refusing one other users may read.
func readKey(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("statedb: key file: %w", err)
	}
	if err := checkPrivate(path, info, "chmod 600"); err != nil {
		return nil, err
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("statedb: reading the key file: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("statedb: key file %s: %w (it holds %d bytes, a key is %d)", path, ErrWrongKey, len(key), KeySize)
	}
	return key, nil
}

// createKey writes a new random key to path with mode 0600. The key is
// written to a temporary file and linked into place, which fails if path
// exists, so that a reader never sees a partial key and two processes
// creating the key at once end up with the same one.
func createKey(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := ensurePrivateDir(dir); err != nil {
		return nil, err
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("statedb: generating a key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".amtkit-key-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("statedb: creating the key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	_, werr := tmp.Write(key)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("statedb: writing the key file: %w", werr)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKey(path) // another process won the race
		}
		// Some file systems have no hard links; O_EXCL is exclusive too.
		if err := writeKeyExcl(path, key); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return readKey(path)
			}
			return nil, fmt.Errorf("statedb: creating the key file: %w", err)
		}
	}
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		_ = f.Close()
	}
	return key, nil
}

func writeKeyExcl(path string, key []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(key)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
