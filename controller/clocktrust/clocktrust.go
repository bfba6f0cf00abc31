// Package clocktrust tracks whether the controller's clock can be trusted
// for schedules. A Raspberry Pi has no real-time clock: it boots with the
// time it had at its last shutdown (or 1970) until NTP synchronises it, and
// a schedule read off such a clock opens doors at the wrong hours.
//
// The clock is trusted from the start when the board has an RTC (config
// clock.rtc), and otherwise from the moment the kernel reports the clock
// synchronised: adjtimex(2) returns a state other than TIME_ERROR and the
// STA_UNSYNC status bit is clear, which is what systemd-timesyncd, chrony
// and ntpd all set once they have disciplined the clock. Trust is never
// withdrawn once given: a later NTP outage leaves a clock that was right.
package clocktrust

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// SyncedFunc reports whether the system clock is synchronised.
type SyncedFunc func() (bool, error)

// KernelSynced asks the kernel through adjtimex(2), read-only.
func KernelSynced() (bool, error) {
	var tx unix.Timex // Modes 0: read only
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return false, err
	}
	return state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0, nil
}

// Tracker holds the trust state. The zero value is not usable; use New.
type Tracker struct {
	synced   SyncedFunc
	interval time.Duration
	after    func(time.Duration) <-chan time.Time
	onTrust  func()

	mu      sync.Mutex
	trusted bool
}

// Options configure a Tracker.
type Options struct {
	// RTC says the board keeps time across power cuts: trusted from start.
	RTC bool
	// Synced defaults to KernelSynced.
	Synced SyncedFunc
	// Interval between checks while untrusted; default 10 s.
	Interval time.Duration
	// After is the timer of the check loop; default time.After.
	After func(time.Duration) <-chan time.Time
	// OnTrust is called once, from Run, when the clock becomes trusted.
	OnTrust func()
}

// New returns a Tracker, trusted at once when opts.RTC is set.
func New(opts Options) *Tracker {
	t := &Tracker{synced: opts.Synced, interval: opts.Interval, after: opts.After, onTrust: opts.OnTrust, trusted: opts.RTC}
	if t.synced == nil {
		t.synced = KernelSynced
	}
	if t.interval <= 0 {
		t.interval = 10 * time.Second
	}
	if t.after == nil {
		t.after = time.After
	}
	return t
}

// Trusted reports whether the clock is trusted now.
func (t *Tracker) Trusted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.trusted
}

// Check asks once and returns the (possibly new) state.
func (t *Tracker) Check() bool {
	if t.Trusted() {
		return true
	}
	ok, err := t.synced()
	if err != nil || !ok {
		return false
	}
	t.mu.Lock()
	t.trusted = true
	t.mu.Unlock()
	if t.onTrust != nil {
		t.onTrust()
	}
	return true
}

// Run checks every Interval until the clock is trusted or ctx ends.
func (t *Tracker) Run(ctx context.Context) {
	for !t.Check() {
		select {
		case <-ctx.Done():
			return
		case <-t.after(t.interval):
		}
	}
}
