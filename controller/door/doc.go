// Package door runs one door of a varco controller: the strike relay, the
// door contact and the request-to-exit (REX) button, as a state machine on
// an injected clock (ARCHITECTURE.md section 6, issue 3 points 3 and 4).
//
// The hardware is behind periph's small interfaces: the relay is a
// gpio.PinOut, the contact and the REX button are gpio.PinIn. Tests use
// gpiotest pins and the fake clock in doortest; on a Raspberry Pi,
// [OpenHost] loads periph's host drivers (the Linux GPIO character device
// through gpioioctl) and looks the configured pin names up in gpioreg.
//
// # Safe state
//
// The relay's safe state is "de-energised", whatever the fail mode: that is
// what the door does when the power or the controller goes away, so it is
// the state the installer has already accepted for the door. For a
// fail-secure strike (the default) de-energised means locked; for a
// fail-safe lock (fire exits, mag locks) de-energised means unlocked, so a
// fail-safe door is energised to stay locked. [New] drives the relay to the
// safe state before it does anything else (even before it validates the
// configuration), and [Door.Halt] drives it back there on shutdown, on a
// signal and, through [HaltOnPanic], on a panic. A panic in a goroutine
// that does not defer HaltOnPanic still kills the process without running
// it; the Door's own timer callbacks do halt the door before re-panicking.
// What the line does after the process exits is up to the kernel and the
// wiring, so a fail-safe door also needs a hardware watchdog.
//
// # Inputs
//
// The contact and the REX button are sampled every Config.PollInterval on
// the injected clock rather than waited on with WaitForEdge: sampling on the
// clock is what makes debounce and the tests deterministic (the fake clock
// fires every sample in order), and at the default 10 ms it costs nothing
// on a Pi. A level change is accepted once it has been stable for
// Config.Debounce. Inputs are configured with a pull resistor towards their
// inactive level: a pull-up for active-low inputs (the usual wiring, a
// switch to ground), a pull-down for active-high ones. A broken contact
// wire therefore reads "open" and a broken REX wire reads "not pressed".
//
// # Modes
//
// In ModeLockdown a Grant does not release the strike, but REX still does:
// egress must always work (fire codes), and a person inside is not the
// threat a lockdown keeps out. GrantOverride releases in every mode, for
// grants that carry the lockdown_override flag. ModeUnlockedSchedule and
// ModeUnlockedCommand hold the relay in its unlock state; an open door is
// not an alarm in those modes.
//
// # Events
//
// The Door emits varco.Events (Door = Config.ID, Time from the clock) for
// forced, held_open, closed (after forced or held_open), rex and mode
// changes. Granted and denied events are the caller's: it knows the NIS and
// the person; [Door.Denied] only says whether a repeated deny should be
// logged. The emit function is called with the Door's lock held, in order:
// it must be quick (hand the event to the outbox) and must not call back
// into the Door.
package door
