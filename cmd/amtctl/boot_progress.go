package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/redirect"
)

// bootProgress is the status line of ider boot and ider serve on a
// terminal: each set-up step (the redirection service, user consent, the
// IDE-R session, the reset) as a wait that shows its elapsed time once it
// has lasted a second, then the bytes served. Like every progress line it
// is silent with -q or when stderr is not a terminal.
type bootProgress struct {
	p    *progress
	host string

	mu   sync.Mutex
	stop func() // ends the current step's line; nil while serving
}

func newBootProgress(cmd *cobra.Command, host string) *bootProgress {
	return &bootProgress{p: newProgress(cmd), host: host}
}

// step starts the line of a set-up step, ending the previous one.
func (b *bootProgress) step(what string) {
	if !b.p.Enabled() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stop != nil {
		b.stop()
	}
	b.stop = b.p.Wait(b.host+": "+what, nil)
}

// endStep ends the current step's line; b.mu is held.
func (b *bootProgress) endStep() {
	if b.stop != nil {
		b.stop()
		b.stop = nil
	}
}

// update shows the bytes served; it ends the set-up steps' line.
func (b *bootProgress) update(p redirect.Progress) {
	if !b.p.Enabled() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.endStep()
	b.p.Show("%10s served  %12s  %7d commands  %s", formatSize(p.BytesServed), formatRate(p.Rate), p.Commands, formatDuration(p.Elapsed.Truncate(100*time.Millisecond)))
}

// done clears the line.
func (b *bootProgress) done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.endStep()
	b.p.Done()
}

// pausing wraps a prompt so that the status line is cleared while it asks,
// and the step goes on afterwards.
func (b *bootProgress) pausing(ask func(context.Context) (string, error)) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		b.mu.Lock()
		b.endStep()
		b.p.Done()
		b.mu.Unlock()
		code, err := ask(ctx)
		if err == nil {
			b.step("sending the user consent code")
		}
		return code, err
	}
}

// logger returns a logger that passes every record to next (the --verbose
// log) and shows the steps BootFromImage logs on the status line.
func (b *bootProgress) logger(next *slog.Logger) *slog.Logger {
	if !b.p.Enabled() {
		return next
	}
	return slog.New(stepHandler{next: next.Handler(), b: b})
}

// fromRecord shows the step a debug record of BootFromImage announces, in
// an operator's words; records of no step change nothing.
func (b *bootProgress) fromRecord(r slog.Record) {
	attrs := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value
		return true
	})
	switch r.Message {
	case "AMT_RedirectionService.RequestStateChange":
		if v, ok := attrs["state"]; ok && v.Kind() == slog.KindUint64 {
			b.step("setting the redirection features: " + redirectionFeatures(v.Uint64()))
		}
	case "AMT_RedirectionService ListenerEnabled":
		if v, ok := attrs["enabled"]; ok && v.Kind() == slog.KindBool && !v.Bool() {
			b.step("closing the redirection listener")
		} else {
			b.step("opening the redirection listener")
		}
	case "IPS_OptInService.StartOptIn":
		b.step("asking for user consent: the machine shows a code")
	case "IPS_OptInService.SendOptInCode":
		b.step("sending the user consent code")
	case "IDE-R drives enabled; arming the boot":
		b.step(fmt.Sprintf("IDE-R session open; arming the one-time boot from %s", attrs["device"]))
	case "boot started":
		b.step(fmt.Sprintf("%s sent; waiting for the machine to read the image", attrs["action"]))
	case "power request outcome unknown; serving on":
		b.step(fmt.Sprintf("the answer to %s was lost; serving in case the machine boots", attrs["action"]))
	}
}

// stepHandler passes records on and shows the steps among them.
type stepHandler struct {
	next slog.Handler
	b    *bootProgress
}

func (h stepHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h stepHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.next.Enabled(ctx, r.Level) {
		_ = h.next.Handle(ctx, r.Clone())
	}
	h.b.fromRecord(r)
	return nil
}

func (h stepHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return stepHandler{next: h.next.WithAttrs(as), b: h.b}
}

func (h stepHandler) WithGroup(name string) slog.Handler {
	return stepHandler{next: h.next.WithGroup(name), b: h.b}
}
