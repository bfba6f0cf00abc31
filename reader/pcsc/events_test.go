package pcsc

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder collects a Monitor's events for assertions on their order.
type recorder struct {
	mu     sync.Mutex
	events []Event
	wake   chan struct{} // closed and replaced on every event
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{})} }

func (r *recorder) OnEvent(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	close(r.wake)
	r.wake = make(chan struct{})
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// waitTimeout only guards against a hung test: the assertions are on
// events, never on how long they took.
const waitTimeout = 30 * time.Second

// next waits for the first event at index >= from that matches and
// returns its index; it fails the test if none comes.
func (r *recorder) next(t testing.TB, from int, what string, match func(Event) bool) int {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		r.mu.Lock()
		for i := from; i < len(r.events); i++ {
			if match(r.events[i]) {
				r.mu.Unlock()
				return i
			}
		}
		wake := r.wake
		r.mu.Unlock()
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("no %s event after index %d; events:\n%s", what, from, r.dump())
		}
	}
}

// expect waits for, in order, events of the given kinds for readerName
// ("" matches any reader) starting at from, and returns the index after
// the last one. Events of other readers or kinds may come in between.
func (r *recorder) expect(t testing.TB, from int, readerName string, kinds ...EventKind) int {
	t.Helper()
	for _, k := range kinds {
		from = r.next(t, from, fmt.Sprintf("%v %q", k, readerName), func(e Event) bool {
			return e.Kind == k && (readerName == "" || e.Reader == readerName)
		}) + 1
	}
	return from
}

// count returns how many events from index from on match kind and reader.
func (r *recorder) count(from int, readerName string, kind EventKind) int {
	n := 0
	for _, e := range r.all()[from:] {
		if e.Kind == kind && (readerName == "" || e.Reader == readerName) {
			n++
		}
	}
	return n
}

// dump formats the events for a failure message. It locks: the Monitor
// may still be emitting while a test fails.
func (r *recorder) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for i, e := range r.events {
		fmt.Fprintf(&b, "  %3d %s %v\n", i, e.Time.Format("15:04:05.000"), e)
	}
	return b.String()
}

// runMonitor runs m until the test ends and checks that Run returns nil
// promptly once its context is cancelled.
func runMonitor(t testing.TB, m *Monitor) (cancel func()) {
	t.Helper()
	ctx, cancelCtx := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancelCtx()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v, want nil", err)
				}
			case <-time.After(waitTimeout):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
