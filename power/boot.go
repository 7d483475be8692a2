package power

import (
	"context"
	"strconv"
	"strings"

	"github.com/amtkit/amtkit/wsman"
)

// Resource URIs of the boot classes (protocol.md §3).
var (
	uriBootSettingData  = wsman.ResourceURI("AMT_BootSettingData")
	uriBootCapabilities = wsman.ResourceURI("AMT_BootCapabilities")
	uriBootConfig       = wsman.ResourceURI("CIM_BootConfigSetting")
	uriBootService      = wsman.ResourceURI("CIM_BootService")
	uriBootSource       = wsman.ResourceURI("CIM_BootSourceSetting")
)

// bootConfig is the one CIM_BootConfigSetting AMT has.
var bootConfig = wsman.EPR{ResourceURI: uriBootConfig, Selectors: []wsman.Selector{
	wsman.Sel("InstanceID", "Intel(r) AMT: Boot Configuration 0"),
}}

// Boot configuration roles AMT supports (CIM_BootService.SetBootConfigRole).
const (
	roleIsNextSingleUse = 1
	roleIsNotNext       = 32768
)

// BootTarget is where the next boot goes.
type BootTarget int

// Boot targets.
const (
	BootPXE        BootTarget = iota + 1 // network boot
	BootHardDisk                         // local hard disk (BootOptions.MediaIndex selects the drive)
	BootCD                               // local CD/DVD drive (not IDE-R)
	BootBIOSSetup                        // enter the BIOS setup screen
	BootIDERCD                           // the CD image a console serves over IDE-R
	BootIDERFloppy                       // the floppy image a console serves over IDE-R
)

var targetNames = map[BootTarget]string{
	BootPXE: "pxe", BootHardDisk: "hdd", BootCD: "cd", BootBIOSSetup: "bios",
	BootIDERCD: "ider-cd", BootIDERFloppy: "ider-floppy",
}

// String names the target as amtctl does: pxe, hdd, cd, bios, ider-cd,
// ider-floppy.
func (t BootTarget) String() string {
	if n, ok := targetNames[t]; ok {
		return n
	}
	return "boot target " + strconv.Itoa(int(t))
}

// ParseBootTarget reads a target name as String writes it.
func ParseBootTarget(s string) (BootTarget, error) {
	for t, n := range targetNames {
		if strings.EqualFold(s, n) {
			return t, nil
		}
	}
	return 0, wsman.InvalidArgument("power: unknown boot target %q (want pxe, hdd, cd, bios, ider-cd or ider-floppy)", s)
}

// bootSource is the CIM_BootSourceSetting of the targets chosen by boot
// order rather than by AMT_BootSettingData.
func (t BootTarget) bootSource() string {
	switch t {
	case BootPXE:
		return "Intel(r) AMT: Force PXE Boot"
	case BootHardDisk:
		return "Intel(r) AMT: Force Hard-drive Boot"
	case BootCD:
		return "Intel(r) AMT: Force CD/DVD Boot"
	}
	return ""
}

// Verbosity is AMT_BootSettingData.FirmwareVerbosity.
type Verbosity int

// Firmware verbosity levels.
const (
	VerbosityDefault Verbosity = 0
	VerbosityQuiet   Verbosity = 1
	VerbosityVerbose Verbosity = 2
	VerbosityBlank   Verbosity = 3 // screen blank
)

// BootOptions are the one-time options of the next boot. The zero value
// asks for none.
type BootOptions struct {
	SOL                    bool // redirect the BIOS console to serial-over-LAN during POST
	BIOSPause              bool // pause in the BIOS for user input
	LockKeyboard           bool
	LockPowerButton        bool
	LockResetButton        bool
	LockSleepButton        bool
	UserPasswordBypass     bool // bypass the BIOS user password
	ConfigurationDataReset bool // reset the BIOS settings to defaults first
	ForcedProgressEvents   bool
	SafeMode               bool // with BootHardDisk: boot the OS in safe mode
	Verbosity              Verbosity
	// MediaIndex picks the drive for BootHardDisk and BootCD: 0 default,
	// 1 primary, 2 secondary, ...
	MediaIndex int
}

// BootCapabilities is AMT_BootCapabilities: what the firmware can do at
// boot. Every field is the property of the same name.
type BootCapabilities struct {
	IDER, SOL, BIOSSetup, BIOSPause, BIOSReflash                                   bool
	ForcePXEBoot, ForceHardDriveBoot, ForceHardDriveSafeModeBoot, ForceCDorDVDBoot bool
	PowerButtonLock, ResetButtonLock, KeyboardLock, SleepButtonLock                bool
	UserPasswordBypass, ForcedProgressEvents, ConfigurationDataReset               bool
	VerbosityQuiet, VerbosityVerbose, VerbosityScreenBlank                         bool
	// Instance is the full instance, for flags this type does not name.
	Instance *wsman.Instance
}

// BootCapabilities reads AMT_BootCapabilities.
func (s *Service) BootCapabilities(ctx context.Context) (_ *BootCapabilities, err error) {
	ctx, done := s.begin(ctx, "boot capabilities", nil)
	defer func() { done(err) }()
	c, err := s.bootCapabilities(ctx)
	return c, s.fail("boot capabilities", err)
}

func (s *Service) bootCapabilities(ctx context.Context) (*BootCapabilities, error) {
	ws, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	in, err := ws.Get(ctx, uriBootCapabilities)
	if err != nil {
		return nil, err
	}
	return DecodeBootCapabilities(in), nil
}

// DecodeBootCapabilities reads an AMT_BootCapabilities instance; a flag the
// firmware does not report is false.
func DecodeBootCapabilities(in *wsman.Instance) *BootCapabilities {
	f := func(name string) bool {
		v, err := in.Bool(name)
		return err == nil && v
	}
	return &BootCapabilities{
		IDER: f("IDER"), SOL: f("SOL"), BIOSSetup: f("BIOSSetup"), BIOSPause: f("BIOSPause"), BIOSReflash: f("BIOSReflash"),
		ForcePXEBoot: f("ForcePXEBoot"), ForceHardDriveBoot: f("ForceHardDriveBoot"),
		ForceHardDriveSafeModeBoot: f("ForceHardDriveSafeModeBoot"), ForceCDorDVDBoot: f("ForceCDorDVDBoot"),
		PowerButtonLock: f("PowerButtonLock"), ResetButtonLock: f("ResetButtonLock"), KeyboardLock: f("KeyboardLock"),
		SleepButtonLock: f("SleepButtonLock"), UserPasswordBypass: f("UserPasswordBypass"),
		ForcedProgressEvents: f("ForcedProgressEvents"), ConfigurationDataReset: f("ConfigurationDataReset"),
		VerbosityQuiet: f("VerbosityQuiet"), VerbosityVerbose: f("VerbosityVerbose"), VerbosityScreenBlank: f("VerbosityScreenBlank"),
		Instance: in,
	}
}

// validate refuses what no firmware can do: an unknown target, options
// that contradict each other or the target. These are caller mistakes.
func validate(target BootTarget, opts BootOptions) error {
	if _, ok := targetNames[target]; !ok {
		return wsman.InvalidArgument("power: unknown boot target %d", int(target))
	}
	if opts.SafeMode && target != BootHardDisk {
		return wsman.InvalidArgument("power: safe mode needs boot target hdd, not %s", target)
	}
	if opts.Verbosity < VerbosityDefault || opts.Verbosity > VerbosityBlank {
		return wsman.InvalidArgument("power: unknown firmware verbosity %d", int(opts.Verbosity))
	}
	if opts.MediaIndex < 0 || opts.MediaIndex > 65535 || opts.MediaIndex != 0 && target != BootHardDisk && target != BootCD {
		return wsman.InvalidArgument("power: media index %d does not apply to boot target %s", opts.MediaIndex, target)
	}
	return nil
}

// opName is the operation name of a boot call for target, naming the
// target only when it is one.
func opName(prefix string, target BootTarget) string {
	if _, ok := targetNames[target]; ok {
		return prefix + " " + target.String()
	}
	return prefix
}

// check lists what the firmware cannot do of target and opts, which
// validate accepted.
func (c *BootCapabilities) check(target BootTarget, opts BootOptions) error {
	var missing []string
	need := func(ok bool, what string) {
		if !ok {
			missing = append(missing, what)
		}
	}
	switch target {
	case BootPXE:
		need(c.ForcePXEBoot, "boot target pxe")
	case BootHardDisk:
		need(c.ForceHardDriveBoot, "boot target hdd")
		if opts.SafeMode {
			need(c.ForceHardDriveSafeModeBoot, "option safe-mode")
		}
	case BootCD:
		need(c.ForceCDorDVDBoot, "boot target cd")
	case BootBIOSSetup:
		need(c.BIOSSetup, "boot target bios")
	case BootIDERCD, BootIDERFloppy:
		need(c.IDER, "boot target "+target.String())
	}
	for _, o := range []struct {
		asked, capable bool
		name           string
	}{
		{opts.SOL, c.SOL, "option sol"},
		{opts.BIOSPause, c.BIOSPause, "option bios-pause"},
		{opts.LockKeyboard, c.KeyboardLock, "option lock-keyboard"},
		{opts.LockPowerButton, c.PowerButtonLock, "option lock-power-button"},
		{opts.LockResetButton, c.ResetButtonLock, "option lock-reset-button"},
		{opts.LockSleepButton, c.SleepButtonLock, "option lock-sleep-button"},
		{opts.UserPasswordBypass, c.UserPasswordBypass, "option user-password-bypass"},
		{opts.ForcedProgressEvents, c.ForcedProgressEvents, "option forced-progress-events"},
		{opts.ConfigurationDataReset, c.ConfigurationDataReset, "option configuration-data-reset"},
	} {
		if o.asked {
			need(o.capable, o.name)
		}
	}
	switch opts.Verbosity {
	case VerbosityDefault:
	case VerbosityQuiet:
		need(c.VerbosityQuiet, "option verbosity quiet")
	case VerbosityVerbose:
		need(c.VerbosityVerbose, "option verbosity verbose")
	case VerbosityBlank:
		need(c.VerbosityScreenBlank, "option verbosity screen-blank")
	}
	if len(missing) > 0 {
		return &UnsupportedError{What: missing}
	}
	return nil
}

// readOnlyBootSettings are AMT_BootSettingData properties a Put must not
// carry: firmware rejects a Put of the whole instance (protocol.md §3.1).
// RSEPassword is write-only and reads back empty.
var readOnlyBootSettings = []string{
	"OptionsCleared", "BIOSLastStatus", "WinREBootEnabled", "UEFILocalPBABootEnabled", "UEFIHTTPSBootEnabled",
	"SecureBootControlEnabled", "BootguardStatus", "RPEEnabled", "UefiBootParametersArray", "UefiBootNumberOfParams",
	"RSEPassword",
}

// optionBooleans are the writable one-time booleans NextBoot controls; every
// one it does not set is cleared.
var optionBooleans = []string{
	"BIOSPause", "BIOSSetup", "ConfigurationDataReset", "EnforceSecureBoot", "ForcedProgressEvents",
	"LockKeyboard", "LockPowerButton", "LockResetButton", "LockSleepButton", "PlatformErase", "ReflashBIOS",
	"SecureErase", "UseIDER", "UseSOL", "UseSafeMode", "UserPasswordBypass",
}

// NextBoot arms a one-time boot: the next time the machine boots (power on,
// reset or power cycle) it boots from target with opts, once. It checks
// AMT_BootCapabilities first and refuses, before changing anything, a
// target or option the firmware cannot do (*UnsupportedError). Then it
// clears the boot source, reads AMT_BootSettingData, changes only the
// writable fields, Puts it back without the read-only ones, selects the
// boot source (ChangeBootOrder) and sets the boot configuration role to
// IsNextSingleUse (SetBootConfigRole), which is what makes the firmware use
// the settings at all. It does not change the power state; see ResetTo.
func (s *Service) NextBoot(ctx context.Context, target BootTarget, opts BootOptions) (err error) {
	ctx, done := s.begin(ctx, opName("boot next", target), bootParams(0, opts))
	defer func() { done(err) }()
	return s.fail(opName("boot next", target), s.nextBoot(ctx, target, opts))
}

func (s *Service) nextBoot(ctx context.Context, target BootTarget, opts BootOptions) error {
	if err := validate(target, opts); err != nil {
		return err
	}
	caps, err := s.bootCapabilities(ctx)
	if err != nil {
		return err
	}
	if err := caps.check(target, opts); err != nil {
		return err
	}
	// A selected boot source blocks some options in the Put below.
	if err := s.changeBootOrder(ctx, ""); err != nil {
		return err
	}
	if err := s.putBootSettings(ctx, target, opts); err != nil {
		return err
	}
	if src := target.bootSource(); src != "" {
		if err := s.changeBootOrder(ctx, src); err != nil {
			return err
		}
	}
	return s.setBootConfigRole(ctx, roleIsNextSingleUse)
}

func (s *Service) putBootSettings(ctx context.Context, target BootTarget, opts BootOptions) error {
	ws, err := s.client(ctx)
	if err != nil {
		return err
	}
	in, err := ws.Get(ctx, uriBootSettingData)
	if err != nil {
		return err
	}
	for _, ro := range readOnlyBootSettings {
		in.Remove(ro)
	}
	set := map[string]bool{
		"UseSOL": opts.SOL, "BIOSPause": opts.BIOSPause, "LockKeyboard": opts.LockKeyboard,
		"LockPowerButton": opts.LockPowerButton, "LockResetButton": opts.LockResetButton,
		"LockSleepButton": opts.LockSleepButton, "UserPasswordBypass": opts.UserPasswordBypass,
		"ConfigurationDataReset": opts.ConfigurationDataReset, "ForcedProgressEvents": opts.ForcedProgressEvents,
		"UseSafeMode": opts.SafeMode, "BIOSSetup": target == BootBIOSSetup,
		"UseIDER": target == BootIDERCD || target == BootIDERFloppy,
	}
	for _, name := range optionBooleans {
		if !in.Has(name) && !set[name] {
			continue // keep the instance as this firmware writes it
		}
		in.Set(name, strconv.FormatBool(set[name]))
	}
	ider := "0"
	if target == BootIDERCD {
		ider = "1"
	}
	in.Set("IDERBootDevice", ider)
	in.Set("BootMediaIndex", strconv.Itoa(opts.MediaIndex))
	in.Set("FirmwareVerbosity", strconv.Itoa(int(opts.Verbosity)))
	_, err = ws.Put(ctx, in)
	return err
}

func (s *Service) changeBootOrder(ctx context.Context, source string) error {
	var params []wsman.Property
	if source != "" {
		params = append(params, wsman.RefParam("Source", wsman.EPR{ResourceURI: uriBootSource,
			Selectors: []wsman.Selector{wsman.Sel("InstanceID", source)}}))
	}
	ws, err := s.client(ctx)
	if err != nil {
		return err
	}
	_, err = ws.Invoke(ctx, uriBootConfig, "ChangeBootOrder", params,
		wsman.Sel("InstanceID", "Intel(r) AMT: Boot Configuration 0"))
	return err
}

func (s *Service) setBootConfigRole(ctx context.Context, role int) error {
	ws, err := s.client(ctx)
	if err != nil {
		return err
	}
	_, err = ws.Invoke(ctx, uriBootService, "SetBootConfigRole", []wsman.Property{
		wsman.RefParam("BootConfigSetting", bootConfig),
		wsman.Param("Role", strconv.Itoa(role)),
	})
	return err
}

// ClearBootOptions undoes NextBoot: no boot source, every one-time option
// off, and the boot configuration no longer used for the next boot.
func (s *Service) ClearBootOptions(ctx context.Context) (err error) {
	ctx, done := s.begin(ctx, "boot clear", nil)
	defer func() { done(err) }()
	err = s.changeBootOrder(ctx, "")
	if err == nil {
		err = s.putBootSettings(ctx, 0, BootOptions{})
	}
	if err == nil {
		err = s.setBootConfigRole(ctx, roleIsNotNext)
	}
	return s.fail("boot clear", err)
}

// BootSettings reads AMT_BootSettingData as it stands.
func (s *Service) BootSettings(ctx context.Context) (_ *wsman.Instance, err error) {
	ctx, done := s.begin(ctx, "boot settings", nil)
	defer func() { done(err) }()
	ws, err := s.client(ctx)
	if err != nil {
		return nil, s.fail("boot settings", err)
	}
	in, err := ws.Get(ctx, uriBootSettingData)
	return in, s.fail("boot settings", err)
}

// ResetTo arms a one-time boot and starts it in one call: "reset to PXE".
// A machine that is on is reset; one that is off or hibernating is powered
// on; one that sleeps is woken and then reset, since resuming from sleep
// does not run the BIOS boot path. It returns the action that started the
// boot. The device must not be transitioning (*TransitioningError).
func (s *Service) ResetTo(ctx context.Context, target BootTarget, opts BootOptions) (_ Action, err error) {
	ctx, done := s.begin(ctx, opName("boot", target), bootParams(0, opts))
	defer func() { done(err) }()
	a, err := s.resetTo(ctx, target, opts)
	return a, s.fail(opName("boot", target), err)
}

func (s *Service) resetTo(ctx context.Context, target BootTarget, opts BootOptions) (Action, error) {
	if err := validate(target, opts); err != nil {
		return 0, err
	}
	st, err := s.status(ctx)
	if err != nil {
		return 0, err
	}
	if !st.State.Known() {
		return 0, &StateUnknownError{State: st.State}
	}
	if st.Transitioning {
		return 0, &TransitioningError{State: st.State, To: st.TransitioningTo}
	}
	if err := s.nextBoot(ctx, target, opts); err != nil {
		return 0, err
	}
	return s.startBoot(ctx, st)
}

// StartBoot starts the machine's boot path, so that armed one-time boot
// options take effect: a machine that is on is reset; one that is off or
// hibernating is powered on; one that sleeps is woken, waited for and then
// reset, since resuming from sleep does not run the BIOS boot path. It
// never power cycles or powers off (the device refuses both while a
// redirection session is open). It returns the last action sent, or the
// one that failed. The two changes from sleep keep the minimum gap
// (WithMinGap).
func (s *Service) StartBoot(ctx context.Context) (_ Action, err error) {
	ctx, done := s.begin(ctx, "boot start", nil)
	defer func() { done(err) }()
	st, err := s.status(ctx)
	if err != nil {
		return 0, s.fail("boot start", err)
	}
	a, err := s.startBoot(ctx, st)
	return a, s.fail("boot start", err)
}

// startBoot is StartBoot from the status st just read; this is the one
// place that wakes, waits and resets.
func (s *Service) startBoot(ctx context.Context, st *Status) (Action, error) {
	if st.Transitioning {
		return 0, &TransitioningError{State: st.State, To: st.TransitioningTo}
	}
	switch st.State {
	case StateOn:
		return Reset, s.set(ctx, st, Reset)
	case StateSleep:
		if err := s.set(ctx, st, On); err != nil {
			return On, err
		}
		if _, err := s.WaitFor(ctx, StateOn); err != nil {
			return On, err
		}
		st, err := s.status(ctx)
		if err != nil {
			return Reset, err
		}
		return Reset, s.set(ctx, st, Reset)
	default:
		return On, s.set(ctx, st, On)
	}
}
