package main

// The progress bar of a job followed in the foreground: done / total,
// rate, elapsed and ETA, and the counts by outcome, on stderr; nothing
// with -q or when stderr is not a terminal (as every progress line).

import (
	"fmt"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt/fleet"
)

type jobProgress struct {
	mu     sync.Mutex
	bar    *progressbar.ProgressBar
	action string
	counts map[fleet.Outcome]int
	done   int
}

// newJobProgress returns the bar of a job of total machines; nil (whose
// methods do nothing) when progress is off.
func newJobProgress(cmd *cobra.Command, action string, total int) *jobProgress {
	w := cmd.ErrOrStderr()
	if quiet(cmd) || !isTTY(w) || total <= 0 {
		return nil
	}
	p := &jobProgress{action: action, counts: map[fleet.Outcome]int{}}
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(p.describe()),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("machines"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)
	return p
}

// describe is the counts by outcome that follow the bar.
func (p *jobProgress) describe() string {
	s := p.action
	for _, o := range fleet.Outcomes {
		if n := p.counts[o]; n > 0 {
			s += fmt.Sprintf(" %s %d", o, n)
		}
	}
	return s
}

// Add counts one finished machine.
func (p *jobProgress) Add(o fleet.Outcome) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[o]++
	p.done++
	p.bar.Describe(p.describe())
	_ = p.bar.Add(1)
}

// Finish clears the bar, leaving the line for the summary.
func (p *jobProgress) Finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.bar.Clear()
	_ = p.bar.Exit()
}

// Interrupt clears the bar and leaves the machines' lines free to print
// (a line printed while the bar shows is written after clearing it).
func (p *jobProgress) Interrupt(print func()) {
	if p == nil {
		print()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.bar.Clear()
	print()
	_ = p.bar.RenderBlank()
}
