package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/wsman"
)

// bootConfigInstance is the InstanceID of AMT's one boot configuration.
const bootConfigInstance = "Intel(r) AMT: Boot Configuration 0"

// isNextNames are CIM_ElementSettingData.IsNext values (protocol.md §3.3).
var isNextNames = map[int64]string{1: "is_next", 2: "is_not_next", 3: "is_next_single_use"}

type bootShowRecord struct {
	Host string `json:"host"`
	// Armed: a one-time boot is set for the next boot (IsNext is
	// IsNextForSingleUse); null when the device does not say.
	Armed *bool `json:"armed"`
	// IsNext is CIM_ElementSettingData.IsNext of the boot configuration,
	// by name; null when unknown.
	IsNext *string `json:"is_next"`
	// BootSource is what AMT_BootSettingData selects by itself (ider-cd,
	// ider-floppy, bios); null when the boot order selects the source or
	// nothing is selected.
	BootSource *string `json:"boot_source"`
	// Settings are AMT_BootSettingData's properties as the firmware gives
	// them.
	Settings map[string]any `json:"settings"`
	// Unavailable names what could not be read, with why.
	Unavailable map[string]string `json:"unavailable"`
}

func newBootShowCommand() *cobra.Command {
	var f deviceFlags
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show whether a one-time boot is armed now, and the boot settings",
		Long: "boot show reads CIM_ElementSettingData (IsNext of the boot configuration: whether the firmware uses\n" +
			"the boot settings at the next boot, once) and AMT_BootSettingData. It changes nothing.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, func(ctx context.Context, c *amt.Client) error {
				settings, err := c.Power.BootSettings(ctx)
				if err != nil {
					return err
				}
				rec := bootShowRecord{Host: c.Host(), Settings: map[string]any{}, Unavailable: map[string]string{}}
				for _, p := range settings.Properties {
					switch {
					case p.Nil:
						rec.Settings[p.Name] = nil
					case p.Ref != nil || p.Node != nil:
						continue
					default:
						if prev, ok := rec.Settings[p.Name]; ok {
							// An array property: several values.
							if l, isList := prev.([]string); isList {
								rec.Settings[p.Name] = append(l, p.Value)
							} else {
								rec.Settings[p.Name] = []string{fmt.Sprint(prev), p.Value}
							}
							continue
						}
						rec.Settings[p.Name] = p.Value
					}
				}
				switch {
				case settings.String("UseIDER") == "true" && settings.String("IDERBootDevice") == "1":
					rec.BootSource = str("ider-cd")
				case settings.String("UseIDER") == "true":
					rec.BootSource = str("ider-floppy")
				case settings.String("BIOSSetup") == "true":
					rec.BootSource = str("bios")
				}
				isNext, err := readIsNext(cmd, c.WSMan())
				if err != nil {
					if ctx.Err() != nil {
						return err
					}
					rec.Unavailable["is_next"] = oneLine(err.Error())
				} else {
					rec.IsNext = str(isNextNames[isNext])
					if rec.IsNext == nil {
						rec.IsNext = str(fmt.Sprintf("value %d", isNext))
					}
					armed := isNext == 3
					rec.Armed = &armed
				}
				return printBootShow(cmd, f.output, rec)
			})
		},
	}
	f.register(cmd)
	return cmd
}

// readIsNext reads IsNext of the association between the machine and the
// boot configuration.
func readIsNext(cmd *cobra.Command, ws *wsman.Client) (int64, error) {
	all, err := ws.EnumerateAll(cmd.Context(), wsman.ResourceURI("CIM_ElementSettingData"))
	if err != nil {
		return 0, fmt.Errorf("CIM_ElementSettingData: %w", err)
	}
	for _, in := range all {
		ref, ok := in.Ref("SettingData")
		if !ok {
			continue
		}
		if id, _ := ref.Selector("InstanceID"); id != bootConfigInstance {
			continue
		}
		return in.Int("IsNext")
	}
	return 0, errors.New("CIM_ElementSettingData: the device has no association with its boot configuration")
}

func printBootShow(cmd *cobra.Command, format string, rec bootShowRecord) error {
	w := cmd.OutOrStdout()
	if format == "json" {
		return writeJSON(w, rec)
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "Host\t%s\n", rec.Host)
	switch {
	case rec.Armed == nil:
		fmt.Fprintf(tw, "One-time boot\tunknown (%s)\n", rec.Unavailable["is_next"])
	case *rec.Armed:
		fmt.Fprintf(tw, "One-time boot\tarmed for the next boot\n")
	default:
		fmt.Fprintf(tw, "One-time boot\tnot armed (%s)\n", val(rec.IsNext))
	}
	if rec.BootSource != nil {
		fmt.Fprintf(tw, "Boot source\t%s\n", *rec.BootSource)
	}
	names := make([]string, 0, len(rec.Settings))
	for k := range rec.Settings {
		names = append(names, k)
	}
	sort.Strings(names)
	var on []string
	for _, k := range names {
		if rec.Settings[k] == "true" {
			on = append(on, k)
		}
	}
	if len(on) == 0 {
		on = []string{"none"}
	}
	fmt.Fprintf(tw, "Options set\t%s\n", strings.Join(on, ", "))
	for _, k := range []string{"BootMediaIndex", "FirmwareVerbosity", "IDERBootDevice"} {
		if v, ok := rec.Settings[k]; ok {
			fmt.Fprintf(tw, "%s\t%v\n", k, v)
		}
	}
	return tw.Flush()
}
