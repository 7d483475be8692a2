package redirect_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/redirect"
	"github.com/amtkit/amtkit/wsman"
)

// patternImage is a CD image of any size that costs no memory: an El
// Torito boot record and catalog from a real small image, a pattern
// everywhere else.
type patternImage struct {
	head []byte
	size int64
}

func (p patternImage) ReadAt(b []byte, off int64) (int, error) {
	for i := range b {
		o := off + int64(i)
		if o < int64(len(p.head)) {
			b[i] = p.head[o]
		} else {
			b[i] = byte(o * 31)
		}
	}
	return len(b), nil
}

// BenchmarkSimBootFromImage boots the in-process simulator from an image
// whose every block its BIOS reads (IDERReadLimit -1) in 64 KiB READs,
// through BootFromImage. It reports MB/s and the peak Go heap of the whole
// process (simulator included) sampled every 5ms.
func BenchmarkSimBootFromImage(b *testing.B) {
	for _, size := range []int64{256 << 20, 1 << 30} {
		b.Run(fmt.Sprintf("image=%dMiB", size>>20), func(b *testing.B) {
			sim, err := amtsim.New(amtsim.Options{TransitionTime: time.Millisecond, IDERReadLimit: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer sim.Close()
			dev := sim.Devices()[0]
			ws, err := wsman.NewClient(sim.URL()+"/wsman", wsman.WithCredentials("admin", "P@ssw0rd1"))
			if err != nil {
				b.Fatal(err)
			}
			defer ws.CloseIdleConnections()
			pw := power.New(ws, power.WithPollInterval(5*time.Millisecond), power.WithMinGap(0))
			img := patternImage{head: isoImage(64, 8), size: size}
			media := redirect.IDERMedia{CD: &redirect.Medium{Reader: img, Size: size}}
			dial := redirect.Dialer(dev.RedirectAddr(), simCred, redirect.Options{})
			var peak atomic.Uint64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				var ms runtime.MemStats
				for {
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}()
			b.SetBytes(size)
			b.ResetTimer()
			n := 0
			for b.Loop() {
				n++
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				go func(n int) { _, _ = dev.WaitIDERBoot(ctx, n) }(n)
				res, err := redirect.BootFromImage(ctx, ws, pw, dial, redirect.BootOptions{Media: media, IdleTimeout: 200 * time.Millisecond})
				if err != nil {
					cancel()
					b.Fatal(err)
				}
				boot, err := dev.WaitIDERBoot(ctx, n)
				cancel()
				if err != nil || !boot.OK || res.Stats.BytesServed < size {
					b.Fatal(err, boot.Err, res.Stats.BytesServed)
				}
			}
			b.StopTimer()
			close(stop)
			<-sampled
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		})
	}
}
