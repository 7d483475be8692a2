package amt

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/redirect"
	"github.com/amtkit/amtkit/wsman"
)

// RedirectService opens the machine's redirection sessions (IDE-R, SOL) on
// TCP 16994, or 16995 when the client uses TLS, with the credential the
// client logs in with and its TLS verification settings.
type RedirectService struct {
	c    *Client
	port int
}

// Addr returns host:port of the redirection port.
func (r *RedirectService) Addr() string {
	u, err := url.Parse(r.c.url)
	if err != nil {
		return ""
	}
	port := r.port
	if port == 0 {
		port = redirect.PortRedirect
		if u.Scheme == "https" {
			port = redirect.PortRedirectTLS
		}
	}
	return net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
}

func (r *RedirectService) options() redirect.Options {
	var opts redirect.Options
	if u, err := url.Parse(r.c.url); err == nil && u.Scheme == "https" {
		t := r.c.tlsCfg
		opts.TLS = &t
	}
	return opts
}

// dialer returns a redirect.DialFunc with the client's credential, logging
// in over WS-Man first when the credential is still to be chosen. Within
// Authorize it dials with the candidate on trial, whose login the
// resolution has reserved in the lockout guard already.
func (r *RedirectService) dialer(ctx context.Context) (redirect.DialFunc, error) {
	if t := r.c.trialOf(ctx); t != nil {
		return redirect.Dialer(r.Addr(), t.cred, r.options()), nil
	}
	if _, err := r.c.conn(ctx); err != nil {
		return nil, err
	}
	r.c.mu.Lock()
	cred := r.c.cred
	r.c.mu.Unlock()
	if cred == nil {
		return nil, &Error{Host: r.c.host, Op: "redirect", Kind: ErrAuthFailed, Err: wsman.ErrUnauthorized}
	}
	dial := redirect.Dialer(r.Addr(), *cred, r.options())
	// The redirection login counts towards the device's lockout like a
	// WS-Man login: it goes through the same guard (the client's own for
	// a source that guards nothing).
	g := r.c.guard
	if gs, ok := r.c.src.(credentials.Guarded); ok {
		g = gs.Guard()
	}
	c, addr := *cred, r.Addr()
	return func(ctx context.Context, kind redirect.Kind) (s *redirect.Session, err error) {
		err = g.Login(ctx, addr, credentials.AMT, c, func(err error) bool { return errors.Is(err, redirect.ErrAuthFailed) },
			func(ctx context.Context) error { s, err = dial(ctx, kind); return err })
		return s, err
	}, nil
}

// Dial opens a redirection session of kind. While the client has not yet
// chosen its credential it runs under Authorize: a candidate that logs in
// over WS-Man but is refused at the redirection port gives way to the next
// one, and the credential that opened the session is the one kept.
func (r *RedirectService) Dial(ctx context.Context, kind redirect.Kind) (_ *redirect.Session, err error) {
	op := "ider session"
	if kind == redirect.SOL {
		op = "sol"
	}
	ctx, done := r.c.TrackContext(ctx, op, TechRedirection, map[string]string{"port": r.Addr()})
	defer func() { done(err) }()
	var s *redirect.Session
	err = r.c.Authorize(ctx, func(ctx context.Context) error {
		dial, err := r.dialer(ctx)
		if err != nil {
			return r.c.wrap("redirect", err)
		}
		s, err = dial(ctx, kind)
		return r.c.wrap("redirect", err)
	})
	if err != nil {
		return nil, r.c.wrap("redirect", err)
	}
	return s, nil
}

// BootFromImage boots the machine once from the image opts describe, served
// over IDE-R, and restores the boot settings and the redirection state
// afterwards; see redirect.BootFromImage. While the client has not yet
// chosen its credential it runs under Authorize: a candidate refused a
// change (AccessDenied) or refused at the redirection port gives way to the
// next, after what the attempt changed was put back; no power change is
// sent before the IDE-R session is open, so none is sent twice.
func (r *RedirectService) BootFromImage(ctx context.Context, opts redirect.BootOptions) (_ *redirect.BootResult, err error) {
	ctx, done := r.c.TrackContext(ctx, "ider boot", TechRedirection, bootImageParams(opts, r.Addr()))
	defer func() { done(err) }()
	var res *redirect.BootResult
	err = r.c.Authorize(ctx, func(ctx context.Context) error {
		dial, err := r.dialer(ctx)
		if err != nil {
			return r.c.wrap("boot from image", err)
		}
		ws, err := r.c.conn(ctx)
		if err != nil {
			return r.c.wrap("boot from image", err)
		}
		res, err = redirect.BootFromImage(ctx, ws, r.c.Power, dial, opts)
		return r.c.wrap("boot from image", err)
	})
	return res, r.c.wrap("boot from image", err)
}

// Restore puts back what an unfinished boot from an image recorded in
// journal for this device (a console killed before it restored the
// settings), and removes the record when everything is back. It returns
// what was put back; nil and no error when there was no record.
func (r *RedirectService) Restore(ctx context.Context, journal redirect.Journal) (_ []string, err error) {
	ctx, done := r.c.TrackContext(ctx, "ider restore", TechWSMan, nil)
	defer func() { done(err) }()
	rec, err := journal.Get(ctx, r.c.host)
	if err != nil || rec == nil {
		return nil, r.c.wrap("restore", err)
	}
	var restored []string
	err = r.c.Authorize(ctx, func(ctx context.Context) error {
		ws, err := r.c.conn(ctx)
		if err != nil {
			return r.c.wrap("restore", err)
		}
		restored, err = redirect.RestoreFromRecord(ctx, ws, r.c.Power, rec)
		return r.c.wrap("restore", err)
	})
	if err != nil {
		return restored, r.c.wrap("restore", err)
	}
	return restored, r.c.wrap("restore", journal.Done(ctx, r.c.host))
}

// State reads the redirection state (AMT_RedirectionService).
func (r *RedirectService) State(ctx context.Context) (_ *redirect.State, err error) {
	ctx, done := r.c.TrackContext(ctx, "redirect status", TechWSMan, nil)
	defer func() { done(err) }()
	ws, err := r.c.conn(ctx)
	if err != nil {
		return nil, r.c.wrap("redirection state", err)
	}
	st, err := redirect.ReadState(ctx, ws)
	return st, r.c.wrap("redirection state", err)
}

// SetState changes the redirection state; see redirect.SetState. It runs
// under Authorize, so that a candidate refused the change gives way to the
// next.
func (r *RedirectService) SetState(ctx context.Context, ch redirect.StateChange) (_ *redirect.State, err error) {
	ctx, done := r.c.TrackContext(ctx, "redirect set", TechWSMan, stateChangeParams(ch))
	defer func() { done(err) }()
	var st *redirect.State
	err = r.c.Authorize(ctx, func(ctx context.Context) error {
		ws, err := r.c.conn(ctx)
		if err != nil {
			return r.c.wrap("redirection state", err)
		}
		st, err = redirect.SetState(ctx, ws, ch)
		return r.c.wrap("redirection state", err)
	})
	return st, r.c.wrap("redirection state", err)
}

// RefusalReason says why the device would refuse a session of kind; see
// redirect.RefusalReason.
func (r *RedirectService) RefusalReason(ctx context.Context, kind redirect.Kind) (string, error) {
	ws, err := r.c.conn(ctx)
	if err != nil {
		return "", r.c.wrap("redirection state", err)
	}
	why, err := redirect.RefusalReason(ctx, ws, kind)
	return why, r.c.wrap("redirection state", err)
}

// bootImageParams are the parameters of a boot from an image worth
// recording: the device, the media's sizes and the stop conditions.
func bootImageParams(opts redirect.BootOptions, port string) map[string]string {
	p := map[string]string{"port": port}
	dev := opts.Device
	if dev == 0 {
		// BootFromImage's choice.
		dev = power.BootIDERCD
		if opts.Media.CD == nil {
			dev = power.BootIDERFloppy
		}
	}
	p["device"] = dev.String()
	if m := opts.Media.CD; m != nil {
		p["cd_bytes"] = strconv.FormatInt(m.Size, 10)
	}
	if m := opts.Media.Floppy; m != nil {
		p["floppy_bytes"] = strconv.FormatInt(m.Size, 10)
	}
	if opts.SOL {
		p["sol"] = "true"
	}
	if opts.StopAfterBytes > 0 {
		p["until_bytes"] = strconv.FormatInt(opts.StopAfterBytes, 10)
	}
	if opts.IdleTimeout > 0 {
		p["idle"] = opts.IdleTimeout.String()
	}
	return p
}

// stateChangeParams are the redirection features a change sets.
func stateChangeParams(ch redirect.StateChange) map[string]string {
	p := map[string]string{}
	for name, v := range map[string]*bool{"ider": ch.IDER, "sol": ch.SOL, "listener": ch.Listener} {
		if v != nil {
			p[name] = strconv.FormatBool(*v)
		}
	}
	return p
}
