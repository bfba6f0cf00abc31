package mqttsync_test

import (
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/mqttsync"
	"github.com/varco-access/varco/wire"
)

func delta(from, to uint64, grants ...varco.Grant) wire.Delta {
	return wire.Delta{From: from, To: to, Upserts: grants, IssuedAt: goldenT0}
}

// TestDelta covers every way a grants message ends, from a door at
// revision 41 (the golden delta's start).
func TestDelta(t *testing.T) {
	tests := []struct {
		name     string
		msg      func(t *testing.T) []byte
		topic    string // default: the door's grants topic
		wantRev  uint64
		wantSync string // reason of the sync request it causes, if any
		wantEv   string // in the detail of the sync event it writes, if any
		reason   string // mqtt_rejected_total reason, if any
	}{
		{name: "golden delta", msg: func(t *testing.T) []byte { return golden(t, "grants.json") },
			wantRev: 42, wantEv: "delta 41→42 applied: 2 upserts, 1 deletes"},
		{name: "gap", msg: func(t *testing.T) []byte { return seal(t, wire.KindGrants, delta(43, 44)) },
			wantRev: 41, wantSync: wire.SyncGap, reason: mqttsync.ReasonGap},
		{name: "straddles the door's revision", msg: func(t *testing.T) []byte { return seal(t, wire.KindGrants, delta(40, 42)) },
			wantRev: 41, wantSync: wire.SyncGap, reason: mqttsync.ReasonGap},
		{name: "stale replay", msg: func(t *testing.T) []byte { return seal(t, wire.KindGrants, delta(40, 41)) },
			wantRev: 41, reason: mqttsync.ReasonStale},
		{name: "bad signature", msg: func(t *testing.T) []byte { return sealFor(t, otherSigner, doorID, wire.KindGrants, delta(41, 42)) },
			wantRev: 41, wantEv: "rejected grants (signature)", reason: mqttsync.ReasonSignature},
		{name: "for another door", msg: func(t *testing.T) []byte { return sealFor(t, signer, "demo-2", wire.KindGrants, delta(41, 42)) },
			wantRev: 41, wantEv: "rejected grants (wrong_door)", reason: mqttsync.ReasonWrongDoor},
		{name: "on another door's topic", topic: wire.Topic(site, "demo-2", wire.KindGrants),
			msg:     func(t *testing.T) []byte { return sealFor(t, signer, "demo-2", wire.KindGrants, delta(41, 42)) },
			wantRev: 41},
		{name: "a head on the grants topic", msg: func(t *testing.T) []byte { return golden(t, "head.json") },
			wantRev: 41, wantEv: "rejected grants (wrong_kind)", reason: mqttsync.ReasonWrongKind},
		{name: "major version 2", msg: func(t *testing.T) []byte { return withVersion(t, golden(t, "grants.json"), "2.0") },
			wantRev: 41, wantSync: wire.SyncRejected, wantEv: "rejected grants (version)", reason: mqttsync.ReasonVersion},
		{name: "minor version 1.7", msg: func(t *testing.T) []byte { return withVersion(t, golden(t, "grants.json"), "1.7") },
			wantRev: 42, wantEv: "delta 41→42 applied"},
		{name: "not JSON", msg: func(t *testing.T) []byte { return []byte("hello") },
			wantRev: 41, wantSync: wire.SyncRejected, wantEv: "rejected grants (malformed)", reason: mqttsync.ReasonMalformed},
		{name: "zone the door does not know", msg: func(t *testing.T) []byte {
			d := delta(41, 42)
			d.TimeZone = "Mars/Olympus_Mons"
			return seal(t, wire.KindGrants, d)
		}, wantRev: 41, wantSync: wire.SyncRejected, wantEv: "rejected grants (invalid)", reason: mqttsync.ReasonInvalid},
		{name: "empty payload (retained clear)", msg: func(t *testing.T) []byte { return nil }, wantRev: 41},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.snapshotAt(41, grant(999999999999, "to be deleted"))
			h.connect()
			h.settle()
			before := len(h.tr.Published())
			evBefore := len(h.details(varco.EventSync))
			topic := tt.topic
			if topic == "" {
				topic = wire.Topic(site, doorID, wire.KindGrants)
			}
			h.tr.Deliver(topic, tt.msg(t), false)

			if got := h.rev(); got != tt.wantRev {
				t.Errorf("revision %d, want %d", got, tt.wantRev)
			}
			reqs := syncRequests(t, h.tr.Published()[before:])
			switch {
			case tt.wantSync == "" && len(reqs) > 0:
				t.Errorf("sync requests %+v, want none", reqs)
			case tt.wantSync != "" && (len(reqs) != 1 || reqs[0].Reason != tt.wantSync || reqs[0].Rev != 41):
				t.Errorf("sync requests %+v, want one {41 %s}", reqs, tt.wantSync)
			}
			evs := h.details(varco.EventSync)[evBefore:]
			switch {
			case tt.wantEv == "" && len(evs) > 0:
				t.Errorf("sync events %q, want none", evs)
			case tt.wantEv != "" && (len(evs) != 1 || !strings.Contains(evs[0], tt.wantEv)):
				t.Errorf("sync events %q, want one with %q", evs, tt.wantEv)
			}
			if tt.reason != "" {
				if got := h.counter("varco_door_mqtt_rejected_total", "reason", tt.reason); got != 1 {
					t.Errorf("rejected{reason=%s} = %v, want 1", tt.reason, got)
				}
			}
		})
	}
}

func TestDeltaApplied(t *testing.T) {
	h := newHarness(t, nil)
	h.snapshotAt(41, grant(999999999999, "to be deleted"))
	h.connect()
	h.deliver(wire.KindGrants, golden(t, "grants.json"))
	if _, ok, _ := h.st.Grant(doorID, "999999999999"); ok {
		t.Error("deleted grant still there")
	}
	g, ok, err := h.st.Grant(doorID, "123456789012")
	if err != nil || !ok || g.DisplayName != "Anna Rossi" {
		t.Errorf("upserted grant: %+v %v %v", g, ok, err)
	}
	scheds, _ := h.st.Schedules()
	if _, ok := scheds["office"]; !ok {
		t.Errorf("schedules %v lack office", scheds)
	}
	_, synced, _ := h.st.Revision(doorID)
	if !synced.Equal(goldenT0) {
		t.Errorf("last sync %v, want the apply time %v", synced, goldenT0)
	}
	if loc := h.loc.Load(); loc == nil || loc.String() != "Europe/Rome" {
		t.Errorf("location %v, want Europe/Rome", loc)
	}
	if got := h.counter("varco_door_allowlist_revision", "door", doorID); got != 42 {
		t.Errorf("revision metric %v", got)
	}
	if got := h.counter("varco_door_mqtt_messages_total", "direction", "in", "kind", "grants"); got != 1 {
		t.Errorf("messages in = %v", got)
	}

	// The same delta again (QoS 1 redelivery): nothing changes.
	n := len(h.events())
	h.deliver(wire.KindGrants, golden(t, "grants.json"))
	if h.rev() != 42 || len(h.events()) != n {
		t.Errorf("redelivery: rev %d, %d events (was %d)", h.rev(), len(h.events()), n)
	}
}

func TestDeltaMode(t *testing.T) {
	h := newHarness(t, nil)
	h.connect()
	d := delta(0, 1)
	d.Mode = varco.ModeLockdown
	h.deliver(wire.KindGrants, seal(t, wire.KindGrants, d))
	if m := h.door.Mode(); m != varco.ModeLockdown {
		t.Fatalf("door mode %s after a lockdown delta", m)
	}
	if set, _ := h.st.DoorSettings(doorID); set.Mode != varco.ModeLockdown {
		t.Errorf("stored settings %+v", set)
	}
	d = delta(1, 2)
	d.Mode = varco.ModeNormal
	h.deliver(wire.KindGrants, seal(t, wire.KindGrants, d))
	if m := h.door.Mode(); m != varco.ModeNormal {
		t.Fatalf("door mode %s after a normal delta", m)
	}
}

func TestHead(t *testing.T) {
	head := func(rev uint64, at time.Time) wire.Head { return wire.Head{Rev: rev, IssuedAt: at} }
	t.Run("ahead", func(t *testing.T) {
		h := newHarness(t, nil)
		h.snapshotAt(41)
		h.connect()
		h.settle()
		before := len(h.tr.Published())
		h.deliver(wire.KindHead, golden(t, "head.json")) // rev 42
		reqs := syncRequests(t, h.tr.Published()[before:])
		if len(reqs) != 1 || reqs[0] != (wire.SyncRequest{Rev: 41, Reason: wire.SyncHead}) {
			t.Fatalf("sync requests %+v", reqs)
		}
		// The retained head again, at once: asked already.
		h.tr.Deliver(wire.Topic(site, doorID, wire.KindHead), golden(t, "head.json"), true)
		if reqs := syncRequests(t, h.tr.Published()[before:]); len(reqs) != 1 {
			t.Fatalf("second head sent another request: %+v", reqs)
		}
	})
	t.Run("current", func(t *testing.T) {
		h := newHarness(t, nil)
		h.snapshotAt(42) // synced an hour before goldenT0
		h.connect()
		issued := goldenT0.Add(-time.Minute)
		h.deliver(wire.KindHead, seal(t, wire.KindHead, head(42, issued)))
		if _, synced, _ := h.st.Revision(doorID); !synced.Equal(issued) {
			t.Errorf("last sync %v, want the head's issue time %v", synced, issued)
		}
		// A head issued in the door's future counts from now.
		h.deliver(wire.KindHead, seal(t, wire.KindHead, head(42, goldenT0.Add(time.Hour))))
		if _, synced, _ := h.st.Revision(doorID); !synced.Equal(goldenT0) {
			t.Errorf("last sync %v, want now %v", synced, goldenT0)
		}
		if evs := h.details(varco.EventSync); len(evs) != 0 {
			t.Errorf("events %q", evs)
		}
	})
	t.Run("behind the door", func(t *testing.T) {
		h := newHarness(t, nil)
		h.snapshotAt(50)
		h.connect()
		h.deliver(wire.KindHead, golden(t, "head.json"))
		if evs := h.details(varco.EventSync); len(evs) != 1 || !strings.Contains(evs[0], "admin_behind") {
			t.Errorf("events %q, want one admin_behind", evs)
		}
	})
	t.Run("bad signature", func(t *testing.T) {
		h := newHarness(t, nil)
		h.connect()
		before := len(h.tr.Published())
		h.deliver(wire.KindHead, sealFor(t, otherSigner, doorID, wire.KindHead, head(42, goldenT0)))
		if reqs := syncRequests(t, h.tr.Published()[before:]); len(reqs) != 0 {
			t.Errorf("a forged head caused %+v", reqs)
		}
		if evs := h.details(varco.EventSync); len(evs) != 1 || !strings.Contains(evs[0], "signature") {
			t.Errorf("events %q", evs)
		}
	})
}

// TestRejectionEventsRateLimited: a flood of forged messages writes one
// event per reason per minute and counts the rest.
func TestRejectionEventsRateLimited(t *testing.T) {
	h := newHarness(t, nil)
	h.connect()
	forged := sealFor(t, otherSigner, doorID, wire.KindGrants, delta(0, 1))
	for range 10 {
		h.deliver(wire.KindGrants, forged)
	}
	h.deliver(wire.KindGrants, withVersion(t, forged, "3.0")) // another reason: its own event
	evs := h.details(varco.EventSync)
	if len(evs) != 2 || !strings.Contains(evs[0], "signature") || !strings.Contains(evs[1], "version") {
		t.Fatalf("events %q, want one signature and one version", evs)
	}
	if got := h.counter("varco_door_sync_events_suppressed_total", "reason", "signature"); got != 9 {
		t.Errorf("suppressed = %v, want 9", got)
	}
	if got := h.counter("varco_door_mqtt_rejected_total", "reason", "signature"); got != 10 {
		t.Errorf("rejected = %v, want 10", got)
	}
	h.clock.Advance(59 * time.Second)
	h.deliver(wire.KindGrants, forged)
	if n := len(h.details(varco.EventSync)); n != 2 {
		t.Fatalf("%d events before the minute is up", n)
	}
	h.clock.Advance(time.Second)
	h.deliver(wire.KindGrants, forged)
	evs = h.details(varco.EventSync)
	if len(evs) != 3 || !strings.Contains(evs[2], "and 10 more") {
		t.Fatalf("events %q, want a third counting 10 suppressed", evs)
	}
}

func chunks(t *testing.T, rev uint64, grants []varco.Grant, maxBytes int) []wire.SnapshotChunk {
	t.Helper()
	cs := wire.SplitSnapshot(wire.NewID(), rev, grants, nil, []varco.Holiday{{Date: "2026-12-25", Name: "Natale"}}, varco.ModeLockdown, "UTC", maxBytes)
	if len(cs) < 3 {
		t.Fatalf("%d chunks, want at least 3", len(cs))
	}
	return cs
}

func TestSnapshot(t *testing.T) {
	t.Run("golden", func(t *testing.T) {
		h := newHarness(t, nil)
		h.connect()
		h.deliver(wire.KindSnapshot, golden(t, "snapshot-0.json"))
		if h.rev() != 0 {
			t.Fatal("applied before the last chunk")
		}
		h.deliver(wire.KindSnapshot, golden(t, "snapshot-1.json"))
		if h.rev() != 42 {
			t.Fatalf("revision %d after both chunks", h.rev())
		}
		if n, _ := h.st.GrantCount(doorID); n != 3 {
			t.Errorf("%d grants, want 3", n)
		}
		if hol, _ := h.st.IsHoliday("2026-12-25"); !hol {
			t.Error("holiday missing")
		}
		if evs := h.details(varco.EventSync); len(evs) != 1 || !strings.Contains(evs[0], "snapshot rev 42 applied: 3 grants") {
			t.Errorf("events %q", evs)
		}
	})
	t.Run("out of order, with duplicates", func(t *testing.T) {
		h := newHarness(t, nil)
		h.snapshotAt(5, grants(1, 3, "old")...)
		h.connect()
		cs := chunks(t, 9, grants(100, 20, "new"), 2500)
		for i := len(cs) - 1; i >= 0; i-- {
			msg := seal(t, wire.KindSnapshot, cs[i])
			h.deliver(wire.KindSnapshot, msg)
			if i == len(cs)-1 {
				h.deliver(wire.KindSnapshot, msg)
			}
			if i > 0 && h.rev() != 5 {
				t.Fatalf("applied with %d chunks missing", i)
			}
		}
		if h.rev() != 9 {
			t.Fatalf("revision %d", h.rev())
		}
		if n, _ := h.st.GrantCount(doorID); n != 20 {
			t.Errorf("%d grants, want 20", n)
		}
		if h.door.Mode() != varco.ModeLockdown {
			t.Errorf("door mode %s, the snapshot says lockdown", h.door.Mode())
		}
		if loc := h.loc.Load(); loc == nil || loc.String() != "UTC" {
			t.Errorf("location %v", loc)
		}
	})
	t.Run("missing chunk", func(t *testing.T) {
		h := newHarness(t, func(o *mqttsync.Options) { o.SyncTimeout = 3 * time.Second })
		h.connect()
		cs := chunks(t, 9, grants(100, 20, "new"), 2500)
		for _, c := range cs[1:] {
			h.deliver(wire.KindSnapshot, seal(t, wire.KindSnapshot, c))
		}
		if h.rev() != 0 {
			t.Fatal("applied without chunk 0")
		}
		before := len(h.tr.Published())
		for range 3 {
			h.tick()
		}
		reqs := syncRequests(t, h.tr.Published()[before:])
		if len(reqs) != 1 || reqs[0] != (wire.SyncRequest{Rev: 0, Reason: wire.SyncTimeout}) {
			t.Fatalf("after the sync timeout: requests %+v, want one {0 timeout}", reqs)
		}
		// The assembler started over: the late chunk 0 alone completes nothing.
		h.deliver(wire.KindSnapshot, seal(t, wire.KindSnapshot, cs[0]))
		if h.rev() != 0 {
			t.Fatal("applied from chunks given up on")
		}
	})
	t.Run("wrong digest", func(t *testing.T) {
		h := newHarness(t, nil)
		h.connect()
		cs := chunks(t, 9, grants(100, 20, "new"), 2500)
		cs[len(cs)-1].Digest = strings.Repeat("ab", 32)
		h.settle()
		before := len(h.tr.Published())
		for _, c := range cs {
			h.deliver(wire.KindSnapshot, seal(t, wire.KindSnapshot, c))
		}
		if h.rev() != 0 {
			t.Fatal("applied a snapshot that does not match its digest")
		}
		if reqs := syncRequests(t, h.tr.Published()[before:]); len(reqs) != 1 || reqs[0].Reason != wire.SyncRejected {
			t.Errorf("requests %+v, want one rejected", reqs)
		}
		if evs := h.details(varco.EventSync); len(evs) != 1 || !strings.Contains(evs[0], "digest") {
			t.Errorf("events %q", evs)
		}
	})
	t.Run("stale revision", func(t *testing.T) {
		h := newHarness(t, nil)
		h.snapshotAt(50)
		h.connect()
		h.deliver(wire.KindSnapshot, golden(t, "snapshot-0.json"))
		h.deliver(wire.KindSnapshot, golden(t, "snapshot-1.json"))
		if h.rev() != 50 {
			t.Fatalf("revision %d", h.rev())
		}
		if got := h.counter("varco_door_mqtt_rejected_total", "reason", "stale"); got != 2 {
			t.Errorf("stale = %v, want 2", got)
		}
		if evs := h.details(varco.EventSync); len(evs) != 0 {
			t.Errorf("events %q for a stale snapshot", evs)
		}
	})
	t.Run("same revision confirms", func(t *testing.T) {
		h := newHarness(t, nil)
		h.snapshotAt(42) // synced an hour ago
		h.connect()
		h.deliver(wire.KindSnapshot, golden(t, "snapshot-0.json"))
		h.deliver(wire.KindSnapshot, golden(t, "snapshot-1.json"))
		if _, synced, _ := h.st.Revision(doorID); !synced.Equal(goldenT0) {
			t.Errorf("last sync %v, want %v", synced, goldenT0)
		}
		if n, _ := h.st.GrantCount(doorID); n != 0 {
			t.Errorf("rewrote the allowlist: %d grants", n)
		}
	})
}

func cmd(seq uint64, a wire.Action, issued time.Time) wire.Cmd {
	return wire.Cmd{Seq: seq, Action: a, IssuedAt: issued, ExpiresAt: issued.Add(time.Minute), By: "facilities"}
}

func TestCmd(t *testing.T) {
	h := newHarness(t, nil)
	h.connect()
	// golden cmd.json: seq 7, unlock_once, valid 08:00 to 08:01.
	h.deliver(wire.KindCmd, golden(t, "cmd.json"))
	if h.door.granted() != 1 {
		t.Fatalf("unlock_once: %d grants", h.door.granted())
	}
	evs := h.details(varco.EventController)
	if len(evs) != 1 || !strings.Contains(evs[0], "cmd 7 unlock_once by \"facilities@example.com\": executed") {
		t.Fatalf("events %q", evs)
	}
	h.deliver(wire.KindCmd, golden(t, "cmd.json"))
	if h.door.granted() != 1 {
		t.Fatal("a replayed command ran again")
	}
	if evs := h.details(varco.EventController); len(evs) != 2 || !strings.Contains(evs[1], "refused (replay)") {
		t.Fatalf("events %q", evs)
	}

	// After a reboot the store still knows seq 7.
	h.reboot()
	h.connect()
	h.deliver(wire.KindCmd, golden(t, "cmd.json"))
	if h.door.granted() != 1 {
		t.Fatal("a command replayed after a reboot ran again")
	}
	if got := h.counter("varco_door_mqtt_rejected_total", "reason", mqttsync.ReasonReplay); got != 2 {
		t.Errorf("replay counter %v, want 2 (one before the reboot, one after)", got)
	}

	// Expired: issued at 08:00, valid one minute, now 08:02.
	h.clock.Advance(2 * time.Minute)
	h.deliver(wire.KindCmd, seal(t, wire.KindCmd, cmd(8, wire.ActionUnlockOnce, goldenT0)))
	if h.door.granted() != 1 {
		t.Fatal("an expired command ran")
	}
	now := goldenT0.Add(2 * time.Minute)

	// Untrusted clock: unlock refused, and the seq is not used up.
	h.trusted.Store(false)
	c9 := seal(t, wire.KindCmd, cmd(9, wire.ActionUnlockOnce, now))
	h.deliver(wire.KindCmd, c9)
	if h.door.granted() != 1 {
		t.Fatal("unlock_once ran with an untrusted clock")
	}
	// Lockdown works with an untrusted clock.
	h.deliver(wire.KindCmd, seal(t, wire.KindCmd, cmd(10, wire.ActionLockdownOn, now)))
	if h.door.Mode() != varco.ModeLockdown {
		t.Fatalf("mode %s after lockdown_on", h.door.Mode())
	}
	h.trusted.Store(true)
	h.deliver(wire.KindCmd, c9) // 9 <= 10: stale now
	if h.door.granted() != 1 {
		t.Fatal("cmd 9 ran after cmd 10")
	}
	h.deliver(wire.KindCmd, seal(t, wire.KindCmd, cmd(11, wire.ActionUnlockOnce, now)))
	if h.door.granted() != 1 {
		t.Fatal("unlock_once released a door in lockdown")
	}
	// A delta setting normal mode does not lift a lockdown command.
	d := delta(0, 1)
	d.Mode = varco.ModeNormal
	h.deliver(wire.KindGrants, seal(t, wire.KindGrants, d))
	if h.door.Mode() != varco.ModeLockdown {
		t.Fatalf("mode %s: a delta lifted the lockdown", h.door.Mode())
	}
	if set, _ := h.st.DoorSettings(doorID); !set.Lockdown || set.LastCmd != 11 {
		t.Fatalf("settings %+v", set)
	}
	h.deliver(wire.KindCmd, seal(t, wire.KindCmd, cmd(12, wire.ActionLockdownOff, now)))
	if h.door.Mode() != varco.ModeNormal {
		t.Fatalf("mode %s after lockdown_off", h.door.Mode())
	}
	before := len(h.tr.Published())
	h.deliver(wire.KindCmd, seal(t, wire.KindCmd, cmd(13, wire.ActionResync, now)))
	if reqs := syncRequests(t, h.tr.Published()[before:]); len(reqs) != 1 || reqs[0].Reason != wire.SyncResync {
		t.Fatalf("resync: requests %+v", reqs)
	}
	h.deliver(wire.KindCmd, seal(t, wire.KindCmd, cmd(14, wire.ActionUnlockOnce, now)))
	if h.door.granted() != 2 {
		t.Fatal("unlock_once did not run")
	}

	var refused, executed int
	for _, e := range h.details(varco.EventController) {
		switch {
		case strings.Contains(e, "refused"):
			refused++
		case strings.Contains(e, ": executed"), strings.Contains(e, "not released"):
			executed++
		}
	}
	// Executed: 7, 10, 11 (not released), 12, 13, 14. Refused: 7 twice
	// (replays), 8 (expired), 9 (clock), 9 (replay).
	if executed != 6 || refused != 5 {
		t.Errorf("%d executed and %d refused events, want 6 and 5:\n%s", executed, refused, strings.Join(h.details(varco.EventController), "\n"))
	}
}

// TestLockdownSurvivesReboot: the flag is in the store, and a new session
// applies it when any update arrives; the controller applies it at boot.
func TestLockdownSurvivesReboot(t *testing.T) {
	h := newHarness(t, nil)
	h.connect()
	h.deliver(wire.KindCmd, seal(t, wire.KindCmd, cmd(1, wire.ActionLockdownOn, goldenT0)))
	h.reboot()
	set, err := h.st.DoorSettings(doorID)
	if err != nil || set.Effective() != varco.ModeLockdown {
		t.Fatalf("after reboot: %+v %v", set, err)
	}
}
