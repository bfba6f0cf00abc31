package mqttsync_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/door"
	"github.com/varco-access/varco/controller/metrics"
	"github.com/varco-access/varco/controller/mqttsync"
	"github.com/varco-access/varco/controller/mqttsync/mqttsynctest"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/controller/store/storetest"
	"github.com/varco-access/varco/wire"
)

// The golden messages in testdata/wire are for site demo, door demo-1, at
// 2026-03-02T08:00:00Z, signed with this seed (testdata/wire/README.md).
const (
	site    = "demo"
	doorID  = "demo-1"
	goldDir = "../../testdata/wire"
)

var (
	goldenT0  = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	goldenKey = ed25519.NewKeyFromSeed([]byte("varco wire golden test key seed!"))
	signer    = wire.NewSigner(goldenKey)
	// otherSigner holds a key no door pins.
	otherSigner = wire.NewSigner(ed25519.NewKeyFromSeed([]byte("some other key, not the site's!!")))
)

func golden(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(goldDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// goldenPublicKey is a real card public key file from the golden delta.
var goldenPublicKey = sync.OnceValue(func() []byte {
	msg, err := os.ReadFile(filepath.Join(goldDir, "grants.json"))
	if err != nil {
		panic(err)
	}
	var d wire.Delta
	if err := wire.NewVerifier(signer.PublicKey(), site, doorID).Open(wire.KindGrants, msg, &d); err != nil {
		panic(err)
	}
	return d.Upserts[0].PublicKey
})

// grant returns a valid grant for NIS i (12 digits).
func grant(i int, name string) varco.Grant {
	return varco.Grant{
		NIS: fmt.Sprintf("%012d", i), PersonID: fmt.Sprintf("person-%d", i), DisplayName: name,
		PublicKey: goldenPublicKey(), Flags: varco.FlagAlways,
	}
}

func grants(from, n int, name string) []varco.Grant {
	gs := make([]varco.Grant, n)
	for i := range gs {
		gs[i] = grant(from+i, name)
	}
	return gs
}

// seal signs body for doorID.
func seal(tb testing.TB, k wire.Kind, body any) []byte {
	tb.Helper()
	return sealFor(tb, signer, doorID, k, body)
}

func sealFor(tb testing.TB, s *wire.Signer, door string, k wire.Kind, body any) []byte {
	tb.Helper()
	msg, err := s.Seal(k, site, door, body)
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}

// fakeDoor is a mqttsync.Door that records what it is asked.
type fakeDoor struct {
	mu     sync.Mutex
	mode   varco.DoorMode
	state  door.State
	grants int
}

func newFakeDoor() *fakeDoor { return &fakeDoor{mode: varco.ModeNormal, state: door.StateLocked} }

func (d *fakeDoor) ID() string { return doorID }
func (d *fakeDoor) Mode() varco.DoorMode {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mode
}
func (d *fakeDoor) SetMode(m varco.DoorMode) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mode = m
	return nil
}
func (d *fakeDoor) Grant() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mode == varco.ModeLockdown {
		return false
	}
	d.grants++
	return true
}
func (d *fakeDoor) State() door.State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}
func (d *fakeDoor) setState(s door.State) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.state = s
}
func (d *fakeDoor) granted() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.grants
}

// harness is one door's session on the fake transport, a fake clock and
// a real store in a temporary file.
type harness struct {
	t       testing.TB
	path    string
	st      *store.Store
	tr      *mqttsynctest.Transport
	clock   *mqttsynctest.Clock
	door    *fakeDoor
	metrics *metrics.Metrics
	trusted atomic.Bool
	opts    mqttsync.Options
	s       *mqttsync.Session
	cancel  context.CancelFunc
	done    chan error
	loc     atomic.Pointer[time.Location]
}

// newHarness opens a store and makes a session; tune changes the options
// before New. The session is not running: call start.
func newHarness(t testing.TB, tune func(*mqttsync.Options)) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "door.db"), door: newFakeDoor(),
		clock: mqttsynctest.NewClock(goldenT0), metrics: metrics.New(metrics.BuildInfo{})}
	h.trusted.Store(true)
	h.openStore()
	h.opts = mqttsync.Options{
		Site: site, SiteKey: signer.PublicKey(), Door: h.door,
		ClockTrusted: h.trusted.Load,
		SetLocation:  func(l *time.Location) { h.loc.Store(l) },
		Clock:        h.clock, Metrics: h.metrics, Version: "test",
		Log: slog.New(slog.DiscardHandler),
	}
	if tune != nil {
		tune(&h.opts)
	}
	h.newSession()
	return h
}

func (h *harness) openStore() {
	h.t.Helper()
	st, err := store.Open(h.path, &store.Options{NoSync: true})
	if err != nil {
		h.t.Fatal(err)
	}
	h.st = st
	h.t.Cleanup(func() { storetest.MustCheck(h.t, st) })
}

func (h *harness) newSession() {
	h.t.Helper()
	h.tr = mqttsynctest.New()
	o := h.opts
	o.Store, o.Transport = h.st, h.tr
	var sp atomic.Pointer[mqttsync.Session]
	o.Emit = func(ev varco.Event) {
		if _, err := h.st.Append(ev); err != nil {
			h.t.Errorf("append: %v", err)
		}
		if s := sp.Load(); s != nil {
			s.Notify()
		}
	}
	s, err := mqttsync.New(o)
	if err != nil {
		h.t.Fatal(err)
	}
	sp.Store(s)
	h.s = s
}

// start runs the session (not connected yet).
func (h *harness) start() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.s.Run(ctx) }()
	h.tr.WaitRunning(h.t)
	h.t.Cleanup(h.stop)
}

// connect starts the session and connects it, waiting for its status.
func (h *harness) connect() {
	h.t.Helper()
	if h.cancel == nil {
		h.start()
	}
	n := len(h.tr.Published())
	h.tr.Connect(h.t)
	h.tr.WaitFor(h.t, "status and sync request on connect", func(ps []mqttsynctest.Published) bool {
		return len(kindsOf(ps[n:], wire.KindStatus)) > 0 && len(kindsOf(ps[n:], wire.KindSync)) > 0
	})
}

// settle lets SyncRetry pass after the connect's sync request, so that
// the next one is not skipped as a repeat.
func (h *harness) settle() {
	h.clock.Advance(mqttsync.DefaultSyncRetry)
	h.s.Flush()
}

// stop ends Run and waits for it.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		h.t.Error("Run did not return after cancel")
	}
	h.cancel = nil
}

// reboot stops the session, closes and reopens the store, and makes a
// new session on a new transport.
func (h *harness) reboot() {
	h.t.Helper()
	h.stop()
	if err := h.st.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.openStore()
	h.newSession()
}

// deliver hands msg to the session on kind's topic of doorID.
func (h *harness) deliver(k wire.Kind, msg []byte) {
	h.tr.Deliver(wire.Topic(site, doorID, k), msg, false)
}

// tick advances the clock by one status interval and waits until the
// session handled it.
func (h *harness) tick() {
	h.clock.Advance(h.interval())
	h.s.Flush()
}

func (h *harness) interval() time.Duration {
	if h.opts.StatusInterval > 0 {
		return h.opts.StatusInterval
	}
	return mqttsync.DefaultStatusInterval
}

func (h *harness) rev() uint64 {
	h.t.Helper()
	rev, _, err := h.st.Revision(doorID)
	if err != nil {
		h.t.Fatal(err)
	}
	return rev
}

// events returns the door's outbox.
func (h *harness) events() []varco.Event {
	h.t.Helper()
	evs, err := h.st.Pending(doorID, 0, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

// syncEvents returns the details of the outbox's events of kind.
func (h *harness) details(kind varco.EventKind) []string {
	var ds []string
	for _, e := range h.events() {
		if e.Kind == kind {
			ds = append(ds, e.Detail)
		}
	}
	return ds
}

func (h *harness) counter(name string, labels ...string) float64 {
	h.t.Helper()
	mfs, err := h.metrics.Registry().Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue metric
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// kindsOf returns the publishes of kind k.
func kindsOf(ps []mqttsynctest.Published, k wire.Kind) []mqttsynctest.Published {
	var out []mqttsynctest.Published
	for _, p := range ps {
		if strings.HasSuffix(p.Topic, "/"+string(k)) && (k != wire.KindEvents || !strings.HasSuffix(p.Topic, "/events/ack")) {
			out = append(out, p)
		}
	}
	return out
}

// syncRequests decodes the sync requests published.
func syncRequests(tb testing.TB, ps []mqttsynctest.Published) []wire.SyncRequest {
	tb.Helper()
	var out []wire.SyncRequest
	for _, p := range kindsOf(ps, wire.KindSync) {
		var r wire.SyncRequest
		if err := wire.DecodeFor(site, doorID, wire.KindSync, p.Payload, &r); err != nil {
			tb.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// batches decodes the events batches published.
func batches(tb testing.TB, ps []mqttsynctest.Published) []wire.EventsBatch {
	tb.Helper()
	var out []wire.EventsBatch
	for _, p := range kindsOf(ps, wire.KindEvents) {
		var b wire.EventsBatch
		if err := wire.DecodeFor(site, doorID, wire.KindEvents, p.Payload, &b); err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// statuses decodes the statuses published.
func statuses(tb testing.TB, ps []mqttsynctest.Published) []wire.Status {
	tb.Helper()
	var out []wire.Status
	for _, p := range kindsOf(ps, wire.KindStatus) {
		var s wire.Status
		if err := wire.DecodeFor(site, doorID, wire.KindStatus, p.Payload, &s); err != nil {
			tb.Fatal(err)
		}
		if !p.Retained {
			tb.Errorf("status not retained: %s", p.Payload)
		}
		out = append(out, s)
	}
	return out
}

// snapshotAt puts the door at rev with grants directly in the store.
func (h *harness) snapshotAt(rev uint64, grants ...varco.Grant) {
	h.t.Helper()
	if err := h.st.ApplySnapshot(store.Snapshot{Door: doorID, Rev: rev, Grants: grants}, goldenT0.Add(-time.Hour)); err != nil {
		h.t.Fatal(err)
	}
}

// withVersion rewrites the envelope's "v" (which the signature does not
// cover).
func withVersion(tb testing.TB, msg []byte, v string) []byte {
	tb.Helper()
	var env map[string]any
	if err := json.Unmarshal(msg, &env); err != nil {
		tb.Fatal(err)
	}
	env["v"] = v
	out, err := json.Marshal(env)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// waitUntil polls cond for up to 5s.
func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("waited 5s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
