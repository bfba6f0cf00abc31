package door

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/varco-access/varco"
)

// State is what a Door is doing, as reported by Door.State.
type State string

// Door states. "closed" is not a state but an event: a door that closes
// after forced or held_open emits EventClosed and goes back to locked,
// released or unlocked.
const (
	StateLocked   State = "locked"    // relay locked, door closed
	StateReleased State = "released"  // relay released by a grant or REX, door closed
	StateUnlocked State = "unlocked"  // relay held unlocked by an unlocked mode, door closed
	StateOpen     State = "open"      // door legitimately open
	StateForced   State = "forced"    // opened while locked and without REX
	StateHeldOpen State = "held_open" // legitimately opened, open past HeldOpenAfter
)

// Door is the state machine of one door. Its methods are safe for
// concurrent use.
type Door struct {
	cfg   Config
	pins  Pins
	clock Clock
	emit  func(varco.Event)

	safe      gpio.Level // relay level when de-energised
	unlockLvl gpio.Level // relay level that unlocks the door

	mu            sync.Mutex
	halted        bool
	mode          varco.DoorMode
	relayUnlocked bool // last level written, in door terms
	released      bool // a grant or REX pulse is running
	releaseGen    uint64
	releaseTimer  Timer
	rexUntil      time.Time // an opening before this follows a REX press
	open          bool      // debounced contact
	forced        bool      // this opening was reported as forced
	heldOpen      bool      // this opening was reported as held open
	heldGen       uint64
	heldTimer     Timer
	pollTimer     Timer
	contact       input
	rex           input
	denied        map[deniedKey]time.Time
}

type deniedKey struct {
	nis    string
	reason varco.Reason
}

// input debounces one GPIO input; active means "contact closed" or "REX
// pressed".
type input struct {
	pin       gpio.PinIn
	activeLow bool
	stable    bool      // debounced
	raw       bool      // last sample
	rawSince  time.Time // when raw last changed
}

func (in *input) read() bool {
	l := in.pin.Read()
	if in.activeLow {
		return l == gpio.Low
	}
	return l == gpio.High
}

// sample reads the pin and reports whether the debounced value changed.
func (in *input) sample(now time.Time, debounce time.Duration) bool {
	if in.pin == nil {
		return false
	}
	v := in.read()
	if v != in.raw {
		in.raw, in.rawSince = v, now
	}
	if in.raw != in.stable && now.Sub(in.rawSince) >= debounce {
		in.stable = in.raw
		return true
	}
	return false
}

func (in *input) configure(role string) error {
	if in.pin == nil {
		return nil
	}
	// Pull towards the inactive level: a broken contact wire reads open, a
	// broken REX wire reads not pressed.
	pull := gpio.PullDown
	if in.activeLow {
		pull = gpio.PullUp
	}
	if err := in.pin.In(pull, gpio.NoEdge); err != nil {
		return fmt.Errorf("%s pin %s: %w", role, in.pin, err)
	}
	return nil
}

// safeLevel is the relay's de-energised level.
func (c Config) safeLevel() gpio.Level {
	return gpio.Level(c.RelayActiveLow) // active-low: de-energised is high
}

// New drives the relay to its safe state, then validates cfg (zero
// durations take their defaults), configures the inputs, locks the door
// in ModeNormal and starts sampling the inputs on clock. A nil clock is
// the SystemClock; a nil emit discards events. The door's initial contact
// reading is taken as is: a door already open at start raises no forced
// event, but held_open fires if it stays open for HeldOpenAfter.
func New(cfg Config, pins Pins, clock Clock, emit func(varco.Event)) (*Door, error) {
	if pins.Relay == nil {
		return nil, fmt.Errorf("door %q: %w", cfg.ID, ErrNoRelay)
	}
	// Safe state before anything else, even before the config is checked.
	if err := pins.Relay.Out(cfg.safeLevel()); err != nil {
		return nil, fmt.Errorf("door %q: relay %s to safe state: %w", cfg.ID, pins.Relay, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if clock == nil {
		clock = SystemClock()
	}
	if emit == nil {
		emit = func(varco.Event) {}
	}
	d := &Door{
		cfg:     cfg,
		pins:    pins,
		clock:   clock,
		emit:    emit,
		safe:    cfg.safeLevel(),
		mode:    varco.ModeNormal,
		contact: input{pin: pins.Contact, activeLow: cfg.ContactActiveLow},
		rex:     input{pin: pins.REX, activeLow: cfg.REXActiveLow},
		denied:  map[deniedKey]time.Time{},
	}
	// Fail-secure energises to unlock; fail-safe de-energises to unlock.
	d.unlockLvl = !d.safe
	if cfg.FailSafe {
		d.unlockLvl = d.safe
	}
	if err := d.contact.configure("contact"); err != nil {
		return nil, fmt.Errorf("door %q: %w", cfg.ID, err)
	}
	if err := d.rex.configure("rex"); err != nil {
		return nil, fmt.Errorf("door %q: %w", cfg.ID, err)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	now := clock.Now()
	for _, in := range []*input{&d.contact, &d.rex} {
		if in.pin != nil {
			in.stable = in.read()
			in.raw, in.rawSince = in.stable, now
		}
	}
	d.open = d.pins.Contact != nil && !d.contact.stable
	if err := d.writeRelay(false); err != nil {
		return nil, fmt.Errorf("door %q: %w", cfg.ID, err)
	}
	if d.open {
		d.armHeld()
	}
	d.pollTimer = clock.AfterFunc(cfg.PollInterval, d.poll)
	return d, nil
}

// ID returns Config.ID.
func (d *Door) ID() string { return d.cfg.ID }

// Config returns the door's configuration with defaults filled in.
func (d *Door) Config() Config { return d.cfg }

// Mode returns the current door mode.
func (d *Door) Mode() varco.DoorMode {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mode
}

// State returns what the door is doing now.
func (d *Door) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.open && d.forced:
		return StateForced
	case d.open && d.heldOpen:
		return StateHeldOpen
	case d.open:
		return StateOpen
	case unlockedMode(d.mode):
		return StateUnlocked
	case d.released:
		return StateReleased
	}
	return StateLocked
}

func unlockedMode(m varco.DoorMode) bool {
	return m == varco.ModeUnlockedSchedule || m == varco.ModeUnlockedCommand
}

// Grant releases the strike for ReleaseTime after an access decision
// granted. A Grant while released restarts the pulse from now (extends it).
// It reports whether the door is released: false in ModeLockdown (use
// GrantOverride for lockdown_override grants) and after Halt. In the
// unlocked modes the door is already unlocked and Grant reports true.
func (d *Door) Grant() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted || d.mode == varco.ModeLockdown {
		return false
	}
	d.release()
	return true
}

// GrantOverride is Grant for a grant allowed through lockdown: it releases
// in every mode. It reports false only after Halt.
func (d *Door) GrantOverride() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return false
	}
	d.release()
	return true
}

// release starts or restarts the pulse. d.mu held.
func (d *Door) release() {
	if unlockedMode(d.mode) {
		return // already held unlocked; nothing to pulse
	}
	d.stopRelease()
	d.released = true
	gen := d.releaseGen
	d.releaseTimer = d.clock.AfterFunc(d.cfg.ReleaseTime, func() { d.endRelease(gen) })
	d.applyRelay()
}

// stopRelease cancels a running pulse without touching the relay. d.mu held.
func (d *Door) stopRelease() {
	d.releaseGen++
	if d.releaseTimer != nil {
		d.releaseTimer.Stop()
		d.releaseTimer = nil
	}
	d.released = false
}

func (d *Door) endRelease(gen uint64) {
	defer d.haltOnPanic()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted || gen != d.releaseGen {
		return // stale: cancelled or restarted
	}
	d.released = false
	d.releaseTimer = nil
	d.applyRelay()
}

// applyRelay writes the relay level the mode and pulse call for. d.mu held.
func (d *Door) applyRelay() {
	want := d.released || unlockedMode(d.mode)
	if want == d.relayUnlocked {
		return
	}
	if err := d.writeRelay(want); err != nil {
		d.event(varco.Event{Kind: varco.EventController, Detail: err.Error()})
	}
}

func (d *Door) writeRelay(unlock bool) error {
	l := !d.unlockLvl
	if unlock {
		l = d.unlockLvl
	}
	if err := d.pins.Relay.Out(l); err != nil {
		return fmt.Errorf("relay %s: %w", d.pins.Relay, err)
	}
	d.relayUnlocked = unlock
	return nil
}

// SetMode switches the door mode and emits EventMode when it changes.
// Entering lockdown or an unlocked mode cancels a running pulse; leaving an
// unlocked mode relocks at once, and an open door then has HeldOpenAfter
// to close.
func (d *Door) SetMode(m varco.DoorMode) error {
	switch m {
	case varco.ModeNormal, varco.ModeLockdown, varco.ModeUnlockedSchedule, varco.ModeUnlockedCommand:
	default:
		return fmt.Errorf("door %q: mode %q: %w", d.cfg.ID, m, ErrUnknownMode)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return fmt.Errorf("door %q: %w", d.cfg.ID, ErrHalted)
	}
	prev := d.mode
	if m == prev {
		return nil
	}
	d.mode = m
	switch {
	case unlockedMode(m):
		d.stopRelease()
		d.stopHeld() // an open door is not an alarm while unlocked
	case m == varco.ModeLockdown:
		d.stopRelease() // relock now
	}
	if unlockedMode(prev) && !unlockedMode(m) && d.open && !d.forced && !d.heldOpen {
		d.armHeld()
	}
	d.applyRelay()
	d.event(varco.Event{Kind: varco.EventMode, Detail: string(m)})
	return nil
}

// Denied reports whether a deny for nis with reason should be logged: the
// same NIS and reason again within DeniedRepeatWindow of the last logged
// one is not (a card left on the reader, a person tapping again and
// again). The window runs from the last logged deny, so a card tapped
// forever is still logged once per window.
func (d *Door) Denied(nis string, reason varco.Reason) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock.Now()
	w := max(d.cfg.DeniedRepeatWindow, 0) // LogEveryDenial
	for k, t := range d.denied {
		if now.Sub(t) >= w {
			delete(d.denied, k)
		}
	}
	k := deniedKey{nis, reason}
	if _, ok := d.denied[k]; ok {
		return false
	}
	d.denied[k] = now
	return true
}

// poll samples the inputs and reschedules itself.
func (d *Door) poll() {
	defer d.haltOnPanic()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return
	}
	now := d.clock.Now()
	// REX first: a press and an opening accepted in the same sample are a
	// legitimate exit.
	if d.rex.sample(now, d.cfg.Debounce) && d.rex.stable {
		d.rexPressed(now)
	}
	if d.contact.sample(now, d.cfg.Debounce) {
		d.contactChanged(!d.contact.stable, now)
	}
	d.pollTimer = d.clock.AfterFunc(d.cfg.PollInterval, d.poll)
}

func (d *Door) rexPressed(now time.Time) {
	d.event(varco.Event{Kind: varco.EventREX})
	d.rexUntil = now.Add(d.cfg.ReleaseTime)
	d.release() // in every mode, lockdown included: egress always works
}

func (d *Door) contactChanged(open bool, now time.Time) {
	d.open = open
	if open {
		legit := d.relayUnlocked || d.released || unlockedMode(d.mode) || now.Before(d.rexUntil)
		if !legit {
			d.forced = true
			d.event(varco.Event{Kind: varco.EventForced})
			return
		}
		if !unlockedMode(d.mode) {
			d.armHeld()
		}
		return
	}
	d.stopHeld()
	switch {
	case d.forced:
		d.event(varco.Event{Kind: varco.EventClosed, Detail: string(StateForced)})
	case d.heldOpen:
		d.event(varco.Event{Kind: varco.EventClosed, Detail: string(StateHeldOpen)})
	}
	d.forced, d.heldOpen = false, false
}

// armHeld starts the held-open alarm. d.mu held.
func (d *Door) armHeld() {
	d.stopHeld()
	gen := d.heldGen
	d.heldTimer = d.clock.AfterFunc(d.cfg.HeldOpenAfter, func() { d.heldExpired(gen) })
}

func (d *Door) stopHeld() {
	d.heldGen++
	if d.heldTimer != nil {
		d.heldTimer.Stop()
		d.heldTimer = nil
	}
}

func (d *Door) heldExpired(gen uint64) {
	defer d.haltOnPanic()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted || gen != d.heldGen || !d.open || d.forced || d.heldOpen || unlockedMode(d.mode) {
		return
	}
	d.heldTimer = nil
	d.heldOpen = true
	d.event(varco.Event{Kind: varco.EventHeldOpen})
}

// event stamps and emits e. d.mu held.
func (d *Door) event(e varco.Event) {
	e.Door = d.cfg.ID
	e.Time = d.clock.Now()
	d.emit(e)
}

// Halt stops the door for good and drives the relay to its safe
// (de-energised) state: locked for fail-secure, unlocked for fail-safe.
// Call it on shutdown, on a signal and on a panic (HaltOnPanic). Halt may
// be called more than once; each call writes the safe level again. After
// Halt, Grant reports false, SetMode fails and the inputs are not sampled.
func (d *Door) Halt() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.halted = true
	for _, t := range []Timer{d.pollTimer, d.releaseTimer, d.heldTimer} {
		if t != nil {
			t.Stop()
		}
	}
	d.releaseGen++
	d.heldGen++
	d.released = false
	if err := d.pins.Relay.Out(d.safe); err != nil {
		return fmt.Errorf("door %q: halt: relay %s: %w", d.cfg.ID, d.pins.Relay, err)
	}
	d.relayUnlocked = d.safe == d.unlockLvl
	return nil
}

func (d *Door) haltOnPanic() {
	if r := recover(); r != nil {
		_ = d.Halt()
		panic(r)
	}
}

// HaltAll halts every door and joins their errors.
func HaltAll(doors ...*Door) error {
	var errs []error
	for _, d := range doors {
		if d != nil {
			errs = append(errs, d.Halt())
		}
	}
	return errors.Join(errs...)
}

// HaltOnPanic puts every door's relay in its safe state if the calling
// goroutine is panicking, then panics again with the same value. Defer it
// directly, first thing after the doors are made, in main and in every
// goroutine that drives doors:
//
//	defer door.HaltOnPanic(front, back)
func HaltOnPanic(doors ...*Door) {
	if r := recover(); r != nil {
		_ = HaltAll(doors...)
		panic(r)
	}
}
