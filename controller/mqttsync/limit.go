package mqttsync

import (
	"sync"
	"time"
)

// limiter lets one event per key through per window and counts the rest,
// so that a flood of bad messages (a wrong key on the broker, a replaying
// attacker) costs the outbox one event a minute per reason.
type limiter struct {
	every time.Duration

	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

func newLimiter(every time.Duration) *limiter {
	return &limiter{every: every, last: map[string]time.Time{}, suppressed: map[string]int{}}
}

// allow reports whether an event for key may be written at now, and how
// many were suppressed since the last one that was.
func (l *limiter) allow(key string, now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, seen := l.last[key]; seen && now.Sub(t) < l.every && now.Sub(t) >= 0 {
		l.suppressed[key]++
		return false, 0
	}
	l.last[key] = now
	n := l.suppressed[key]
	delete(l.suppressed, key)
	return true, n
}
