package redirect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amtkit/amtkit/power"
	"github.com/amtkit/amtkit/wsman"
)

// Resource URIs (protocol.md §3.4, §3.6).
var (
	uriRedirection = wsman.ResourceURI("AMT_RedirectionService")
	uriOptIn       = wsman.ResourceURI("IPS_OptInService")
)

// AMT_RedirectionService.EnabledState values: 32768 plus bit 0 for IDE-R
// and bit 1 for SOL (protocol.md §3.4).
const (
	redirectionStateBase = 32768
	redirectionIDER      = 1
	redirectionSOL       = 2
)

// IPS_OptInService values (protocol.md §3.6).
const (
	optInRequiredAll = 4294967295
	optInReceived    = 3
	optInInSession   = 4
)

// DefaultCleanupTimeout bounds the restoring of settings after a boot.
const DefaultCleanupTimeout = 30 * time.Second

// BootOptions configure BootFromImage.
type BootOptions struct {
	// Media are the images served; Device says which one the machine boots
	// from: power.BootIDERCD (the default when Media.CD is set) or
	// power.BootIDERFloppy.
	Media  IDERMedia
	Device power.BootTarget
	// Start is when the device attaches the drives; the default,
	// StartOnReboot, suits the reset BootFromImage sends.
	Start StartMode
	// SOL sets the UseSOL boot option: the BIOS console goes to
	// serial-over-LAN during POST.
	SOL bool
	// Console, when set, receives the machine's serial console while the
	// image is served: BootFromImage opens a SOL session (and enables SOL
	// in AMT_RedirectionService if needed) and copies its output here.
	Console io.Writer
	// ConsentCode is asked for the six-digit code the machine shows when
	// the device requires user consent. When nil and consent is required,
	// BootFromImage returns a *ConsentRequiredError (ErrConsentRequired).
	// The machine must be on for the code to be displayed.
	ConsentCode func(ctx context.Context) (string, error)
	// Progress, Until, StopAfterBytes and IdleTimeout are those of
	// IDEROptions: the caller decides when the machine has booted. With
	// none of them, serving lasts until ctx ends.
	Progress       func(Progress)
	Until          func(Progress) bool
	StopAfterBytes int64
	IdleTimeout    time.Duration
	// Logger receives debug records of each step. Nil discards.
	Logger *slog.Logger
	// CleanupTimeout bounds the restoring of settings afterwards, which
	// runs even when ctx has ended. Default DefaultCleanupTimeout.
	CleanupTimeout time.Duration
	// Journal, when set, receives a RestoreRecord under JournalHost
	// before each setting is changed, and loses it once everything was
	// put back; a record left behind (the process was killed) is put back
	// with RestoreFromRecord.
	Journal     Journal
	JournalHost string
}

// BootResult reports what BootFromImage did.
type BootResult struct {
	Device power.BootTarget
	// Action is the power action that started the boot: power.Reset for a
	// machine that was on (or asleep, after waking it), power.On for one
	// that was off. Zero when none was sent.
	Action power.Action
	// ActionOutcomeUnknown: the power request was sent but its answer was
	// lost; serving went on in case the machine boots.
	ActionOutcomeUnknown bool
	// Stats are those of the IDE-R session, nil if none was opened.
	Stats    *IDERStats
	Duration time.Duration
	// FeaturesEnabled: IDE-R (and SOL for Console) were disabled in
	// AMT_RedirectionService and were enabled for the boot.
	FeaturesEnabled bool
	// ListenerOpened: the redirection listener was closed and was opened.
	ListenerOpened bool
	// ConsentObtained: a user consent code was sent and accepted.
	ConsentObtained bool
	// RedirectionServiceMissing and OptInServiceMissing report classes the
	// device does not have (older firmware): the listener is then taken to
	// be open and consent not to be required.
	RedirectionServiceMissing bool
	OptInServiceMissing       bool
	// Restored lists what was put back afterwards; RestoreErrors what
	// could not be (also returned, as a *RestoreError).
	Restored      []string
	RestoreErrors []error
}

// BootFromImage boots the machine once from an image served over IDE-R
// (protocol.md §3.5):
//
//  1. reads AMT_RedirectionService; enables IDE-R (RequestStateChange) and
//     opens the listener (Put ListenerEnabled=true) if needed;
//  2. reads IPS_OptInService; when consent is required and not yet given,
//     starts the opt-in, asks opts.ConsentCode and sends the code;
//  3. opens an IDE-R session with dial and enables the drives
//     (ServeIDER, served from here on);
//  4. arms the one-time boot (pw.NextBoot: UseIDER, the device, UseSOL, then
//     the boot configuration role);
//  5. resets the machine if it is on (waking it first if it sleeps) or
//     powers it on if it is off: never a power cycle or a power-off, which
//     the device refuses while a redirection session is open;
//  6. serves until the caller's stop condition (Until, StopAfterBytes,
//     IdleTimeout or ctx);
//  7. always, including on error and after ctx ended (under
//     opts.CleanupTimeout), clears the one-time boot options and puts the
//     listener and the redirection features back as they were.
//
// A device without AMT_RedirectionService or IPS_OptInService (older
// firmware) is taken to have the listener open and no consent requirement;
// BootResult says so. The result is returned in every case.
func BootFromImage(ctx context.Context, ws *wsman.Client, pw *power.Service, dial DialFunc, opts BootOptions) (res *BootResult, err error) {
	started := time.Now()
	if opts.Device == 0 {
		opts.Device = power.BootIDERCD
		if opts.Media.CD == nil {
			opts.Device = power.BootIDERFloppy
		}
	}
	res = &BootResult{Device: opts.Device}
	switch {
	case opts.Device == power.BootIDERCD && opts.Media.CD == nil,
		opts.Device == power.BootIDERFloppy && opts.Media.Floppy == nil:
		return res, wsman.InvalidArgument("redirect: boot from %s needs that medium", opts.Device)
	case opts.Device != power.BootIDERCD && opts.Device != power.BootIDERFloppy:
		return res, wsman.InvalidArgument("redirect: boot device must be %s or %s, not %s", power.BootIDERCD, power.BootIDERFloppy, opts.Device)
	case ws == nil || pw == nil || dial == nil:
		return res, wsman.InvalidArgument("redirect: BootFromImage needs a WS-Management client, a power service and a dial function")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &booter{ctx: ctx, ws: ws, pw: pw, dial: dial, opts: opts, res: res, log: log,
		rec: RestoreRecord{Host: opts.JournalHost, Started: started.UTC(), Reason: "ider boot"}}
	if opts.Journal != nil && opts.JournalHost == "" {
		return res, wsman.InvalidArgument("redirect: BootOptions.Journal needs JournalHost")
	}
	defer func() {
		timeout := opts.CleanupTimeout
		if timeout <= 0 {
			timeout = DefaultCleanupTimeout
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		for i := len(b.undo) - 1; i >= 0; i-- {
			u := b.undo[i]
			if uerr := u.fn(cctx); uerr != nil {
				res.RestoreErrors = append(res.RestoreErrors, fmt.Errorf("%s: %w", u.what, uerr))
				log.LogAttrs(cctx, slog.LevelDebug, "restore failed", slog.String("what", u.what), slog.String("error", uerr.Error()))
				continue
			}
			res.Restored = append(res.Restored, u.what)
		}
		if len(res.RestoreErrors) > 0 {
			err = errors.Join(err, &RestoreError{Errs: res.RestoreErrors})
		} else if opts.Journal != nil && !b.rec.Empty() {
			// Everything recorded was put back.
			if jerr := opts.Journal.Done(cctx, opts.JournalHost); jerr != nil {
				err = errors.Join(err, fmt.Errorf("redirect: clearing the restore record: %w", jerr))
			}
		}
		res.Duration = time.Since(started)
	}()
	return res, b.run()
}

type undoStep struct {
	what string
	fn   func(ctx context.Context) error
}

type booter struct {
	ctx  context.Context
	ws   *wsman.Client
	pw   *power.Service
	dial DialFunc
	opts BootOptions
	res  *BootResult
	log  *slog.Logger
	undo []undoStep
	rec  RestoreRecord
}

// missingClass reports the answer of firmware without the class.
func missingClass(err error) bool {
	return errors.Is(err, wsman.ErrDestinationUnreachable) || errors.Is(err, wsman.ErrActionNotSupported)
}

func (b *booter) step(msg string, attrs ...slog.Attr) {
	b.log.LogAttrs(b.ctx, slog.LevelDebug, msg, attrs...)
}

func (b *booter) run() error {
	ctx := b.ctx
	if err := b.prepareRedirection(); err != nil {
		return err
	}
	if err := b.consent(); err != nil {
		return err
	}

	var console *SOLConn
	var copyDone sync.WaitGroup
	if b.opts.Console != nil {
		ss, err := b.dial(ctx, SOL)
		if err != nil {
			return err
		}
		if console, err = OpenSOL(ctx, ss); err != nil {
			return err
		}
		copyDone.Add(1)
		go func() {
			defer copyDone.Done()
			_, _ = io.Copy(b.opts.Console, console)
		}()
		defer func() {
			_ = console.Close()
			copyDone.Wait()
		}()
	}

	sess, err := b.dial(ctx, IDER)
	if err != nil {
		return err
	}
	serveCtx, cancelServe := context.WithCancel(ctx)
	defer cancelServe()
	enabled := make(chan struct{})
	type outcome struct {
		stats *IDERStats
		err   error
	}
	served := make(chan outcome, 1)
	go func() {
		st, err := ServeIDER(serveCtx, sess, b.opts.Media, IDEROptions{
			Start:          b.opts.Start,
			Progress:       b.opts.Progress,
			Until:          b.opts.Until,
			StopAfterBytes: b.opts.StopAfterBytes,
			IdleTimeout:    b.opts.IdleTimeout,
			OnEnabled:      func() { close(enabled) },
		})
		served <- outcome{st, err}
	}()
	// stopServing ends the session early and waits for it.
	stopServing := func(cause error) error {
		cancelServe()
		o := <-served
		b.res.Stats = o.stats
		return cause
	}

	select {
	case <-enabled:
	case o := <-served:
		b.res.Stats = o.stats
		if o.err == nil {
			o.err = &ProtocolError{Op: "IDE-R", Expected: "the drives enabled", Got: "the session ended first"}
		}
		return o.err
	}
	b.step("IDE-R drives enabled; arming the boot", slog.String("device", b.opts.Device.String()))

	if err := b.record(func(r *RestoreRecord) { r.BootOptionsArmed = true }); err != nil {
		return stopServing(err)
	}
	b.undo = append(b.undo, undoStep{"boot options", b.pw.ClearBootOptions})
	if err := b.pw.NextBoot(ctx, b.opts.Device, power.BootOptions{SOL: b.opts.SOL}); err != nil {
		return stopServing(err)
	}
	if err := ctx.Err(); err != nil {
		// Interrupted before the power request: none is sent.
		return stopServing(err)
	}
	action, err := b.startBoot()
	switch {
	case errors.Is(err, wsman.ErrOutcomeUnknown):
		b.res.Action = action
		b.res.ActionOutcomeUnknown = true
		b.step("power request outcome unknown; serving on", slog.String("action", action.String()))
	case err != nil:
		// Not sent, or refused: BootResult.Action names only a request
		// the device accepted (or may have).
		return stopServing(err)
	default:
		b.res.Action = action
	}
	b.step("boot started", slog.String("action", action.String()))

	o := <-served
	b.res.Stats = o.stats
	return o.err
}

// prepareRedirection enables IDE-R (and SOL for a console) and the
// listener, remembering how to put them back.
func (b *booter) prepareRedirection() error {
	ctx := b.ctx
	in, err := b.ws.Get(ctx, uriRedirection)
	if missingClass(err) {
		b.res.RedirectionServiceMissing = true
		b.step("no AMT_RedirectionService: taking the listener to be open")
		return nil
	}
	if err != nil {
		return err
	}
	state, err := in.Uint("EnabledState")
	if err != nil {
		return err
	}
	want := uint64(redirectionIDER)
	if b.opts.Console != nil {
		want |= redirectionSOL
	}
	cur := uint64(0)
	known := state >= redirectionStateBase && state <= redirectionStateBase+3
	if known {
		cur = state - redirectionStateBase
	}
	if cur&want != want {
		target := redirectionStateBase + (cur | want)
		if known {
			orig := state
			if err := b.record(func(r *RestoreRecord) { r.RedirectionState = &orig }); err != nil {
				return err
			}
		}
		if err := b.requestRedirectionState(ctx, target); err != nil {
			return err
		}
		b.res.FeaturesEnabled = true
		if known {
			orig := state
			b.undo = append(b.undo, undoStep{"redirection features", func(ctx context.Context) error {
				return b.requestRedirectionState(ctx, orig)
			}})
		}
		if in, err = b.ws.Get(ctx, uriRedirection); err != nil {
			return err
		}
	}
	listening, err := in.Bool("ListenerEnabled")
	if err != nil {
		return err
	}
	if !listening {
		off := false
		if err := b.record(func(r *RestoreRecord) { r.ListenerEnabled = &off }); err != nil {
			return err
		}
		if err := b.setListener(ctx, in, true); err != nil {
			return err
		}
		b.res.ListenerOpened = true
		b.undo = append(b.undo, undoStep{"redirection listener", func(ctx context.Context) error {
			in, err := b.ws.Get(ctx, uriRedirection)
			if err != nil {
				return err
			}
			return b.setListener(ctx, in, false)
		}})
	}
	return nil
}

func (b *booter) requestRedirectionState(ctx context.Context, state uint64) error {
	b.step("AMT_RedirectionService.RequestStateChange", slog.Uint64("state", state))
	return requestRedirectionState(ctx, b.ws, state)
}

func (b *booter) setListener(ctx context.Context, in *wsman.Instance, on bool) error {
	b.step("AMT_RedirectionService ListenerEnabled", slog.Bool("enabled", on))
	return setListener(ctx, b.ws, in, on)
}

func requestRedirectionState(ctx context.Context, ws *wsman.Client, state uint64) error {
	_, err := ws.Invoke(ctx, uriRedirection, "RequestStateChange",
		[]wsman.Property{wsman.Param("RequestedState", strconv.FormatUint(state, 10))})
	return err
}

func setListener(ctx context.Context, ws *wsman.Client, in *wsman.Instance, on bool) error {
	in = in.Clone()
	in.Set("ListenerEnabled", strconv.FormatBool(on))
	_, err := ws.Put(ctx, in)
	return err
}

// record writes the restore record, updated by change, before the change
// it announces is made. Without a journal it does nothing.
func (b *booter) record(change func(*RestoreRecord)) error {
	if b.opts.Journal == nil {
		return nil
	}
	change(&b.rec)
	if err := b.opts.Journal.Put(b.ctx, b.rec); err != nil {
		return fmt.Errorf("redirect: recording the settings before changing them: %w", err)
	}
	return nil
}

// consent obtains user consent when the device requires it.
func (b *booter) consent() error {
	ctx := b.ctx
	in, err := b.ws.Get(ctx, uriOptIn)
	if missingClass(err) {
		b.res.OptInServiceMissing = true
		b.step("no IPS_OptInService: taking consent not to be required")
		return nil
	}
	if err != nil {
		return err
	}
	required, err := in.Uint("OptInRequired")
	if err != nil {
		return err
	}
	state, err := in.Uint("OptInState")
	if err != nil {
		return err
	}
	if required != optInRequiredAll || state == optInReceived || state == optInInSession {
		return nil
	}
	if b.opts.ConsentCode == nil {
		return &ConsentRequiredError{OptInRequired: required, OptInState: state}
	}
	if state == 0 {
		b.step("IPS_OptInService.StartOptIn")
		if _, err := b.ws.Invoke(ctx, uriOptIn, "StartOptIn", nil); err != nil {
			return fmt.Errorf("redirect: starting user consent: %w", err)
		}
	}
	code, err := b.opts.ConsentCode(ctx)
	if err == nil {
		code = strings.TrimSpace(code)
		if n, perr := strconv.Atoi(code); perr != nil || n < 0 || n > 999999 || len(code) > 6 {
			err = wsman.InvalidArgument("redirect: consent code %q is not a number of at most six digits", code)
		}
	}
	if err == nil {
		b.step("IPS_OptInService.SendOptInCode")
		if _, err = b.ws.Invoke(ctx, uriOptIn, "SendOptInCode", []wsman.Property{wsman.Param("OptInCode", strings.TrimLeft(code, "0")+zeroIfEmpty(code))}); err != nil {
			err = fmt.Errorf("redirect: consent code not accepted: %w", err)
		}
	}
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = b.ws.Invoke(cctx, uriOptIn, "CancelOptIn", nil)
		return err
	}
	b.res.ConsentObtained = true
	return nil
}

func zeroIfEmpty(code string) string {
	if strings.TrimLeft(code, "0") == "" {
		return "0"
	}
	return ""
}

// startBoot resets a machine that is on and powers on one that is off
// (power.Service.StartBoot, which wakes a sleeping one first).
func (b *booter) startBoot() (power.Action, error) {
	return b.pw.StartBoot(b.ctx)
}
