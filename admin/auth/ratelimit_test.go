package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for Limiter tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mustAllow fails unless l.Allow(key) == (want, wantRetry).
func mustAllow(t *testing.T, l *Limiter, key string, want bool, wantRetry time.Duration) {
	t.Helper()
	ok, retry := l.Allow(key)
	if ok != want || retry != wantRetry {
		t.Fatalf("Allow(%q) = %v, %v; want %v, %v", key, ok, retry, want, wantRetry)
	}
}

func newTestLimiter(c *fakeClock) *Limiter { return NewLimiter(&LimiterOptions{Now: c.Now}) }

func TestLimiterFifthFailureLocks(t *testing.T) {
	c := newFakeClock()
	l := newTestLimiter(c)
	mustAllow(t, l, "user:anna", true, 0) // unknown key
	for i := 1; i <= 4; i++ {
		l.Failure("user:anna")
		mustAllow(t, l, "user:anna", true, 0) // failures 1..4 do not lock
		c.Advance(time.Minute)
	}
	// Fifth failure, 4 minutes after the first: locked for 15 minutes.
	l.Failure("user:anna")
	mustAllow(t, l, "user:anna", false, 15*time.Minute)
	mustAllow(t, l, "ip:192.0.2.1", true, 0) // other keys are untouched
	c.Advance(15*time.Minute - time.Nanosecond)
	mustAllow(t, l, "user:anna", false, time.Nanosecond)
	c.Advance(time.Nanosecond) // the exact instant the lock ends
	mustAllow(t, l, "user:anna", true, 0)
	// The lock used up the failures: one more does not lock again.
	l.Failure("user:anna")
	mustAllow(t, l, "user:anna", true, 0)
}

func TestLimiterWindow(t *testing.T) {
	t.Run("fifth failure just inside the window locks", func(t *testing.T) {
		c := newFakeClock()
		l := newTestLimiter(c)
		for range 4 {
			l.Failure("k")
		}
		c.Advance(15*time.Minute - time.Nanosecond)
		l.Failure("k")
		mustAllow(t, l, "k", false, 15*time.Minute)
	})
	t.Run("failures exactly 15 minutes old no longer count", func(t *testing.T) {
		c := newFakeClock()
		l := newTestLimiter(c)
		for range 4 {
			l.Failure("k")
		}
		c.Advance(15 * time.Minute)
		l.Failure("k")
		mustAllow(t, l, "k", true, 0)
		// Four more within the window of the last one lock.
		for range 3 {
			l.Failure("k")
		}
		mustAllow(t, l, "k", true, 0)
		l.Failure("k")
		mustAllow(t, l, "k", false, 15*time.Minute)
	})
	t.Run("sliding, not fixed", func(t *testing.T) {
		c := newFakeClock()
		l := newTestLimiter(c)
		// Failures at 0, 5, 10, 15, 20 minutes: never five within 15.
		for range 5 {
			l.Failure("k")
			mustAllow(t, l, "k", true, 0)
			c.Advance(5 * time.Minute)
		}
		// Failures at 15, 20 (above) and 25, 26, 27 are five within 15.
		for i := range 3 {
			l.Failure("k")
			if i < 2 {
				mustAllow(t, l, "k", true, 0)
			}
			c.Advance(time.Minute)
		}
		mustAllow(t, l, "k", false, 15*time.Minute-time.Minute)
	})
}

func TestLimiterDoubling(t *testing.T) {
	c := newFakeClock()
	l := newTestLimiter(c)
	want := []time.Duration{
		15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour,
		8 * time.Hour, 16 * time.Hour, 24 * time.Hour, 24 * time.Hour, 24 * time.Hour,
	}
	for _, d := range want {
		for range 5 {
			l.Failure("k")
		}
		mustAllow(t, l, "k", false, d)
		c.Advance(d - time.Nanosecond)
		mustAllow(t, l, "k", false, time.Nanosecond)
		c.Advance(time.Nanosecond)
		mustAllow(t, l, "k", true, 0)
	}
}

func TestLimiterFailuresWhileLocked(t *testing.T) {
	c := newFakeClock()
	l := newTestLimiter(c)
	for range 5 {
		l.Failure("k")
	}
	c.Advance(time.Minute)
	for range 20 {
		l.Failure("k")
	}
	mustAllow(t, l, "k", false, 14*time.Minute) // not extended
	c.Advance(14 * time.Minute)
	mustAllow(t, l, "k", true, 0)
	for range 4 {
		l.Failure("k") // the 20 were not counted: four do not lock
	}
	mustAllow(t, l, "k", true, 0)
	l.Failure("k")
	mustAllow(t, l, "k", false, 30*time.Minute) // the second lock
}

func TestLimiterSuccess(t *testing.T) {
	t.Run("clears failures", func(t *testing.T) {
		c := newFakeClock()
		l := newTestLimiter(c)
		for range 4 {
			l.Failure("k")
		}
		l.Success("k")
		for range 4 {
			l.Failure("k")
		}
		mustAllow(t, l, "k", true, 0)
		if l.Len() != 1 {
			t.Errorf("Len = %d; want 1", l.Len())
		}
	})
	t.Run("unlocks and resets doubling", func(t *testing.T) {
		c := newFakeClock()
		l := newTestLimiter(c)
		for range 2 { // two locks: the next would be 1h
			for range 5 {
				l.Failure("k")
			}
			c.Advance(time.Hour)
		}
		for range 5 {
			l.Failure("k")
		}
		mustAllow(t, l, "k", false, time.Hour)
		l.Success("k")
		mustAllow(t, l, "k", true, 0)
		if l.Len() != 0 {
			t.Errorf("Len after Success = %d; want 0", l.Len())
		}
		for range 5 {
			l.Failure("k")
		}
		mustAllow(t, l, "k", false, 15*time.Minute)
	})
	t.Run("unknown key", func(t *testing.T) {
		l := newTestLimiter(newFakeClock())
		l.Success("nobody")
		mustAllow(t, l, "nobody", true, 0)
	})
}

func TestLimiterForget(t *testing.T) {
	lockTwice := func(t *testing.T, quiet time.Duration) time.Duration {
		c := newFakeClock()
		l := newTestLimiter(c)
		for range 5 {
			l.Failure("k")
		}
		c.Advance(15*time.Minute + quiet) // lock ends, then quiet time
		for range 5 {
			l.Failure("k")
		}
		_, retry := l.Allow("k")
		return retry
	}
	if got := lockTwice(t, 24*time.Hour-time.Nanosecond); got != 30*time.Minute {
		t.Errorf("second lock 24h-1ns after the first ended lasts %v; want 30m", got)
	}
	if got := lockTwice(t, 24*time.Hour); got != 15*time.Minute {
		t.Errorf("second lock 24h after the first ended lasts %v; want 15m (forgotten)", got)
	}
}

func TestLimiterEviction(t *testing.T) {
	opts := func(c *fakeClock, max int) *LimiterOptions {
		return &LimiterOptions{Now: c.Now, MaxFailures: 2, MaxEntries: max}
	}
	t.Run("bounded", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(opts(c, 100))
		for i := range 1000 {
			l.Failure(fmt.Sprint("ip:", i))
			c.Advance(time.Second)
		}
		if l.Len() != 100 {
			t.Errorf("Len = %d; want 100", l.Len())
		}
	})
	t.Run("oldest goes first", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(opts(c, 3))
		for _, k := range []string{"a", "b", "c"} {
			l.Failure(k)
			c.Advance(time.Second)
		}
		l.Failure("a") // a is now the most recent; b the oldest. a is locked.
		l.Failure("d") // evicts b
		if _, ok := l.keys["b"]; ok || l.Len() != 3 {
			t.Fatalf("keys after eviction: %v; want a, c, d", keysOf(l))
		}
		l.Failure("b") // a fresh b (evicting c): one failure does not lock
		mustAllow(t, l, "b", true, 0)
		mustAllow(t, l, "a", false, 15*time.Minute)
	})
	t.Run("locked keys are kept", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(opts(c, 3))
		l.Failure("locked")
		l.Failure("locked")
		c.Advance(time.Second)
		l.Failure("x")
		c.Advance(time.Second)
		l.Failure("y")
		c.Advance(time.Second)
		l.Failure("z") // the oldest is locked: x goes instead
		if _, ok := l.keys["x"]; ok {
			t.Fatalf("keys %v: x should have been evicted", keysOf(l))
		}
		mustAllow(t, l, "locked", false, 15*time.Minute-3*time.Second)
	})
	t.Run("all locked: oldest goes", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(opts(c, 2))
		for _, k := range []string{"a", "b"} {
			l.Failure(k)
			l.Failure(k)
			c.Advance(time.Second)
		}
		l.Failure("c")
		if _, ok := l.keys["a"]; ok || l.Len() != 2 {
			t.Fatalf("keys %v; want b, c", keysOf(l))
		}
		mustAllow(t, l, "a", true, 0)
		mustAllow(t, l, "b", false, 15*time.Minute-time.Second)
	})
	t.Run("forgotten before merely unlocked", func(t *testing.T) {
		c := newFakeClock()
		l := NewLimiter(&LimiterOptions{
			Now: c.Now, MaxFailures: 2, Window: time.Hour,
			Lockout: 2 * time.Hour, MaxLockout: 4 * time.Hour, Forget: 3 * time.Hour,
			MaxEntries: 2,
		})
		l.Failure("x")
		l.Failure("x") // locked until +2h, forgotten at +5h
		c.Advance(time.Minute)
		l.Failure("y") // forgotten at +3h1m
		c.Advance(3 * time.Hour)
		// x is the oldest and unlocked, but y is forgotten: y goes.
		l.Failure("z")
		if _, ok := l.keys["y"]; ok {
			t.Fatalf("keys %v: y should have been evicted", keysOf(l))
		}
		l.Failure("x")
		l.Failure("x")
		mustAllow(t, l, "x", false, 4*time.Hour) // x's first lock is remembered
	})
}

func keysOf(l *Limiter) []string {
	var ks []string
	for k := range l.keys {
		ks = append(ks, k)
	}
	return ks
}

func TestLimiterDefaults(t *testing.T) {
	l := NewLimiter(nil)
	want := LimiterOptions{
		MaxFailures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute,
		MaxLockout: 24 * time.Hour, Forget: 24 * time.Hour, MaxEntries: 100_000,
	}
	got := l.o
	if got.Now == nil {
		t.Error("Now is nil")
	}
	got.Now, want.Now = nil, nil
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("defaults %+v; want %+v", got, want)
	}
	l.Failure("k")
	mustAllow(t, l, "k", true, 0)
}

func TestLimiterConcurrent(t *testing.T) {
	c := newFakeClock()
	l := NewLimiter(&LimiterOptions{Now: c.Now, MaxEntries: 50})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprint("k", (g*7+i)%80)
				switch i % 5 {
				case 0:
					l.Success(k)
				case 1, 2:
					l.Allow(k)
				default:
					l.Failure(k)
				}
				if i%100 == 0 {
					c.Advance(time.Minute)
				}
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n > 50 {
		t.Errorf("Len = %d; want at most 50", n)
	}
	if len(l.keys) != l.lru.Len() {
		t.Errorf("map has %d keys, list %d", len(l.keys), l.lru.Len())
	}
}
