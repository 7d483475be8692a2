// Command amtsim runs simulated Intel AMT devices: one device, or a fleet
// with devices on the addresses of a range, serving WS-Management on the
// firmware's ports, the redirection protocol (IDE-R and serial-over-LAN)
// on 16994/16995 and answering ASF RMCP presence pings. A fleet may leave
// addresses empty (--device-count, --empty-fraction) and mix kinds of
// device described by a JSON fleet spec (--fleet-spec; the format is in
// the amtsim package documentation). It prints one ready line to stdout
// once everything listens and serves until interrupted. Logs, including
// one line per simulated boot of a host and one per boot from IDE-R, go to
// stderr, as does the user consent code a device "shows on its screen"
// when a console starts the opt-in.
//
// Faults for clients' tests: --fault-delay, --fault-status and
// --fault-answer-delay (execute, then answer late) disturb the requests
// --fault-method names (every authenticated request without it);
// --fault-forget-nonces N makes every device forget its digest nonces after
// every N-th successful login, and the signal SIGUSR1 makes every device
// forget them at once, so that a test in another process can make the next
// request reusing a nonce get 401 with stale="false".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "amtsim:", err)
		os.Exit(2)
	}
}

// versionFlag is --version: given alone it prints the build's version; a
// value (the firmware version it used to set) is refused, naming --firmware.
type versionFlag bool

func (v *versionFlag) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *versionFlag) IsBoolFlag() bool { return true }
func (v *versionFlag) Set(s string) error {
	if b, err := strconv.ParseBool(s); err == nil {
		*v = versionFlag(b)
		return nil
	}
	return fmt.Errorf("--version no longer sets the firmware version; use --firmware %s", s)
}

// looksLikeFirmware reports whether s is a dotted version such as 11.8.50.3425.
func looksLikeFirmware(s string) bool {
	return s != "" && strings.Trim(s, "0123456789.") == "" && strings.Contains(s, ".")
}

// buildVersion is the module version, commit and Go version of the build.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown build)"
	}
	version, commit, dirty := bi.Main.Version, "unknown commit", ""
	if version == "" {
		version = "(devel)"
	}
	for _, st := range bi.Settings {
		switch st.Key {
		case "vcs.revision":
			commit = "commit " + st.Value
		case "vcs.modified":
			if st.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	return fmt.Sprintf("%s %s (%s%s, %s)", bi.Main.Path, version, commit, dirty, bi.GoVersion)
}

// powerStates maps --power-state names to DMTF PowerState values.
var powerStates = map[string]int{"on": 2, "sleep": 4, "hibernate": 7, "off": 8}

// run parses args, starts the simulator, writes the ready line to stdout
// and serves until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("amtsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts           amtsim.Options
		lockoutSeconds float64
		faultDelay     time.Duration
		faultStatus    int
		faultTimes     int
		faultMethod    string
		verbose        bool
		powerState     string
		fleetSpec      string
	)
	fs.StringVar(&opts.Addr, "addr", "127.0.0.1", "IP address of a single device")
	fs.StringVar(&opts.DevicesCIDR, "devices-cidr", "", "one device per host address of this IPv4 range (overrides --addr)")
	fs.StringVar(&opts.User, "user", "admin", "digest user name")
	fs.StringVar(&opts.Password, "password", "P@ssw0rd1", "digest password")
	fs.StringVar(&opts.Version, "firmware", "11.8.50.3425", "firmware version maj.min.hotfix.build")
	var showVersion versionFlag
	fs.Var(&showVersion, "version", "print amtsim's module version, commit and Go version, and exit (the firmware version is --firmware)")
	fs.IntVar(&opts.HTTPPort, "http-port", 16992, "WS-Man HTTP port (0 = any free port, -1 = disabled)")
	fs.IntVar(&opts.TLSPort, "tls-port", 16993, "WS-Man TLS port (0 = any free port, -1 = disabled)")
	fs.IntVar(&opts.RMCPPort, "rmcp-port", 623, "UDP port answering RMCP presence pings (0 = any free port, -1 = disabled)")
	fs.IntVar(&opts.RedirectPort, "redirect-port", 16994, "redirection (IDE-R, SOL) port (0 = any free port, -1 = disabled)")
	fs.IntVar(&opts.RedirectTLSPort, "redirect-tls-port", 16995, "redirection port with TLS (0 = any free port, -1 = disabled)")
	fs.Int64Var(&opts.IDERReadLimit, "ider-read-limit", 0, "bytes of the medium the simulated BIOS reads after the boot image (0 = 1 MiB, -1 = all)")
	fs.IntVar(&opts.DeviceCount, "device-count", 0, "with --devices-cidr: only this many addresses hold a device (0 = all)")
	fs.Float64Var(&opts.EmptyFraction, "empty-fraction", 0, "with --devices-cidr: this fraction of the addresses holds no device")
	fs.Int64Var(&opts.Seed, "seed", 1, "seed of device placement and fleet group assignment")
	fs.StringVar(&fleetSpec, "fleet-spec", "", "JSON file describing the fleet's groups of devices")
	fs.IntVar(&opts.LockoutAfter, "lockout-after", 3, "consecutive failed logins before lockout")
	fs.Float64Var(&lockoutSeconds, "lockout-seconds", 60, "lockout duration in seconds")
	fs.DurationVar(&opts.NonceLifetime, "nonce-lifetime", 5*time.Minute, "digest nonce lifetime")
	fs.IntVar(&opts.SKU, "sku", 16392, "firmware SKU reported by CIM_SoftwareIdentity")
	fs.BoolVar(&opts.LegacyTLS, "legacy-tls", false, "serve only TLS 1.0/1.1 with RSA key exchange")
	fs.DurationVar(&faultDelay, "fault-delay", 0, "delay every authenticated request by this duration")
	fs.IntVar(&faultStatus, "fault-status", 0, "answer authenticated requests with this HTTP status")
	fs.IntVar(&faultTimes, "fault-times", 0, "number of requests per device --fault-status and --fault-answer-delay affect (0 = all)")
	fs.StringVar(&faultMethod, "fault-method", "", "method or operation (e.g. RequestPowerStateChange, Get) the --fault-* request faults affect (default every authenticated request)")
	fs.DurationVar(&opts.FaultAnswerDelay, "fault-answer-delay", 0, "execute each affected request, then wait this long before answering")
	fs.IntVar(&opts.FaultForgetNoncesEvery, "fault-forget-nonces", 0, "every device forgets its digest nonces after every N-th successful login (0 = never; SIGUSR1 makes every device forget them at once)")
	fs.DurationVar(&opts.TransitionTime, "transition-time", 2*time.Second, "how long a power change takes (0 = immediate)")
	fs.BoolVar(&opts.NoOSAgent, "no-os-agent", false, "simulate hosts without the OS agent (no graceful actions, sleep, hibernate)")
	fs.StringVar(&powerState, "power-state", "on", "initial host power state: on, off, sleep or hibernate")
	fs.IntVar(&opts.RedirectionState, "redirection-state", 32771, "initial AMT_RedirectionService.EnabledState: 32768 + 1 (IDE-R) + 2 (SOL)")
	fs.BoolVar(&opts.ListenerDisabled, "listener-disabled", false, "start with the redirection listener closed (ListenerEnabled false)")
	fs.Int64Var(&opts.OptInRequired, "opt-in-required", 0, "user consent of admin-control-mode devices: 0 none, 1 KVM, 4294967295 all (client control mode: always all)")
	fs.DurationVar(&opts.Latency, "latency", 0, "delay every HTTP answer of every device by this long (a fleet spec group's latency replaces it)")
	fs.DurationVar(&opts.LatencyJitter, "latency-jitter", 0, "add a uniformly random extra delay of up to this long to every HTTP answer")
	fs.BoolVar(&verbose, "verbose", false, "log every request to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if showVersion {
		if fs.NArg() > 0 && looksLikeFirmware(fs.Arg(0)) {
			return fmt.Errorf("--version %s: --version no longer sets the firmware version; use --firmware %s", fs.Arg(0), fs.Arg(0))
		}
		fmt.Fprintln(stdout, "amtsim", buildVersion())
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if lockoutSeconds <= 0 {
		return errors.New("--lockout-seconds must be positive")
	}
	if faultDelay < 0 || faultTimes < 0 || opts.FaultAnswerDelay < 0 || opts.FaultForgetNoncesEvery < 0 {
		return errors.New("--fault-delay, --fault-answer-delay, --fault-forget-nonces and --fault-times must not be negative")
	}
	if faultMethod != "" && faultDelay == 0 && faultStatus == 0 && opts.FaultAnswerDelay == 0 {
		return errors.New("--fault-method needs --fault-answer-delay, --fault-delay or --fault-status")
	}
	// The answer delay is queued below with --fault-times and
	// --fault-method, rather than through Options.
	answerDelay := opts.FaultAnswerDelay
	opts.FaultAnswerDelay = 0
	if faultStatus != 0 && (faultStatus < 100 || faultStatus > 599) {
		return fmt.Errorf("--fault-status %d is not an HTTP status", faultStatus)
	}
	if opts.TransitionTime < 0 {
		return errors.New("--transition-time must not be negative")
	}
	ps, ok := powerStates[powerState]
	if !ok {
		return fmt.Errorf("--power-state %q: want on, off, sleep or hibernate", powerState)
	}
	opts.PowerState = ps
	if fleetSpec != "" {
		spec, err := amtsim.ReadFleetSpecFile(fleetSpec)
		if err != nil {
			return err
		}
		opts.Fleet = spec
	}
	opts.LockoutDuration = time.Duration(lockoutSeconds * float64(time.Second))
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	sim, err := amtsim.New(opts)
	if err != nil {
		return err
	}
	for _, d := range sim.Devices() {
		if faultStatus != 0 {
			d.InjectFault(amtsim.Fault{Kind: amtsim.FaultStatus, Action: faultMethod, Status: faultStatus, Times: faultTimes})
		}
		if answerDelay > 0 {
			d.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelayAnswer, Action: faultMethod, Delay: answerDelay, Times: faultTimes})
		}
		if faultDelay > 0 {
			d.InjectFault(amtsim.Fault{Kind: amtsim.FaultDelay, Action: faultMethod, Delay: faultDelay})
		}
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	fmt.Fprintln(stdout, sim.ReadyLine())
	for {
		select {
		case <-usr1:
			sim.ForgetNonces()
			fmt.Fprintln(stderr, "amtsim: SIGUSR1: every device forgot its digest nonces")
		case <-ctx.Done():
			return sim.Close()
		}
	}
}
