package fleet

import (
	"encoding/json"
	"time"
)

// Action names what a Task does on every machine. The names are stable:
// durable jobs store them, amtctl takes them as the TASK argument, and
// results carry them.
type Action string

// The actions a Task can run.
const (
	PowerStatus       Action = "power-status"       // read the power state (no change)
	PowerOn           Action = "power-on"           // power on; nothing is sent to a machine already on
	PowerOff          Action = "power-off"          // hard power off; nothing is sent to a machine already off
	PowerReset        Action = "power-reset"        // hard reset (power on when off)
	PowerCycle        Action = "power-cycle"        // power cycle (off, then on)
	PowerSoftOff      Action = "power-soft-off"     // graceful shutdown through the OS agent
	PowerSoftReset    Action = "power-soft-reset"   // graceful restart through the OS agent
	Wake              Action = "wake"               // wake from OS power saving (sleep, hibernate)
	Boot              Action = "boot"               // arm a one-time boot (Task.BootTarget), then reset or power on into it
	Inventory         Action = "inventory"          // firmware, provisioning, capabilities (no change)
	Hardware          Action = "hardware"           // hardware inventory (no change)
	ClockSet          Action = "clock-set"          // set the device clock from this machine's
	IDERBoot          Action = "ider-boot"          // boot once from an image served over IDE-R (Task.Image), then restore
	DefenseQuarantine Action = "defense-quarantine" // System Defense: only Task.Servers reachable
	DefensePingOnly   Action = "defense-ping-only"  // System Defense: ARP and ping only (no Task.Servers)
	DefenseApply      Action = "defense-apply"      // System Defense: the policy in Task.Policy
	DefenseRemove     Action = "defense-remove"     // System Defense: remove amtkit's filters and policies
	DefenseStatus     Action = "defense-status"     // System Defense: read filters, policies, bindings (no change)
)

// Changes reports whether the action changes a machine. Only such
// actions commit a marker before their send (Hooks.BeforeSend) and are
// never retried once a change request was written.
func (a Action) Changes() bool {
	switch a {
	case PowerStatus, Inventory, Hardware, DefenseStatus:
		return false
	}
	return true
}

// WakeMode asks a Task to bring the machine up before its action.
type WakeMode string

// The wake modes.
const (
	NoWake      WakeMode = ""         // act on the machine as it is
	WakePowerOn WakeMode = "power-on" // power on a machine that is off, and wait for it
	WakeFromOS  WakeMode = "wake"     // wake a machine from OS power saving (sleep, hibernate), and wait for it
)

// Task is one operation to run on every target. It is plain data, so that
// a durable job can store it and a worker on another machine can run it:
// it never holds a secret (credentials come from Options.Credentials).
type Task struct {
	Action Action `json:"action"`
	// BootTarget is the one-time boot device for Boot: "pxe", "disk",
	// "cd" or "bios" (power.ParseBootTarget).
	BootTarget string `json:"boot_target,omitempty"`
	// Image is the path of the image IDERBoot serves; it must be readable
	// where the task runs. ImageKind is "cd" or "floppy" ("" decides by
	// the image's content).
	Image     string `json:"image,omitempty"`
	ImageKind string `json:"image_kind,omitempty"`
	// ServeIdle ends an IDE-R boot once the machine has read nothing for
	// this long: it has booted from the image (zero: DefaultServeIdle).
	ServeIdle Duration `json:"serve_idle,omitempty"`
	// Servers are the addresses a quarantine or ping-only policy keeps
	// reachable (the management and remediation servers).
	Servers []string `json:"servers,omitempty"`
	// Policy is the text of a System Defense policy file (YAML,
	// defense.ParsePolicyFile) for DefenseApply: the task carries it, so
	// that a worker on another machine needs no file.
	Policy string `json:"policy,omitempty"`
	// DefenseTimeout is how long an applied System Defense policy stays in
	// force on the device (whole minutes; required by the defense actions
	// that apply a policy).
	DefenseTimeout Duration `json:"defense_timeout,omitempty"`
	// Wake asks for the machine to be woken first, and WakeTimeout bounds
	// the wait for it (zero: the package default).
	Wake        WakeMode `json:"wake,omitempty"`
	WakeTimeout Duration `json:"wake_timeout,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("90s", "5m0s"), so stored tasks and options stay readable.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
