// Package doortest holds fakes for testing code that drives doors: a
// manual Clock that fires timers deterministically, an event Recorder, and
// gpiotest pins registered in gpioreg.
package doortest

import (
	"sort"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/door"
)

// Clock is a door.Clock whose time moves only by Advance. Timers fire in
// order of their deadline (then of creation) in the goroutine that calls
// Advance, with Now set to their deadline; timers they schedule that fall
// within the advance fire in the same call.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers []*timer
}

var _ door.Clock = (*Clock)(nil)

// NewClock returns a Clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now implements door.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements door.Clock.
func (c *Clock) AfterFunc(d time.Duration, f func()) door.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &timer{c: c, when: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

// Pending returns how many timers are waiting.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves the clock forward by d, firing every timer due by then.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool {
			a, b := c.timers[i], c.timers[j]
			if !a.when.Equal(b.when) {
				return a.when.Before(b.when)
			}
			return a.seq < b.seq
		})
		if len(c.timers) == 0 || c.timers[0].when.After(target) {
			c.now = target
			c.mu.Unlock()
			return
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()
		t.f() // outside the lock: it may schedule or stop timers
	}
}

type timer struct {
	c    *Clock
	when time.Time
	seq  uint64
	f    func()
}

// Stop implements door.Timer.
func (t *timer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Recorder collects events; its Emit is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []varco.Event
}

// Emit records e; pass it to door.New.
func (r *Recorder) Emit(e varco.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Events returns a copy of the events so far.
func (r *Recorder) Events() []varco.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]varco.Event(nil), r.events...)
}

// Kinds returns the kinds of the events so far, in order.
func (r *Recorder) Kinds() []varco.EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	ks := make([]varco.EventKind, len(r.events))
	for i, e := range r.events {
		ks[i] = e.Kind
	}
	return ks
}

// Reset forgets the events so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = nil
}

// RegisterPins makes a gpiotest pin for each name, registers it in gpioreg
// and unregisters it when the test ends.
func RegisterPins(tb testing.TB, names ...string) []*gpiotest.Pin {
	tb.Helper()
	pins := make([]*gpiotest.Pin, len(names))
	for i, n := range names {
		p := &gpiotest.Pin{N: n, Num: -1}
		if err := gpioreg.Register(p); err != nil {
			tb.Fatalf("register pin %s: %v", n, err)
		}
		tb.Cleanup(func() { _ = gpioreg.Unregister(n) })
		pins[i] = p
	}
	return pins
}
