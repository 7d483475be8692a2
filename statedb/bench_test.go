package statedb_test

import (
	"context"
	"testing"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/statedb"
	"github.com/amtkit/amtkit/statedb/statedbtest"
)

// BenchmarkActivityWrite measures activity-log writes per second through
// the batched writer: b.N entries recorded, then flushed.
func BenchmarkActivityWrite(b *testing.B) {
	for _, e := range statedbtest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			db := open(b, e.Target(b))
			w := db.Activity()
			code := 2
			a := amt.Activity{
				Actor: "bench", Host: "192.0.2.10", Operation: "power reset", Params: map[string]string{"wait": "true"},
				Technology: amt.TechWSMan, Profile: "office", Outcome: "device_error", ReturnCode: &code, ReturnCodeName: "Unsupported",
				Duration: 120 * time.Millisecond, Message: "CIM_PowerManagementService.RequestPowerStateChange returned 2",
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				a.Time = time.Now()
				w.Record(a)
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
		})
	}
}

// BenchmarkOpenExisting measures what a short command such as amtctl power
// status spends opening an existing state database (schema checks and the
// key check included) and closing it.
func BenchmarkOpenExisting(b *testing.B) {
	for _, e := range statedbtest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			first := open(b, e.Target(b))
			target, key := first.target, first.key
			if err := first.Close(); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				db, err := statedb.Open(ctx, target, statedb.WithKeyFile(key))
				if err != nil {
					b.Fatal(err)
				}
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
