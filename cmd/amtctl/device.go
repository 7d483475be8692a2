package main

import (
	"crypto/x509"
	"errors"
	"fmt"
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

	extra       []amt.Option    // options a command adds to the flags
	store       *credentials.DB // opened by client, closed by close
	credentials bool            // some credential or profile applies
}

func (f *deviceFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.host, "host", "", "device address, host or host:port")
	fl.StringVarP(&f.user, "user", "u", "admin", "AMT user")
	fl.StringVarP(&f.password, "password", "p", "", "AMT password (or set AMT_PASSWORD)")
	fl.BoolVar(&f.useTLS, "tls", false, "use TLS (port 16993)")
	fl.StringVar(&f.caFile, "ca", "", "PEM file of CA certificates that issued the device certificate (implies --tls)")
	fl.StringSliceVar(&f.pins, "pin", nil, "trust the device certificate with this SHA-256 fingerprint (implies --tls)")
	fl.BoolVar(&f.legacy, "legacy-tls", false, "allow TLS 1.0/1.1 and RSA key exchange for old firmware (implies --tls)")
	fl.BoolVar(&f.insecure, "insecure-skip-verify", false, "accept any TLS certificate: open to interception (implies --tls)")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	fl.DurationVar(&f.timeout, "timeout", 60*time.Second, "timeout of each operation")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log requests to stderr")
	fl.StringVar(&f.profile, "profile", "", "credential profile to log in with (else the default profile)")
	registerStateFlag(fl, &f.state)
}

func (f *deviceFlags) validate() error {
	if f.host == "" {
		return usageError{errors.New("--host is required")}
	}
	if f.output != "table" && f.output != "json" {
		return usageError{fmt.Errorf("--output must be table or json, not %q", f.output)}
	}
	return nil
}

// client builds the SDK client the flags describe.
func (f *deviceFlags) client(cmd *cobra.Command) (*amt.Client, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	var opts []amt.Option
	src, err := f.source()
	if err != nil {
		return nil, err
	}
	if src != nil {
		opts = append(opts, amt.WithCredentialSource(src))
	}
	if f.useTLS {
		opts = append(opts, amt.WithTLS())
	}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("--ca: %w", err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageError{fmt.Errorf("--ca: %s holds no PEM certificate", f.caFile)}
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
	warnUnfinishedRestore(cmd, f.state, c.Host())
	return c, nil
}

func (f *deviceFlags) hasPassword() bool {
	return f.password != "" || os.Getenv("AMT_PASSWORD") != ""
}

// source chooses where credentials come from. --user/--password (or
// AMT_PASSWORD) are a task credential. When the credential store exists (or
// --profile or --state names one), a resolver tries the task credential,
// then the named or default profile, then what last worked on the host,
// learns what works, and never spends more failed logins than the guard
// allows. Without a store, the task credential is used alone, and nothing is
// written to disk.
func (f *deviceFlags) source() (credentials.Source, error) {
	var task *credentials.Credential
	if f.hasPassword() {
		password := f.password
		if password == "" {
			password = os.Getenv("AMT_PASSWORD")
		}
		if f.user == "" {
			return nil, usageError{errors.New("--user must not be empty")}
		}
		task = &credentials.Credential{User: f.user, Password: password}
	}
	path, explicit, err := statePath(f.state)
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(path)
	useStore := f.profile != "" || explicit || statErr == nil
	if !useStore {
		if task == nil {
			return nil, nil
		}
		f.credentials = true
		return credentials.Static(*task), nil
	}
	if f.store, err = credentials.Open(path); err != nil {
		return nil, fmt.Errorf("credential store: %w", err)
	}
	opts := []credentials.Option{}
	if f.profile != "" {
		opts = append(opts, credentials.WithProfile(f.profile))
	}
	r, err := credentials.NewResolver(f.store, opts...)
	if err != nil {
		return nil, usageError{err}
	}
	f.credentials = true
	return r.For(task), nil
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
