package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/redirect"
)

// iderRecord is Result.Data of an IDE-R boot.
type iderRecord struct {
	PowerAction *string  `json:"power_action"`
	BytesServed int64    `json:"bytes_served"`
	Restored    []string `json:"restored"`
}

// iderBoot boots the machine from the task's image, under the run's IDE-R
// limit, and serves it until the machine stops reading.
func (r *Runner) iderBoot(ctx context.Context, c *amt.Client) (json.RawMessage, error) {
	select {
	case r.ider <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-r.ider }()
	f, err := os.Open(r.task.Image)
	if err != nil {
		return nil, fmt.Errorf("fleet: image: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("fleet: image: %w", err)
	}
	m := &redirect.Medium{Reader: f, Size: st.Size()}
	opts := redirect.BootOptions{IdleTimeout: time.Duration(r.task.ServeIdle)}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultServeIdle
	}
	if r.prep.media == "floppy" {
		opts.Media.Floppy, opts.Device = m, power.BootIDERFloppy
	} else {
		opts.Media.CD, opts.Device = m, power.BootIDERCD
	}
	res, err := c.Redirect.BootFromImage(ctx, opts)
	if err != nil {
		return nil, err
	}
	rec := iderRecord{PowerAction: actionName(res.Action != 0, res.Action), Restored: res.Restored}
	if rec.Restored == nil {
		rec.Restored = []string{}
	}
	if res.Stats != nil {
		rec.BytesServed = res.Stats.BytesServed
	}
	return marshal(rec)
}
