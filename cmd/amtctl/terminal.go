package main

// Terminal helpers: progress on stderr and prompts on stdin.
//
// Progress: p := newProgress(cmd) once per command; p.Show("waiting for
// %s", x) rewrites one status line; p.Wait("waiting for the machine to be
// on") starts a line that shows the elapsed time once the wait has lasted
// a second, and returns the function that ends it; p.Done() clears the
// line. All of it writes nothing with -q/--quiet or when stderr is not a
// terminal, so scripts and logs never see it.
//
// Prompts: readSecret reads a password without echo from a terminal (the
// prompt on stderr) or one line from a pipe; promptSecret and promptLine
// ask only when stdin is a terminal and otherwise fail with a usage error
// that says how to give the value instead. Never read a secret any other
// way.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// fileDescriptor is what *os.File offers to x/term.
type fileDescriptor interface{ Fd() uintptr }

// isTTY reports whether v (a reader or writer) is a terminal.
func isTTY(v any) bool {
	f, ok := v.(fileDescriptor)
	if !ok {
		return false
	}
	if fh, ok := v.(*os.File); ok && fh == nil {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

// quiet reports whether -q/--quiet was given.
func quiet(cmd *cobra.Command) bool {
	q, err := cmd.Flags().GetBool("quiet")
	return err == nil && q
}

// progress is one status line on a terminal's stderr.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	shown bool
}

// newProgress returns cmd's progress line: silent with -q or when stderr
// is not a terminal.
func newProgress(cmd *cobra.Command) *progress {
	w := cmd.ErrOrStderr()
	return &progress{w: w, on: !quiet(cmd) && isTTY(w)}
}

// Enabled reports whether the line is drawn.
func (p *progress) Enabled() bool { return p != nil && p.on }

// Show rewrites the status line.
func (p *progress) Show(format string, a ...any) {
	if !p.Enabled() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\033[K"+format, a...)
	p.shown = true
}

// Done clears the status line, leaving the cursor at the start of it.
func (p *progress) Done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

// Wait shows "what (elapsed)" from one second into a wait, updated ten
// times a second, until the returned function is called (which clears it).
// status, if not nil, adds the current state: "what: status (1.2s)".
func (p *progress) Wait(what string, status func() string) (stop func()) {
	if !p.Enabled() {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				el := time.Since(start)
				if el < time.Second {
					continue
				}
				if status != nil {
					if s := status(); s != "" {
						p.Show("%s: %s (%s)", what, s, formatDuration(el.Truncate(100*time.Millisecond)))
						continue
					}
				}
				p.Show("%s (%s)", what, formatDuration(el.Truncate(100*time.Millisecond)))
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
			p.Done()
		})
	}
}

// readSecret reads a secret from stdin: without echo after a prompt on
// stderr when stdin is a terminal, else one line (its line end removed).
// An empty secret is a usage error.
func readSecret(cmd *cobra.Command, prompt string) (string, error) {
	in := cmd.InOrStdin()
	var s string
	if isTTY(in) {
		fd := int(in.(fileDescriptor).Fd())
		// Echo goes off before the prompt shows, so that nothing typed
		// after the prompt appears is echoed.
		restore := echoOff(fd)
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
		b, err := term.ReadPassword(fd)
		restore()
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", fmt.Errorf("reading from the terminal: %w", err)
		}
		s = string(b)
	} else {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading standard input: %w", err)
		}
		s = strings.TrimRight(line, "\r\n")
	}
	if s == "" {
		return "", usageError{errors.New("empty password on standard input")}
	}
	return s, nil
}

// promptSecret asks for a secret on the terminal, without echo; when stdin
// is not a terminal it asks nothing and fails with a usage error ending in
// how, e.g. "give --password-stdin, AMT_PASSWORD or --profile".
func promptSecret(cmd *cobra.Command, prompt, how string) (string, error) {
	if !isTTY(cmd.InOrStdin()) {
		return "", usageError{fmt.Errorf("a password is needed and %s, so amtctl does not prompt: %s", errNoTerminal, how)}
	}
	return readSecret(cmd, prompt)
}

// promptLine asks for a line on the terminal (echoed: not for secrets);
// when stdin is not a terminal it fails with a usage error ending in how.
func promptLine(cmd *cobra.Command, prompt, how string) (string, error) {
	in := cmd.InOrStdin()
	if !isTTY(in) {
		return "", usageError{fmt.Errorf("%s, so amtctl does not prompt: %s", errNoTerminal, how)}
	}
	fmt.Fprint(cmd.ErrOrStderr(), prompt)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("reading from the terminal: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// makeRaw puts the terminal on in into raw mode (keys reach the program as
// typed, no echo) and returns how to restore it; nil when in is not a
// terminal.
func makeRaw(in io.Reader) func() {
	if !isTTY(in) {
		return nil
	}
	fd := int(in.(fileDescriptor).Fd())
	st, err := term.MakeRaw(fd)
	if err != nil {
		return nil
	}
	return func() { _ = term.Restore(fd, st) }
}
