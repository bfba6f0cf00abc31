package mqttsync_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/door"
	"github.com/varco-access/varco/controller/mqttsync"
	"github.com/varco-access/varco/controller/mqttsync/mqttsynctest"
	"github.com/varco-access/varco/wire"
)

// appendEvents writes n granted events to the door's outbox.
func (h *harness) appendEvents(n int) {
	h.t.Helper()
	evs := make([]varco.Event, n)
	for i := range evs {
		evs[i] = varco.Event{Door: doorID, Time: goldenT0, Kind: varco.EventGranted, NIS: fmt.Sprintf("%012d", i), PersonID: "p"}
	}
	if _, err := h.st.AppendBatch(evs); err != nil {
		h.t.Fatal(err)
	}
}

// ack delivers a signed ack up to seq of the door's outbox epoch.
func (h *harness) ack(seq uint64) {
	h.deliver(wire.KindEventsAck, seal(h.t, wire.KindEventsAck, wire.Ack{Epoch: h.st.Epoch(), Seq: seq}))
}

// waitBatches waits until n events batches were published and returns
// them.
func (h *harness) waitBatches(n int) []wire.EventsBatch {
	h.t.Helper()
	ps := h.tr.WaitFor(h.t, fmt.Sprintf("%d events batches", n), func(ps []mqttsynctest.Published) bool {
		return len(kindsOf(ps, wire.KindEvents)) >= n
	})
	return batches(h.t, ps)
}

func span(b wire.EventsBatch) [2]uint64 {
	return [2]uint64{b.Events[0].Seq, b.Events[len(b.Events)-1].Seq}
}

func TestDrainInBatchesOneInFlight(t *testing.T) {
	h := newHarness(t, nil)
	h.appendEvents(1200)
	h.connect()
	bs := h.waitBatches(1)
	if span(bs[0]) != [2]uint64{1, 500} || bs[0].Epoch != h.st.Epoch() {
		t.Fatalf("first batch %v epoch %s", span(bs[0]), bs[0].Epoch)
	}
	for i, e := range bs[0].Events {
		if e.Seq != uint64(i+1) {
			t.Fatalf("batch out of order at %d: seq %d", i, e.Seq)
		}
	}
	// Nothing more until the admin acknowledges.
	h.tick()
	h.tick()
	if n := len(batches(t, h.tr.Published())); n != 1 {
		t.Fatalf("%d batches before the first ack", n)
	}
	if got := h.counter("varco_door_outbox_in_flight_events", "door", doorID); got != 500 {
		t.Errorf("in flight %v", got)
	}
	h.ack(500)
	if n, _ := h.st.Len(doorID); n != 700 {
		t.Errorf("outbox %d after ack 500", n)
	}
	if bs := h.waitBatches(2); span(bs[1]) != [2]uint64{501, 1000} {
		t.Fatalf("second batch %v", span(bs[1]))
	}
	h.ack(1000)
	if bs := h.waitBatches(3); span(bs[2]) != [2]uint64{1001, 1200} {
		t.Fatalf("third batch %v", span(bs[2]))
	}
	h.ack(1200)
	h.s.Flush()
	if n, _ := h.st.Len(doorID); n != 0 {
		t.Errorf("outbox %d after the last ack", n)
	}
	// A new event wakes the drain (the controller's emit calls Notify).
	h.appendEvents(1)
	h.s.Notify()
	if bs := h.waitBatches(4); span(bs[3]) != [2]uint64{1201, 1201} {
		t.Fatalf("batch after Notify %v", span(bs[3]))
	}
}

func TestDrainByteLimit(t *testing.T) {
	h := newHarness(t, func(o *mqttsync.Options) { o.BatchBytes = 2000 })
	h.appendEvents(40)
	h.connect()
	var next uint64 = 1
	for i := 1; next <= 40; i++ {
		b := h.waitBatches(i)[i-1]
		if b.Events[0].Seq != next {
			t.Fatalf("batch %d starts at %d, want %d", i, b.Events[0].Seq, next)
		}
		size := 0
		for _, e := range b.Events {
			j, _ := json.Marshal(e)
			size += len(j) + 1
		}
		if len(b.Events) > 1 && size > 2000 {
			t.Fatalf("batch %d: %d events, %d bytes of JSON, limit 2000", i, len(b.Events), size)
		}
		next = span(b)[1] + 1
		h.ack(span(b)[1])
	}
	if n := len(batches(t, h.tr.Published())); n < 3 {
		t.Errorf("%d batches for 40 events in 2000 bytes", n)
	}
}

// TestResendAfterReconnect: what was sent and not acknowledged is sent
// again after a reconnect; the admin sees every event, dedupes by seq,
// and the door drops only what was acknowledged.
func TestResendAfterReconnect(t *testing.T) {
	h := newHarness(t, func(o *mqttsync.Options) { o.BatchEvents = 8 })
	h.appendEvents(20)
	h.connect()
	if b := h.waitBatches(1); span(b[0]) != [2]uint64{1, 8} {
		t.Fatalf("first batch %v", span(b[0]))
	}
	h.tr.Drop(t)
	h.s.Flush()
	if n, _ := h.st.Len(doorID); n != 20 {
		t.Fatalf("outbox %d: events dropped without an ack", n)
	}
	h.connect()
	if b := h.waitBatches(2); span(b[1]) != [2]uint64{1, 8} {
		t.Fatalf("after reconnect %v, want 1-8 again", span(b[1]))
	}
	h.ack(8)
	h.waitBatches(3)
	h.tr.Drop(t)
	h.connect()
	if b := h.waitBatches(4); span(b[3]) != [2]uint64{9, 16} {
		t.Fatalf("after the second reconnect %v, want 9-16 again", span(b[3]))
	}
	if n, _ := h.st.Len(doorID); n != 12 {
		t.Fatalf("outbox %d, want 12 after ack 8", n)
	}
	h.ack(16)
	h.waitBatches(5)
	h.ack(20)
	h.s.Flush()

	// The admin's ingest: dedupe by (epoch, seq).
	seen := map[uint64]int{}
	for _, b := range batches(t, h.tr.Published()) {
		for _, e := range b.Events {
			seen[e.Seq]++
		}
	}
	var got []uint64
	for seq := range seen {
		got = append(got, seq)
	}
	slices.Sort(got)
	if len(got) != 20 || got[0] != 1 || got[19] != 20 {
		t.Fatalf("admin saw seqs %v, want 1-20", got)
	}
	if n, _ := h.st.Len(doorID); n != 0 {
		t.Errorf("outbox %d at the end", n)
	}
}

func TestAckTimeoutResends(t *testing.T) {
	h := newHarness(t, func(o *mqttsync.Options) { o.AckTimeout = 3 * time.Second; o.BatchEvents = 5 })
	h.appendEvents(7)
	h.connect()
	h.waitBatches(1)
	h.tick()
	h.tick()
	if n := len(batches(t, h.tr.Published())); n != 1 {
		t.Fatalf("%d batches before the ack timeout", n)
	}
	h.tick()
	if b := h.waitBatches(2); span(b[1]) != [2]uint64{1, 5} {
		t.Fatalf("resent batch %v", span(b[1]))
	}
}

func TestPublishFailureResends(t *testing.T) {
	h := newHarness(t, nil)
	h.appendEvents(3)
	h.tr.Hold(true)
	h.connect()
	h.waitBatches(1)
	h.tr.Hold(false)
	h.tr.Release(errors.New("broker said no"))
	waitUntil(t, "the failed batch forgotten", func() bool {
		return h.counter("varco_door_outbox_in_flight_events", "door", doorID) == 0
	})
	h.tick()
	if b := h.waitBatches(2); span(b[1]) != [2]uint64{1, 3} {
		t.Fatalf("resent batch %v", span(b[1]))
	}
}

func TestAckChecks(t *testing.T) {
	h := newHarness(t, nil)
	h.appendEvents(5)
	h.connect()
	h.waitBatches(1)
	tests := []struct {
		name   string
		msg    []byte
		reason string
		event  bool
	}{
		{"golden ack of another epoch", golden(t, "ack.json"), mqttsync.ReasonStale, false},
		{"forged", sealFor(t, otherSigner, doorID, wire.KindEventsAck, wire.Ack{Epoch: h.st.Epoch(), Seq: 5}), mqttsync.ReasonSignature, true},
		{"ahead of the outbox", seal(t, wire.KindEventsAck, wire.Ack{Epoch: h.st.Epoch(), Seq: 99}), mqttsync.ReasonAckAhead, true},
	}
	for _, tt := range tests {
		before := h.counter("varco_door_mqtt_rejected_total", "reason", tt.reason)
		evs := len(h.details(varco.EventSync))
		h.deliver(wire.KindEventsAck, tt.msg)
		if n, _ := h.st.Len(doorID); n < 5 {
			t.Fatalf("%s: outbox %d, events dropped", tt.name, n)
		}
		if got := h.counter("varco_door_mqtt_rejected_total", "reason", tt.reason); got != before+1 {
			t.Errorf("%s: rejected{%s} %v → %v", tt.name, tt.reason, before, got)
		}
		if got := len(h.details(varco.EventSync)) - evs; (got == 1) != tt.event {
			t.Errorf("%s: %d new events", tt.name, got)
		}
	}
	h.ack(3)
	h.ack(3) // again: stale, harmless
	h.ack(2) // older: stale
	if acked, _ := h.st.Acked(doorID); acked != 3 {
		t.Errorf("acked %d", acked)
	}
}

func TestStatus(t *testing.T) {
	h := newHarness(t, nil)
	h.snapshotAt(42)
	h.connect()
	sts := statuses(t, h.tr.Published())
	want := wire.Status{Online: true, Rev: 42, ClockTrusted: true, Version: "test", Mode: varco.ModeNormal, DoorState: wire.DoorClosed, Time: goldenT0}
	if len(sts) != 1 || sts[0] != want {
		t.Fatalf("status on connect %+v, want %+v", sts, want)
	}
	h.tick()
	if n := len(statuses(t, h.tr.Published())); n != 1 {
		t.Fatalf("%d statuses without a change", n)
	}
	steps := []struct {
		name  string
		do    func()
		check func(wire.Status) bool
	}{
		{"forced", func() { h.door.setState(door.StateForced) }, func(s wire.Status) bool { return s.DoorState == wire.DoorForced }},
		{"held open", func() { h.door.setState(door.StateHeldOpen) }, func(s wire.Status) bool { return s.DoorState == wire.DoorHeldOpen }},
		{"open", func() { h.door.setState(door.StateOpen) }, func(s wire.Status) bool { return s.DoorState == wire.DoorOpen }},
		{"released is closed", func() { h.door.setState(door.StateReleased) }, func(s wire.Status) bool { return s.DoorState == wire.DoorClosed }},
		{"mode", func() { h.door.SetMode(varco.ModeLockdown) }, func(s wire.Status) bool { return s.Mode == varco.ModeLockdown }},
		{"clock", func() { h.trusted.Store(false) }, func(s wire.Status) bool { return !s.ClockTrusted }},
		{"revision", func() {
			h.deliver(wire.KindGrants, seal(t, wire.KindGrants, delta(42, 43)))
		}, func(s wire.Status) bool { return s.Rev == 43 }},
	}
	for _, st := range steps {
		n := len(statuses(t, h.tr.Published()))
		st.do()
		h.tick()
		sts := statuses(t, h.tr.Published())
		if len(sts) != n+1 || !st.check(sts[n]) {
			t.Fatalf("%s: statuses %+v", st.name, sts[n:])
		}
	}
	// Rate limit: two changes within one interval make one status.
	n := len(statuses(t, h.tr.Published()))
	h.door.setState(door.StateForced)
	h.door.setState(door.StateLocked)
	h.trusted.Store(true)
	h.s.Flush()
	if got := len(statuses(t, h.tr.Published())); got != n {
		t.Fatalf("status sent between ticks")
	}
	h.tick()
	if got := len(statuses(t, h.tr.Published())); got != n+1 {
		t.Fatalf("%d statuses after the tick, want %d", got, n+1)
	}

	// Clean shutdown: the offline status, retained, before DISCONNECT.
	h.stop()
	sts = statuses(t, h.tr.Published())
	if last := sts[len(sts)-1]; last.Online || last.Rev != 43 {
		t.Fatalf("last status %+v, want offline", last)
	}
}

func TestStatusOutboxMagnitude(t *testing.T) {
	h := newHarness(t, func(o *mqttsync.Options) { o.BatchEvents = 1 })
	h.connect()
	n := len(statuses(t, h.tr.Published()))
	h.appendEvents(3) // 0 → 3: a new magnitude
	h.tick()
	sts := statuses(t, h.tr.Published())
	if len(sts) != n+1 || sts[n].OutboxLen != 3 {
		t.Fatalf("statuses %+v", sts[n:])
	}
	h.appendEvents(5) // 8: same magnitude
	h.tick()
	if got := len(statuses(t, h.tr.Published())); got != n+1 {
		t.Fatalf("status for 3 → 8 events")
	}
	h.appendEvents(2) // 10
	h.tick()
	if sts := statuses(t, h.tr.Published()); len(sts) != n+2 || sts[n+1].OutboxLen != 10 {
		t.Fatalf("statuses %+v", sts[n:])
	}
}

func TestSyncRequests(t *testing.T) {
	t.Run("boot then reconnect", func(t *testing.T) {
		h := newHarness(t, nil)
		h.snapshotAt(7)
		h.connect()
		h.tr.Drop(t)
		h.connect()
		reqs := syncRequests(t, h.tr.Published())
		if len(reqs) != 2 || reqs[0] != (wire.SyncRequest{Rev: 7, Reason: wire.SyncBoot}) || reqs[1] != (wire.SyncRequest{Rev: 7, Reason: mqttsync.SyncReconnect}) {
			t.Fatalf("requests %+v", reqs)
		}
	})
	t.Run("behind and no answer", func(t *testing.T) {
		h := newHarness(t, func(o *mqttsync.Options) { o.SyncTimeout = 3 * time.Second })
		h.snapshotAt(41)
		h.connect()
		h.settle()
		h.deliver(wire.KindHead, golden(t, "head.json"))
		before := len(h.tr.Published())
		for range 3 {
			h.tick()
		}
		reqs := syncRequests(t, h.tr.Published()[before:])
		if len(reqs) != 1 || reqs[0] != (wire.SyncRequest{Rev: 41, Reason: wire.SyncTimeout}) {
			t.Fatalf("requests %+v", reqs)
		}
	})
	t.Run("periodic", func(t *testing.T) {
		h := newHarness(t, func(o *mqttsync.Options) { o.SyncEvery = 3 * time.Second })
		h.connect()
		before := len(h.tr.Published())
		for range 3 {
			h.tick()
		}
		reqs := syncRequests(t, h.tr.Published()[before:])
		if len(reqs) != 1 || reqs[0].Reason != mqttsync.SyncPeriodic {
			t.Fatalf("requests %+v", reqs)
		}
	})
	t.Run("offline: nothing published", func(t *testing.T) {
		h := newHarness(t, nil)
		h.start()
		h.deliver(wire.KindHead, golden(t, "head.json"))
		h.tick()
		for _, p := range h.tr.Published() {
			if !strings.HasSuffix(p.Topic, "/status") {
				t.Errorf("published %s while down", p.Topic)
			}
		}
	})
}

// TestStopWhileConnectionLost: a transport that reports its connection
// lost while the session is stopping (paho does when the broker goes at
// the same moment) does not hang Run.
func TestStopWhileConnectionLost(t *testing.T) {
	h := newHarness(t, nil)
	h.tr.DropOnStop = true
	h.connect()
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run hung: the transport's connection-lost callback waited for a loop that had ended")
	}
	h.cancel = nil
}

// TestAckWaitBacksOff: with no ack the batch goes again after
// AckTimeoutMin, then after twice that, up to AckTimeout; an ack brings
// the wait back to AckTimeoutMin.
func TestAckWaitBacksOff(t *testing.T) {
	h := newHarness(t, func(o *mqttsync.Options) {
		o.AckTimeoutMin, o.AckTimeout, o.BatchEvents = 2*time.Second, 5*time.Second, 5
	})
	h.appendEvents(12)
	h.connect()
	h.waitBatches(1)
	// Ticks (one StatusInterval each) until the next batch goes out.
	ticksToResend := func(n int) int {
		t.Helper()
		for i := 1; i <= 10; i++ {
			h.tick()
			if len(batches(t, h.tr.Published())) >= n {
				return i
			}
		}
		t.Fatalf("batch %d never sent", n)
		return 0
	}
	if got := ticksToResend(2); got != 2 {
		t.Errorf("first resend after %d ticks, want 2 (AckTimeoutMin)", got)
	}
	if got := ticksToResend(3); got != 4 {
		t.Errorf("second resend after %d ticks, want 4 (doubled)", got)
	}
	if got := ticksToResend(4); got != 5 {
		t.Errorf("third resend after %d ticks, want 5 (AckTimeout)", got)
	}
	h.ack(5)
	b := h.waitBatches(5)
	if span(b[4]) != [2]uint64{6, 10} {
		t.Fatalf("after the ack: batch %v", span(b[4]))
	}
	if got := ticksToResend(6); got != 2 {
		t.Errorf("after an ack the next resend came after %d ticks, want 2 (back to AckTimeoutMin)", got)
	}
}
