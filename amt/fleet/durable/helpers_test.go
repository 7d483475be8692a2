package durable_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet/durable"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/statedb"
)

// The simulator's default administrator account, kept in the test
// databases as the credential profile "lab".
const (
	user     = "admin"
	password = "P@ssw0rd1"
	profile  = "lab"
)

// The environment of a worker process: the test binary re-executed with
// workerEnv set to the database runs a worker until it is killed.
const (
	workerEnv     = "AMTKIT_DURABLE_TEST_WORKER"
	workerKeyEnv  = "AMTKIT_DURABLE_TEST_KEY"
	workerNameEnv = "AMTKIT_DURABLE_TEST_NAME"
)

func TestMain(m *testing.M) {
	if target := os.Getenv(workerEnv); target != "" {
		os.Exit(workerProcess(target))
	}
	os.Exit(m.Run())
}

// workerProcess runs a worker over the database until SIGTERM or SIGKILL.
func workerProcess(target string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	db, err := statedb.Open(ctx, target, statedb.WithKeyFile(os.Getenv(workerKeyEnv)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	defer db.Close()
	w, err := durable.NewWorker(db, workerOptions(db, os.Getenv(workerNameEnv)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	fmt.Println("ready")
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

// workerOptions are the tests' worker settings: rescue after 11 s rather
// than minutes, and quick polling. A chunk may run 10 s: the tests' chunks
// take well under a second alone, but several seconds when -race runs the
// package beside the state database's tests on two cores, and a chunk cut
// short by its timeout is retried by River, which the tests count.
func workerOptions(db *statedb.DB, name string) durable.WorkerOptions {
	return durable.WorkerOptions{
		Name:        name,
		Concurrency: 200,
		Credentials: func(ctx context.Context, p string) (credentials.Source, error) {
			// The guard is kept in the job's database, as amtctl keeps it,
			// so that it counts what every worker on it tried (and not what
			// an earlier run of a test, -count, tried on the same addresses).
			opts := []credentials.Option{credentials.WithGuard(credentials.NewGuard(credentials.DefaultMaxFailures,
				credentials.DefaultWindow, credentials.GuardStorage(db.Credentials())))}
			if p != "" {
				opts = append(opts, credentials.WithProfile(p))
			}
			return credentials.NewResolver(db.Credentials(), opts...)
		},
		ClientOptions: []amt.Option{amt.WithPowerChangeGap(0)},
		JobTimeout:    10 * time.Second,
		RescueAfter:   11 * time.Second,
		PollInterval:  50 * time.Millisecond,
	}
}

// withProfile stores the credential profile the tests' jobs name.
func withProfile(t testing.TB, db *statedb.DB) {
	t.Helper()
	require.NoError(t, db.Credentials().PutProfile(context.Background(), credentials.Profile{Name: profile,
		Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: user, Password: password}}}))
}

// startWorker runs a worker in this process until the test ends (or stop
// is called), on its own database handle.
func startWorker(t testing.TB, e env, name string) (stop func()) {
	t.Helper()
	db := e.open(t)
	w, err := durable.NewWorker(db, workerOptions(db, name))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
			require.NoError(t, db.Close())
		})
	}
	t.Cleanup(stop)
	return stop
}

// workerProc is a worker in a process of its own.
type workerProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// spawnWorker starts a worker process (this test binary) and waits for it
// to say it is ready.
func spawnWorker(t testing.TB, e env, name string) *workerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"="+e.target, workerKeyEnv+"="+e.key, workerNameEnv+"="+name)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	p := &workerProc{name: name, cmd: cmd, done: make(chan struct{})}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := sc.Scan() && sc.Text() == "ready"
		ready <- ok
		for sc.Scan() {
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	select {
	case ok := <-ready:
		require.True(t, ok, "worker %s did not start: %s", name, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("worker %s did not start: %s", name, stderr.String())
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("worker %s wrote on stderr:\n%s", name, stderr.String())
		}
	})
	return p
}

// signal sends the worker process a signal.
func (p *workerProc) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
}

// kill ends the worker process with SIGKILL and waits for it to be gone.
func (p *workerProc) kill(t testing.TB) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
}

// newFleet starts simulated devices on loopback addresses of cidr (each
// test its own range within 127.110.0.0-127.119.255.255), WS-Man on plain
// HTTP only.
func newFleet(t testing.TB, opts amtsim.Options) *amtsim.Server {
	t.Helper()
	opts.TLSPort, opts.RMCPPort, opts.RedirectPort, opts.RedirectTLSPort = -1, -1, -1, -1
	sim, err := amtsim.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

func fleetSpec(t testing.TB, spec string) *amtsim.FleetSpec {
	t.Helper()
	s, err := amtsim.ParseFleetSpec(strings.NewReader(spec))
	require.NoError(t, err)
	return s
}

func addrs(sim *amtsim.Server) []string {
	var out []string
	for _, d := range sim.Devices() {
		out = append(out, d.HTTPAddr())
	}
	return out
}

// waitDone follows the job until every machine has its outcome and
// returns the report.
func waitDone(t testing.TB, m *durable.Manager, id durable.ID, within time.Duration) map[string]durable.Machine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	seen := map[string]bool{}
	for mc, err := range m.Follow(ctx, id, durable.FollowOptions{Poll: 50 * time.Millisecond}) {
		require.NoError(t, err, "job %d", id)
		require.False(t, seen[mc.Host], "%s reported twice", mc.Host)
		seen[mc.Host] = true
	}
	rows, err := m.Report(context.Background(), id)
	require.NoError(t, err)
	out := map[string]durable.Machine{}
	for _, r := range rows {
		out[r.Host] = r
	}
	require.Len(t, seen, len(rows), "every machine followed")
	return out
}
