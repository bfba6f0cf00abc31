package syncer_test

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/sqlstore"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
	"github.com/varco-access/varco/wire"
)

// fakeBroker is an in-memory Transport: it records what the syncer
// publishes and delivers what a test sends as a door.
type fakeBroker struct {
	mu   sync.Mutex
	subs map[string]func(string, []byte)
	out  chan msg
}

type msg struct {
	topic    string
	retained bool
	payload  []byte
}

func newFake() *fakeBroker {
	return &fakeBroker{subs: map[string]func(string, []byte){}, out: make(chan msg, 1000)}
}

func (f *fakeBroker) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	f.out <- msg{topic, retained, payload}
	return nil
}

func (f *fakeBroker) Subscribe(ctx context.Context, filter string, h func(string, []byte)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[filter] = h
	return nil
}

// match is MQTT topic matching with '+' only (what the syncer uses).
func match(filter, topic string) bool {
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	if len(fs) != len(ts) {
		return false
	}
	for i := range fs {
		if fs[i] != "+" && fs[i] != ts[i] {
			return false
		}
	}
	return true
}

// door sends a door → admin message.
func (f *fakeBroker) door(t *testing.T, door string, k wire.Kind, body any) {
	t.Helper()
	b, err := wire.Encode(k, site, door, body)
	if err != nil {
		t.Fatal(err)
	}
	f.raw(t, wire.Topic(site, door, k), b)
}

// raw delivers payload on topic as the broker would.
func (f *fakeBroker) raw(t *testing.T, topic string, b []byte) {
	t.Helper()
	f.mu.Lock()
	var h func(string, []byte)
	for filter, fn := range f.subs {
		if match(filter, topic) {
			h = fn
		}
	}
	f.mu.Unlock()
	if h == nil {
		t.Fatalf("nobody subscribed to %s", topic)
	}
	h(topic, b)
}

// next returns the next message the syncer published on kind k for door,
// opened with the site key; other messages are skipped.
func (f *fakeBroker) next(t *testing.T, pub ed25519.PublicKey, door string, k wire.Kind, body any) msg {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m := <-f.out:
			if m.topic != wire.Topic(site, door, k) {
				continue
			}
			if err := wire.NewVerifier(pub, site, door).Open(k, m.payload, body); err != nil {
				t.Fatalf("%s: %v", m.topic, err)
			}
			return m
		case <-timeout:
			t.Fatalf("no %s message for %s", k, door)
		}
	}
}

const site = "sede"

type fixture struct {
	st    admin.Store
	s     *syncer.Syncer
	f     *fakeBroker
	pub   ed25519.PublicKey
	door  admin.Door
	card  admin.Card
	group admin.Group
}

func setup(t *testing.T) *fixture { return setupWith(t, 10*time.Millisecond, 0) }

// setupWith starts a syncer on a fake broker; adjust may change its
// options before New.
func setupWith(t *testing.T, debounce, maxDelay time.Duration, adjust ...func(*syncer.Options)) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "a.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := admin.Actor{Name: "test"}
	sites, _ := st.ListSites(ctx)
	fx := &fixture{st: st, f: newFake()}
	fx.door = admin.Door{SiteID: sites[0].ID, Name: "Ingresso", ControllerID: "ingresso"}
	must(t, st.CreateDoor(ctx, a, &fx.door))
	p := admin.Person{EmployeeNo: "1", Name: "Anna", Surname: "Bianchi", Active: true}
	must(t, st.CreatePerson(ctx, a, &p))
	vc, err := virtcie.New(virtcie.Options{NIS: "123456789012", PKI: testpki.Committed(t), Gen: reader.Gen2022})
	must(t, err)
	fx.card = admin.Card{PersonID: p.ID, NIS: vc.NIS(), PublicKey: vc.KeyFileTLV(), EnrolledAt: time.Now()}
	must(t, st.CreateCard(ctx, a, &fx.card))
	fx.group = admin.Group{Name: "Tutti", DoorIDs: []int64{fx.door.ID}, PersonIDs: []int64{p.ID}}
	must(t, st.CreateGroup(ctx, a, &fx.group))

	pub, priv, _ := ed25519.GenerateKey(nil)
	fx.pub = pub
	o := syncer.Options{Store: st, Site: site, Signer: wire.NewSigner(priv), Transport: fx.f,
		Debounce: debounce, MaxDelay: maxDelay, Poll: time.Hour, ChunkBytes: 4096, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range adjust {
		f(&o)
	}
	fx.s, err = syncer.New(o)
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fx.s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		fx.f.mu.Lock()
		n := len(fx.f.subs)
		fx.f.mu.Unlock()
		if n == 4 { // sync, events, status, enroll/result
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the syncer subscribed to %d filters, want 4", n)
		}
	}
	return fx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestHeadDeltaAndSnapshot(t *testing.T) {
	fx := setup(t)
	ctx := t.Context()
	rev, err := fx.st.DoorRevision(ctx, fx.door.ID)
	must(t, err)
	var h wire.Head
	if m := fx.f.next(t, fx.pub, "ingresso", wire.KindHead, &h); !m.retained || h.Rev != uint64(rev) {
		t.Fatalf("head at start: %+v retained=%v, door at %d", h, m.retained, rev)
	}

	// A new door asks from revision 0: a snapshot that assembles to the
	// view.
	fx.f.door(t, "ingresso", wire.KindSync, wire.SyncRequest{Rev: 0, Reason: "boot"})
	asm := wire.NewAssembler(nil)
	var snap *wire.Snapshot
	for snap == nil {
		var c wire.SnapshotChunk
		fx.f.next(t, fx.pub, "ingresso", wire.KindSnapshot, &c)
		snap, err = asm.Add(c)
		must(t, err)
	}
	if snap.Rev != uint64(rev) || len(snap.Grants) != 1 || snap.Grants[0].NIS != "123456789012" || !snap.Grants[0].Flags.Has(varco.FlagAlways) {
		t.Fatalf("snapshot: rev %d, grants %+v", snap.Rev, snap.Grants)
	}

	// Revoking the card: a delta from the announced revision deletes it.
	must(t, fx.st.SetCardStatus(ctx, admin.Actor{Name: "hr"}, fx.card.ID, admin.CardRevoked))
	fx.s.Changed()
	var d wire.Delta
	fx.f.next(t, fx.pub, "ingresso", wire.KindGrants, &d)
	if d.From != uint64(rev) || d.To <= d.From || len(d.Deletes) != 1 || d.Deletes[0] != "123456789012" || len(d.Upserts) != 0 {
		t.Fatalf("delta after revoke: %+v", d)
	}
	fx.f.next(t, fx.pub, "ingresso", wire.KindHead, &h)
	if h.Rev != d.To {
		t.Errorf("head %d after delta to %d", h.Rev, d.To)
	}

	// A door that is current gets the head again; one behind, a delta.
	fx.f.door(t, "ingresso", wire.KindSync, wire.SyncRequest{Rev: d.To})
	fx.f.next(t, fx.pub, "ingresso", wire.KindHead, &h)
	fx.f.door(t, "ingresso", wire.KindSync, wire.SyncRequest{Rev: d.From})
	var d2 wire.Delta
	fx.f.next(t, fx.pub, "ingresso", wire.KindGrants, &d2)
	if d2.From != d.From || d2.To != d.To {
		t.Errorf("delta on request: %+v", d2)
	}
}

func TestBurstCoalesces(t *testing.T) {
	const maxDelay = 2 * time.Second
	fx := setupWith(t, 300*time.Millisecond, maxDelay)
	ctx := t.Context()
	var h wire.Head
	fx.f.next(t, fx.pub, "ingresso", wire.KindHead, &h)
	// Fifty people join the group in fifty writes, with a nudge each.
	var ids []int64
	for i := range 50 {
		p := admin.Person{EmployeeNo: "b" + strings.Repeat("x", i%3) + string(rune('A'+i%26)) + string(rune('a'+i/26)), Name: "N", Surname: "S", Active: true}
		must(t, fx.st.CreatePerson(ctx, admin.Actor{Name: "hr"}, &p))
		vc, err := virtcie.New(virtcie.Options{NIS: "5000000000" + string(rune('0'+i/10)) + string(rune('0'+i%10)), PKI: testpki.Committed(t), Gen: reader.Gen2022})
		must(t, err)
		c := admin.Card{PersonID: p.ID, NIS: vc.NIS(), PublicKey: vc.KeyFileTLV(), EnrolledAt: time.Now()}
		must(t, fx.st.CreateCard(ctx, admin.Actor{Name: "hr"}, &c))
		ids = append(ids, p.ID)
	}
	start := time.Now()
	for _, id := range ids {
		must(t, fx.st.AddGroupPeople(ctx, admin.Actor{Name: "hr"}, fx.group.ID, id))
		fx.s.Changed()
	}
	burst := time.Since(start)
	upserts := 0
	deltas := 0
	for upserts < 50 {
		var d wire.Delta
		fx.f.next(t, fx.pub, "ingresso", wire.KindGrants, &d)
		deltas++
		upserts += len(d.Upserts)
	}
	// At most one delta per MaxDelay while the burst lasts, one after.
	if limit := int(burst/maxDelay) + 2; upserts != 50 || deltas > limit {
		t.Errorf("50 writes in %v gave %d deltas with %d upserts; want at most %d deltas with 50", burst, deltas, upserts, limit)
	}
	t.Logf("50 writes in %v: %d deltas", burst.Round(time.Millisecond), deltas)
}

func TestEventsIngestAckAndStatus(t *testing.T) {
	fx := setup(t)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	batch := wire.EventsBatch{Epoch: "e1", Events: []varco.Event{
		{Seq: 1, Door: "ingresso", Time: t0, Kind: varco.EventGranted, NIS: "123456789012", ClockTrusted: true},
		{Seq: 2, Door: "spoofed", Time: t0.Add(time.Second), Kind: varco.EventDenied, Reason: varco.ReasonCloneSuspected, NIS: "123456789012"},
	}}
	fx.f.door(t, "ingresso", wire.KindEvents, batch)
	var ack wire.Ack
	fx.f.next(t, fx.pub, "ingresso", wire.KindEventsAck, &ack)
	if ack.Epoch != "e1" || ack.Seq != 2 {
		t.Fatalf("ack %+v", ack)
	}
	// The same batch again (a reconnect): acknowledged, not stored twice.
	fx.f.door(t, "ingresso", wire.KindEvents, batch)
	fx.f.next(t, fx.pub, "ingresso", wire.KindEventsAck, &ack)
	evs, _, err := fx.st.SearchEvents(ctx, admin.EventFilter{})
	must(t, err)
	if len(evs) != 2 {
		t.Fatalf("%d events stored, want 2", len(evs))
	}
	for _, e := range evs {
		if e.DoorID != fx.door.ID || e.PersonID == nil || *e.PersonID != fx.card.PersonID {
			t.Errorf("event %+v: want the topic's door and the card's person", e)
		}
	}
	if !evs[1].ClockTrusted || evs[0].ClockTrusted {
		t.Errorf("clock trust not kept: %+v", evs)
	}
	// A new epoch (the door's store was replaced) restarts at seq 1 and
	// is not mistaken for a duplicate.
	fx.f.door(t, "ingresso", wire.KindEvents, wire.EventsBatch{Epoch: "e2", Events: []varco.Event{{Seq: 1, Time: t0.Add(time.Hour), Kind: varco.EventController, Detail: "started"}}})
	fx.f.next(t, fx.pub, "ingresso", wire.KindEventsAck, &ack)
	if evs, _, _ = fx.st.SearchEvents(ctx, admin.EventFilter{}); len(evs) != 3 {
		t.Errorf("after a new epoch: %d events, want 3", len(evs))
	}

	fx.f.door(t, "ingresso", wire.KindStatus, wire.Status{Online: true, Rev: 7, OutboxLen: 3, ClockTrusted: true, Mode: varco.ModeNormal, DoorState: wire.DoorClosed, Time: t0})
	if st, ok := fx.s.Status("ingresso"); !ok || !st.Online || st.Rev != 7 || st.OutboxLen != 3 {
		t.Errorf("status %+v %v", st, ok)
	}
	will, err := wire.OfflineWill(site, "ingresso")
	must(t, err)
	fx.f.raw(t, wire.Topic(site, "ingresso", wire.KindStatus), will)
	if st, _ := fx.s.Status("ingresso"); st.Online {
		t.Errorf("after the will: %+v", st)
	}
}

func TestCommandsSignedAndIncreasing(t *testing.T) {
	fx := setup(t)
	c1, err := fx.s.Command(t.Context(), "ingresso", wire.ActionUnlockOnce, "facilities-user")
	must(t, err)
	c2, err := fx.s.Command(t.Context(), "ingresso", wire.ActionLockdownOn, "facilities-user")
	must(t, err)
	if c2.Seq <= c1.Seq || !c1.ExpiresAt.After(c1.IssuedAt) {
		t.Errorf("commands %+v %+v", c1, c2)
	}
	var got wire.Cmd
	fx.f.next(t, fx.pub, "ingresso", wire.KindCmd, &got)
	if got.Seq != c1.Seq || got.Action != wire.ActionUnlockOnce || got.By != "facilities-user" {
		t.Errorf("cmd on the wire %+v", got)
	}
	m := fx.f.next(t, fx.pub, "ingresso", wire.KindCmd, &got)
	if got.Action != wire.ActionLockdownOn {
		t.Errorf("second cmd %+v", got)
	}
	// Signed for this door only: another door's verifier refuses it.
	if err := wire.NewVerifier(fx.pub, site, "retro").Open(wire.KindCmd, m.payload, &got); err == nil {
		t.Error("a command for ingresso opened as retro's")
	}
}

// TestWatch: a watcher gets every stored batch once (not the batch sent
// again) and every status, and nothing after it stops watching.
func TestWatch(t *testing.T) {
	fx := setup(t)
	w, stop := fx.s.Watch()
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	batch := wire.EventsBatch{Epoch: "e1", Events: []varco.Event{
		{Seq: 1, Time: t0, Kind: varco.EventGranted, NIS: "123456789012"},
		{Seq: 2, Time: t0, Kind: varco.EventDenied, Reason: varco.ReasonUnknown, NIS: "999999999999"},
	}}
	var ack wire.Ack
	fx.f.door(t, "ingresso", wire.KindEvents, batch)
	fx.f.next(t, fx.pub, "ingresso", wire.KindEventsAck, &ack)
	fx.f.door(t, "ingresso", wire.KindEvents, batch) // again: nothing new
	fx.f.next(t, fx.pub, "ingresso", wire.KindEventsAck, &ack)
	fx.f.door(t, "ingresso", wire.KindStatus, wire.Status{Online: true, Rev: 4, DoorState: wire.DoorClosed, Time: t0})
	got := func() syncer.Update {
		t.Helper()
		select {
		case u := <-w:
			return u
		case <-time.After(5 * time.Second):
			t.Fatal("no update")
		}
		return syncer.Update{}
	}
	if u := got(); u.Door != "ingresso" || len(u.Events) != 2 || u.Events[1].Reason != varco.ReasonUnknown || u.Status != nil {
		t.Fatalf("first update %+v, want the batch", u)
	}
	if u := got(); u.Status == nil || u.Status.Rev != 4 || !u.Status.Online || len(u.Events) != 0 {
		t.Fatalf("second update %+v, want the status (the batch sent again is no news)", u)
	}
	stop()
	if _, open := <-w; open {
		t.Fatal("channel open after stop")
	}
	stop() // twice is harmless
	fx.f.door(t, "ingresso", wire.KindStatus, wire.Status{Online: true, Rev: 5, Time: t0})
}
