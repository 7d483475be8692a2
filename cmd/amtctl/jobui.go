package main

// amtctl job ui: River UI over the state database's job tables, in this
// process. The UI can cancel and retry jobs and shows the machines a job
// touched, so it listens on loopback unless told otherwise, and any other
// address needs --allow-remote, TLS (--tls-cert, --tls-key) and a login
// (--login with a password on standard input) or a token (--token-file):
// without all of them it refuses to start (exit 2).

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/spf13/cobra"
	"riverqueue.com/riverui"

	"github.com/amtkit/amtkit/statedb"
)

// uiFlags are job ui's flags.
type uiFlags struct {
	listen      string
	allowRemote bool
	certFile    string
	keyFile     string
	login       string
	tokenFile   string
	prefix      string
	state       string
}

func newJobUICommand() *cobra.Command {
	var f uiFlags
	cmd := &cobra.Command{
		Use:   "ui [--listen 127.0.0.1:PORT]",
		Short: "Serve River UI over the state database's jobs, for a browser",
		Long: "job ui serves River UI, the job engine's web interface, over the same state database as the workers,\n" +
			"until interrupted. The UI can cancel and retry jobs and shows which machines a job touched, so it listens\n" +
			"on loopback (127.0.0.1, ::1, localhost) by default. Any other address needs --allow-remote, TLS\n" +
			"(--tls-cert and --tls-key) and a login (--login USER, the password on standard input with\n" +
			"--password-stdin) or a token (--token-file, sent as \"Authorization: Bearer TOKEN\" or as the password of\n" +
			"any user); without them it refuses to start (exit 2). A login or token given on loopback is required there too.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runJobUI(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8089", "address to listen on, host:port (loopback unless --allow-remote)")
	fl.BoolVar(&f.allowRemote, "allow-remote", false, "allow an address other than loopback (needs --tls-cert, --tls-key and --login or --token-file)")
	fl.StringVar(&f.certFile, "tls-cert", "", "PEM certificate (chain) to serve TLS with")
	fl.StringVar(&f.keyFile, "tls-key", "", "PEM private key of --tls-cert (mode 0600)")
	fl.StringVar(&f.login, "login", "", "user name of the HTTP basic login; the password is read with --password-stdin")
	fl.Bool("password-stdin", false, "read the login's password from standard input (without echo on a terminal)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the access token (mode 0600; one line)")
	fl.StringVar(&f.prefix, "prefix", "/", "URL path the UI is served under")
	registerStateFlag(fl, &f.state)
	return cmd
}

// loopbackListen reports whether a host:port listens on loopback only.
func loopbackListen(addr string) (bool, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false, usageError{fmt.Errorf("--listen %q: want host:port (e.g. 127.0.0.1:8089)", addr)}
	}
	if p, perr := strconv.Atoi(port); perr != nil || p < 0 || p > 65535 {
		return false, usageError{fmt.Errorf("--listen %q: the port must be a number 1-65535 (0: any free port)", addr)}
	}
	switch {
	case host == "":
		return false, nil // every interface
	case strings.EqualFold(host, "localhost"):
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// uiAuth is what a request must carry: a basic login, a token, or both
// (either suffices); nothing when both are empty.
type uiAuth struct {
	user     string
	password [32]byte // SHA-256 of the password, compared in constant time
	hasLogin bool
	token    [32]byte
	hasToken bool
}

func (a *uiAuth) required() bool { return a.hasLogin || a.hasToken }

func (a *uiAuth) allows(r *http.Request) bool {
	eq := func(got string, want [32]byte) bool {
		h := sha256.Sum256([]byte(got))
		return subtle.ConstantTimeCompare(h[:], want[:]) == 1
	}
	if a.hasToken {
		if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && eq(strings.TrimSpace(v), a.token) {
			return true
		}
	}
	u, p, ok := r.BasicAuth()
	if !ok {
		return false
	}
	if a.hasLogin && subtle.ConstantTimeCompare([]byte(u), []byte(a.user)) == 1 && eq(p, a.password) {
		return true
	}
	return a.hasToken && eq(p, a.token)
}

// wrap refuses requests without the login or token.
func (a *uiAuth) wrap(h http.Handler) http.Handler {
	if !a.required() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.allows(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="amtctl job ui", charset="UTF-8"`)
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// readPrivateFile reads a secret file, refusing one that others may read.
func readPrivateFile(flag, path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", flag, err)}
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, usageError{fmt.Errorf("%s %s is accessible by others (mode %04o): run chmod 600 %s", flag, path, perm, path)}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", flag, err)}
	}
	return b, nil
}

// checkPrefix checks --prefix: a URL path.
func checkPrefix(p string) error {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " ?#\t\n") {
		return usageError{fmt.Errorf("--prefix %q must be a URL path starting with /", p)}
	}
	return nil
}

// uiSettings checks job ui's flags and loads its TLS certificate and
// login before anything listens.
func uiSettings(cmd *cobra.Command, f *uiFlags) (*tls.Config, *uiAuth, error) {
	loop, err := loopbackListen(f.listen)
	if err != nil {
		return nil, nil, err
	}
	if err := firstError(
		checkPrefix(f.prefix),
		checkConflict(cmd, "login", "token-file"),
	); err != nil {
		return nil, nil, err
	}
	stdinPassword, _ := cmd.Flags().GetBool("password-stdin")
	if (f.certFile == "") != (f.keyFile == "") {
		return nil, nil, usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	if stdinPassword && f.login == "" {
		return nil, nil, usageError{errors.New("--password-stdin is the password of --login: give --login USER")}
	}
	if f.login != "" && !stdinPassword {
		return nil, nil, usageError{errors.New("--login needs its password: give --password-stdin")}
	}
	if !loop {
		var missing []string
		if !f.allowRemote {
			missing = append(missing, "--allow-remote")
		}
		if f.certFile == "" {
			missing = append(missing, "TLS (--tls-cert and --tls-key)")
		}
		if f.login == "" && f.tokenFile == "" {
			missing = append(missing, "a login (--login with --password-stdin) or a token (--token-file)")
		}
		if len(missing) > 0 {
			return nil, nil, usageError{fmt.Errorf("--listen %s is not a loopback address: the UI can cancel and retry jobs, so it needs %s",
				f.listen, strings.Join(missing, ", "))}
		}
	}
	auth := &uiAuth{}
	if f.tokenFile != "" {
		b, err := readPrivateFile("--token-file", f.tokenFile)
		if err != nil {
			return nil, nil, err
		}
		tok := strings.TrimSpace(string(b))
		if len(tok) < 16 {
			return nil, nil, usageError{fmt.Errorf("--token-file %s: the token must be at least 16 characters", f.tokenFile)}
		}
		auth.token, auth.hasToken = sha256.Sum256([]byte(tok)), true
	}
	if f.login != "" {
		if err := checkName("--login", f.login); err != nil {
			return nil, nil, err
		}
		pw, err := readSecret(cmd, fmt.Sprintf("Password for the UI login %s: ", f.login))
		if err != nil {
			return nil, nil, err
		}
		auth.user, auth.password, auth.hasLogin = f.login, sha256.Sum256([]byte(pw)), true
	}
	var tc *tls.Config
	if f.certFile != "" {
		if _, err := readPrivateFile("--tls-key", f.keyFile); err != nil {
			return nil, nil, err
		}
		cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("--tls-cert/--tls-key: %w", err)}
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return tc, auth, nil
}

// riverUIHandler builds River UI over db's River tables.
func riverUIHandler(db *statedb.DB, prefix string, logger *slog.Logger) (*riverui.Handler, error) {
	opts := &riverui.HandlerOpts{Logger: logger, Prefix: prefix}
	if db.Engine() == statedb.Postgres {
		c, err := river.NewClient(riverpgxv5.New(db.Pool()), &river.Config{Logger: logger})
		if err != nil {
			return nil, err
		}
		opts.Endpoints = riverui.NewEndpoints(c, nil)
	} else {
		c, err := river.NewClient(riversqlite.New(db.SQL()), &river.Config{Logger: logger})
		if err != nil {
			return nil, err
		}
		opts.Endpoints = riverui.NewEndpoints(c, nil)
	}
	return riverui.NewHandler(opts)
}

func runJobUI(cmd *cobra.Command, f *uiFlags) error {
	tc, auth, err := uiSettings(cmd, f)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	db, err := openState(cmd, f.state)
	if err != nil {
		return err
	}
	defer db.Close()
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	prefix := riverui.NormalizePathPrefix(f.prefix)
	h, err := riverUIHandler(db, prefix, logger)
	if err != nil {
		return fmt.Errorf("job ui: %w", err)
	}
	uiCtx, stopUI := context.WithCancel(context.WithoutCancel(ctx))
	defer stopUI()
	if err := h.Start(uiCtx); err != nil {
		return fmt.Errorf("job ui: %w", err)
	}
	mux := http.NewServeMux()
	if prefix == "" || prefix == "/" {
		mux.Handle("/", h)
	} else {
		mux.Handle(prefix+"/", h)
		mux.Handle(prefix, h)
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("job ui: %w", err)
	}
	srv := &http.Server{
		Handler:           auth.wrap(mux),
		TLSConfig:         tc,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if tc != nil {
		scheme = "https"
	}
	// The ready line: where to point the browser (scripts and tests read it).
	fmt.Fprintf(cmd.OutOrStdout(), "job ui: serving %s://%s%s over %s\n", scheme, ln.Addr(), strings.TrimSuffix(prefix, "/")+"/", db)
	errc := make(chan error, 1)
	go func() {
		if tc != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("job ui: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("job ui: %w", err)
	}
	return nil
}
