package wsman_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/wsman"
)

// nonceFront stands before a simulated device and watches the digest
// nonce counts. It refuses, as firmware does, a nonce count that does not
// grow, and can forget the nonces it saw: both answer 401 stale="false"
// with a fresh challenge taken from the device.
type nonceFront struct {
	target string
	srv    *httptest.Server
	hc     *http.Client

	mu       sync.Mutex
	last     map[string]int64 // nonce -> highest nc seen
	seen     map[string][]int64
	refused  int // 401s for a count that did not grow
	forget   bool
	forgiven int // 401s for a forgotten nonce
}

var (
	nonceRe = regexp.MustCompile(`nonce="([^"]*)"`)
	ncRe    = regexp.MustCompile(`nc=([0-9a-fA-F]{8})`)
)

func newNonceFront(t *testing.T, target string) *nonceFront {
	f := &nonceFront{target: target, last: map[string]int64{}, seen: map[string][]int64{}, hc: &http.Client{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.srv.Close()
		f.hc.CloseIdleConnections()
	})
	return f
}

func (f *nonceFront) forgetNonces() {
	f.mu.Lock()
	f.forget = true
	f.mu.Unlock()
}

func (f *nonceFront) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if auth := r.Header.Get("Authorization"); auth != "" {
		nm, cm := nonceRe.FindStringSubmatch(auth), ncRe.FindStringSubmatch(auth)
		if nm != nil && cm != nil {
			nc, _ := strconv.ParseInt(cm[1], 16, 64)
			f.mu.Lock()
			nonce := nm[1]
			f.seen[nonce] = append(f.seen[nonce], nc)
			refuse := false
			switch {
			case f.forget:
				f.forget = false
				f.last = map[string]int64{}
				f.forgiven++
				refuse = true
			case nc <= f.last[nonce]:
				f.refused++
				refuse = true
			default:
				f.last[nonce] = nc
			}
			f.mu.Unlock()
			if refuse {
				f.challenge(w, r)
				return
			}
		}
	}
	f.forward(w, r, body, true)
}

// challenge answers 401 with a fresh challenge of the device, got by an
// unauthenticated request (which the device does not count as a failed
// login).
func (f *nonceFront) challenge(w http.ResponseWriter, r *http.Request) {
	f.forward(w, r, nil, false)
}

func (f *nonceFront) forward(w http.ResponseWriter, r *http.Request, body []byte, withAuth bool) {
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, f.target+r.URL.Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
	if withAuth {
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// A device that forgot its nonces refuses the next request with 401
// stale="false": the client tries once more on the fresh challenge and
// does not take it for a wrong password.
func TestForgottenNonceIsRetriedOnceNotLatched(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	f := newNonceFront(t, sim.URL())
	c := newClient(t, f.srv.URL)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, err := c.Get(ctx, uriGeneral)
		require.NoError(t, err)
	}
	f.forgetNonces()
	_, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err, "one retry on the fresh nonce")
	_, err = c.Get(ctx, uriGeneral)
	require.NoError(t, err, "not latched")
	assert.Equal(t, 1, f.forgiven)
	assert.Zero(t, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut())
}

// The nonce count grows with each request on a nonce: a client that sent
// the same count twice would be refused and latch here.
func TestNonceCountGrows(t *testing.T) {
	t.Parallel()
	sim, _ := newSim(t, amtsim.Options{})
	f := newNonceFront(t, sim.URL())
	c := newClient(t, f.srv.URL)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		_, err := c.Get(ctx, uriGeneral)
		require.NoError(t, err, "request %d", i)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Zero(t, f.refused)
	require.Len(t, f.seen, 1, "one nonce for all")
	for _, ncs := range f.seen {
		assert.Equal(t, []int64{1, 2, 3, 4, 5}, ncs)
	}
}

// With several requests in flight over one connection the counts still
// reach the device in increasing order.
func TestNonceCountsIncreaseOnTheWireWhenConcurrent(t *testing.T) {
	t.Parallel()
	sim, _ := newSim(t, amtsim.Options{})
	f := newNonceFront(t, sim.URL())
	c := newClient(t, f.srv.URL, wsman.WithMaxConcurrency(4), wsman.WithTransport(&http.Transport{MaxConnsPerHost: 1}))
	ctx := context.Background()
	_, err := c.Get(ctx, uriGeneral)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Get(ctx, uriGeneral)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Zero(t, f.refused, "no count reached the device after a higher one")
}

// The same against the simulator itself, which refuses a repeated or
// lower nonce count and can forget its nonces.
func TestSimulatorForgettingNoncesDoesNotLatch(t *testing.T) {
	t.Parallel()
	sim, dev := newSim(t, amtsim.Options{})
	c := newClient(t, sim.URL(), wsman.WithMaxConcurrency(4))
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for round := 0; round < 4; round++ {
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.Get(ctx, uriGeneral)
				errs <- err
			}()
		}
		wg.Wait()
		dev.ForgetNonces()
	}
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Zero(t, dev.Stats().FailedLogins)
	assert.False(t, dev.LockedOut())
}
