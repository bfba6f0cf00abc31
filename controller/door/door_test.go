package door_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/door"
	"github.com/varco-access/varco/controller/door/doortest"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// rig is one door on gpiotest pins and the fake clock, wired the usual way:
// contact and REX switch to ground (active low, pull-ups).
type rig struct {
	t                    *testing.T
	cfg                  door.Config
	clk                  *doortest.Clock
	rec                  *doortest.Recorder
	relay, contact, rexP *gpiotest.Pin
	d                    *door.Door
}

func newRig(t *testing.T, mutate func(*door.Config)) *rig {
	t.Helper()
	cfg := door.DefaultConfig("front")
	cfg.ContactActiveLow = true
	cfg.REXActiveLow = true
	if mutate != nil {
		mutate(&cfg)
	}
	r := &rig{
		t: t, cfg: cfg,
		clk:     doortest.NewClock(t0),
		rec:     &doortest.Recorder{},
		relay:   &gpiotest.Pin{N: "RELAY"},
		contact: &gpiotest.Pin{N: "CONTACT"},
		rexP:    &gpiotest.Pin{N: "REX"},
	}
	d, err := door.New(cfg, door.Pins{Relay: r.relay, Contact: r.contact, REX: r.rexP}, r.clk, r.rec.Emit)
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	t.Cleanup(func() { _ = d.Halt() })
	// The pull-up made the contact read open; close the door and settle.
	r.close()
	r.settle()
	r.rec.Reset()
	return r
}

func level(active, activeLow bool) gpio.Level { return gpio.Level(active != activeLow) }

func (r *rig) open()               { _ = r.contact.Out(level(false, r.cfg.ContactActiveLow)) }
func (r *rig) close()              { _ = r.contact.Out(level(true, r.cfg.ContactActiveLow)) }
func (r *rig) press()              { _ = r.rexP.Out(level(true, r.cfg.REXActiveLow)) }
func (r *rig) unpress()            { _ = r.rexP.Out(level(false, r.cfg.REXActiveLow)) }
func (r *rig) settle()             { r.clk.Advance(r.cfg.Debounce + 2*r.cfg.PollInterval) }
func (r *rig) adv(d time.Duration) { r.clk.Advance(d) }

// unlocked reports whether the relay is at its unlocking level.
func (r *rig) unlocked() bool {
	energised := r.relay.Read() == level(true, r.cfg.RelayActiveLow)
	return energised != r.cfg.FailSafe
}

func (r *rig) wantUnlocked(want bool, when string) {
	r.t.Helper()
	if got := r.unlocked(); got != want {
		r.t.Fatalf("%s: relay unlocked = %v, want %v (level %s)", when, got, want, r.relay.Read())
	}
}

func (r *rig) wantKinds(when string, want ...varco.EventKind) {
	r.t.Helper()
	got := r.rec.Kinds()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		r.t.Fatalf("%s: events %v, want %v", when, got, want)
	}
}

func (r *rig) wantState(want door.State) {
	r.t.Helper()
	if got := r.d.State(); got != want {
		r.t.Fatalf("state %s, want %s", got, want)
	}
}

// logPin records Out and In calls of several pins in one log.
type logPin struct {
	*gpiotest.Pin
	log *[]string
}

func (p logPin) Out(l gpio.Level) error {
	*p.log = append(*p.log, fmt.Sprintf("%s.Out(%s)", p.N, l))
	return p.Pin.Out(l)
}

func (p logPin) In(pull gpio.Pull, e gpio.Edge) error {
	*p.log = append(*p.log, fmt.Sprintf("%s.In(%s)", p.N, pull))
	return p.Pin.In(pull, e)
}

func TestNewRelayLevel(t *testing.T) {
	for _, tc := range []struct {
		name              string
		failSafe, actLow  bool
		wantSafe, wantRun gpio.Level // first write, level once running (locked)
	}{
		{"fail-secure active-high", false, false, gpio.Low, gpio.Low},
		{"fail-secure active-low", false, true, gpio.High, gpio.High},
		{"fail-safe active-high", true, false, gpio.Low, gpio.High},
		{"fail-safe active-low", true, true, gpio.High, gpio.Low},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log []string
			relay := logPin{&gpiotest.Pin{N: "R", L: !tc.wantSafe}, &log}
			contact := logPin{&gpiotest.Pin{N: "C"}, &log}
			cfg := door.DefaultConfig("d")
			cfg.FailSafe, cfg.RelayActiveLow = tc.failSafe, tc.actLow
			d, err := door.New(cfg, door.Pins{Relay: relay, Contact: contact}, doortest.NewClock(t0), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Halt()
			if want := fmt.Sprintf("R.Out(%s)", tc.wantSafe); len(log) == 0 || log[0] != want {
				t.Fatalf("first pin call %v, want %s", log, want)
			}
			if got := relay.Read(); got != tc.wantRun {
				t.Fatalf("relay after New = %s, want %s (locked)", got, tc.wantRun)
			}
			if err := d.Halt(); err != nil {
				t.Fatal(err)
			}
			if got := relay.Read(); got != tc.wantSafe {
				t.Fatalf("relay after Halt = %s, want %s", got, tc.wantSafe)
			}

			// An invalid config still leaves the relay safe.
			log = nil
			relay.L = !tc.wantSafe
			cfg.ReleaseTime = time.Second
			if _, err := door.New(cfg, door.Pins{Relay: relay}, doortest.NewClock(t0), nil); !errors.Is(err, door.ErrInvalidConfig) {
				t.Fatalf("New with ReleaseTime 1s: %v, want ErrInvalidConfig", err)
			}
			if got := relay.Read(); got != tc.wantSafe || len(log) != 1 {
				t.Fatalf("relay after rejected New = %s (calls %v), want %s", got, log, tc.wantSafe)
			}
		})
	}
}

func TestInputPulls(t *testing.T) {
	for _, low := range []bool{true, false} {
		c, x := &gpiotest.Pin{N: "C"}, &gpiotest.Pin{N: "X"}
		cfg := door.DefaultConfig("d")
		cfg.ContactActiveLow, cfg.REXActiveLow = low, low
		d, err := door.New(cfg, door.Pins{Relay: &gpiotest.Pin{N: "R"}, Contact: c, REX: x}, doortest.NewClock(t0), nil)
		if err != nil {
			t.Fatal(err)
		}
		d.Halt()
		want := gpio.PullDown
		if low {
			want = gpio.PullUp
		}
		if c.P != want || x.P != want {
			t.Errorf("activeLow=%v: pulls %s, %s, want %s", low, c.P, x.P, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   door.Config
		field string // "" = valid
	}{
		{"defaults", door.DefaultConfig("a"), ""},
		{"zero durations", door.Config{ID: "a"}, ""},
		{"release 3s", door.Config{ID: "a", ReleaseTime: 3 * time.Second}, ""},
		{"release below 3s", door.Config{ID: "a", ReleaseTime: 3*time.Second - 1}, "ReleaseTime"},
		{"no id", door.Config{}, "ID"},
		{"negative held", door.Config{ID: "a", HeldOpenAfter: -1}, "HeldOpenAfter"},
		{"log every denial", door.Config{ID: "a", DeniedRepeatWindow: door.LogEveryDenial}, ""},
		{"negative denied window", door.Config{ID: "a", DeniedRepeatWindow: -2 * time.Second}, "DeniedRepeatWindow"},
		{"poll over debounce", door.Config{ID: "a", Debounce: 5 * time.Millisecond}, "PollInterval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, door.ErrInvalidConfig) || !containsField(err, tc.field) {
				t.Fatalf("err = %v, want ErrInvalidConfig naming %s", err, tc.field)
			}
		})
	}
}

func containsField(err error, f string) bool {
	return err != nil && strings.Contains(err.Error(), f+":")
}

func TestGrantPulse(t *testing.T) {
	for _, fs := range []bool{false, true} {
		t.Run(fmt.Sprintf("failsafe=%v", fs), func(t *testing.T) {
			r := newRig(t, func(c *door.Config) { c.FailSafe = fs; c.RelayActiveLow = true })
			r.wantUnlocked(false, "before grant")
			if !r.d.Grant() {
				t.Fatal("Grant = false")
			}
			r.wantUnlocked(true, "t0")
			r.wantState(door.StateReleased)
			r.adv(r.cfg.ReleaseTime - 1)
			r.wantUnlocked(true, "t0+Release-1ns")
			r.adv(1)
			r.wantUnlocked(false, "t0+Release")
			r.wantState(door.StateLocked)
			r.wantKinds("pulse")
		})
	}
}

func TestGrantExtends(t *testing.T) {
	r := newRig(t, nil)
	r.d.Grant()
	r.adv(4 * time.Second)
	r.d.Grant()
	r.adv(r.cfg.ReleaseTime - 1)
	r.wantUnlocked(true, "second grant + Release-1ns")
	r.adv(1)
	r.wantUnlocked(false, "second grant + Release")
}

func TestREXReleases(t *testing.T) {
	r := newRig(t, nil)
	r.press()
	r.settle()
	r.wantUnlocked(true, "after REX")
	r.wantKinds("REX", varco.EventREX)
	if e := r.rec.Events()[0]; e.Door != "front" || !e.Time.After(t0) {
		t.Fatalf("event %+v: want Door front and a clock time", e)
	}
	r.unpress()
	r.adv(r.cfg.ReleaseTime)
	r.wantUnlocked(false, "Release after REX")
	r.wantKinds("REX held once", varco.EventREX)
}

func TestForcedAndClosed(t *testing.T) {
	r := newRig(t, nil)
	r.open()
	r.settle()
	r.wantState(door.StateForced)
	r.wantKinds("opened while locked", varco.EventForced)
	r.adv(time.Minute) // no held_open on top of forced
	r.wantKinds("still open", varco.EventForced)
	r.close()
	r.settle()
	r.wantKinds("closed", varco.EventForced, varco.EventClosed)
	if e := r.rec.Events()[1]; e.Detail != "forced" {
		t.Fatalf("closed detail %q", e.Detail)
	}
	r.wantState(door.StateLocked)
}

func TestNotForced(t *testing.T) {
	for _, tc := range []struct {
		name    string
		release func(r *rig)
	}{
		{"during grant", func(r *rig) { r.d.Grant() }},
		{"after REX", func(r *rig) { r.press(); r.settle(); r.unpress() }},
		{"REX and opening in the same debounce", func(r *rig) { r.press() }},
		{"unlocked by command", func(r *rig) { r.d.SetMode(varco.ModeUnlockedCommand) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, nil)
			tc.release(r)
			r.open()
			r.settle()
			r.wantState(door.StateOpen)
			r.close()
			r.settle()
			for _, k := range r.rec.Kinds() {
				if k == varco.EventForced || k == varco.EventClosed {
					t.Fatalf("events %v", r.rec.Kinds())
				}
			}
		})
	}
}

func TestHeldOpenThenClosed(t *testing.T) {
	r := newRig(t, nil)
	r.d.Grant()
	r.open()
	r.settle()
	opened := r.clk.Now()
	r.adv(r.cfg.ReleaseTime) // relay relocks, door still open: no alarm yet
	r.wantUnlocked(false, "after release")
	r.wantState(door.StateOpen)
	// The opening was accepted Debounce after the contact changed, at most
	// a settle before opened.
	early := r.cfg.Debounce + 2*r.cfg.PollInterval
	r.adv(opened.Add(r.cfg.HeldOpenAfter - early - 1).Sub(r.clk.Now()))
	r.wantKinds("before limit")
	r.adv(early + 1)
	r.wantKinds("at limit", varco.EventHeldOpen)
	r.wantState(door.StateHeldOpen)
	r.adv(2 * time.Minute)
	r.wantKinds("once", varco.EventHeldOpen)
	r.close()
	r.settle()
	r.wantKinds("closed", varco.EventHeldOpen, varco.EventClosed)
	r.wantState(door.StateLocked)
	// A legitimate open and close within the limit says nothing.
	r.rec.Reset()
	r.d.Grant()
	r.open()
	r.settle()
	r.close()
	r.adv(10 * time.Second)
	r.adv(time.Minute)
	r.wantKinds("short open")
}

func TestLockdown(t *testing.T) {
	r := newRig(t, nil)
	r.d.Grant()
	if err := r.d.SetMode(varco.ModeLockdown); err != nil {
		t.Fatal(err)
	}
	r.wantUnlocked(false, "lockdown cancels a running release")
	if r.d.Grant() {
		t.Fatal("Grant in lockdown = true")
	}
	r.wantUnlocked(false, "grant in lockdown")
	r.press()
	r.settle()
	r.wantUnlocked(true, "REX in lockdown")
	r.unpress()
	r.adv(r.cfg.ReleaseTime)
	r.wantUnlocked(false, "after REX release")
	if !r.d.GrantOverride() {
		t.Fatal("GrantOverride = false")
	}
	r.wantUnlocked(true, "override in lockdown")
	r.wantKinds("lockdown", varco.EventMode, varco.EventREX)
	if e := r.rec.Events()[0]; e.Detail != string(varco.ModeLockdown) {
		t.Fatalf("mode event %+v", e)
	}
}

func TestUnlockedModes(t *testing.T) {
	for _, m := range []varco.DoorMode{varco.ModeUnlockedSchedule, varco.ModeUnlockedCommand} {
		for _, fs := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s failsafe=%v", m, fs), func(t *testing.T) {
				r := newRig(t, func(c *door.Config) { c.FailSafe = fs })
				if err := r.d.SetMode(m); err != nil {
					t.Fatal(err)
				}
				r.wantUnlocked(true, "set")
				r.wantState(door.StateUnlocked)
				r.d.Grant()
				r.adv(2 * time.Minute)
				r.wantUnlocked(true, "minutes later")
				r.open()
				r.adv(2 * time.Minute)
				r.wantKinds("open while unlocked", varco.EventMode)
				if err := r.d.SetMode(varco.ModeNormal); err != nil {
					t.Fatal(err)
				}
				r.wantUnlocked(false, "back to normal")
				r.adv(r.cfg.HeldOpenAfter)
				r.wantKinds("held after relock", varco.EventMode, varco.EventMode, varco.EventHeldOpen)
			})
		}
	}
	r := newRig(t, nil)
	if err := r.d.SetMode("party"); !errors.Is(err, door.ErrUnknownMode) {
		t.Fatalf("SetMode(party) = %v", err)
	}
}

func TestDebounce(t *testing.T) {
	r := newRig(t, nil)
	// Contact bounces open for less than Debounce: nothing.
	r.open()
	r.adv(r.cfg.Debounce - r.cfg.PollInterval)
	r.close()
	r.adv(time.Second)
	r.wantKinds("contact bounce")
	// REX bounce: no release, no event.
	r.press()
	r.adv(r.cfg.Debounce / 2)
	r.unpress()
	r.adv(time.Second)
	r.wantUnlocked(false, "REX bounce")
	r.wantKinds("REX bounce")
	// A real opening is seen after Debounce.
	r.open()
	r.settle()
	r.wantKinds("real opening", varco.EventForced)
}

func TestDenied(t *testing.T) {
	r := newRig(t, nil)
	w := r.cfg.DeniedRepeatWindow
	steps := []struct {
		after  time.Duration
		nis    string
		reason varco.Reason
		want   bool
	}{
		{0, "A", varco.ReasonUnknown, true},
		{time.Second, "A", varco.ReasonUnknown, false},         // repeat within window
		{0, "A", varco.ReasonExpired, true},                    // different reason
		{0, "B", varco.ReasonUnknown, true},                    // different NIS
		{w - time.Second - 1, "A", varco.ReasonUnknown, false}, // just inside the window
		{1, "A", varco.ReasonUnknown, true},                    // window elapsed since first log
		{w / 2, "A", varco.ReasonUnknown, false},               // new window from there
	}
	for i, s := range steps {
		r.adv(s.after)
		if got := r.d.Denied(s.nis, s.reason); got != s.want {
			t.Fatalf("step %d: Denied(%s, %s) = %v, want %v", i, s.nis, s.reason, got, s.want)
		}
	}
}

func TestDeniedEveryTap(t *testing.T) {
	r := newRig(t, func(c *door.Config) { c.DeniedRepeatWindow = door.LogEveryDenial })
	for i := range 3 {
		if !r.d.Denied("A", varco.ReasonUnknown) {
			t.Fatalf("tap %d of the same denied card not logged with LogEveryDenial", i+1)
		}
	}
}

func TestHalt(t *testing.T) {
	for _, fs := range []bool{false, true} {
		for _, from := range []string{"released", "unlocked"} {
			t.Run(fmt.Sprintf("failsafe=%v from %s", fs, from), func(t *testing.T) {
				r := newRig(t, func(c *door.Config) { c.FailSafe = fs })
				if from == "released" {
					r.d.Grant()
				} else {
					r.d.SetMode(varco.ModeUnlockedCommand)
				}
				r.wantUnlocked(true, from)
				if err := r.d.Halt(); err != nil {
					t.Fatal(err)
				}
				safe := level(false, r.cfg.RelayActiveLow) // de-energised
				if got := r.relay.Read(); got != safe {
					t.Fatalf("relay after Halt = %s, want %s", got, safe)
				}
				if r.d.Grant() || !errors.Is(r.d.SetMode(varco.ModeNormal), door.ErrHalted) {
					t.Fatal("door still takes commands after Halt")
				}
				r.adv(time.Hour)
				if got := r.relay.Read(); got != safe {
					t.Fatalf("relay an hour after Halt = %s", got)
				}
				if n := r.clk.Pending(); n != 0 {
					t.Fatalf("%d timers left after Halt", n)
				}
			})
		}
	}
}

func TestHaltOnPanic(t *testing.T) {
	r := newRig(t, nil)
	r.d.Grant()
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want the original panic", v)
			}
		}()
		defer door.HaltOnPanic(r.d)
		panic("boom")
	}()
	r.wantUnlocked(false, "after panic")
	if r.d.Grant() {
		t.Fatal("door not halted")
	}
}

func TestOpenPins(t *testing.T) {
	doortest.RegisterPins(t, "T_RELAY", "T_CONTACT", "T_REX")
	p, err := door.OpenPins("T_RELAY", "T_CONTACT", "T_REX")
	if err != nil {
		t.Fatal(err)
	}
	if p.Relay.Name() != "T_RELAY" || p.Contact.Name() != "T_CONTACT" || p.REX.Name() != "T_REX" {
		t.Fatalf("pins %v", p)
	}
	if p, err := door.OpenPins("T_RELAY", "", ""); err != nil || p.Contact != nil || p.REX != nil {
		t.Fatalf("optional inputs: %v %v", p, err)
	}
	for _, tc := range []struct{ relay, contact, rex, want string }{
		{"NOPE", "T_CONTACT", "T_REX", `relay pin "NOPE"`},
		{"T_RELAY", "NOPE", "T_REX", `contact pin "NOPE"`},
		{"T_RELAY", "T_CONTACT", "NOPE", `rex pin "NOPE"`},
	} {
		_, err := door.OpenPins(tc.relay, tc.contact, tc.rex)
		if !errors.Is(err, door.ErrPinNotFound) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OpenPins(%q, %q, %q) = %v, want %s", tc.relay, tc.contact, tc.rex, err, tc.want)
		}
	}
}

func TestConcurrent(t *testing.T) {
	r := newRig(t, func(c *door.Config) { c.HeldOpenAfter = time.Second })
	var wg sync.WaitGroup
	stop := make(chan struct{})
	modes := []varco.DoorMode{varco.ModeNormal, varco.ModeLockdown, varco.ModeUnlockedCommand, varco.ModeNormal}
	work := []func(i int){
		func(int) { r.d.Grant() },
		func(i int) { _ = r.d.SetMode(modes[i%len(modes)]) },
		func(i int) { r.d.Denied(fmt.Sprint(i%7), varco.ReasonUnknown); _ = r.d.State() },
		func(i int) {
			if i%2 == 0 {
				r.open()
				r.press()
			} else {
				r.close()
				r.unpress()
			}
		},
	}
	for _, f := range work {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				f(i)
			}
		}()
	}
	for range 2000 {
		r.adv(7 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if err := r.d.Halt(); err != nil {
		t.Fatal(err)
	}
	if r.relay.Read() != level(false, r.cfg.RelayActiveLow) {
		t.Fatal("relay not safe after Halt")
	}
}

// TestSystemClock runs a door on the real clock briefly, for the
// time.AfterFunc path under -race.
func TestSystemClock(t *testing.T) {
	cfg := door.DefaultConfig("real")
	cfg.PollInterval = time.Millisecond
	relay, contact := &gpiotest.Pin{N: "R"}, &gpiotest.Pin{N: "C"}
	rec := &doortest.Recorder{}
	d, err := door.New(cfg, door.Pins{Relay: relay, Contact: contact}, nil, rec.Emit)
	if err != nil {
		t.Fatal(err)
	}
	contact.Out(gpio.High) // active-high contact: closed
	d.Grant()
	time.Sleep(20 * time.Millisecond)
	contact.Out(gpio.Low)
	deadline := time.Now().Add(5 * time.Second)
	for d.State() != door.StateOpen && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if s := d.State(); s != door.StateOpen {
		t.Fatalf("state %s", s)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if relay.Read() != gpio.Low {
		t.Fatal("relay not safe after Halt")
	}
}
