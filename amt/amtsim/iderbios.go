package amtsim

import (
	"errors"
	"fmt"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/redir"
)

// iderMedium is the simulated BIOS's view of an IDE-R session
// (redir.Medium): the session's messages and keep-alives, and the boot it
// records under the device lock.
type iderMedium struct {
	s   *iderSession
	w   *waiter
	run *iderRun
}

// runBIOS boots from the session's medium and records the outcome.
func (s *iderSession) runBIOS(run *iderRun, w *waiter) {
	err := redir.Boot(&iderMedium{s: s, w: w, run: run}, run.cd, s.rc.s.opts.IDERReadLimit)
	if err != nil {
		err = fmt.Errorf("%s: %w", run.rec.Medium, err)
	}
	injected := errors.Is(err, redir.ErrInjectedReset)
	s.d.mu.Lock()
	s.d.finishIDERLocked(run, err)
	if injected {
		// The boot is recorded and the slot free before the console sees
		// the reset, so that it may start a new session at once.
		s.rc.releaseLocked()
	}
	s.d.mu.Unlock()
	if injected {
		abort(s.rc.c)
	}
}

func (m *iderMedium) Send(msg []byte) error { return m.s.sendIDER(msg) }

func (m *iderMedium) Wait(timeout time.Duration) (redir.Msg, error) {
	s := m.s
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case msg := <-s.in:
			return msg, nil
		case <-s.done:
			return redir.Msg{}, redir.ErrSessionEnded
		case <-s.rc.s.done:
			return redir.Msg{}, redir.ErrSessionEnded
		case <-s.kick:
			s.d.mu.Lock()
			reset := s.next != nil || m.run.done
			s.d.mu.Unlock()
			if reset {
				return redir.Msg{}, redir.ErrHostReset
			}
		case <-m.w.tick:
			if !s.keepAliveTick(m.w) {
				return redir.Msg{}, redir.ErrSessionEnded
			}
		case <-t.C:
			return redir.Msg{}, redir.ErrTimeout
		}
	}
}

func (m *iderMedium) InjectReset() bool {
	d := m.s.d
	if !d.takeRedirFault(FaultRedirReset) {
		return false
	}
	m.s.rc.s.log.Debug("redirection: injecting fault", "device", d.ip, "kind", FaultRedirReset.String())
	return true
}

// record applies f to the boot's record unless the boot has ended.
func (m *iderMedium) record(f func(*IDERBoot)) {
	d := m.s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if !m.run.done {
		f(&m.run.rec)
	}
}

func (m *iderMedium) Commands(n int) { m.record(func(r *IDERBoot) { r.Commands = n }) }

func (m *iderMedium) Read(r redir.BlockRead, bytesRead int64) {
	m.record(func(b *IDERBoot) {
		b.Reads = append(b.Reads, BlockRead{LBA: r.LBA, Blocks: r.Blocks, SHA256: r.SHA256})
		b.BytesRead = bytesRead
	})
}

func (m *iderMedium) BootImage(sum string) {
	m.record(func(b *IDERBoot) { b.BootImageSHA256 = sum })
}
