package credentials

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The guard's records in the file hold the keyed hash of the candidate,
// never the password nor its unkeyed fingerprint.
func TestGuardRecordsHoldOnlyAKeyedHash(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), DatabaseFileName)
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c := Credential{User: "admin", Password: "Sekrit-Passw0rd"}
	fp := fingerprintOf(AMT, c)
	r, err := d.ReserveLogin(context.Background(), GuardRequest{Device: "192.0.2.1", Candidate: fp, At: time.Now(), MaxFailures: 2, Window: time.Minute})
	if err != nil || r.Decision != GuardAllow {
		t.Fatal(r, err)
	}
	if err := d.SettleLogin(context.Background(), "192.0.2.1", r.ID, true); err != nil {
		t.Fatal(err)
	}
	key := d.macKey
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b64 := []byte(base64.StdEncoding.EncodeToString(fp[:]))
	if bytes.Contains(data, []byte(c.Password)) || bytes.Contains(data, fp[:]) || bytes.Contains(data, b64) {
		t.Fatal("the file holds the password or the unkeyed fingerprint")
	}
	h := KeyedHash(key, fp)
	if !bytes.Contains(data, []byte(base64.StdEncoding.EncodeToString(h))) {
		t.Fatal("the record does not hold the keyed hash")
	}
	if bytes.Equal(h, fp[:]) || bytes.Equal(KeyedHash([]byte("another key of thirty-two bytes!"), fp), h) {
		t.Fatal("the hash is not keyed")
	}
}
