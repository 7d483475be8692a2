package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/redirect"
)

// solEscape ends an interactive session: ctrl-], as telnet has it.
const solEscape = 0x1D

// solDrain is how long amtctl sol keeps showing console output after its
// input ended, when the machine goes on writing.
const (
	solQuiet    = 300 * time.Millisecond
	solDrainMax = 2 * time.Second
)

func newSOLCommand() *cobra.Command {
	var (
		f           deviceFlags
		rf          redirectFlags
		enable, dry bool
	)
	cmd := &cobra.Command{
		Use:   "sol",
		Short: "Attach the terminal to the machine's serial console (serial-over-LAN)",
		Long: "sol connects standard input and output to the machine's serial console until ctrl-] is typed or\n" +
			"standard input ends. On a terminal the input is sent key by key (the terminal is put in raw mode and\n" +
			"restored afterwards). With the UseSOL boot option (amtctl boot next --sol, amtctl ider boot\n" +
			"--sol) the console shows the BIOS's POST and the boot loader.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// SIGINT, SIGTERM and SIGHUP (a closed terminal) end the
			// session alike; what --enable turned on is turned off again,
			// and the exit status says which signal ended it.
			ctx, ints, stopInts := catchInterrupts(cmd.Context())
			defer stopInts()
			cmd.SetContext(ctx)
			c, err := f.redirectClient(cmd, &rf)
			defer f.close()
			if err != nil {
				return err
			}
			if dry {
				return solDryRun(ctx, cmd, c, f.output, enable)
			}
			// Enabling and the session's login are one operation for the
			// credential choice: a candidate refused either (AccessDenied,
			// or a refused redirection login) gives way to the next, after
			// what it enabled was turned off again.
			var (
				s       *redirect.Session
				restore func()
			)
			err = c.Authorize(ctx, func(ctx context.Context) error {
				if enable {
					undo, err := enableSOL(ctx, cmd, c)
					if err != nil {
						return err
					}
					restore = undo
				}
				var err error
				if s, err = c.Redirect.Dial(ctx, redirect.SOL); err != nil && restore != nil {
					restore()
					restore = nil
				}
				return err
			})
			if restore != nil {
				defer restore()
			}
			if err != nil {
				return explainRefusal(ctx, c, err, enable)
			}
			conn, err := redirect.OpenSOL(ctx, s)
			if err != nil {
				return explainRefusal(ctx, c, err, enable)
			}
			in := cmd.InOrStdin()
			if restore := rawTerminal(in); restore != nil {
				defer restore()
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "connected to the serial console of %s; ctrl-] ends\r\n", c.Host())
			out := &lastByteWriter{w: cmd.OutOrStdout()}
			err = attachSOL(cmd, conn, in, out)
			if out.last != 0 && out.last != '\n' {
				// Leave the cursor at the start of a fresh line.
				fmt.Fprint(cmd.OutOrStdout(), "\r\n")
			}
			if se := ints.caught(); se != nil && err == nil {
				se.cause = errors.New("serial console session ended")
				return se
			}
			return err
		},
	}
	f.register(cmd)
	rf.register(cmd)
	registerDryRun(cmd, &dry)
	cmd.Flags().BoolVar(&enable, "enable", false, "enable SOL and the redirection listener for this session if they are off, and turn them off again afterwards")
	return cmd
}

// enableSOL turns SOL and the listener on where they are off, and returns
// how to put them back.
// solDryRun says what sol would send: with --enable, the redirection
// changes that turn SOL and the listener on for the session (and back off
// after it); the session itself changes no setting.
func solDryRun(ctx context.Context, cmd *cobra.Command, c *amt.Client, format string, enable bool) error {
	before, err := c.Redirect.State(ctx)
	if err != nil {
		return err
	}
	rec := newRedirectStateRecord(c.Host(), before)
	if !enable {
		return dryRunWith(cmd, format, rec.extra(), c.Host(), "sol",
			fmt.Sprintf("would open a serial console session; no setting changed (now %s)", rec.summary()))
	}
	on := true
	ch := redirect.StateChange{}
	if !before.SOL {
		ch.SOL = &on
	}
	if !before.Listener {
		ch.Listener = &on
	}
	reqs := planRedirectChange(before, ch)
	msg := fmt.Sprintf("would enable %s for the session, then put it back (now %s)", solEnableWhat(ch), rec.summary())
	if len(reqs) == 0 {
		msg = fmt.Sprintf("would open a serial console session; SOL and the listener are on already, nothing else sent (%s)", rec.summary())
	}
	return dryRunWith(cmd, format, rec.extra(), c.Host(), "sol", msg, reqs...)
}

func solEnableWhat(ch redirect.StateChange) string {
	switch {
	case ch.SOL != nil && ch.Listener != nil:
		return "SOL and the listener"
	case ch.SOL != nil:
		return "SOL"
	}
	return "the listener"
}

func enableSOL(ctx context.Context, cmd *cobra.Command, c *amt.Client) (func(), error) {
	before, err := c.Redirect.State(ctx)
	if err != nil {
		return nil, err
	}
	on := true
	ch := redirect.StateChange{}
	if !before.SOL {
		ch.SOL = &on
	}
	if !before.Listener {
		ch.Listener = &on
	}
	if ch.SOL == nil && ch.Listener == nil {
		return func() {}, nil
	}
	if _, err := c.Redirect.SetState(ctx, ch); err != nil {
		return nil, err
	}
	return func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		back := redirect.StateChange{}
		if ch.SOL != nil {
			back.SOL = &before.SOL
		}
		if ch.Listener != nil {
			back.Listener = &before.Listener
		}
		if _, err := c.Redirect.SetState(rctx, back); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "amtctl: putting the redirection state back: %v\n", err)
		}
	}, nil
}

// attachSOL copies console output to out and in to the console until the
// escape key, the end of in, the end of the console or the command's
// context.
func attachSOL(cmd *cobra.Command, conn *redirect.SOLConn, in io.Reader, out io.Writer) error {
	ctx := cmd.Context()
	output := make(chan struct{}, 1) // a sign of console output
	outDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				if _, werr := out.Write(buf[:n]); werr != nil {
					outDone <- werr
					return
				}
				select {
				case output <- struct{}{}:
				default:
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) || strings.Contains(err.Error(), "closed") {
					err = nil
				}
				outDone <- err
				return
			}
		}
	}()
	type chunk struct {
		b   []byte
		err error
	}
	input := make(chan chunk)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			buf := make([]byte, 1024)
			n, err := in.Read(buf)
			select {
			case input <- chunk{buf[:n], err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	finish := func(err error) error {
		cerr := conn.Close()
		if oerr := <-outDone; err == nil {
			err = oerr
		}
		if err == nil {
			err = cerr
		}
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return finish(nil)
		case err := <-outDone:
			_ = conn.Close()
			if err == nil {
				fmt.Fprint(cmd.ErrOrStderr(), "\r\nthe device ended the serial console\r\n")
			}
			return err
		case c := <-input:
			data := c.b
			esc := bytes.IndexByte(data, solEscape)
			if esc >= 0 {
				data = data[:esc]
			}
			if len(data) > 0 {
				if _, err := conn.Write(data); err != nil {
					return finish(err)
				}
			}
			if esc >= 0 {
				return finish(nil)
			}
			if c.err != nil {
				// Input ended: show what the machine still writes, until
				// it is quiet.
				quiet := time.NewTimer(solQuiet)
				limit := time.NewTimer(solDrainMax)
			drain:
				for {
					select {
					case <-output:
						quiet.Reset(solQuiet)
					case <-quiet.C:
						break drain
					case <-limit.C:
						break drain
					case <-ctx.Done():
						break drain
					}
				}
				quiet.Stop()
				limit.Stop()
				if errors.Is(c.err, io.EOF) {
					return finish(nil)
				}
				return finish(c.err)
			}
		}
	}
}

// rawTerminal puts a terminal on in into raw mode, so that keys reach
// the console as they are typed, and returns how to restore it; nil when
// in is not a terminal (input is then sent line by line, and ctrl-] takes
// effect at the end of the line).
func rawTerminal(in io.Reader) func() { return makeRaw(in) }

// lastByteWriter remembers the last byte written.
type lastByteWriter struct {
	w    io.Writer
	last byte
}

func (l *lastByteWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.last = p[len(p)-1]
	}
	return l.w.Write(p)
}
