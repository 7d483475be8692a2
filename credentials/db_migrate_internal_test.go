package credentials

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Runtime entries that an earlier version kept per host:port move to their
// device key on open; of two ports of one device the newer entry wins.
func TestRuntimeEntriesMoveToDeviceKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DatabaseFileName)
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(key, pw string, at time.Time) {
		rec := runtimeRecord{Host: key, Credential: credRecord{User: "admin", Password: pw}, LearnedAt: at}
		if err := d.update(ctx, func(tx *bolt.Tx) error {
			return d.putRecord(tx.Bucket(bucketRuntime), bucketRuntime, []byte(key), rec)
		}); err != nil {
			t.Fatal(err)
		}
	}
	write("192.0.2.10:16992", "old", t0)
	write("192.0.2.10:16993", "new", t0.Add(time.Hour))
	write("h.example:16992", "h", t0)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	es, err := d.RuntimeEntries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Host != "192.0.2.10" || es[0].Credential.Password != "new" || es[1].Host != "h.example" {
		t.Fatalf("entries after the move: %v", es)
	}
	if err := d.ForgetRuntime(ctx, "192.0.2.10"); err != nil {
		t.Fatalf("forget without a port: %v", err)
	}
}
