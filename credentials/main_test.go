package credentials_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/amtkit/amtkit/credentials"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is a settable clock for the guard and the resolver.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// device is a fake login target: it accepts the users and passwords in
// accounts, and records every login.
type device struct {
	mu       sync.Mutex
	accounts map[string]string
	fail     error // when set, every login fails with it (a network error)
	logins   []credentials.Credential
}

func newDevice(accounts ...string) *device {
	d := &device{accounts: map[string]string{}}
	for i := 0; i+1 < len(accounts); i += 2 {
		d.accounts[accounts[i]] = accounts[i+1]
	}
	return d
}

func (d *device) try(ctx context.Context, c credentials.Credential) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.logins = append(d.logins, c)
	if d.fail != nil {
		return d.fail
	}
	if pw, ok := d.accounts[c.User]; ok && pw == c.Password {
		return nil
	}
	return fmt.Errorf("device: 401: %w", credentials.ErrAuthFailed)
}

func (d *device) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.logins)
}

var errNetwork = errors.New("dial tcp 192.0.2.1:16993: connect: connection refused")

func cred(user, password string) credentials.Credential {
	return credentials.Credential{User: user, Password: password}
}

func amtProfile(name, user, password string, def bool) credentials.Profile {
	return credentials.Profile{Name: name, Default: def, Entries: map[credentials.Technology]credentials.Credential{
		credentials.AMT: cred(user, password),
	}}
}
