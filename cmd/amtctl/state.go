package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osuser "os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/credentials"
	"github.com/amtkit/amtkit/statedb"
)

// Environment variables of the state database and the activity log.
const (
	actorEnv = "AMTKIT_ACTOR"
)

// stateFlags are the global flags that choose the state database and name
// the actor recorded in the activity log.
type stateFlags struct {
	database string
	actor    string
}

// registerGlobalStateFlags adds --database and --actor to every command.
func registerGlobalStateFlags(fl *pflag.FlagSet, f *stateFlags) {
	fl.StringVar(&f.database, "database", "", "state database: a postgres:// URL or a SQLite file (default $"+statedb.DatabaseEnv+
		", else "+statedb.FileName+" in the state directory)")
	fl.StringVar(&f.actor, "actor", "", "who is acting, for the activity log (default $"+actorEnv+", else the OS user)")
}

// stateTarget returns the database to open: --database, else
// $AMTKIT_DATABASE, else the SQLite file in --state (or the default state
// directory). explicit says the user named it.
func stateTarget(cmd *cobra.Command, stateDir string) (target string, explicit bool, err error) {
	if f := cmd.Flags().Lookup("database"); f != nil && f.Value.String() != "" {
		return f.Value.String(), true, nil
	}
	if v := os.Getenv(statedb.DatabaseEnv); v != "" {
		return v, true, nil
	}
	if stateDir != "" {
		return filepath.Join(stateDir, statedb.FileName), true, nil
	}
	p, err := statedb.DefaultPath()
	if err != nil {
		return "", false, err
	}
	return p, os.Getenv(credentials.StateEnv) != "", nil
}

// stateExists says whether the database target names is there to use
// without creating it: a Postgres URL always, a SQLite file when it exists.
func stateExists(target string) bool {
	if statedb.IsPostgres(target) {
		return true
	}
	_, err := os.Stat(strings.TrimPrefix(target, "sqlite:"))
	return err == nil
}

// openState opens the state database for cmd.
func openState(cmd *cobra.Command, stateDir string) (*statedb.DB, error) {
	target, _, err := stateTarget(cmd, stateDir)
	if err != nil {
		return nil, err
	}
	db, err := statedb.Open(cmd.Context(), target, retentionOption()...)
	if err != nil {
		return nil, fmt.Errorf("state database: %w", err)
	}
	return db, nil
}

// retentionOption reads $AMTKIT_LOG_RETENTION (a duration such as 2160h or
// 90d) for the activity log's automatic purge.
func retentionOption() []statedb.Option {
	v := os.Getenv("AMTKIT_LOG_RETENTION")
	if v == "" {
		return nil
	}
	d, err := parseAge(v)
	if err != nil || d <= 0 {
		return nil
	}
	return []statedb.Option{statedb.WithRetention(d)}
}

// openShared opens the state database for the command, once: a command
// that uses it for credentials and then records its activity opens it once.
// shared says the command's record owns it (and closes it after recording).
func openShared(cmd *cobra.Command, stateDir string) (db *statedb.DB, shared bool, err error) {
	rec, _ := cmd.Context().Value(recordKey{}).(*commandRecord)
	if rec == nil {
		db, err := openState(cmd, stateDir)
		return db, false, err
	}
	target, _, err := stateTarget(cmd, stateDir)
	if err != nil {
		return nil, false, err
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.db != nil && rec.target == target {
		return rec.db, true, nil
	}
	db, err = openState(cmd, stateDir)
	if err != nil || rec.db != nil {
		return db, false, err
	}
	rec.db, rec.target = db, target
	return db, true, nil
}

// stateStore is the credential store of an open state database; closing it
// closes the database unless the command's record shares it.
type stateStore struct {
	*statedb.Credentials
	db     *statedb.DB
	shared bool
}

func (s *stateStore) Close() error {
	_ = s.Credentials.Close()
	if s.shared {
		return nil
	}
	return s.db.Close()
}

// actorName returns who is acting: --actor, $AMTKIT_ACTOR, or the OS user.
func actorName(cmd *cobra.Command) string {
	if f := cmd.Flags().Lookup("actor"); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	if v := os.Getenv(actorEnv); v != "" {
		return v
	}
	if u, err := osuser.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if v := os.Getenv("USER"); v != "" {
		return v
	}
	return "unknown"
}

// commandRecord collects, while a command runs, what its activity entry
// needs from inside it: the device client it used.
type commandRecord struct {
	mu     sync.Mutex
	client *amt.Client
	state  string      // --state of the command, if any
	db     *statedb.DB // the state database the command opened, shared
	target string      // what db is
}

type recordKey struct{}

// noteClient tells the command's record which client the command uses.
func noteClient(ctx context.Context, c *amt.Client, stateDir string) {
	if rec, ok := ctx.Value(recordKey{}).(*commandRecord); ok {
		rec.mu.Lock()
		rec.client, rec.state = c, stateDir
		rec.mu.Unlock()
	}
}

// secretFlags are never recorded, nor is any flag whose name says it holds
// a secret.
func secretFlag(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"password", "secret", "token", "key", "database"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// unrecorded commands: reading the activity log does not add to it, and
// help and completion are not operations.
func unrecorded(path string) bool {
	switch path {
	case "log activity", "help", "completion", "version", "":
		return true
	}
	return strings.HasPrefix(path, "__complete") || strings.HasPrefix(path, "completion ")
}

// recordActivity writes the activity entry of a command that ran. A failure
// to record is reported on stderr and does not change the exit status.
func recordActivity(ctx context.Context, cmd *cobra.Command, args []string, rec *commandRecord, start time.Time, err error, stderr io.Writer) {
	if cmd == nil {
		return
	}
	op := strings.TrimSpace(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()))
	if unrecorded(op) {
		return
	}
	params := map[string]string{}
	host := ""
	cmd.Flags().Visit(func(f *pflag.Flag) {
		switch {
		case f.Name == "host":
			host = f.Value.String()
		case secretFlag(f.Name):
		case f.Name == "actor", f.Name == "state", f.Name == "output", f.Name == "quiet", f.Name == "verbose", f.Name == "config":
			// how amtctl ran, not what it did
		default:
			params[f.Name] = f.Value.String()
		}
	})
	if host == "" {
		host = os.Getenv("AMT_HOST")
	}
	switch {
	case len(args) > 0 && len(cmd.ValidArgs) > 0:
		// The argument is the verb: "power reset", "boot next pxe".
		op += " " + strings.Join(args, " ")
	case len(args) > 0:
		params["args"] = strings.Join(args, " ")
	}
	tech := amt.TechWSMan
	switch strings.Fields(op + " x")[0] {
	case "ider", "sol", "redirect":
		tech = amt.TechRedirection
	case "creds", "log", "demo", "discover":
		tech = ""
	}
	rec.mu.Lock()
	client, stateDir := rec.client, rec.state
	rec.mu.Unlock()
	var a amt.Activity
	if client != nil {
		a = client.ActivityOf(op, tech, params, start, err)
	} else {
		a = amt.NewActivity(host, op, tech, params, start, err)
	}
	if host != "" {
		a.Host = host
	}
	var ue usageError
	if errors.As(err, &ue) {
		a.Outcome = "usage_error"
	}
	a.Actor = actorName(cmd)
	if stateDir == "" {
		if f := cmd.Flags().Lookup("state"); f != nil {
			stateDir = f.Value.String()
		}
	}
	// The command is over: the log gets a moment of its own, not the
	// command's context, which an interrupt may have cancelled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	cmd.SetContext(context.WithValue(ctx, recordKey{}, rec))
	db, shared, oerr := openShared(cmd, stateDir)
	if oerr != nil {
		fmt.Fprintln(stderr, "amtctl: activity log not written:", oerr)
		return
	}
	db.Activity().Record(a)
	if !shared {
		if cerr := db.Close(); cerr != nil {
			fmt.Fprintln(stderr, "amtctl: activity log not written:", cerr)
		}
	}
}

// close closes the state database the command shared, writing what the
// activity log holds.
func (rec *commandRecord) close(stderr io.Writer) {
	rec.mu.Lock()
	db := rec.db
	rec.db = nil
	rec.mu.Unlock()
	if db != nil {
		if err := db.Close(); err != nil {
			fmt.Fprintln(stderr, "amtctl: activity log not written:", err)
		}
	}
}
