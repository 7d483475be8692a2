package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/credentials"
)

// deviceFlags are the connection flags every device command takes.
type deviceFlags struct {
	host     string
	user     string
	password string
	useTLS   bool
	caFile   string
	pins     []string
	legacy   bool
	insecure bool
	output   string
	timeout  time.Duration
	verbose  bool
	profile  string
	state    string
	fallback bool
	remember bool
	// passwordStdin: read the password from standard input (without echo
	// on a terminal).
	passwordStdin bool
	// optionalCredentials: the command does something useful without
	// credentials (info), so none are asked for.
	optionalCredentials bool

	extra       []amt.Option      // options a command adds to the flags
	store       credentials.Store // opened by client, closed by close
	credentials bool              // some credential or profile applies
}

func (f *deviceFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.host, "host", "", "device address, host or host:port (or set AMT_HOST)")
	fl.StringVarP(&f.user, "user", "u", "admin", "AMT user (or set AMT_USER)")
	fl.StringVarP(&f.password, "password", "p", "", "AMT password (prefer AMT_PASSWORD or --password-stdin: the command line is visible to others)")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from standard input (without echo on a terminal)")
	fl.BoolVar(&f.useTLS, "tls", false, "use TLS (port 16993)")
	fl.StringVar(&f.caFile, "ca", "", "PEM file of CA certificates that issued the device certificate (implies --tls)")
	fl.StringSliceVar(&f.pins, "pin", nil, "trust the device certificate with this SHA-256 fingerprint (implies --tls)")
	fl.BoolVar(&f.legacy, "legacy-tls", false, "allow TLS 1.0/1.1 and RSA key exchange for old firmware (implies --tls)")
	fl.BoolVar(&f.insecure, "insecure-skip-verify", false, "accept any TLS certificate: open to interception (implies --tls)")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	fl.DurationVar(&f.timeout, "timeout", 60*time.Second, "timeout of each operation")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log requests to stderr")
	fl.StringVar(&f.profile, "profile", "", "credential profile to log in with (else the default profile)")
	fl.BoolVar(&f.fallback, "fallback", false, "after --user/--password, fall back to --profile (or the default profile) and the runtime entry")
	fl.BoolVar(&f.remember, "remember", false, "remember --user/--password (or AMT_PASSWORD) in the runtime profile when it works")
	registerStateFlag(fl, &f.state)
}

func (f *deviceFlags) validate(cmd *cobra.Command) error {
	if f.host == "" {
		return usageError{errors.New("--host is required (or set AMT_HOST)")}
	}
	return firstError(
		checkHost("--host", f.host),
		checkOneOf("--output", f.output, "table", "json"),
		checkPositive("--timeout", f.timeout),
		checkConflict(cmd, "pin", "insecure-skip-verify"),
		checkConflict(cmd, "ca", "insecure-skip-verify"),
		checkConflict(cmd, "password", "password-stdin"),
	)
}

// client builds the SDK client the flags describe.
func (f *deviceFlags) client(cmd *cobra.Command) (*amt.Client, error) {
	if err := f.validate(cmd); err != nil {
		return nil, err
	}
	if f.passwordStdin {
		pw, err := readSecret(cmd, fmt.Sprintf("Password for %s@%s: ", f.user, f.host))
		if err != nil {
			return nil, err
		}
		f.password = pw
	}
	var opts []amt.Option
	src, err := f.source(cmd)
	if err != nil {
		return nil, err
	}
	if src == nil && !f.optionalCredentials {
		// Nothing to log in with: ask on a terminal, else say how.
		pw, err := promptSecret(cmd, fmt.Sprintf("Password for %s@%s: ", f.user, f.host),
			"give --password-stdin, AMT_PASSWORD or --profile")
		if err != nil {
			return nil, err
		}
		f.password = pw
		if src, err = f.source(cmd); err != nil {
			return nil, err
		}
	}
	if src != nil {
		opts = append(opts, amt.WithCredentialSource(src))
	}
	if f.useTLS {
		opts = append(opts, amt.WithTLS())
	}
	if f.caFile != "" {
		_, pool, err := readCAFile(f.caFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, amt.WithRootCAs(pool))
	}
	for _, p := range f.pins {
		opts = append(opts, amt.WithPinnedCertificate(p))
	}
	if f.legacy {
		opts = append(opts, amt.WithLegacyTLS())
	}
	if f.insecure {
		opts = append(opts, amt.WithInsecureSkipVerify())
	}
	opts = append(opts, amt.WithTimeout(f.timeout))
	if f.verbose {
		opts = append(opts, amt.WithLogger(f.logger(cmd)))
	}
	opts = append(opts, f.extra...)
	c, err := amt.New(f.host, opts...)
	if err != nil {
		// New does no I/O: whatever it refuses came from the flags.
		return nil, usageError{err}
	}
	noteClient(cmd.Context(), c, f.state)
	warnUnfinishedRestore(cmd, f.state, c.Host())
	return c, nil
}

func (f *deviceFlags) hasPassword() bool {
	return f.password != "" || os.Getenv("AMT_PASSWORD") != ""
}

// source chooses where credentials come from (see credentialSource):
// --user/--password (or AMT_PASSWORD) alone unless --fallback, else the
// named or default profile and the runtime entry; every login under the
// lockout guard kept in the local state.
func (f *deviceFlags) source(cmd *cobra.Command) (credentials.Source, error) {
	ch := credentialChoice{profile: f.profile, state: f.state, fallback: f.fallback, remember: f.remember}
	if f.hasPassword() {
		password := f.password
		if password == "" {
			password = os.Getenv("AMT_PASSWORD")
		}
		if f.user == "" {
			return nil, usageError{errors.New("--user must not be empty")}
		}
		ch.task = &credentials.Credential{User: f.user, Password: password}
	}
	src, store, err := credentialSource(cmd, ch, cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	f.store = store
	if f.credentials, err = haveCandidates(cmd.Context(), store, ch, f.host); err != nil {
		return nil, fmt.Errorf("credential store: %w", err)
	}
	if !f.credentials {
		return nil, nil
	}
	return src, nil
}

// logger logs to stderr with --verbose, and nowhere otherwise.
func (f *deviceFlags) logger(cmd *cobra.Command) *slog.Logger {
	if !f.verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// close releases what client opened.
func (f *deviceFlags) close() {
	if f.store != nil {
		_ = f.store.Close()
		f.store = nil
	}
}

// run is the body of a command against one device: it builds the client
// the flags describe (validating them, choosing the credentials, asking
// for a password on a terminal), runs fn with it, and releases the client's
// connections and the credential store afterwards, also when fn fails.
// Check the command's own flags before calling it: nothing of the device's
// is touched before fn.
func (f *deviceFlags) run(cmd *cobra.Command, fn func(ctx context.Context, c *amt.Client) error) error {
	c, err := f.client(cmd)
	defer f.close()
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	return fn(cmd.Context(), c)
}

// show is run for a command that reads one thing from the device and
// prints it (as a table, or JSON with --output json).
func show[T any](cmd *cobra.Command, f *deviceFlags, read func(context.Context, *amt.Client) (T, error),
	print func(w io.Writer, format, host string, v T) error) error {
	return f.run(cmd, func(ctx context.Context, c *amt.Client) error {
		v, err := read(ctx, c)
		if err != nil {
			return err
		}
		return print(cmd.OutOrStdout(), f.output, c.Host(), v)
	})
}

// readCAFile reads --ca: its PEM content and the certificates in a pool.
// A file that cannot be read or holds no PEM certificate is a usage error.
func readCAFile(path string) ([]byte, *x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("--ca: %w", err)}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, usageError{fmt.Errorf("--ca: %s holds no PEM certificate", path)}
	}
	return pem, pool, nil
}
