package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/amtkit/amtkit/amt/amtsim"
)

// TestSOLEndsOnAFreshLine: amtctl sol on a terminal puts it in raw mode
// for the session (keys go to the console one by one, nothing echoed
// locally) and, when the session ends, whether by ctrl-] or by SIGTERM
// (or SIGINT), restores the terminal as it was and leaves the cursor at
// the start of a fresh line after the console's last output.
func TestSOLEndsOnAFreshLine(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{Addr: "127.160.0.3", TLSPort: -1})
	for _, end := range []string{"ctrl-]", "SIGTERM", "SIGINT"} {
		t.Run(end, func(t *testing.T) {
			ptm, pts := openPTY(t)
			before, err := unix.IoctlGetTermios(int(pts.Fd()), unix.TCGETS)
			require.NoError(t, err)
			require.NotZero(t, before.Lflag&unix.ECHO, "a terminal echoes before")

			cmd := exec.Command(amtctlBinary(t), "sol", "--host", dev.HTTPAddr(), "--redirect-port", redirectPort(t, dev),
				"--state", privateDir(t))
			cmd.Env = append(cleanEnv(), "AMT_PASSWORD="+password)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
			require.NoError(t, cmd.Start())
			term := readPTY(ptm)
			term.waitFor(t, "amtsim serial console")
			term.waitFor(t, "ctrl-] ends")

			during, err := unix.IoctlGetTermios(int(pts.Fd()), unix.TCGETS)
			require.NoError(t, err)
			assert.Zero(t, during.Lflag&(unix.ECHO|unix.ICANON), "raw mode during the session")

			// Keys without a line end reach the console (its echo shows
			// them): they were sent one by one.
			_, err = ptm.Write([]byte("abc"))
			require.NoError(t, err)
			term.waitFor(t, "abc")

			switch end {
			case "ctrl-]":
				_, err = ptm.Write([]byte{0x1d})
				require.NoError(t, err)
			case "SIGTERM":
				require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			case "SIGINT":
				require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
			}
			werr := cmd.Wait()
			code := 0
			if ee, ok := werr.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else {
				require.NoError(t, werr)
			}
			after, err := unix.IoctlGetTermios(int(pts.Fd()), unix.TCGETS)
			require.NoError(t, err)
			pts.Close()
			<-term.end
			shown := term.String()
			t.Logf("exit %d; terminal: %q", code, shown)

			assert.Equal(t, *before, *after, "the terminal is as it was")
			last := shown[strings.LastIndex(shown, "abc"):]
			assert.True(t, strings.HasPrefix(last, "abc\r\n"), "a fresh line after the console's output: %q", last)
			assert.True(t, strings.HasSuffix(shown, "\r\n") || strings.HasSuffix(shown, "\n"), "the cursor at the start of a line: %q", last)
			want := map[string]int{"ctrl-]": exitOK, "SIGTERM": 143, "SIGINT": 130}[end]
			assert.Equal(t, want, code, "a session ended by a signal says so in its exit status")
		})
	}
}
