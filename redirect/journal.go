package redirect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/wsman"
)

// RestoreRecord is what BootFromImage changed on one device, written to a
// Journal before each change, so that the settings can be put back even
// when the console dies before it restores them (RestoreFromRecord).
type RestoreRecord struct {
	// Host is the device as the client names it (host:port of WS-Man).
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
	// RedirectionState is AMT_RedirectionService.EnabledState before it
	// was changed; nil when it was not (about to be) changed.
	RedirectionState *uint64 `json:"redirection_state"`
	// ListenerEnabled is the listener's state before it was opened; nil
	// when it was not (about to be) changed.
	ListenerEnabled *bool `json:"listener_enabled"`
	// BootOptionsArmed: a one-time boot was (about to be) armed; restoring
	// clears it.
	BootOptionsArmed bool `json:"boot_options_armed"`
	// Reason says what made the changes, e.g. "ider boot".
	Reason string `json:"reason,omitempty"`
}

// Empty reports whether the record names nothing to restore.
func (r *RestoreRecord) Empty() bool {
	return r == nil || r.RedirectionState == nil && r.ListenerEnabled == nil && !r.BootOptionsArmed
}

// Journal keeps restore records across processes. Put replaces the
// record of rec.Host and must be durable when it returns: the change it
// announces is sent right after. Implementations must be safe for
// concurrent use.
type Journal interface {
	Put(ctx context.Context, rec RestoreRecord) error
	// Get returns the unfinished record of host, nil when there is none.
	Get(ctx context.Context, host string) (*RestoreRecord, error)
	// Done removes the record of host once everything was put back.
	Done(ctx context.Context, host string) error
	// List returns every unfinished record.
	List(ctx context.Context) ([]RestoreRecord, error)
}

// MemoryJournal is a Journal held in memory, for tests and for programs
// that restore within the process only.
type MemoryJournal struct {
	mu   sync.Mutex
	recs map[string]RestoreRecord
}

// NewMemoryJournal returns an empty MemoryJournal.
func NewMemoryJournal() *MemoryJournal { return &MemoryJournal{recs: map[string]RestoreRecord{}} }

func (j *MemoryJournal) Put(_ context.Context, rec RestoreRecord) error {
	if rec.Host == "" {
		return wsman.InvalidArgument("redirect: restore record without a host")
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.recs[rec.Host] = rec
	return nil
}

func (j *MemoryJournal) Get(_ context.Context, host string) (*RestoreRecord, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	rec, ok := j.recs[host]
	if !ok {
		return nil, nil
	}
	return &rec, nil
}

func (j *MemoryJournal) Done(_ context.Context, host string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.recs, host)
	return nil
}

func (j *MemoryJournal) List(context.Context) ([]RestoreRecord, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]RestoreRecord, 0, len(j.recs))
	for _, r := range j.recs {
		out = append(out, r)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Host < out[b].Host })
	return out, nil
}

// FileJournal is a Journal of one JSON file per device in a directory
// (mode 0700, files 0600), written by rename so that a crash leaves either
// the old record or the new one. Separate processes share it.
type FileJournal struct {
	dir string
	mu  sync.Mutex
}

// NewFileJournal returns a FileJournal in dir, created when first written.
func NewFileJournal(dir string) *FileJournal { return &FileJournal{dir: dir} }

func (j *FileJournal) path(host string) string {
	return filepath.Join(j.dir, url.PathEscape(host)+".json")
}

func (j *FileJournal) Put(_ context.Context, rec RestoreRecord) error {
	if rec.Host == "" {
		return wsman.InvalidArgument("redirect: restore record without a host")
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := os.MkdirAll(j.dir, 0o700); err != nil {
		return fmt.Errorf("redirect: restore journal: %w", err)
	}
	tmp, err := os.CreateTemp(j.dir, ".record-*")
	if err != nil {
		return fmt.Errorf("redirect: restore journal: %w", err)
	}
	_, werr := tmp.Write(b)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), j.path(rec.Host))
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("redirect: restore journal: %w", werr)
	}
	if d, err := os.Open(j.dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

func (j *FileJournal) Get(_ context.Context, host string) (*RestoreRecord, error) {
	b, err := os.ReadFile(j.path(host))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redirect: restore journal: %w", err)
	}
	var rec RestoreRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("redirect: restore journal: %s: %w", j.path(host), err)
	}
	return &rec, nil
}

func (j *FileJournal) Done(_ context.Context, host string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := os.Remove(j.path(host))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("redirect: restore journal: %w", err)
	}
	return nil
}

func (j *FileJournal) List(ctx context.Context) ([]RestoreRecord, error) {
	ents, err := os.ReadDir(j.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redirect: restore journal: %w", err)
	}
	var out []RestoreRecord
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		host, err := url.PathUnescape(strings.TrimSuffix(name, ".json"))
		if err != nil {
			continue
		}
		rec, err := j.Get(ctx, host)
		if err != nil {
			return out, err
		}
		if rec != nil {
			out = append(out, *rec)
		}
	}
	return out, nil
}

// RestoreFromRecord puts back what rec says was changed: it clears the
// one-time boot options, closes the listener if it was closed, and sets
// the redirection features back. It returns what it put back; on success
// the caller removes the record (Journal.Done).
func RestoreFromRecord(ctx context.Context, ws *wsman.Client, pw *power.Service, rec *RestoreRecord) ([]string, error) {
	var restored []string
	var errs []error
	if rec.BootOptionsArmed {
		if err := pw.ClearBootOptions(ctx); err != nil {
			errs = append(errs, fmt.Errorf("boot options: %w", err))
		} else {
			restored = append(restored, "boot options")
		}
	}
	if rec.ListenerEnabled != nil && !*rec.ListenerEnabled {
		err := func() error {
			in, err := ws.Get(ctx, uriRedirection)
			if err != nil {
				return err
			}
			if on, _ := in.Bool("ListenerEnabled"); !on {
				return nil
			}
			return setListener(ctx, ws, in, false)
		}()
		if err != nil {
			errs = append(errs, fmt.Errorf("redirection listener: %w", err))
		} else {
			restored = append(restored, "redirection listener")
		}
	}
	if rec.RedirectionState != nil {
		if err := requestRedirectionState(ctx, ws, *rec.RedirectionState); err != nil {
			errs = append(errs, fmt.Errorf("redirection features: %w", err))
		} else {
			restored = append(restored, "redirection features")
		}
	}
	if len(errs) > 0 {
		return restored, &RestoreError{Errs: errs}
	}
	return restored, nil
}
