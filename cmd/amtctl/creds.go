package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/amtkit/amtkit/credentials"
)

// registerStateFlag adds --state, the credential store's directory.
func registerStateFlag(fl *pflag.FlagSet, dir *string) {
	fl.StringVar(dir, "state", "", "directory of the state database's SQLite file (default $"+credentials.StateEnv+" or the per-user state directory)")
}

// openStore opens (creating if need be) the state database's credential
// store for the creds commands.
func openStore(cmd *cobra.Command, dir string) (*stateStore, error) {
	db, shared, err := openShared(cmd, dir)
	if err != nil {
		return nil, err
	}
	return &stateStore{Credentials: db.Credentials(), db: db, shared: shared}, nil
}

// withStore runs fn with the credential store open.
func withStore(cmd *cobra.Command, dir string, fn func(db *stateStore) error) error {
	db, err := openStore(cmd, dir)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

func newCredsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "creds",
		Short: "Manage credential profiles, the runtime profile of credentials known to work, and the lockout guard",
		Long: "Credentials live in an encrypted store (AES-256-GCM, key file beside it, mode 0600) in the per-user\n" +
			"state directory, or in --state / $AMTKIT_STATE. Device commands log in with:\n" +
			"  --user/--password (or AMT_PASSWORD) alone, when given; with --fallback, then the candidates below;\n" +
			"  else --profile NAME, then what last worked on that device (the runtime entry);\n" +
			"  else what last worked on that device, then the default profile.\n" +
			"Only a failed login moves on, and never so often that the device would lock the account (see creds guard).\n" +
			"A password from the command line or the environment is remembered only with --remember.",
	}
	profile := &cobra.Command{Use: "profile", Short: "User-defined credential profiles"}
	profile.AddCommand(newProfileAddCommand(), newProfileListCommand(), newProfileRemoveCommand(), newProfileDefaultCommand())
	runtime := &cobra.Command{Use: "runtime", Short: "The runtime profile: per host, the credentials that last worked"}
	runtime.AddCommand(newRuntimeListCommand(), newRuntimeForgetCommand())
	guard := &cobra.Command{
		Use:   "guard",
		Short: "The lockout guard: failed logins counted per device, shared by every amtctl process",
		Long: fmt.Sprintf("Intel AMT locks an account after a few failed logins in a row. amtctl counts failed logins per device\n"+
			"(the address, whatever the port: WS-Man over HTTP and TLS and the redirection ports share one count) in the\n"+
			"local state and sends no login once %d have failed within %v, nor a credential that already failed there;\n"+
			"such a command exits 9 and says when the window frees up. After fixing the password, clear a device's\n"+
			"count with reset. set changes the budget for every process using the state database.", credentials.DefaultMaxFailures, credentials.DefaultWindow),
	}
	guard.AddCommand(newGuardListCommand(), newGuardResetCommand(), newGuardSetCommand())
	cmd.AddCommand(profile, runtime, guard)
	return cmd
}

func newProfileAddCommand() *cobra.Command {
	var (
		state, user, technology, certFile, keyFile string
		passwordStdin, makeDefault, kerberos       bool
	)
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add or update a profile's credential for one technology",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tech, err := credentials.ParseTechnology(technology)
			if err != nil {
				return usageError{err}
			}
			if user == "" {
				return usageError{errors.New("--user is required")}
			}
			if !passwordStdin {
				return usageError{errors.New("--password-stdin is required: the password is read from standard input, never from the command line")}
			}
			password, err := readPassword(cmd.InOrStdin())
			if err != nil {
				return err
			}
			cred := credentials.Credential{User: user, Password: password, Kerberos: kerberos}
			if certFile != "" || keyFile != "" {
				if certFile == "" || keyFile == "" {
					return usageError{errors.New("--client-cert and --client-key go together")}
				}
				if cred.ClientCertPEM, err = os.ReadFile(certFile); err != nil {
					return usageError{err}
				}
				if cred.ClientKeyPEM, err = os.ReadFile(keyFile); err != nil {
					return usageError{err}
				}
				if _, err := cred.ClientCertificate(); err != nil {
					return usageError{fmt.Errorf("client certificate: %w", err)}
				}
			}
			return withStore(cmd, state, func(db *stateStore) error {
				ctx := cmd.Context()
				p, err := db.Profile(ctx, args[0])
				switch {
				case errors.Is(err, credentials.ErrNotFound):
					p = credentials.Profile{Name: args[0]}
				case err != nil:
					return err
				}
				if p.Entries == nil {
					p.Entries = map[credentials.Technology]credentials.Credential{}
				}
				p.Entries[tech] = cred
				if makeDefault {
					p.Default = true
				}
				if err := db.PutProfile(ctx, p); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "profile %s: %s credential for %s saved\n", p.Name, tech, user)
				return nil
			})
		},
	}
	fl := cmd.Flags()
	registerStateFlag(fl, &state)
	fl.StringVarP(&user, "user", "u", "", "user name (AMT digest user, or Kerberos principal with --kerberos)")
	fl.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	fl.BoolVar(&makeDefault, "default", false, "make this the default profile")
	fl.StringVar(&technology, "technology", "amt", "technology of the credential: amt, wmi, asf or snmp")
	fl.BoolVar(&kerberos, "kerberos", false, "the user is a Kerberos principal")
	fl.StringVar(&certFile, "client-cert", "", "PEM client certificate for mutual TLS")
	fl.StringVar(&keyFile, "client-key", "", "PEM key of --client-cert")
	return cmd
}

// readPassword reads one line, without its line end.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError{errors.New("empty password on standard input")}
	}
	return line, nil
}

type profileRecord struct {
	Name    string            `json:"name"`
	Default bool              `json:"default"`
	Users   map[string]string `json:"users"` // technology -> user; never secrets
}

func newProfileListCommand() *cobra.Command {
	var state, output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List profiles (names, default, users; never secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, state, func(db *stateStore) error {
				ps, err := db.Profiles(cmd.Context())
				if err != nil {
					return err
				}
				recs := make([]profileRecord, 0, len(ps))
				for _, p := range ps {
					r := profileRecord{Name: p.Name, Default: p.Default, Users: map[string]string{}}
					for tech, c := range p.Entries {
						r.Users[string(tech)] = c.User
					}
					recs = append(recs, r)
				}
				w := cmd.OutOrStdout()
				if output == "json" {
					return writeJSON(w, recs) // one array; [] when there is none
				}
				tw := newTable(w)
				fmt.Fprintln(tw, "PROFILE\tDEFAULT\tCREDENTIALS")
				for _, r := range recs {
					var techs []string
					for t, u := range r.Users {
						techs = append(techs, t+":"+u)
					}
					sort.Strings(techs)
					def := ""
					if r.Default {
						def = "yes"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, def, strings.Join(techs, " "))
				}
				return tw.Flush()
			})
		},
	}
	registerStateFlag(cmd.Flags(), &state)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

type runtimeRecord struct {
	Host      string    `json:"host"`
	Profile   string    `json:"profile"`
	Origin    string    `json:"origin"`
	User      string    `json:"user"`
	LearnedAt time.Time `json:"learned_at"`
	Stale     bool      `json:"stale"`
}

func newRuntimeListCommand() *cobra.Command {
	var state, output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List, per host, the credentials that last worked (never secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, state, func(db *stateStore) error {
				es, err := db.RuntimeEntries(cmd.Context())
				if err != nil {
					return err
				}
				recs := make([]runtimeRecord, 0, len(es)) // one array; [] when there is none
				for _, e := range es {
					recs = append(recs, runtimeRecord{Host: e.Host, Profile: e.Profile, Origin: e.Origin.String(), User: e.Credential.User, LearnedAt: e.LearnedAt, Stale: e.Stale})
				}
				w := cmd.OutOrStdout()
				if output == "json" {
					return writeJSON(w, recs)
				}
				tw := newTable(w)
				fmt.Fprintln(tw, "HOST\tPROFILE\tUSER\tLEARNED\tSTALE")
				for _, r := range recs {
					stale := ""
					if r.Stale {
						stale = "stale"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Host, r.Profile, r.User, r.LearnedAt.Format(time.RFC3339), stale)
				}
				return tw.Flush()
			})
		},
	}
	registerStateFlag(cmd.Flags(), &state)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func newProfileRemoveCommand() *cobra.Command {
	return newStoreActionCommand("remove NAME", "Remove a profile", "profile %s removed",
		func(ctx context.Context, db *stateStore, name string) error { return db.DeleteProfile(ctx, name) })
}

func newProfileDefaultCommand() *cobra.Command {
	return newStoreActionCommand("default NAME", "Make a profile the default", "profile %s is the default",
		func(ctx context.Context, db *stateStore, name string) error { return db.SetDefault(ctx, name) })
}

func newRuntimeForgetCommand() *cobra.Command {
	return newStoreActionCommand("forget HOST", "Forget the credentials learned for a host", "forgot the credentials learned for %s",
		func(ctx context.Context, db *stateStore, host string) error { return db.ForgetRuntime(ctx, host) })
}

// newStoreActionCommand builds a command that takes one argument, applies
// action to the credential store with it, and says what it did.
func newStoreActionCommand(use, short, done string, action func(ctx context.Context, db *stateStore, arg string) error) *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, state, func(db *stateStore) error {
				if err := action(cmd.Context(), db, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), done+"\n", args[0])
				return nil
			})
		},
	}
	registerStateFlag(cmd.Flags(), &state)
	return cmd
}

// guardRecord is one device's line of creds guard list; nothing in it is
// secret.
type guardRecord struct {
	Host        string    `json:"host"`
	Failures    int       `json:"failures"`
	Pending     int       `json:"pending"`
	MaxFailures int       `json:"max_failures"`
	Spent       bool      `json:"spent"`
	Last        time.Time `json:"last"`
	FreesAt     time.Time `json:"frees_at"`
	ClearAt     time.Time `json:"clear_at"`
}

func newGuardListCommand() *cobra.Command {
	var state, output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the failed logins counted per device within the window",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("--output must be table or json, not %q", output)}
			}
			return withStore(cmd, state, func(db *stateStore) error {
				recs, err := db.GuardRecords(cmd.Context(), time.Now())
				if err != nil {
					return err
				}
				b, err := guardBudget(cmd.Context(), db)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if output == "json" {
					out := make([]guardRecord, 0, len(recs)) // one array; [] when there is none
					for _, r := range recs {
						out = append(out, newGuardRecord(r, b))
					}
					return writeJSON(w, out)
				}
				fmt.Fprintf(w, "%s\n", strings.ToUpper(b.String()[:1])+b.String()[1:])
				tw := newTable(w)
				fmt.Fprintln(tw, "HOST\tFAILED\tPENDING\tBUDGET\tLAST\tFREES AT\tCLEAR AT")
				for _, r := range recs {
					g := newGuardRecord(r, b)
					budget := fmt.Sprintf("%d/%d", g.Failures+g.Pending, g.MaxFailures)
					if g.Spent {
						budget += " spent"
					}
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\n", g.Host, g.Failures, g.Pending, budget,
						g.Last.Local().Format(time.RFC3339), g.FreesAt.Local().Format(time.RFC3339), g.ClearAt.Local().Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	registerStateFlag(cmd.Flags(), &state)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func newGuardRecord(r credentials.GuardRecord, b budget) guardRecord {
	return guardRecord{
		Host: r.Device, Failures: r.Failures, Pending: r.Pending, MaxFailures: b.MaxFailures,
		Spent: r.Counted() >= b.MaxFailures, Last: r.Last, FreesAt: r.FreesAt, ClearAt: r.ClearAt,
	}
}

func newGuardResetCommand() *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "reset HOST",
		Short: "Clear a device's failed logins, after fixing the password (any port of HOST names the device)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dev := credentials.DeviceKey(args[0])
			if dev == "" {
				return usageError{errors.New("reset needs a host")}
			}
			return withStore(cmd, state, func(db *stateStore) error {
				n, err := db.ResetGuard(cmd.Context(), dev)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "cleared %d lockout guard record(s) for %s\n", n, dev)
				return nil
			})
		},
	}
	registerStateFlag(cmd.Flags(), &state)
	return cmd
}
