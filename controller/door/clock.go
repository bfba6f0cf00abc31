package door

import "time"

// Clock is the time source of a Door: relay pulses, held-open alarms,
// debounce and input sampling all run on it, so tests can drive them with
// doortest.Clock.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it
	// did. A call already under way may still run: the Door ignores stale
	// callbacks by generation.
	Stop() bool
}

// SystemClock returns the Clock of the real time, backed by time.AfterFunc.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

var _ Clock = systemClock{}
