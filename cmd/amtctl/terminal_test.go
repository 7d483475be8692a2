package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/amtkit/amtkit/amt/amtsim"
)

// TestKeyFileReadableByOthers: a key file others can read is refused, as
// ssh refuses such a private key, before anything is sent.
func TestKeyFileReadableByOthers(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{Addr: "127.0.3.9"})
	state := t.TempDir()
	require.NoError(t, os.Chmod(state, 0o700), "state directories are private")
	var out, errOut bytes.Buffer
	code := runIO(context.Background(), []string{"creds", "profile", "add", "lab", "--user", user, "--password-stdin", "--state", state},
		strings.NewReader(password+"\n"), &out, &errOut)
	require.Equal(t, exitOK, code, errOut.String())
	key := filepath.Join(state, "amtkit.key")
	st, err := os.Stat(key)
	require.NoError(t, err, "the store keeps its key beside it")
	require.Zero(t, st.Mode().Perm()&0o077, "created for the owner only")

	require.NoError(t, os.Chmod(key, 0o644))
	before := dev.Stats().HTTPRequests
	code, stdout, stderr := amtctl(t, "info", "--host", dev.HTTPAddr(), "--profile", "lab", "--state", state, "-o", "json")
	assert.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "chmod 600 "+key)
	assert.Contains(t, stdout, `"class":"usage"`)
	assert.Equal(t, before, dev.Stats().HTTPRequests, "nothing sent")

	require.NoError(t, os.Chmod(key, 0o600))
	code, _, stderr = amtctl(t, "info", "--host", dev.HTTPAddr(), "--profile", "lab", "--state", state)
	assert.Equal(t, exitOK, code, stderr)
}

// openPTY opens a pseudo-terminal: the controlling side and the terminal
// a process is given.
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { pts.Close() })
	return ptm, pts
}

// TestPasswordPromptOnTerminal: with no password given and standard input
// a terminal, the real binary prompts on stderr and reads the password
// without echo; --password-stdin on a terminal does the same.
func TestPasswordPromptOnTerminal(t *testing.T) {
	t.Parallel()
	_, dev := newSim(t, amtsim.Options{Addr: "127.0.3.10", TLSPort: -1})
	for _, extra := range [][]string{nil, {"--password-stdin"}} {
		ptm, pts := openPTY(t)
		state := t.TempDir()
		require.NoError(t, os.Chmod(state, 0o700))
		args := append([]string{"power", "status", "--host", dev.HTTPAddr(), "-o", "json", "--state", state}, extra...)
		cmd := exec.Command(amtctlBinary(t), args...)
		cmd.Env = cleanEnv()
		var stdout bytes.Buffer
		cmd.Stdin, cmd.Stderr, cmd.Stdout = pts, pts, &stdout
		require.NoError(t, cmd.Start())

		// Read the terminal until the prompt, then type the password.
		r := bufio.NewReader(ptm)
		seen := make(chan string, 1)
		go func() {
			var b strings.Builder
			for {
				c, err := r.ReadByte()
				if err != nil {
					seen <- b.String()
					return
				}
				b.WriteByte(c)
				if strings.HasSuffix(b.String(), ": ") {
					seen <- b.String()
					return
				}
			}
		}()
		var prompt string
		select {
		case prompt = <-seen:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			t.Fatal("no prompt")
		}
		assert.Contains(t, prompt, "Password for admin@"+dev.HTTPAddr())
		_, err := ptm.Write([]byte(password + "\r"))
		require.NoError(t, err)
		echoed := make(chan string, 1)
		go func() {
			var b bytes.Buffer
			buf := make([]byte, 256)
			for {
				n, err := ptm.Read(buf)
				b.Write(buf[:n])
				if err != nil || strings.Contains(b.String(), "\n") {
					echoed <- b.String()
					return
				}
			}
		}()
		require.NoError(t, cmd.Wait(), "%v", extra)
		pts.Close()
		select {
		case e := <-echoed:
			assert.NotContains(t, e, password, "no echo")
		case <-time.After(10 * time.Second):
		}
		assert.Contains(t, stdout.String(), `"power_state":2`, "%v", extra)
	}
}
