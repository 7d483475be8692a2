package amt_test

import (
	"context"
	"errors"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/internal/recordings"
	"github.com/amtkit/amtkit/wsman"
)

// TestFirstConnection does what a MeshCommander-style console does on its
// first connection, through the SDK's own WS-Man client: an Enumerate and
// Pulls, and a Get where the class has a single instance, of every class
// the recordings hold a Get or Pull response of. Every class but the one
// amtsim's doc names as not served is answered and decodes.
func TestFirstConnection(t *testing.T) {
	t.Parallel()
	dir := recordings.Dir(t)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var classes []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), "_") || e.Name() == "Fault" || strings.Contains(e.Name(), "__") {
			continue
		}
		files, _ := os.ReadDir(dir + "/" + e.Name())
		for _, f := range files {
			if strings.HasPrefix(f.Name(), "GetResponse") || strings.HasPrefix(f.Name(), "PullResponse") {
				classes = append(classes, e.Name())
				break
			}
		}
	}
	sort.Strings(classes)
	_, dev := newSim(t, amtsim.Options{Version: "16.1.25.2124", RMCPPort: -1})
	c := newClient(t, dev.HTTPAddr(), amt.WithCredentials(user, password))
	ctx := context.Background()
	_, err = c.Inventory(ctx) // logs in
	require.NoError(t, err)
	ws := c.WSMan()
	answered := 0
	var unserved []string
	for _, class := range classes {
		ins, err := ws.EnumerateAll(ctx, wsman.ResourceURI(class))
		if errors.Is(err, wsman.ErrDestinationUnreachable) {
			unserved = append(unserved, class)
			continue
		}
		require.NoError(t, err, class)
		if len(ins) == 1 {
			_, err := ws.Get(ctx, wsman.ResourceURI(class))
			require.NoError(t, err, class)
		}
		answered++
	}
	t.Logf("%d of %d classes with a Get or Pull capture answered; not served: %v", answered, len(classes), unserved)
	assert.Equal(t, []string{"CIM_WiFiEndpoint"}, unserved)
}
