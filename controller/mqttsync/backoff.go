package mqttsync

import (
	"context"
	"log/slog"
	"time"

	"github.com/varco-access/varco/controller/door"
)

// Back-off defaults (Backoff).
const (
	DefaultBackoffMin    = time.Second
	DefaultBackoffMax    = 2 * time.Minute
	DefaultBackoffJitter = 0.5
	// DefaultStableAfter is how long a connection must last for the next
	// loss to start the back-off again from Min: a broker that accepts
	// and then drops the door at once (a bad ACL, a duplicate client id)
	// must not be hammered.
	DefaultStableAfter = time.Minute
)

// Backoff is the wait between connection attempts: Min after the first
// failure, doubling up to Max, each wait shortened by a random fraction
// of up to Jitter. paho's own reconnect has no jitter, and a site's
// doors that lost the broker together would otherwise come back in step.
type Backoff struct {
	Min, Max time.Duration
	// Jitter in [0, 1]: each wait is uniformly random in
	// (base*(1-Jitter), base]. 0 means DefaultBackoffJitter; a negative
	// value means none.
	Jitter float64
}

func (b Backoff) withDefaults() Backoff {
	if b.Min <= 0 {
		b.Min = DefaultBackoffMin
	}
	if b.Max < b.Min {
		b.Max = max(DefaultBackoffMax, b.Min)
	}
	switch {
	case b.Jitter == 0:
		b.Jitter = DefaultBackoffJitter
	case b.Jitter < 0:
		b.Jitter = 0
	case b.Jitter > 1:
		b.Jitter = 1
	}
	return b
}

// Base returns the wait before jitter after failure number attempt
// (from 0): Min·2^attempt, at most Max.
func (b Backoff) Base(attempt int) time.Duration {
	b = b.withDefaults()
	d := b.Min
	for i := 0; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Delay returns the wait after failure number attempt, r being a random
// number in [0, 1).
func (b Backoff) Delay(attempt int, r float64) time.Duration {
	b = b.withDefaults()
	base := b.Base(attempt)
	return base - time.Duration(float64(base)*b.Jitter*r)
}

// dialer is one connection attempt: it returns a channel that yields the
// reason once the connection is lost, or an error.
type dialer func(ctx context.Context) (lost <-chan error, err error)

// redial connects with dial until ctx ends, waiting b between failed
// attempts on clock; a connection that lasted stable resets the back-off.
// up and down are called around each connection.
func redial(ctx context.Context, clock door.Clock, b Backoff, rnd func() float64, stable time.Duration,
	dial dialer, up func(), down func(error), log *slog.Logger) {
	attempt := 0
	for ctx.Err() == nil {
		lost, err := dial(ctx)
		if err == nil {
			start := clock.Now()
			up()
			select {
			case err = <-lost:
				down(err)
			case <-ctx.Done():
				return
			}
			if clock.Now().Sub(start) >= stable {
				attempt = 0
			}
			log.Warn("mqtt connection lost", "err", err)
		} else if ctx.Err() == nil {
			log.Warn("mqtt connect failed", "err", err, "attempt", attempt+1)
		}
		wait := b.Delay(attempt, rnd())
		attempt++
		if !sleep(ctx, clock, wait) {
			return
		}
	}
}

// sleep waits d on clock; false if ctx ended first.
func sleep(ctx context.Context, clock door.Clock, d time.Duration) bool {
	ch := make(chan struct{})
	t := clock.AfterFunc(d, func() { close(ch) })
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}
