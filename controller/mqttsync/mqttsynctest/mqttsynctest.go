// Package mqttsynctest holds fakes for testing the door's MQTT sync
// without a broker: an in-memory Transport the test connects, drops and
// feeds messages, and a Clock that records the waits asked of it.
package mqttsynctest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/varco-access/varco/controller/door"
	"github.com/varco-access/varco/controller/door/doortest"
	"github.com/varco-access/varco/controller/mqttsync"
)

// Published is one message a Transport was asked to publish.
type Published struct {
	Topic    string
	QoS      byte
	Retained bool
	Payload  []byte
	// Connected says whether the transport was up: a publish while down
	// completes with mqttsync.ErrNotConnected.
	Connected bool
}

// Transport is an in-memory mqttsync.Transport. The test drives it:
// Connect and Drop call the session's up and down callbacks, Deliver
// calls its handlers. Publishes complete at once with nil while
// connected, unless Hold is set.
type Transport struct {
	mu        sync.Mutex
	subs      []sub
	up        func()
	down      func(error)
	running   chan struct{}
	connected bool
	hold      bool
	published []Published
	pending   []*completion
	changed   chan struct{} // closed and replaced on every publish
	// DropOnStop makes Run call the down callback when its context
	// ends while connected, as a real client whose connection is lost
	// while it is being stopped does.
	DropOnStop bool

	deliver sync.Mutex // one handler call at a time, like a real client
}

type sub struct {
	filter string
	h      func(mqttsync.Message)
}

var _ mqttsync.Transport = (*Transport)(nil)

// New returns a Transport that is not connected.
func New() *Transport {
	return &Transport{running: make(chan struct{}), changed: make(chan struct{})}
}

// Subscribe implements mqttsync.Transport.
func (t *Transport) Subscribe(filter string, h func(mqttsync.Message)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.subs = append(t.subs, sub{filter, h})
}

// Filters returns the subscribed filters in order.
func (t *Transport) Filters() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var fs []string
	for _, s := range t.subs {
		fs = append(fs, s.filter)
	}
	return fs
}

// Publish implements mqttsync.Transport.
func (t *Transport) Publish(topic string, qos byte, retained bool, payload []byte) mqttsync.Completion {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.published = append(t.published, Published{Topic: topic, QoS: qos, Retained: retained,
		Payload: append([]byte(nil), payload...), Connected: t.connected})
	close(t.changed)
	t.changed = make(chan struct{})
	if !t.connected {
		return mqttsync.Completed(mqttsync.ErrNotConnected)
	}
	if !t.hold {
		return mqttsync.Completed(nil)
	}
	c := &completion{done: make(chan struct{})}
	t.pending = append(t.pending, c)
	return c
}

// Run implements mqttsync.Transport: it records the callbacks and waits
// for ctx.
func (t *Transport) Run(ctx context.Context, up func(), down func(error)) error {
	t.mu.Lock()
	t.up, t.down = up, down
	close(t.running)
	t.mu.Unlock()
	<-ctx.Done()
	t.mu.Lock()
	was := t.connected
	t.connected = false
	drop := t.DropOnStop && was
	t.mu.Unlock()
	if drop {
		down(mqttsync.ErrConnectionLost)
	}
	return nil
}

// WaitRunning waits until Run was called.
func (t *Transport) WaitRunning(tb testing.TB) {
	tb.Helper()
	select {
	case <-t.running:
	case <-time.After(5 * time.Second):
		tb.Fatal("mqttsynctest: transport not running after 5s")
	}
}

// Connect marks the transport up and calls the up callback (Run must be
// running).
func (t *Transport) Connect(tb testing.TB) {
	tb.Helper()
	t.WaitRunning(tb)
	t.mu.Lock()
	t.connected = true
	up := t.up
	t.mu.Unlock()
	up()
}

// Drop marks the transport down, completes held publishes with
// mqttsync.ErrConnectionLost and calls the down callback.
func (t *Transport) Drop(tb testing.TB) {
	tb.Helper()
	t.mu.Lock()
	t.connected = false
	pending := t.pending
	t.pending = nil
	down := t.down
	t.mu.Unlock()
	for _, c := range pending {
		c.complete(mqttsync.ErrConnectionLost)
	}
	down(mqttsync.ErrConnectionLost)
}

// Hold makes publishes stay pending until Release (or Drop).
func (t *Transport) Hold(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hold = on
}

// Release completes every held publish with err.
func (t *Transport) Release(err error) {
	t.mu.Lock()
	pending := t.pending
	t.pending = nil
	t.mu.Unlock()
	for _, c := range pending {
		c.complete(err)
	}
}

// Deliver hands a message to the handlers whose filter matches topic, as
// the broker would, and returns when they have run.
func (t *Transport) Deliver(topic string, payload []byte, retained bool) {
	t.mu.Lock()
	var hs []func(mqttsync.Message)
	for _, s := range t.subs {
		if Match(s.filter, topic) {
			hs = append(hs, s.h)
		}
	}
	t.mu.Unlock()
	t.deliver.Lock()
	defer t.deliver.Unlock()
	for _, h := range hs {
		h(mqttsync.Message{Topic: topic, Payload: payload, Retained: retained})
	}
}

// Published returns every publish so far.
func (t *Transport) Published() []Published {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Published(nil), t.published...)
}

// WaitFor waits until the publishes satisfy ok, and returns them.
func (t *Transport) WaitFor(tb testing.TB, what string, ok func([]Published) bool) []Published {
	tb.Helper()
	deadline := time.After(5 * time.Second)
	for {
		t.mu.Lock()
		ps := append([]Published(nil), t.published...)
		changed := t.changed
		t.mu.Unlock()
		if ok(ps) {
			return ps
		}
		select {
		case <-changed:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			tb.Fatalf("mqttsynctest: waited 5s for %s; published:\n%s", what, dump(ps))
		}
	}
}

func dump(ps []Published) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Topic)
		b.WriteString(" ")
		b.Write(p.Payload)
		b.WriteString("\n")
	}
	return b.String()
}

// Match reports whether an MQTT topic filter (with + and #) matches topic.
func Match(filter, topic string) bool {
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fs {
		if f == "#" {
			return true
		}
		if i >= len(ts) || (f != "+" && f != ts[i]) {
			return false
		}
	}
	return len(fs) == len(ts)
}

type completion struct {
	once sync.Once
	done chan struct{}
	err  error
}

func (c *completion) complete(err error) {
	c.once.Do(func() { c.err = err; close(c.done) })
}

func (c *completion) Done() <-chan struct{} { return c.done }
func (c *completion) Err() error            { <-c.done; return c.err }

// Clock is a doortest.Clock that records every wait asked of it, so a
// test can check back-off delays and fire exactly the next one.
type Clock struct {
	*doortest.Clock
	mu    sync.Mutex
	waits []time.Duration
}

var _ door.Clock = (*Clock)(nil)

// NewClock returns a Clock at t.
func NewClock(t time.Time) *Clock { return &Clock{Clock: doortest.NewClock(t)} }

// AfterFunc implements door.Clock and records d.
func (c *Clock) AfterFunc(d time.Duration, f func()) door.Timer {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	return c.Clock.AfterFunc(d, f)
}

// Waits returns the durations asked of AfterFunc so far, in order.
func (c *Clock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// WaitWaits waits until AfterFunc has been called n times and returns
// the durations.
func (c *Clock) WaitWaits(tb testing.TB, n int) []time.Duration {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ws := c.Waits(); len(ws) >= n {
			return ws
		}
		if time.Now().After(deadline) {
			tb.Fatalf("mqttsynctest: %d waits after 5s, want %d", len(c.Waits()), n)
		}
		time.Sleep(time.Millisecond)
	}
}
