package amt

import (
	"context"
	"errors"

	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/wsman"
)

// trialKey carries, during Authorize, the candidate on trial (its WS-Man
// client and its credential), so that the operation's calls, WS-Man and
// redirection alike, use it.
type trialKey struct{ c *Client }

type trialCandidate struct {
	ws   *wsman.Client
	cred credentials.Credential
}

func (c *Client) trialOf(ctx context.Context) *trialCandidate {
	t, _ := ctx.Value(trialKey{c}).(*trialCandidate)
	return t
}

func (c *Client) trial(ctx context.Context) *wsman.Client {
	if t := c.trialOf(ctx); t != nil {
		return t.ws
	}
	return nil
}

// Authorize runs op, an operation that changes the device (a power change,
// a boot setting) through the client's services, so that the credential
// source's fallback covers what the operation needs and not only the login.
// While the client has not yet chosen its credential, each candidate that
// logs in runs op; one that the device refuses the operation
// (AccessDenied: a read-only account, say) gives way to the next candidate,
// which costs no failed login; and only a candidate for which op succeeds
// is remembered in the runtime profile, marked as one that has made
// changes, so that a read-only account never displaces it. The error is
// op's. Once the client has chosen its credential (an earlier call, or
// WithCredentials), Authorize just runs op.
//
// The operation may open redirection sessions (RedirectService.Dial and
// BootFromImage run under Authorize): a candidate that logs in over WS-Man
// but whose redirection login is refused (an account without the
// redirection right) gives way to the next candidate like a failed login,
// and counts as one in the lockout guard, because the device's answer does
// not say which it was.
//
// op must not be resent blindly: Authorize runs it again with another
// candidate only after an authentication failure or AccessDenied, where the
// device did not act (or, for a boot from an image, put back what it had
// changed). op runs under ctx, not under the source's per-attempt timeout,
// which bounds the login only. Authorize inside op (nested) just runs the
// inner operation with the candidate on trial.
func (c *Client) Authorize(ctx context.Context, op func(ctx context.Context) error) error {
	if c.trialOf(ctx) != nil {
		return op(ctx)
	}
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws != nil || c.src == nil {
		return op(ctx)
	}
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return c.wrap("login", ctx.Err())
	}
	released := false
	release := func() {
		if !released {
			released = true
			<-c.turn
		}
	}
	defer release()
	c.mu.Lock()
	ws, latched := c.ws, c.latched
	c.mu.Unlock()
	if ws != nil {
		release()
		return op(ctx)
	}
	if latched != nil {
		return latched
	}
	var (
		winner     *wsman.Client
		winnerCred credentials.Credential
		opErr      error
	)
	outer := ctx
	cand, attempts, err := c.src.Resolve(credentials.ForChange(ctx), c.host, func(ctx context.Context, cred credentials.Credential) error {
		w, err := c.candidateWS(&cred)
		if err != nil {
			return err
		}
		if _, err := w.Get(ctx, uriGeneralSettings); err != nil {
			w.CloseIdleConnections()
			return c.wrap("login", err)
		}
		// The operation runs under the caller's context: the attempt's
		// timeout bounds the login, not a boot that serves for minutes.
		if err := op(context.WithValue(outer, trialKey{c}, &trialCandidate{ws: w, cred: cred})); err != nil {
			w.CloseIdleConnections()
			opErr = err
			return err
		}
		winner, winnerCred = w, cred
		return nil
	})
	res := &Resolution{Origin: cand.Origin, Profile: cand.Profile, Attempts: attempts, Err: err}
	c.mu.Lock()
	c.res = res
	if err == nil {
		c.ws, c.cred = winner, &winnerCred
	}
	c.mu.Unlock()
	if err == nil {
		return nil
	}
	if opErr != nil && errors.Is(err, opErr) {
		// The operation's own failure: it has its classification and
		// its context already.
		return opErr
	}
	err = c.wrap("login", err)
	c.mu.Lock()
	c.latch(err)
	c.mu.Unlock()
	return err
}
