package main

// The configuration file and the environment give defaults to flags:
// a flag given on the command line wins, then the environment (AMT_HOST,
// AMT_USER), then the configuration file ($XDG_CONFIG_HOME/amtkit/config.yaml,
// or --config), then the built-in default. applyDefaults runs before every
// command and sets, on the command's own flags, the values it does not get
// from the command line, so commands read their flags as usual.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Environment variables that give flag defaults.
const (
	envHost = "AMT_HOST"
	envUser = "AMT_USER"
)

// fileConfig is the configuration file.
type fileConfig struct {
	// User and Profile are the defaults of --user and --profile.
	User    string `yaml:"user" json:"user"`
	Profile string `yaml:"profile" json:"profile"`
	// TLS is "off" (the default), "on" (--tls) or "legacy" (--legacy-tls).
	TLS string `yaml:"tls" json:"tls"`
	// CA is the default of --ca.
	CA string `yaml:"ca" json:"ca"`
	// Pins maps a host (as given to --host, or its address without the
	// port) to the SHA-256 fingerprints --pin would trust.
	Pins map[string][]string `yaml:"pins" json:"pins"`
	// Timeout is the default of --timeout of device commands, e.g. "30s".
	Timeout string `yaml:"timeout" json:"timeout"`
	// Output is the default of --output: table or json.
	Output string `yaml:"output" json:"output"`
}

// defaultConfigPath is $XDG_CONFIG_HOME/amtkit/config.yaml (or the
// platform's user configuration directory).
func defaultConfigPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "amtkit", "config.yaml"), nil
}

// loadConfig reads the configuration file: the one --config names (which
// must exist), else the default one if it exists. It returns the path
// read ("" when none).
func loadConfig(cmd *cobra.Command) (*fileConfig, string, error) {
	path, _ := cmd.Flags().GetString("config")
	explicit := path != ""
	if !explicit {
		p, err := defaultConfigPath()
		if err != nil {
			return &fileConfig{}, "", nil
		}
		path = p
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return &fileConfig{}, "", nil
		}
		return nil, "", usageError{fmt.Errorf("--config: %w", err)}
	}
	cfg := &fileConfig{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, "", usageError{fmt.Errorf("configuration file %s: %v", path, err)}
	}
	if err := cfg.check(); err != nil {
		return nil, "", usageError{fmt.Errorf("configuration file %s: %v", path, err)}
	}
	return cfg, path, nil
}

func (c *fileConfig) check() error {
	if c.Output != "" && c.Output != "table" && c.Output != "json" {
		return fmt.Errorf("output must be table or json, not %q", c.Output)
	}
	switch c.TLS {
	case "", "off", "on", "legacy":
	default:
		return fmt.Errorf("tls must be off, on or legacy, not %q", c.TLS)
	}
	if c.Timeout != "" {
		d, err := time.ParseDuration(c.Timeout)
		if err != nil || d <= 0 {
			return fmt.Errorf("timeout must be a positive duration (e.g. 30s), not %q", c.Timeout)
		}
	}
	if c.Profile != "" {
		if err := checkName("profile", c.Profile); err != nil {
			return err
		}
	}
	return nil
}

// setDefault sets a flag's value without marking it as given, and without
// counting as its one use.
func setDefault(f *pflag.Flag, v string) error {
	val := f.Value
	if o, ok := val.(*onceValue); ok {
		val = o.Value
	}
	if err := val.Set(v); err != nil {
		return usageError{fmt.Errorf("default of --%s %q: %v", f.Name, v, err)}
	}
	return nil
}

// defaultSource says where a flag's value came from, for config show.
type defaultSource struct {
	Value  any    `json:"value"`
	Source string `json:"source"` // flag, environment, config or default
}

// applyDefaults fills the flags of cmd not given on the command line from
// the environment and the configuration file.
func applyDefaults(cmd *cobra.Command) error {
	cfg, _, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	fl := cmd.Flags()
	given := func(name string) bool {
		f := fl.Lookup(name)
		return f != nil && f.Changed
	}
	set := func(name, env, conf string) error {
		f := fl.Lookup(name)
		if f == nil || f.Changed {
			return nil
		}
		if env != "" {
			if v := os.Getenv(env); v != "" {
				return setDefault(f, v)
			}
		}
		if conf != "" {
			return setDefault(f, conf)
		}
		return nil
	}
	device := fl.Lookup("host") != nil
	if err := firstError(
		set("host", envHost, ""),
		set("user", envUser, cfg.User),
		set("profile", "", cfg.Profile),
		set("output", "", cfg.Output),
	); err != nil {
		return err
	}
	if !device {
		return nil
	}
	if err := set("timeout", "", cfg.Timeout); err != nil {
		return err
	}
	tlsGiven := given("tls") || given("legacy-tls") || given("insecure-skip-verify") || given("pin") || given("ca")
	if !tlsGiven {
		switch cfg.TLS {
		case "on":
			err = set("tls", "", "true")
		case "legacy":
			err = set("legacy-tls", "", "true")
		}
		if err == nil {
			err = set("ca", "", cfg.CA)
		}
		if err != nil {
			return err
		}
		host, _ := fl.GetString("host")
		if pins := cfg.pinsFor(host); len(pins) > 0 && fl.Lookup("pin") != nil {
			for _, p := range pins {
				if err := setDefault(fl.Lookup("pin"), p); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// pinsFor returns the pins configured for host: as given, else its name or
// address without the port.
func (c *fileConfig) pinsFor(host string) []string {
	if host == "" || len(c.Pins) == 0 {
		return nil
	}
	if p, ok := c.Pins[host]; ok {
		return p
	}
	h := host
	if i := strings.Index(h, "://"); i >= 0 {
		h = h[i+3:]
	}
	if name, _, err := net.SplitHostPort(h); err == nil {
		h = name
	}
	return c.Pins[h]
}

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the defaults amtctl takes from its configuration file and the environment",
		Long: "amtctl reads defaults from $XDG_CONFIG_HOME/amtkit/config.yaml (~/.config/amtkit/config.yaml), or the\n" +
			"file --config names. A flag on the command line wins over the environment (AMT_HOST, AMT_USER,\n" +
			"AMT_PASSWORD), which wins over the file. The file's keys:\n\n" +
			"  user: admin              # --user\n" +
			"  profile: office          # --profile\n" +
			"  tls: on                  # off, on (--tls) or legacy (--legacy-tls)\n" +
			"  ca: /etc/amtkit/ca.pem   # --ca\n" +
			"  pins:                    # --pin, per host (as given to --host, or without the port)\n" +
			"    192.0.2.10: [5d2bea...e39]\n" +
			"  timeout: 30s             # --timeout of device commands\n" +
			"  output: json             # --output\n",
	}
	var output string
	show := &cobra.Command{
		Use:   "show",
		Short: "Show the configuration file read and each default with where it comes from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOneOf("--output", output, "table", "json"); err != nil {
				return err
			}
			cfg, path, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			fromEnvOrFile := func(env, conf string) defaultSource {
				if env != "" {
					if v := os.Getenv(env); v != "" {
						return defaultSource{v, "environment " + env}
					}
				}
				if conf != "" {
					return defaultSource{conf, "config"}
				}
				return defaultSource{nil, "default"}
			}
			settings := map[string]defaultSource{
				"host":    fromEnvOrFile(envHost, ""),
				"user":    fromEnvOrFile(envUser, cfg.User),
				"profile": fromEnvOrFile("", cfg.Profile),
				"tls":     fromEnvOrFile("", cfg.TLS),
				"ca":      fromEnvOrFile("", cfg.CA),
				"timeout": fromEnvOrFile("", cfg.Timeout),
				"output":  fromEnvOrFile("", cfg.Output),
			}
			if os.Getenv("AMT_PASSWORD") != "" {
				settings["password"] = defaultSource{"(set, not shown)", "environment AMT_PASSWORD"}
			} else {
				settings["password"] = defaultSource{nil, "default"}
			}
			pins := cfg.Pins
			if pins == nil {
				pins = map[string][]string{}
			}
			var file *string
			if path != "" {
				file = &path
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"file": file, "settings": settings, "pins": pins})
			}
			w := newTable(cmd.OutOrStdout())
			if file != nil {
				fmt.Fprintf(w, "Config file\t%s\n", path)
			} else {
				p, _ := defaultConfigPath()
				fmt.Fprintf(w, "Config file\tnone (%s does not exist)\n", p)
			}
			keys := make([]string, 0, len(settings))
			for k := range settings {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				s := settings[k]
				v := "-"
				if s.Value != nil {
					v = fmt.Sprint(s.Value)
				}
				fmt.Fprintf(w, "%s\t%s\t(%s)\n", k, v, s.Source)
			}
			hosts := make([]string, 0, len(pins))
			for h := range pins {
				hosts = append(hosts, h)
			}
			sort.Strings(hosts)
			for _, h := range hosts {
				fmt.Fprintf(w, "pin %s\t%s\t(config)\n", h, strings.Join(pins[h], ", "))
			}
			return w.Flush()
		},
	}
	show.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(show)
	return cmd
}
