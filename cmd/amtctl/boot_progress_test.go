package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
)

// ptyReader collects what a process writes to its terminal.
type ptyReader struct {
	mu  sync.Mutex
	b   bytes.Buffer
	end chan struct{}
}

func readPTY(ptm *os.File) *ptyReader {
	r := &ptyReader{end: make(chan struct{})}
	go func() {
		defer close(r.end)
		buf := make([]byte, 4096)
		for {
			n, err := ptm.Read(buf)
			r.mu.Lock()
			r.b.Write(buf[:n])
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return r
}

func (r *ptyReader) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b.String()
}

// waitFor waits until the terminal shows s.
func (r *ptyReader) waitFor(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(r.String(), s) {
			return
		}
	}
	t.Fatalf("the terminal never showed %q; it showed %q", s, r.String())
}

// slowSetUp makes the set-up steps of the next ider boot last over a
// second each: enabling IDE-R and opening the listener.
func slowSetUp(dev *amtsim.Device) {
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelay, Action: "RequestStateChange", Times: 1, Delay: 2500 * time.Millisecond})
	dev.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelay, Action: "Put", Times: 1, Delay: 2500 * time.Millisecond})
}

// TestIDERBootSetUpProgress: on a terminal, ider boot shows each set-up
// step that lasts over a second (the redirection features, the listener),
// with its elapsed time, clears the line for the consent prompt, then
// shows the bytes served and clears the line at the end; with -q, or with
// stderr not a terminal, it shows none of it.
func TestIDERBootSetUpProgress(t *testing.T) {
	t.Parallel()
	iso := writeISO(t, 300)
	args := func(dev *amtsim.Device, extra ...string) []string {
		return append([]string{"ider", "boot", "--host", dev.HTTPAddr(), "--redirect-port", redirectPort(t, dev),
			"--image", iso, "--until-bytes", "65536", "--idle", "0", "-o", "json", "--state", privateDir(t)}, extra...)
	}

	// On a terminal, consent required.
	_, dev := newSim(t, amtsim.Options{Addr: "127.160.0.1", TLSPort: -1, RedirectionState: 32768, ListenerDisabled: true,
		OptInRequired: 4294967295, TransitionTime: time.Millisecond})
	slowSetUp(dev)
	ptm, pts := openPTY(t)
	cmd := exec.Command(amtctlBinary(t), args(dev)...)
	cmd.Env = append(cleanEnv(), "AMT_PASSWORD="+password)
	var stdout bytes.Buffer
	cmd.Stdin, cmd.Stderr, cmd.Stdout = pts, pts, &stdout
	require.NoError(t, cmd.Start())
	term := readPTY(ptm)
	term.waitFor(t, "Enter the code shown on the machine's screen: ")
	_, err := ptm.Write([]byte(dev.OptInCode() + "\r"))
	require.NoError(t, err)
	require.NoError(t, cmd.Wait(), term.String())
	pts.Close()
	shown := term.String()
	t.Logf("terminal: %q", shown)

	host := dev.HTTPAddr()
	features := regexp.MustCompile(regexp.QuoteMeta(host+": setting the redirection features: IDE-R enabled (32769)") + ` \([12]\.\ds\)`)
	listener := regexp.MustCompile(regexp.QuoteMeta(host+": opening the redirection listener") + ` \([12]\.\ds\)`)
	fi, li := features.FindStringIndex(shown), listener.FindStringIndex(shown)
	require.NotNil(t, fi, "the redirection features' step, with its elapsed time")
	require.NotNil(t, li, "the listener's step, with its elapsed time")
	assert.Less(t, fi[0], li[0], "in the order they are taken")
	prompt := strings.Index(shown, "The device requires user consent")
	require.Greater(t, prompt, li[0])
	assert.True(t, strings.HasSuffix(shown[:prompt], "\r\033[K"), "the status line is cleared before the prompt")
	assert.Contains(t, shown[prompt:], " served ", "then the bytes served")
	assert.True(t, strings.HasSuffix(shown, "\r\033[K"), "and the line cleared at the end")
	assert.Contains(t, stdout.String(), `"bytes_served":`)
	assert.NotContains(t, stdout.String(), "setting the redirection", "progress goes to stderr only")

	// With -q on a terminal, and with stderr not a terminal: none of it.
	_, quietDev := newSim(t, amtsim.Options{Addr: "127.160.0.2", TLSPort: -1, RedirectionState: 32768, ListenerDisabled: true, TransitionTime: time.Millisecond})
	slowSetUp(quietDev)
	ptm, pts = openPTY(t)
	cmd = exec.Command(amtctlBinary(t), args(quietDev, "-q")...)
	cmd.Env = append(cleanEnv(), "AMT_PASSWORD="+password)
	cmd.Stdin, cmd.Stderr, cmd.Stdout = pts, pts, &bytes.Buffer{}
	require.NoError(t, cmd.Start())
	term = readPTY(ptm)
	require.NoError(t, cmd.Wait(), term.String())
	pts.Close()
	<-term.end
	assert.NotContains(t, term.String(), "setting the redirection")
	assert.NotContains(t, term.String(), "served")

	slowSetUp(quietDev)
	cmd = exec.Command(amtctlBinary(t), args(quietDev)...)
	cmd.Env = append(cleanEnv(), "AMT_PASSWORD="+password)
	var stderr bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, &bytes.Buffer{}
	require.NoError(t, cmd.Run(), stderr.String())
	assert.NotContains(t, stderr.String(), "setting the redirection")
	assert.NotContains(t, stderr.String(), "\033[K")
}

// privateDir is a state directory only its owner may read.
func privateDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	require.NoError(t, os.Chmod(d, 0o700))
	return d
}
