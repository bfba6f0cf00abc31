package server

import (
	"context"
	"errors"
	"io"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/config"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
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

// manualTicker hands the housekeeping loop a channel the test sends on.
// The channel is unbuffered, so a send returns once the loop has taken
// the tick, which it does only after finishing the previous round:
// sending twice means the first tick's round is complete.
type manualTicker struct{ c chan time.Time }

func newManualTicker() *manualTicker { return &manualTicker{c: make(chan time.Time)} }

func (m *manualTicker) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	if d != HousekeepingInterval {
		return nil, func() {} // the watchdog: never ticks
	}
	return m.c, func() {}
}

// round waits for the round in progress and runs one more to completion.
func (m *manualTicker) round(tb testing.TB) {
	tb.Helper()
	for range 2 {
		select {
		case m.c <- time.Time{}:
		case <-time.After(10 * time.Second):
			tb.Fatal("the housekeeping loop does not take ticks")
		}
	}
}

// eventSeqs lists the Seq of every stored event, ascending.
func eventSeqs(tb testing.TB, s admin.Store) []uint64 {
	tb.Helper()
	evs, _, err := s.SearchEvents(context.Background(), admin.EventFilter{Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	var seqs []uint64
	for _, e := range evs {
		seqs = append(seqs, e.Seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs
}

func mustInsertEvent(tb testing.TB, s admin.Store, door int64, seq uint64, at time.Time) {
	tb.Helper()
	n, err := s.InsertEvents(context.Background(), []admin.Event{{
		DoorID: door, Seq: seq, Time: at, ClockTrusted: true, Kind: varco.EventGranted, ReceivedAt: at,
	}})
	if err != nil || n != 1 {
		tb.Fatalf("InsertEvents = %d, %v", n, err)
	}
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)}
	cfg := testConfig(t)
	cfg.Retention = config.D(30 * config.Day)
	store := mustOpenStore(t, cfg, clock.Now)
	door := &admin.Door{SiteID: 1, Name: "Ingresso", ControllerID: "door-1"}
	if err := store.CreateDoor(ctx, admin.Actor{Name: "test"}, door); err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	mustInsertEvent(t, store, door.ID, 1, now.Add(-400*config.Day)) // old
	mustInsertEvent(t, store, door.ID, 2, now.Add(-31*config.Day))  // just past retention
	mustInsertEvent(t, store, door.ID, 3, now.Add(-29*config.Day))  // kept
	mustInsertEvent(t, store, door.ID, 4, now.Add(-time.Hour))      // kept

	tick := newManualTicker()
	opts := testOptions(io.Discard)
	opts.Store, opts.Now, opts.NewTicker = store, clock.Now, tick.NewTicker
	m := New(cfg, testLogger(t, io.Discard), opts)
	mustStart(t, m)

	// The round at start purged 1 and 2.
	tick.round(t)
	if got := eventSeqs(t, store); !equalSeqs(got, []uint64{3, 4}) {
		t.Fatalf("after the first round events %v, want [3 4]", got)
	}
	audit, err := store.ListAudit(ctx, admin.AuditFilter{Action: admin.ActionPurge})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 || audit[0].Actor != "system" || audit[0].Entity != "event" {
		t.Errorf("purge audit = %+v, want one entry by system", audit)
	}

	// Two days later event 3 is past the retention too.
	clock.Advance(2 * config.Day)
	tick.round(t)
	if got := eventSeqs(t, store); !equalSeqs(got, []uint64{4}) {
		t.Errorf("after two days events %v, want [4]", got)
	}
}

func TestRetentionOff(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)}
	cfg := testConfig(t)
	cfg.Retention = config.D(0)
	store := mustOpenStore(t, cfg, clock.Now)
	door := &admin.Door{SiteID: 1, Name: "Ingresso", ControllerID: "door-1"}
	if err := store.CreateDoor(ctx, admin.Actor{Name: "test"}, door); err != nil {
		t.Fatal(err)
	}
	mustInsertEvent(t, store, door.ID, 1, clock.Now().Add(-10*365*config.Day))

	tick := newManualTicker()
	opts := testOptions(io.Discard)
	opts.Store, opts.Now, opts.NewTicker = store, clock.Now, tick.NewTicker
	mustStart(t, New(cfg, testLogger(t, io.Discard), opts))
	tick.round(t)
	if got := eventSeqs(t, store); !equalSeqs(got, []uint64{1}) {
		t.Errorf("retention 0 left events %v, want [1]", got)
	}
}

func TestExpiredSessionsDeleted(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)}
	cfg := testConfig(t)
	store := mustOpenStore(t, cfg, clock.Now)

	tick := newManualTicker()
	opts := testOptions(io.Discard)
	opts.Store, opts.Now, opts.NewTicker = store, clock.Now, tick.NewTicker
	mustStart(t, New(cfg, testLogger(t, io.Discard), opts))
	tick.round(t)

	u, err := store.GetUserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	created := clock.Now()
	for _, s := range []admin.Session{
		{IDHash: "short", UserID: u.ID, CreatedAt: created, ExpiresAt: created.Add(time.Hour)},
		{IDHash: "long", UserID: u.ID, CreatedAt: created, ExpiresAt: created.Add(48 * time.Hour)},
	} {
		if err := store.CreateSession(ctx, admin.Actor{Name: "admin"}, s); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2 * time.Hour)
	tick.round(t)
	// Asked as of creation time, a session still stored would be found.
	if _, err := store.GetSession(ctx, "short", created); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("expired session: GetSession = %v, want it deleted", err)
	}
	if _, err := store.GetSession(ctx, "long", created); err != nil {
		t.Errorf("live session: GetSession = %v, want it kept", err)
	}
}
