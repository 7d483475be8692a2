package amt

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/amtkit/amtkit/wsman"
)

var uriTimeSync = wsman.ResourceURI("AMT_TimeSynchronizationService")

// ClockService reads and sets the device's clock
// (AMT_TimeSynchronizationService). AMT keeps its own clock, which checks
// TLS certificates and stamps the event and audit logs: a device whose
// clock is far off refuses valid certificates and logs misleading times.
// It is safe for concurrent use.
type ClockService struct {
	c   *Client
	now func() time.Time
}

// ClockReading compares the device's clock with the console's.
type ClockReading struct {
	Device  time.Time // the device's clock (whole seconds, UTC)
	Console time.Time // the console's clock when the answer arrived
	// Offset is Device - Console, rounded to the second: positive when
	// the device is ahead.
	Offset time.Duration
}

// Read returns the device's clock (GetLowAccuracyTimeSynch) against the
// console's.
func (s *ClockService) Read(ctx context.Context) (_ *ClockReading, err error) {
	ctx, done := s.c.wsmanTracker(ctx, "time", nil)
	defer func() { done(err) }()
	r, _, err := s.read(ctx)
	if err != nil {
		return nil, s.c.wrap("clock", err)
	}
	return r, nil
}

// Set sets the device's clock from the console's: it reads the device's
// clock and answers with SetHighAccuracyTimeSynch, giving the console's
// time when the reading arrived (Tm1) and when it sends the new time (Tm2),
// as the protocol asks. It returns the reading taken before the change.
func (s *ClockService) Set(ctx context.Context) (_ *ClockReading, err error) {
	ctx, done := s.c.wsmanTracker(ctx, "time set", nil)
	defer func() { done(err) }()
	r, ta0, err := s.read(ctx)
	if err != nil {
		return nil, s.c.wrap("set clock", err)
	}
	ws, err := s.c.conn(ctx)
	if err != nil {
		return nil, s.c.wrap("set clock", err)
	}
	tm2 := s.now().Unix()
	_, err = ws.Invoke(ctx, uriTimeSync, "SetHighAccuracyTimeSynch", []wsman.Property{
		wsman.Param("Ta0", ta0),
		wsman.Param("Tm1", strconv.FormatInt(r.Console.Unix(), 10)),
		wsman.Param("Tm2", strconv.FormatInt(tm2, 10)),
	})
	if err != nil {
		return nil, s.c.wrap("set clock", err)
	}
	return r, nil
}

func (s *ClockService) read(ctx context.Context) (*ClockReading, string, error) {
	ws, err := s.c.conn(ctx)
	if err != nil {
		return nil, "", err
	}
	out, err := ws.Invoke(ctx, uriTimeSync, "GetLowAccuracyTimeSynch", nil)
	if err != nil {
		return nil, "", err
	}
	console := s.now().UTC().Truncate(time.Second)
	dev, ta0, err := decodeTa0(out)
	if err != nil {
		return nil, "", err
	}
	return &ClockReading{Device: dev, Console: console, Offset: dev.Sub(console)}, ta0, nil
}

// decodeTa0 reads the device time of a GetLowAccuracyTimeSynch output:
// Ta0, seconds since 1970 (UTC).
func decodeTa0(out *wsman.Instance) (time.Time, string, error) {
	ta0 := strings.TrimSpace(out.String("Ta0"))
	secs, err := strconv.ParseUint(ta0, 10, 32)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%w: GetLowAccuracyTimeSynch Ta0 %q is not a 32-bit count of seconds", wsman.ErrMalformedResponse, ta0)
	}
	return time.Unix(int64(secs), 0).UTC(), ta0, nil
}
