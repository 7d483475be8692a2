package durable_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/amt/fleet"
	"github.com/amtkit/amtkit/amt/fleet/durable"
	"github.com/amtkit/amtkit/statedb"
)

// tlsFleet starts simulated devices that offer WS-Man over TLS only.
func tlsFleet(t testing.TB, cidr string) (*amtsim.Server, []string) {
	t.Helper()
	sim, err := amtsim.New(amtsim.Options{DevicesCIDR: cidr, HTTPPort: -1, RMCPPort: -1, RedirectPort: -1, RedirectTLSPort: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	var tg []string
	for _, d := range sim.Devices() {
		tg = append(tg, d.TLSAddr())
	}
	return sim, tg
}

func certPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// otherCA is a self-signed CA that issued nothing the devices present.
func otherCA(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Some Other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestTLSJobs: a job stores its TLS settings (the CA certificates' PEM
// content, pins, insecure-skip-verify when asked for) and every worker
// builds each machine's client from them: a TLS-only fleet succeeds with
// the devices' CA or pin, and a CA or pin that refuses the certificate
// ends each machine tls after one attempt, with nothing sent past the
// handshake and no login counted against the device.
func TestTLSJobs(t *testing.T) {
	t.Parallel()
	eachParallel(t, func(t *testing.T, e env) {
		cidr := map[string]string{"sqlite": "127.185.0.0/30", "postgres": "127.185.0.4/30"}[e.engine]
		sim, tg := tlsFleet(t, cidr)
		ctx := context.Background()
		m := e.manager(t)
		withProfile(t, m.DB())
		startWorker(t, e, "w-tls")
		run := func(c durable.Connection) (durable.Job, map[string]durable.Machine) {
			id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerStatus}, Targets: tg, Profile: profile,
				Connection: c, Retries: 2, RetryDelay: 50 * time.Millisecond})
			require.NoError(t, err)
			res := waitDone(t, m, id, time.Minute)
			j, err := m.Job(ctx, id)
			require.NoError(t, err)
			return j, res
		}

		j, res := run(durable.Connection{CACertificates: certPEM(sim.Certificate())})
		assert.True(t, j.Spec.Connection.TLS, "a CA implies TLS")
		assert.Equal(t, certPEM(sim.Certificate()), j.Spec.Connection.CACertificates, "the PEM content is stored")
		require.Len(t, j.Spec.Connection.CASummary(), 1)
		assert.False(t, j.Spec.Connection.InsecureSkipVerify)
		for _, h := range tg {
			require.Equal(t, fleet.Succeeded, *res[h].Outcome, "%s: %s", h, res[h].Message)
			var data map[string]any
			require.NoError(t, json.Unmarshal(res[h].Data, &data))
			assert.Contains(t, data, "power_state")
		}

		_, res = run(durable.Connection{PinnedSHA256: []string{sim.CertificateSHA256()}})
		for _, h := range tg {
			assert.Equal(t, fleet.Succeeded, *res[h].Outcome, "%s: %s", h, res[h].Message)
		}

		before := map[string]amtsim.Stats{}
		for _, d := range sim.Devices() {
			before[d.TLSAddr()] = d.Stats()
		}
		for name, c := range map[string]durable.Connection{
			"another CA":   {CACertificates: otherCA(t)},
			"another pin":  {PinnedSHA256: []string{"00" + sim.CertificateSHA256()[2:]}},
			"system roots": {TLS: true},
		} {
			_, res := run(c)
			for _, h := range tg {
				assert.Equal(t, fleet.TLS, *res[h].Outcome, "%s %s: %s", name, h, res[h].Message)
				assert.Equal(t, 1, res[h].Attempts, "%s: a TLS failure is not retried", name)
			}
		}
		for _, d := range sim.Devices() {
			assert.Equal(t, before[d.TLSAddr()].HTTPRequests, d.Stats().HTTPRequests, "nothing got past TLS")
			assert.Zero(t, d.Stats().FailedLogins)
			assert.False(t, d.LockedOut())
		}

		j, res = run(durable.Connection{InsecureSkipVerify: true})
		assert.True(t, j.Spec.Connection.InsecureSkipVerify, "insecure-skip-verify is kept and shown")
		assert.True(t, j.Spec.Connection.TLS)
		for _, h := range tg {
			assert.Equal(t, fleet.Succeeded, *res[h].Outcome, "%s: %s", h, res[h].Message)
		}
	})
}

// TestConnectionValidates: connection settings a worker could not use are
// refused before anything is stored.
func TestConnectionValidates(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		m := e.manager(t)
		key := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}))
		for name, c := range map[string]durable.Connection{
			"insecure and a pin": {InsecureSkipVerify: true, PinnedSHA256: []string{"ab" + strings.Repeat("0", 62)}},
			"insecure and a CA":  {InsecureSkipVerify: true, CACertificates: otherCA(t)},
			"not PEM":            {CACertificates: "not a certificate"},
			"a key":              {CACertificates: key},
			"bad pin":            {PinnedSHA256: []string{"12:34"}},
			"bad redirect port":  {RedirectPort: 70000},
		} {
			_, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerStatus}, Targets: []string{"127.185.1.1"}, Connection: c})
			assert.ErrorIs(t, err, durable.ErrInvalid, name)
		}
		_, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerStatus}, Targets: []string{"http://127.185.1.1"},
			Connection: durable.Connection{TLS: true}})
		assert.ErrorIs(t, err, durable.ErrInvalid, "a plain http target in a TLS job")
		jobs, err := m.List(ctx, durable.ListFilter{})
		require.NoError(t, err)
		assert.Empty(t, jobs)
	})
}

// TestStatusPerMachine: Status lists the machines a worker is working
// now, one by one with the worker running each, not the whole chunk it
// holds: with a job concurrency of 2 over 5 slow machines in one chunk,
// 2 are running under the worker and 3 pending.
func TestStatusPerMachine(t *testing.T) {
	t.Parallel()
	eachParallel(t, func(t *testing.T, e env) {
		cidr := map[string]string{"sqlite": "127.185.2.0/29", "postgres": "127.185.2.8/29"}[e.engine]
		sim := newFleet(t, amtsim.Options{DevicesCIDR: cidr, Latency: 1500 * time.Millisecond})
		tg := addrs(sim)[:5]
		ctx := context.Background()
		m := e.manager(t)
		withProfile(t, m.DB())
		id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerStatus}, Targets: tg, Profile: profile,
			Concurrency: 2, Timeout: 20 * time.Second})
		require.NoError(t, err)
		st, err := m.Status(ctx, id)
		require.NoError(t, err)
		assert.Empty(t, st.Running, "no worker yet")
		assert.Equal(t, 5, st.Machines[durable.MachinePending])
		// A chunk of slow machines needs longer than the tests' usual
		// 10 s chunk timeout.
		db := e.open(t)
		opts := workerOptions(db, "w-status")
		opts.JobTimeout, opts.RescueAfter = time.Minute, 2*time.Minute
		w, err := durable.NewWorker(db, opts)
		require.NoError(t, err)
		wctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.Run(wctx) }()
		t.Cleanup(func() { stop(); <-done })
		in := map[string]bool{}
		for _, h := range tg {
			in[h] = true
		}
		require.Eventually(t, func() bool {
			st, err = m.Status(ctx, id)
			require.NoError(t, err)
			require.LessOrEqual(t, len(st.Running), 2, "never more than the job's concurrency")
			return len(st.Running) == 2
		}, 30*time.Second, 20*time.Millisecond)
		for _, r := range st.Running {
			assert.True(t, in[r.Host], r.Host)
			assert.Equal(t, "w-status", r.Worker)
			assert.False(t, r.Since.IsZero())
		}
		assert.NotEqual(t, st.Running[0].Host, st.Running[1].Host)
		assert.Equal(t, 2, st.Machines[durable.MachineRunning])
		assert.Equal(t, 5-st.Done-2, st.Machines[durable.MachinePending])
		require.Len(t, st.Holders, 1)
		assert.Equal(t, "w-status", st.Holders[0].Worker)
		assert.Len(t, st.Holders[0].Hosts, 2)
		rows, err := m.Report(ctx, id)
		require.NoError(t, err)
		running := 0
		for _, r := range rows {
			if r.State == durable.MachineRunning {
				running++
			}
		}
		assert.LessOrEqual(t, running, 2, "the report agrees: machines waiting in the chunk are pending")
		res := waitDone(t, m, id, time.Minute)
		for _, h := range tg {
			assert.Equal(t, fleet.Succeeded, *res[h].Outcome, res[h].Message)
		}
		st, err = m.Status(ctx, id)
		require.NoError(t, err)
		assert.Empty(t, st.Running)
		assert.Empty(t, st.Holders)
	})
}

// TestRetryBatchSlot: a retried machine of a batched job runs in the next
// slot counted from the retry, not at its original slot: with batches of
// one an hour apart, cancelled after the first, a retry runs the second
// batch at once and keeps the third an interval behind it.
func TestRetryBatchSlot(t *testing.T) {
	t.Parallel()
	eachParallel(t, func(t *testing.T, e env) {
		cidr := map[string]string{"sqlite": "127.185.3.0/29", "postgres": "127.185.3.8/29"}[e.engine]
		sim := newFleet(t, amtsim.Options{DevicesCIDR: cidr})
		tg := addrs(sim)
		require.GreaterOrEqual(t, len(tg), 3)
		tg = tg[:3]
		ctx := context.Background()
		m := e.manager(t)
		withProfile(t, m.DB())
		startWorker(t, e, "w-retry")
		id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerStatus}, Targets: tg, Profile: profile,
			BatchSize: 1, BatchInterval: time.Hour})
		require.NoError(t, err)
		outcome := func(host string) *fleet.Outcome {
			rows, err := m.Report(ctx, id)
			require.NoError(t, err)
			for _, r := range rows {
				if r.Host == host {
					return r.Outcome
				}
			}
			t.Fatalf("no %s in the report", host)
			return nil
		}
		require.Eventually(t, func() bool { return outcome(tg[0]) != nil }, 30*time.Second, 20*time.Millisecond)
		assert.Equal(t, fleet.Succeeded, *outcome(tg[0]))
		n, err := m.Cancel(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, 2, n, "the later batches were waiting for their slots")

		n, err = m.Retry(ctx, id, fleet.Cancelled)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		require.Eventually(t, func() bool { return outcome(tg[1]) != nil }, 30*time.Second, 20*time.Millisecond,
			"the second batch runs in the next slot, not an hour after the start")
		assert.Equal(t, fleet.Succeeded, *outcome(tg[1]))
		assert.Nil(t, outcome(tg[2]), "the third batch keeps its interval behind the second")
		st, err := m.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, durable.StateRunning, st.State)
		assert.Equal(t, 1, st.Machines[durable.MachinePending])
		_, err = m.Cancel(ctx, id)
		require.NoError(t, err)
	})
}

// TestRiverJobsNameTheirMachines: each chunk's River job carries the
// machines it covers in its arguments, and once it ends records them by
// outcome as its output, so that River UI shows which machines a job
// touched; a retried chunk's new River job names the machines put back.
func TestRiverJobsNameTheirMachines(t *testing.T) {
	t.Parallel()
	eachParallel(t, func(t *testing.T, e env) {
		cidr := map[string]string{"sqlite": "127.185.3.0/29", "postgres": "127.185.3.8/29"}[e.engine]
		sim := newFleet(t, amtsim.Options{DevicesCIDR: cidr})
		good := addrs(sim)[:4]
		host, port, err := net.SplitHostPort(good[0])
		require.NoError(t, err)
		ip := net.ParseIP(host).To4()
		ip[3] = 7 + map[string]byte{"sqlite": 0, "postgres": 8}[e.engine]
		absent := net.JoinHostPort(ip.String(), port) // in the range, no device: refused
		tg := append(append([]string{}, good...), absent)
		ctx := context.Background()
		m := e.manager(t)
		withProfile(t, m.DB())
		id, err := m.Submit(ctx, durable.Spec{Task: fleet.Task{Action: fleet.PowerStatus}, Targets: tg, Profile: profile,
			Concurrency: 5, ChunkSize: 2, Timeout: 5 * time.Second})
		require.NoError(t, err)
		startWorker(t, e, "w-ui")
		waitDone(t, m, id, time.Minute)

		type riverJob struct {
			args struct {
				Job   int64    `json:"job"`
				Chunk int      `json:"chunk"`
				Hosts []string `json:"hosts"`
			}
			output struct {
				Outcomes map[string][]string `json:"outcomes"`
				Pending  []string            `json:"pending"`
			}
		}
		read := func() []riverJob {
			cols := "args::text, metadata::text"
			if m.DB().Engine() == statedb.SQLite {
				cols = "json(args), json(metadata)" // kept as SQLite's JSONB
			}
			rs, err := m.DB().Query(ctx, "SELECT "+cols+" FROM river_job WHERE kind = 'amtkit_fleet_chunk' ORDER BY id")
			require.NoError(t, err)
			defer rs.Close()
			var out []riverJob
			for rs.Next() {
				var args, meta []byte
				require.NoError(t, rs.Scan(&args, &meta))
				var j riverJob
				require.NoError(t, json.Unmarshal(args, &j.args))
				if j.args.Job != int64(id) {
					continue
				}
				var md struct {
					Output json.RawMessage `json:"output"`
				}
				require.NoError(t, json.Unmarshal(meta, &md))
				if len(md.Output) > 0 {
					require.NoError(t, json.Unmarshal(md.Output, &j.output))
				}
				out = append(out, j)
			}
			require.NoError(t, rs.Err())
			return out
		}
		// River writes a job's output as it completes the job, a moment
		// after the worker is done with it.
		settled := func(want int) []riverJob {
			var jobs []riverJob
			require.Eventually(t, func() bool {
				jobs = read()
				for _, j := range jobs {
					if j.output.Outcomes == nil {
						return false
					}
				}
				return len(jobs) == want
			}, 30*time.Second, 50*time.Millisecond, "%d River jobs with their output", want)
			return jobs
		}
		jobs := settled(3) // 5 machines in chunks of 2
		var named, succeeded, unreachable []string
		for _, j := range jobs {
			named = append(named, j.args.Hosts...)
			assert.Empty(t, j.output.Pending, "chunk %d", j.args.Chunk)
			succeeded = append(succeeded, j.output.Outcomes["succeeded"]...)
			unreachable = append(unreachable, j.output.Outcomes["unreachable"]...)
		}
		assert.ElementsMatch(t, tg, named, "the arguments name every machine once")
		assert.ElementsMatch(t, good, succeeded)
		assert.Equal(t, []string{absent}, unreachable)

		n, err := m.Retry(ctx, id, fleet.Unreachable)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		waitDone(t, m, id, time.Minute)
		jobs = settled(4) // one new River job for the retried chunk
		last := jobs[len(jobs)-1]
		assert.Equal(t, []string{absent}, last.args.Hosts, "only the machine put back")
		assert.Equal(t, []string{absent}, last.output.Outcomes["unreachable"])
	})
}
