package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/amtkit/amtkit/amt"
	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/credentials"
)

// credentialChoice is what the operator said about credentials on the
// command line.
type credentialChoice struct {
	// task is --user/--password (or AMT_PASSWORD); nil when no password
	// was given.
	task *credentials.Credential
	// profile is --profile.
	profile string
	// state is --state.
	state string
	// fallback is --fallback: after the task credential, try the SDK's
	// ordered fallback (the named or default profile, then the runtime
	// entry). Without it an explicit credential is tried alone.
	fallback bool
	// remember is --remember: a task credential that worked is written to
	// the runtime profile. Without it a password given on the command line
	// or in the environment never reaches the disk.
	remember bool
}

// haveCandidates reports whether any credential applies to host: a task
// credential, a named profile, the default profile or a runtime entry.
func haveCandidates(ctx context.Context, store credentials.Store, ch credentialChoice, host string) (bool, error) {
	if ch.task != nil || ch.profile != "" {
		return true, nil
	}
	if _, ok, err := store.Runtime(ctx, host); err != nil || ok {
		return ok, err
	}
	ps, err := store.Profiles(ctx)
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if p.Default {
			return true, nil
		}
	}
	return false, nil
}

// credentialSource opens the local state and builds the source a device
// command logs in with. Every login goes through the lockout guard kept in
// the state, so that separate amtctl processes share one count per device.
// The store is returned for closing.
func credentialSource(cmd *cobra.Command, ch credentialChoice, stderr io.Writer) (credentials.Source, credentials.Store, error) {
	ctx := cmd.Context()
	db, shared, err := openShared(cmd, ch.state)
	if err != nil {
		return nil, nil, err
	}
	store := &stateStore{Credentials: db.Credentials(), db: db, shared: shared}
	src, err := resolverSource(ctx, store, ch, stderr)
	if err != nil {
		_ = store.Close()
		return nil, nil, err
	}
	return src, store, nil
}

func resolverSource(ctx context.Context, store credentials.Store, ch credentialChoice, stderr io.Writer) (credentials.Source, error) {
	if ch.profile != "" {
		if _, err := store.Profile(ctx, ch.profile); err != nil {
			if errors.Is(err, credentials.ErrNotFound) {
				return nil, usageError{fmt.Errorf("--profile %s: no such profile (see amtctl creds profile list)", ch.profile)}
			}
			return nil, fmt.Errorf("credential store: %w", err)
		}
	}
	var gopts []credentials.GuardOption
	if gs, ok := store.(credentials.GuardStore); ok {
		gopts = append(gopts, credentials.GuardStorage(gs))
	}
	budget, err := guardBudget(ctx, store)
	if err != nil {
		return nil, err
	}
	if !budget.safe() && stderr != nil {
		fmt.Fprintf(stderr, "amtctl: warning: %s (amtctl creds guard set)\n", budget)
	}
	guard := credentials.NewGuard(budget.MaxFailures, budget.Window, gopts...)
	opts := []credentials.Option{credentials.WithGuard(guard), credentials.RememberTask(ch.remember)}
	if ch.profile != "" {
		opts = append(opts, credentials.WithProfile(ch.profile))
	}
	if ch.task != nil && !ch.fallback {
		// An explicit credential is exclusive: it alone is tried.
		opts = append(opts, credentials.WithOrder(credentials.Task))
	}
	r, err := credentials.NewResolver(store, opts...)
	if err != nil {
		return nil, usageError{err}
	}
	return &noticeSource{src: r.For(ch.task), guard: guard, stderr: stderr}, nil
}

// noticeSource says on stderr when a fallback candidate was used: one that
// was not the first to be tried.
type noticeSource struct {
	src    credentials.Source
	guard  *credentials.Guard
	stderr io.Writer
}

func (n *noticeSource) Guard() *credentials.Guard { return n.guard }

func (n *noticeSource) Resolve(ctx context.Context, host string, try func(context.Context, credentials.Credential) error) (credentials.Candidate, []credentials.Attempt, error) {
	cand, attempts, err := n.src.Resolve(ctx, host, try)
	if err == nil && usedFallback(attempts) && n.stderr != nil {
		fmt.Fprintf(n.stderr, "amtctl: %s: logged in with fallback credentials: %s\n", credentials.DeviceKey(host), candidateName(cand.Origin, cand.Profile))
	}
	return cand, attempts, err
}

// usedFallback reports whether the candidate that worked came after another
// one in the order (tried, skipped or refused).
func usedFallback(attempts []credentials.Attempt) bool {
	for i, a := range attempts {
		if a.Outcome == credentials.Succeeded {
			return i > 0
		}
	}
	return false
}

// candidateName names a candidate by its origin and profile, never by its
// user or secret.
func candidateName(o credentials.Origin, profile string) string {
	switch {
	case o == credentials.Runtime && profile != "":
		return fmt.Sprintf("the runtime entry (learned from profile %q)", profile)
	case o == credentials.Runtime:
		return "the runtime entry"
	case o == credentials.Task:
		return "--user/--password"
	case o == credentials.Default:
		return fmt.Sprintf("default profile %q", profile)
	}
	return fmt.Sprintf("profile %q", profile)
}

// credentialUse is the "credentials" object of a command's JSON: which
// candidate logged in (by origin and profile name, never the user or the
// secret) and whether it was a fallback one. nil when the client had fixed
// credentials or has not logged in.
type credentialUse struct {
	Origin   string  `json:"origin"`
	Profile  *string `json:"profile"` // null without a profile
	Fallback bool    `json:"fallback"`
}

func credentialsUsed(c *amt.Client) *credentialUse {
	res := c.Resolution()
	if res == nil || res.Err != nil {
		return nil
	}
	return &credentialUse{Origin: res.Origin.String(), Profile: str(res.Profile), Fallback: usedFallback(res.Attempts)}
}
