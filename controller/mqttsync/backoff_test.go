package mqttsync

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/varco-access/varco/controller/door"
	"github.com/varco-access/varco/controller/door/doortest"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 30 * time.Second, Jitter: 0.5}
	bases := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i, want := range bases {
		want *= time.Second
		if got := b.Base(i); got != want {
			t.Errorf("Base(%d) = %v, want %v", i, got, want)
		}
		if got := b.Delay(i, 0); got != want {
			t.Errorf("Delay(%d, 0) = %v, want %v", i, got, want)
		}
		if got := b.Delay(i, 0.999999); got <= want/2 || got > want/2+time.Millisecond {
			t.Errorf("Delay(%d, ~1) = %v, want just above %v", i, got, want/2)
		}
	}
	if got := b.Base(1000); got != 30*time.Second {
		t.Errorf("Base(1000) = %v: overflow?", got)
	}
	if got := (Backoff{Min: time.Second, Max: time.Minute, Jitter: -1}).Delay(2, 0.9); got != 4*time.Second {
		t.Errorf("no jitter: %v", got)
	}
	def := Backoff{}
	if def.Base(0) != DefaultBackoffMin || def.Base(100) != DefaultBackoffMax || def.Delay(0, 0.999) < DefaultBackoffMin/2 {
		t.Errorf("defaults: %v %v %v", def.Base(0), def.Base(100), def.Delay(0, 0.999))
	}
}

// recClock records the waits asked of it.
type recClock struct {
	*doortest.Clock
	mu    sync.Mutex
	waits []time.Duration
}

func (c *recClock) AfterFunc(d time.Duration, f func()) door.Timer {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	return c.Clock.AfterFunc(d, f)
}

func (c *recClock) wait(t *testing.T, n int) []time.Duration {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		ws := append([]time.Duration(nil), c.waits...)
		c.mu.Unlock()
		if len(ws) >= n {
			return ws
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waits after 5s, want %d", len(ws), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRedialBackoffWithJitter runs the reconnect loop on a fake clock
// against a broker that refuses 10 times, accepts, drops the door at
// once, accepts again for longer than StableAfter, then drops it.
func TestRedialBackoffWithJitter(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 20 * time.Second, Jitter: 0.5}
	clock := &recClock{Clock: doortest.NewClock(time.Unix(1e9, 0))}
	rnd := rand.New(rand.NewPCG(1, 2)).Float64

	type conn struct{ lost chan error }
	var mu sync.Mutex
	attempts := 0
	conns := make(chan conn, 10)
	dial := func(ctx context.Context) (<-chan error, error) {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if attempts <= 10 {
			return nil, errors.New("connection refused")
		}
		c := conn{lost: make(chan error, 1)}
		conns <- c
		return c.lost, nil
	}
	var downs int
	upc := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		redial(ctx, clock, b, rnd, time.Minute, dial, func() { upc <- struct{}{} }, func(error) { downs++ }, slog.New(slog.DiscardHandler))
		close(done)
	}()

	// Ten refusals: waits double from 1s to 20s, each in (base/2, base].
	var ratios []float64
	for i := range 10 {
		ws := clock.wait(t, i+1)
		d, base := ws[i], b.Base(i)
		if d <= base/2 || d > base {
			t.Errorf("wait %d = %v, want in (%v, %v]", i, d, base/2, base)
		}
		ratios = append(ratios, float64(d)/float64(base))
		clock.Advance(d)
	}
	distinct := map[float64]bool{}
	for _, r := range ratios {
		distinct[r] = true
	}
	if len(distinct) < 5 {
		t.Errorf("jitter ratios %v: not random", ratios)
	}

	// Connected, then dropped at once: the back-off keeps growing.
	c := <-conns
	<-upc
	c.lost <- errors.New("kicked")
	ws := clock.wait(t, 11)
	if d := ws[10]; d <= b.Base(10)/2 || d > b.Base(10) {
		t.Errorf("wait after a short connection = %v, want the grown back-off around %v", d, b.Base(10))
	}
	clock.Advance(ws[10])

	// Connected for longer than StableAfter: the next wait starts over.
	c = <-conns
	<-upc // the loop has noted the connection's start
	clock.Advance(2 * time.Minute)
	c.lost <- errors.New("broker restart")
	ws = clock.wait(t, 12)
	if d := ws[11]; d <= b.Min/2 || d > b.Min {
		t.Errorf("wait after a stable connection = %v, want in (%v, %v]", d, b.Min/2, b.Min)
	}
	cancel()
	<-done
	if downs != 2 {
		t.Errorf("downs %d, want 2", downs)
	}
}
