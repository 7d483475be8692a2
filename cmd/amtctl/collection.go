package main

// amtctl collection: named lists of machines kept in the state database,
// named among job targets as %NAME.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt/fleet/durable"
)

// collectionRecord is a collection in collection list and show (show adds
// the targets).
type collectionRecord struct {
	Name      string    `json:"name"`
	Count     int       `json:"count"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type collectionShow struct {
	collectionRecord
	Targets []string `json:"targets"`
}

// collectionChange is the JSON of create, add, remove and delete.
type collectionChange struct {
	Name     string `json:"name"`
	Action   string `json:"action"`
	Machines int    `json:"machines"` // added or removed
	Count    int    `json:"count"`    // in the collection now (0 once deleted)
	Message  string `json:"message"`
}

type collectionFlags struct {
	jobCommon
	port       int
	maxTargets int
}

func newCollectionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collection",
		Short: "Named lists of machines in the state database, for job targets (%NAME)",
		Long: "collection keeps named lists of machines in the state database; job run --targets %NAME works the\n" +
			"machines of NAME as they are when the job is stored. Targets are given as for job run: addresses or\n" +
			"host names with an optional port, IPv4 ranges and CIDRs (stored one address each), @FILE, @- and\n" +
			"%OTHER (the machines of another collection). Names: letters, digits, '.', '_' and '-', at most 64.",
	}
	var create, add, remove collectionFlags
	cmd.AddCommand(
		collectionTargetsCommand("create NAME [TARGETS...]", "Create a collection (with the targets given)", &create, 1,
			func(ctx context.Context, m *durable.Manager, name string, ts []string) (int, error) {
				return len(ts), m.CreateCollection(ctx, name, ts...)
			}),
		collectionTargetsCommand("add NAME TARGETS...", "Add machines to a collection", &add, 2,
			func(ctx context.Context, m *durable.Manager, name string, ts []string) (int, error) {
				return m.AddToCollection(ctx, name, ts...)
			}),
		collectionTargetsCommand("remove NAME TARGETS...", "Remove machines from a collection", &remove, 2,
			func(ctx context.Context, m *durable.Manager, name string, ts []string) (int, error) {
				return m.RemoveFromCollection(ctx, name, ts...)
			}),
		newCollectionListCommand(), newCollectionShowCommand(), newCollectionDeleteCommand(),
	)
	return cmd
}

// collectionTargetsCommand builds create, add and remove.
func collectionTargetsCommand(use, short string, f *collectionFlags, minArgs int,
	do func(ctx context.Context, m *durable.Manager, name string, ts []string) (int, error)) *cobra.Command {
	verb := strings.Fields(use)[0]
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MinimumNArgs(minArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := firstError(f.validate(cmd), checkPort("--port", f.port, true),
				checkRange("--max-targets", f.maxTargets, 1, 10_000_000)); err != nil {
				return err
			}
			name := args[0]
			if err := checkName("NAME", name); err != nil {
				return err
			}
			return f.run(cmd, func(ctx context.Context, m *durable.Manager) error {
				var ts []string
				if len(args) > 1 {
					pt, err := parseJobTargets(args[1:], cmd.InOrStdin(), f.port, f.maxTargets)
					if err != nil {
						return err
					}
					ts = pt.Hosts
					for _, other := range pt.Collections {
						c, err := m.Collection(ctx, other)
						if err != nil {
							return err
						}
						ts = append(ts, c.Targets...)
					}
				}
				n, err := do(ctx, m, name, ts)
				if err != nil {
					return err
				}
				c, err := m.Collection(ctx, name)
				if err != nil {
					return err
				}
				msg := map[string]string{
					"create": fmt.Sprintf("created with %d machines", len(c.Targets)),
					"add":    fmt.Sprintf("%d machines added, %d in all", n, len(c.Targets)),
					"remove": fmt.Sprintf("%d machines removed, %d left", n, len(c.Targets)),
				}[verb]
				return printCollectionChange(cmd, f.output, collectionChange{Name: name, Action: verb, Machines: n, Count: len(c.Targets), Message: msg})
			})
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&f.port, "port", 0, "WS-Management port added to addresses given without one")
	cmd.Flags().IntVar(&f.maxTargets, "max-targets", defaultMaxTargets, "refuse targets that name more machines than this")
	return cmd
}

func printCollectionChange(cmd *cobra.Command, format string, c collectionChange) error {
	if format == "json" {
		return writeJSON(cmd.OutOrStdout(), c)
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "collection %s: %s\n", c.Name, c.Message)
	return err
}

func newCollectionListCommand() *cobra.Command {
	var c jobCommon
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the collections",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.validate(cmd); err != nil {
				return err
			}
			return c.run(cmd, func(ctx context.Context, m *durable.Manager) error {
				infos, err := m.Collections(ctx)
				if err != nil {
					return err
				}
				recs := make([]collectionRecord, 0, len(infos))
				for _, i := range infos {
					recs = append(recs, collectionRecord{Name: i.Name, Count: i.Count, CreatedAt: i.CreatedAt.UTC(), UpdatedAt: i.UpdatedAt.UTC()})
				}
				w := cmd.OutOrStdout()
				if c.output == "json" {
					return writeJSON(w, recs)
				}
				if len(recs) == 0 {
					_, err := fmt.Fprintln(w, "no collections")
					return err
				}
				tw := newTable(w)
				fmt.Fprintln(tw, "NAME\tMACHINES\tUPDATED")
				for _, r := range recs {
					fmt.Fprintf(tw, "%s\t%d\t%s\n", r.Name, r.Count, timeText(&r.UpdatedAt))
				}
				return tw.Flush()
			})
		},
	}
	c.register(cmd)
	return cmd
}

func newCollectionShowCommand() *cobra.Command {
	var c jobCommon
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a collection's machines",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.validate(cmd); err != nil {
				return err
			}
			return c.run(cmd, func(ctx context.Context, m *durable.Manager) error {
				col, err := m.Collection(ctx, args[0])
				if err != nil {
					return err
				}
				ts := col.Targets
				if ts == nil {
					ts = []string{}
				}
				out := collectionShow{collectionRecord: collectionRecord{Name: col.Name, Count: len(ts), CreatedAt: col.CreatedAt.UTC(),
					UpdatedAt: col.UpdatedAt.UTC()}, Targets: ts}
				w := cmd.OutOrStdout()
				if c.output == "json" {
					return writeJSON(w, out)
				}
				fmt.Fprintf(w, "collection %s: %d machines (updated %s)\n", out.Name, out.Count, timeText(&out.UpdatedAt))
				for _, t := range ts {
					fmt.Fprintln(w, t)
				}
				return nil
			})
		},
	}
	c.register(cmd)
	return cmd
}

func newCollectionDeleteCommand() *cobra.Command {
	var c jobCommon
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a collection (jobs that used it keep their machines)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.validate(cmd); err != nil {
				return err
			}
			return c.run(cmd, func(ctx context.Context, m *durable.Manager) error {
				col, err := m.Collection(ctx, args[0])
				if err != nil {
					return err
				}
				if err := m.DeleteCollection(ctx, args[0]); err != nil {
					return err
				}
				return printCollectionChange(cmd, c.output, collectionChange{Name: col.Name, Action: "delete", Machines: len(col.Targets),
					Message: fmt.Sprintf("deleted (%d machines)", len(col.Targets))})
			})
		},
	}
	c.register(cmd)
	return cmd
}
