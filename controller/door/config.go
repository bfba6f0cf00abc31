package door

import (
	"fmt"
	"time"
)

// Defaults and limits of Config.
const (
	DefaultReleaseTime        = 5 * time.Second
	MinReleaseTime            = 3 * time.Second // EN 60839-11-1: release time of at least 3 s
	DefaultHeldOpenAfter      = 30 * time.Second
	DefaultDebounce           = 50 * time.Millisecond
	DefaultDeniedRepeatWindow = 5 * time.Second
	DefaultPollInterval       = 10 * time.Millisecond
)

// Config is the configuration of one door. A zero duration means its
// default; DefaultConfig returns them filled in.
type Config struct {
	// ID names the door in events. Required.
	ID string
	// ReleaseTime is how long a grant or REX releases the strike.
	// Default 5 s; below 3 s is rejected (EN 60839-11-1).
	ReleaseTime time.Duration
	// HeldOpenAfter is how long a legitimately opened door may stay open
	// before EventHeldOpen. Default 30 s.
	HeldOpenAfter time.Duration
	// Debounce is how long an input level must be stable to count.
	// Default 50 ms.
	Debounce time.Duration
	// PollInterval is how often the inputs are sampled. Default 10 ms; it
	// may not exceed Debounce.
	PollInterval time.Duration
	// FailSafe: the relay de-energised unlocks the door (fire exits, mag
	// locks), so the door is energised to stay locked. The default,
	// fail-secure, locks when de-energised and energises to release.
	FailSafe bool
	// DeniedRepeatWindow: the same NIS denied for the same reason again
	// within this window is not logged again. Default 5 s; LogEveryDenial
	// logs every denied tap.
	DeniedRepeatWindow time.Duration
	// RelayActiveLow: the relay is energised by driving its pin low (most
	// opto-isolated relay HATs).
	RelayActiveLow bool
	// ContactActiveLow: the contact pin reads low when the door is closed
	// (a reed switch to ground with the pull-up).
	ContactActiveLow bool
	// REXActiveLow: the REX pin reads low while the button is pressed.
	REXActiveLow bool
}

// LogEveryDenial is the Config.DeniedRepeatWindow that logs every denied
// tap (zero means the default window).
const LogEveryDenial time.Duration = -1

// DefaultConfig returns a Config for door id with every default filled in:
// fail-secure, active-high relay and inputs.
func DefaultConfig(id string) Config {
	return Config{ID: id}.withDefaults()
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ReleaseTime, DefaultReleaseTime)
	def(&c.HeldOpenAfter, DefaultHeldOpenAfter)
	def(&c.Debounce, DefaultDebounce)
	def(&c.PollInterval, DefaultPollInterval)
	def(&c.DeniedRepeatWindow, DefaultDeniedRepeatWindow)
	return c
}

// Validate reports the first invalid field, naming it; zero durations are
// valid and mean their defaults. The error wraps ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("door %q: %s: %s: %w", c.ID, field, fmt.Sprintf(format, args...), ErrInvalidConfig)
	}
	if c.ID == "" {
		return bad("ID", "is empty")
	}
	if c.ReleaseTime != 0 && c.ReleaseTime < MinReleaseTime {
		return bad("ReleaseTime", "%s is below the minimum %s (EN 60839-11-1)", c.ReleaseTime, MinReleaseTime)
	}
	if c.DeniedRepeatWindow < 0 && c.DeniedRepeatWindow != LogEveryDenial {
		return bad("DeniedRepeatWindow", "%s is negative", c.DeniedRepeatWindow)
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"HeldOpenAfter", c.HeldOpenAfter},
		{"Debounce", c.Debounce},
		{"PollInterval", c.PollInterval},
	} {
		if f.d < 0 {
			return bad(f.name, "%s is negative", f.d)
		}
	}
	d := c.withDefaults()
	if d.PollInterval > d.Debounce {
		return bad("PollInterval", "%s is longer than Debounce %s", d.PollInterval, d.Debounce)
	}
	return nil
}
