package statedb_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/statedb"
	"github.com/amtkit/amtkit/statedb/statedbtest"
)

// The helper process of TestManyProcesses: it opens the database named by
// these variables (laying it out if it is the first), writes its records and
// reports the longest single operation.
const (
	childTarget = "STATEDB_TEST_CHILD_TARGET"
	childKey    = "STATEDB_TEST_CHILD_KEY"
	childID     = "STATEDB_TEST_CHILD_ID"
	childWrites = 20
)

func TestMain(m *testing.M) {
	if target := os.Getenv(childTarget); target != "" {
		os.Exit(child(target))
	}
	os.Exit(m.Run())
}

func child(target string) int {
	ctx := context.Background()
	id := os.Getenv(childID)
	start := time.Now()
	db, err := statedb.Open(ctx, target, statedb.WithKeyFile(os.Getenv(childKey)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	defer db.Close()
	opened := time.Since(start)
	var longest time.Duration
	s := db.Credentials()
	step := func(fn func() error) error {
		t0 := time.Now()
		err := fn()
		longest = max(longest, time.Since(t0))
		return err
	}
	for i := range childWrites {
		name := fmt.Sprintf("p-%s-%d", id, i)
		if err := step(func() error {
			return s.PutProfile(ctx, credentials.Profile{Name: name, Entries: map[credentials.Technology]credentials.Credential{
				credentials.AMT: {User: "admin", Password: secret},
			}})
		}); err != nil {
			fmt.Fprintln(os.Stderr, "put profile:", err)
			return 1
		}
		if err := step(func() error {
			return s.PutRuntime(ctx, fmt.Sprintf("10.%s.0.%d", id, i), credentials.RuntimeEntry{Credential: credentials.Credential{User: "admin", Password: secret}, LearnedAt: time.Now()})
		}); err != nil {
			fmt.Fprintln(os.Stderr, "put runtime:", err)
			return 1
		}
		if err := step(func() error { _, err := s.Profiles(ctx); return err }); err != nil {
			fmt.Fprintln(os.Stderr, "profiles:", err)
			return 1
		}
		db.Activity().Record(amt.Activity{Host: "h-" + id, Operation: "power status", Outcome: amt.OutcomeOK, Actor: id})
	}
	if err := step(db.Activity().Flush); err != nil {
		fmt.Fprintln(os.Stderr, "activity:", err)
		return 1
	}
	fmt.Println(opened.Microseconds(), longest.Microseconds())
	return 0
}

// TestManyProcesses: 2, 10 and 50 processes open one new database at once
// (racing to lay it out) and write profiles, runtime entries and activity
// entries; nothing is lost, and every process's longest single operation is
// reported (waiting for the others' writes is all it may cost).
func TestManyProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 62 processes")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, e := range statedbtest.Engines() {
		// 50 processes, with the race detector too: the write gate
		// queues their writers, so none waits out the busy timeout.
		counts := []int{2, 10, 50}
		for _, n := range counts {
			t.Run(fmt.Sprintf("%s/%d", e.Name, n), func(t *testing.T) {
				target := e.Target(t)
				key := keyFor(t, target)
				var (
					wg          sync.WaitGroup
					mu          sync.Mutex
					longest     time.Duration // one operation after the open
					longestOpen time.Duration // the open, with the race to lay the database out
				)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						cmd := exec.Command(exe, "-test.run=^$")
						cmd.Env = append(os.Environ(), childTarget+"="+target, childKey+"="+key, childID+"="+strconv.Itoa(i+1))
						out, err := cmd.Output()
						var stderr string
						if ee, ok := err.(*exec.ExitError); ok {
							stderr = string(ee.Stderr)
						}
						if !assert.NoError(t, err, "process %d: %s", i+1, stderr) {
							return
						}
						var openUS, opUS int64
						_, err = fmt.Sscan(string(out), &openUS, &opUS)
						require.NoError(t, err)
						mu.Lock()
						longest = max(longest, time.Duration(opUS)*time.Microsecond)
						longestOpen = max(longestOpen, time.Duration(openUS)*time.Microsecond)
						mu.Unlock()
					}()
				}
				wg.Wait()
				t.Logf("%d processes at once: longest open %v, longest single operation after it %v", n, longestOpen, longest)

				db, err := statedb.Open(context.Background(), target, statedb.WithKeyFile(key))
				require.NoError(t, err)
				defer db.Close()
				ps, err := db.Credentials().Profiles(context.Background())
				require.NoError(t, err)
				assert.Len(t, ps, n*childWrites, "every profile written")
				rs, err := db.Credentials().RuntimeEntries(context.Background())
				require.NoError(t, err)
				assert.Len(t, rs, n*childWrites, "every runtime entry written")
				st, err := db.ActivityStats(context.Background())
				require.NoError(t, err)
				assert.EqualValues(t, n*childWrites, st.Count, "every activity entry written")
				v, err := db.Schema(context.Background())
				require.NoError(t, err)
				assert.Equal(t, v.AmtkitKnown, v.Amtkit)
			})
		}
	}
}

// TestLongReaderBlocksNoWriter: a process that keeps the database open (a
// long command) with a transaction-free session does not stop another
// from writing.
func TestLongReaderBlocksNoWriter(t *testing.T) {
	each(t, func(t *testing.T, target string) {
		ctx := context.Background()
		long := open(t, target)
		_, err := long.Credentials().Profiles(ctx) // in use, as a long command's store is
		require.NoError(t, err)
		other := long.reopen(t)
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		require.NoError(t, other.Credentials().PutProfile(ctx, credentials.Profile{Name: "x",
			Entries: map[credentials.Technology]credentials.Credential{credentials.AMT: {User: "u", Password: "p"}}}))
		_, err = long.Credentials().Profile(ctx, "x")
		require.NoError(t, err, "the long-lived handle sees the other's write")
	})
}
