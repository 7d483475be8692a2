package amtsim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/redir"
	"github.com/amtkit/amtkit/amt/amtsim/internal/redirport"
)

// IDERBoot is one simulated BIOS boot from IDE-R: what the BIOS read from
// the console's medium and whether it could boot from it.
type IDERBoot = redirport.Boot

// BlockRead is one READ(10) or READ(12) of the simulated BIOS: LBA,
// Blocks and the hex SHA-256 of the data returned.
type BlockRead = redir.BlockRead

// IDERBoots returns copies of the finished IDE-R boots, in order. A boot
// from IDE-R is attempted whenever the armed one-time boot settings have
// UseIDER; it fails at once without an open, enabled IDE-R session.
func (d *Device) IDERBoots() []IDERBoot {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.power.Settle(time.Now())
	return d.redir.Boots()
}

// WaitIDERBoot waits until the n-th (1-based) IDE-R boot of the device has
// finished, successfully or not, and returns it. It returns ctx's error
// when ctx ends first, and an error when the server closes.
func (d *Device) WaitIDERBoot(ctx context.Context, n int) (IDERBoot, error) {
	if n < 1 {
		return IDERBoot{}, fmt.Errorf("amtsim: WaitIDERBoot(%d): n is 1-based", n)
	}
	for {
		d.mu.Lock()
		d.power.Settle(time.Now())
		b, ok, ch := portOf(d).Boot(n)
		d.mu.Unlock()
		if ok {
			return b, nil
		}
		if err := d.srv.waitChange(ctx, ch); err != nil {
			return IDERBoot{}, err
		}
	}
}

// WaitBoot waits until the host has booted at least n times (1-based) and
// returns the n-th boot. A reset leaves PowerState on throughout, as on
// firmware, so a console that must know the boot happened asks the
// simulated host, not the device.
func (d *Device) WaitBoot(ctx context.Context, n int) (BootRecord, error) {
	if n < 1 {
		return BootRecord{}, fmt.Errorf("amtsim: WaitBoot(%d): n is 1-based", n)
	}
	for {
		d.mu.Lock()
		d.power.Settle(time.Now())
		if n <= len(d.boots) {
			b := d.boots[n-1]
			d.mu.Unlock()
			return b, nil
		}
		ch := d.bootCh
		d.mu.Unlock()
		if err := d.srv.waitChange(ctx, ch); err != nil {
			return BootRecord{}, err
		}
	}
}

// waitChange waits for ch to close. Power changes complete on their own
// (a timer armed by the request), so no polling is needed.
func (s *Server) waitChange(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return errors.New("amtsim: server closed")
	}
	return nil
}
