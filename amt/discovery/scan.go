package discovery

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/credentials"
)

// Defaults of Options.
const (
	DefaultRMCPPort = 623
	// DefaultRate is the RMCP pacing, in packets per second. A ping is
	// 12 bytes of UDP payload, 84 bytes on an Ethernet wire with framing,
	// so 20,000 packets per second is about 13 Mbit/s: a small fraction of
	// a gigabit LAN, while a /16 (two pings per address) takes under 7 s.
	// Each device receives two packets; what the rate really loads is the
	// scanner's own link, routers, and on the scanner's own subnet the ARP
	// resolution of every silent address, so lower it on slow or shared
	// links (MeshCentral paces at about 100 per second).
	DefaultRate = 20000
	// MaxRate is the largest Rate accepted.
	MaxRate = 1000000
	// DefaultRMCPRetry is the delay before the second ping.
	DefaultRMCPRetry = 100 * time.Millisecond
	// DefaultRMCPWait is how long pongs are awaited after the second ping.
	DefaultRMCPWait = time.Second
	// DefaultConcurrency bounds the addresses in stages 2 and 3; each
	// holds at most one socket at a time.
	DefaultConcurrency = 256
	// MaxConcurrency is the largest Concurrency accepted.
	MaxConcurrency = 8192
	// DefaultConnectTimeout bounds each TCP connection attempt of stage 2.
	DefaultConnectTimeout = 1500 * time.Millisecond
	// DefaultProbeTimeout bounds the probe of one port once connected.
	DefaultProbeTimeout = 5 * time.Second
	// DefaultInventoryTimeout bounds each operation of the inventory.
	DefaultInventoryTimeout = 30 * time.Second
	// DefaultProgressInterval is how often Options.Progress is called.
	DefaultProgressInterval = time.Second
)

// Options configure a scan. The zero value scans the standard ports at the
// default rate without credentials.
type Options struct {
	// RMCPPort is the UDP port of the presence ping (default 623).
	RMCPPort int
	// HTTPPort and TLSPort are the WS-Management ports (defaults 16992 and
	// 16993). A pong names the standard ports; the scanner maps them to
	// these, so that a simulated fleet on other ports is scanned alike.
	HTTPPort, TLSPort int
	// DisableRMCP skips stage 1: every address is probed over TCP.
	DisableRMCP bool
	// Rate caps the RMCP packets sent per second (default DefaultRate, at
	// most MaxRate). Sending is paced by a token bucket with a burst of
	// 5 ms worth of packets.
	Rate int
	// RMCPRetry is the delay before the second ping of an address that has
	// not answered the first (default 100 ms); RMCPWait how long a pong is
	// awaited after it (default 1 s). An address that has answered is not
	// pinged again.
	RMCPRetry, RMCPWait time.Duration
	// SkipSilent leaves addresses that did not answer RMCP unprobed:
	// much faster on large, sparse ranges, but devices whose RMCP is
	// disabled are then missed.
	SkipSilent bool
	// Concurrency bounds the addresses probed at once in stages 2 and 3
	// (default 256, at most MaxConcurrency). Each holds at most one
	// socket, so stay well below the process's file limit.
	Concurrency int
	// ConnectTimeout bounds each TCP connection attempt (default 1.5 s);
	// ProbeTimeout the probe of one port once connected (default 5 s).
	ConnectTimeout, ProbeTimeout time.Duration
	// ReportAll also reports addresses where nothing answered, as NoAMT.
	ReportAll bool
	// MaxAddresses refuses larger scans (default DefaultMaxAddresses).
	MaxAddresses uint64

	// Inventory logs in to every provisioned AMT device found, with
	// credentials from Source, and fills Result.Inventory. Over TLS the
	// certificate seen in stage 2 is pinned (trust on first use) unless
	// NoTOFU is set.
	Inventory bool
	Source    credentials.Source
	// ClientOptions are passed to amt.New for the inventory, e.g.
	// amt.WithRootCAs or amt.WithPinnedCertificate.
	ClientOptions []amt.Option
	// NoTOFU does not pin the stage-2 certificate: ClientOptions must then
	// say how to trust the devices.
	NoTOFU bool
	// InventoryTimeout bounds each operation of the inventory (default 30 s).
	InventoryTimeout time.Duration

	// Logger receives debug logs (stray pongs, probe failures); nil
	// discards them.
	Logger *slog.Logger
	// Progress, if set, is called every ProgressInterval (default 1 s)
	// and once at the end, from one goroutine.
	Progress         func(Progress)
	ProgressInterval time.Duration
}

// Progress reports how far a scan is.
type Progress struct {
	// Total is the number of addresses (host names count one each).
	Total uint64
	// Done is the number of addresses finished; Found how many were AMT.
	Done, Found uint64
	// Sent counts RMCP pings sent; Pongs the pongs matched to an address;
	// Duplicates second pongs of an address; Stray pongs that matched no
	// address in flight (late, or not ours); Malformed undecodable
	// datagrams.
	Sent, Pongs, Duplicates, Stray, Malformed uint64
	Elapsed                                   time.Duration
	// Rate is addresses finished per second so far.
	Rate float64
}

func (o *Options) normalize(total uint64) error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.RMCPPort, DefaultRMCPPort)
	def(&o.HTTPPort, amt.PortHTTP)
	def(&o.TLSPort, amt.PortTLS)
	def(&o.Rate, DefaultRate)
	def(&o.Concurrency, DefaultConcurrency)
	defd(&o.RMCPRetry, DefaultRMCPRetry)
	defd(&o.RMCPWait, DefaultRMCPWait)
	defd(&o.ConnectTimeout, DefaultConnectTimeout)
	defd(&o.ProbeTimeout, DefaultProbeTimeout)
	defd(&o.InventoryTimeout, DefaultInventoryTimeout)
	defd(&o.ProgressInterval, DefaultProgressInterval)
	if o.MaxAddresses == 0 {
		o.MaxAddresses = DefaultMaxAddresses
	}
	for name, p := range map[string]int{"RMCPPort": o.RMCPPort, "HTTPPort": o.HTTPPort, "TLSPort": o.TLSPort} {
		if p < 1 || p > 65535 {
			return fmt.Errorf("discovery: %s %d out of range", name, p)
		}
	}
	switch {
	case o.Rate < 1 || o.Rate > MaxRate:
		return fmt.Errorf("discovery: Rate %d not in 1..%d packets per second", o.Rate, MaxRate)
	case o.Concurrency < 1 || o.Concurrency > MaxConcurrency:
		return fmt.Errorf("discovery: Concurrency %d not in 1..%d", o.Concurrency, MaxConcurrency)
	case o.RMCPRetry < 0 || o.RMCPWait < 0 || o.ConnectTimeout < 0 || o.ProbeTimeout < 0 || o.InventoryTimeout < 0 || o.ProgressInterval < 0:
		return errors.New("discovery: negative duration")
	case o.Inventory && o.Source == nil:
		return errors.New("discovery: Inventory needs a credentials Source")
	case total > o.MaxAddresses:
		secs := float64(total) * 2 / float64(o.Rate)
		return fmt.Errorf("discovery: %w: %d addresses exceed the limit of %d (Options.MaxAddresses); at %d pings/s the sweep alone would take %s",
			ErrTooManyAddresses, total, o.MaxAddresses, o.Rate, (time.Duration(secs) * time.Second).Round(time.Second))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// item is one address on its way from stage 1 to stage 2.
type item struct {
	target Target
	pong   *Pong
	err    error // stage 1 could not ping it
}

// scanner is the state of one scan.
type scanner struct {
	opts  Options
	total uint64
	start time.Time

	done, found                               atomic.Uint64
	sent, pongs, duplicates, stray, malformed atomic.Uint64
}

// Scan discovers Intel AMT devices at the targets and yields one Result
// per address as soon as it is complete, in no particular order: every
// address where anything answered and, with Options.ReportAll, the silent
// ones too.
//
// Stage 1 sends RMCP presence pings from one UDP socket at Options.Rate,
// two per address, and decodes the pongs. Stage 2 probes the WS-Management
// port a pong names, or both ports of an address that did not answer, over
// TCP without credentials: the Server header of the 401 answer (full
// firmware version), the digest realm, WS-Man Identify and, over TLS, the
// certificate's fingerprint. Stage 3, with Options.Inventory, logs in to
// each provisioned device and reads its capability record.
//
// An error that stops the whole scan (invalid options, too many
// addresses, no UDP socket) is yielded once, with a nil Result, and ends
// the iteration; so is the context's error when ctx ends, after which no
// further result is yielded. Results yielded before that are complete.
// Breaking out of the loop stops the scan; either way every goroutine and
// socket is released before the iteration returns. Memory and sockets are
// bounded by Rate, RMCPWait and Concurrency, whatever the number of
// addresses.
func Scan(ctx context.Context, targets *Targets, opts Options) iter.Seq2[*Result, error] {
	return func(yield func(*Result, error) bool) {
		if targets == nil {
			yield(nil, errors.New("discovery: nil targets"))
			return
		}
		if err := opts.normalize(targets.Len()); err != nil {
			yield(nil, err)
			return
		}
		s := &scanner{opts: opts, total: targets.Len(), start: time.Now()}
		s.run(ctx, targets, yield)
	}
}

func (s *scanner) run(parent context.Context, targets *Targets, yield func(*Result, error) bool) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	var st1 *rmcpStage
	if !s.opts.DisableRMCP {
		var err error
		if st1, err = newRMCPStage(s); err != nil {
			yield(nil, err)
			return
		}
	}

	work := make(chan item, s.opts.Concurrency)
	results := make(chan *Result, s.opts.Concurrency)
	var wg sync.WaitGroup

	// Stage 1 (or a plain feed without RMCP) fills work.
	stage1Err := make(chan error, 1)
	wg.Go(func() {
		defer close(work)
		if st1 != nil {
			stage1Err <- st1.run(ctx, targets, work)
			return
		}
		for t := range targets.Addresses(ctx) {
			select {
			case work <- item{target: t}:
			case <-ctx.Done():
				stage1Err <- nil
				return
			}
		}
		stage1Err <- nil
	})

	// Stages 2 and 3.
	var workers sync.WaitGroup
	for range s.opts.Concurrency {
		workers.Go(func() {
			for it := range work {
				r := s.probe(ctx, it)
				if ctx.Err() != nil {
					continue // cut short: not a result
				}
				s.done.Add(1)
				if r == nil {
					continue
				}
				if r.AMT {
					s.found.Add(1)
				}
				select {
				case results <- r:
				case <-ctx.Done():
				}
			}
		})
	}
	wg.Go(func() {
		workers.Wait()
		close(results)
	})

	// Progress.
	progressDone := make(chan struct{})
	if s.opts.Progress != nil {
		wg.Go(func() {
			t := time.NewTicker(s.opts.ProgressInterval)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					s.opts.Progress(s.progress())
				case <-progressDone:
					return
				}
			}
		})
	}

	stopped := false
	for r := range results {
		if stopped || ctx.Err() != nil {
			continue // drain
		}
		if !yield(r, nil) {
			stopped = true
			cancel()
		}
	}
	close(progressDone)
	wg.Wait()
	err := <-stage1Err
	if s.opts.Progress != nil {
		s.opts.Progress(s.progress())
	}
	if stopped {
		return
	}
	if err == nil {
		err = parent.Err()
	}
	if err != nil {
		if parent.Err() != nil {
			err = fmt.Errorf("discovery: scan stopped: %w", parent.Err())
		}
		yield(nil, err)
	}
}

func (s *scanner) progress() Progress {
	p := Progress{
		Total: s.total, Done: s.done.Load(), Found: s.found.Load(),
		Sent: s.sent.Load(), Pongs: s.pongs.Load(), Duplicates: s.duplicates.Load(),
		Stray: s.stray.Load(), Malformed: s.malformed.Load(),
		Elapsed: time.Since(s.start),
	}
	if secs := p.Elapsed.Seconds(); secs > 0 {
		p.Rate = float64(p.Done) / secs
	}
	return p
}
