package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
)

func testEvents(t *testing.T, s admin.Store) {
	p := mustPerson(t, s, "E1", "Mario", "Rossi")
	mustCard(t, s, p.ID, 1)
	d1, d2 := mustDoor(t, s, "d1"), mustDoor(t, s, "d2")
	t0 := time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)
	ev := func(door int64, seq uint64, min int, kind varco.EventKind, reason varco.Reason, nis string) admin.Event {
		return admin.Event{DoorID: door, Seq: seq, Time: t0.Add(time.Duration(min) * time.Minute), ClockTrusted: true, Kind: kind, Reason: reason, NIS: nis}
	}
	batch := []admin.Event{
		ev(d1.ID, 1, 0, varco.EventGranted, "", NIS(1)),
		ev(d1.ID, 2, 1, varco.EventDenied, varco.ReasonUnknown, NIS(9)),
		ev(d1.ID, 3, 2, varco.EventDenied, varco.ReasonOutsideSchedule, NIS(1)),
		ev(d2.ID, 1, 3, varco.EventForced, "", ""),
		ev(d2.ID, 2, 4, varco.EventGranted, "", NIS(1)),
	}
	batch[4].Detail = `<b>"detail"</b>'; --`
	_, err := s.InsertEvents(ctx, []admin.Event{{Seq: 1}})
	wantFields(t, err, "events[0].door_id", "events[0].time", "events[0].kind")
	n, err := s.InsertEvents(ctx, batch)
	must(t, err)
	if n != 5 {
		t.Fatalf("inserted %d, want 5", n)
	}
	// Idempotent on (door, seq): a replay after a reconnect adds nothing,
	// an overlapping batch only the new ones.
	n, err = s.InsertEvents(ctx, batch)
	must(t, err)
	if n != 0 {
		t.Fatalf("replay inserted %d, want 0", n)
	}
	more := []admin.Event{batch[3], ev(d2.ID, 3, 5, varco.EventHeldOpen, "", ""), ev(d1.ID, 4, 6, varco.EventGranted, "", NIS(1))}
	more[0].Detail = "changed" // the stored one wins
	n, err = s.InsertEvents(ctx, more)
	must(t, err)
	if n != 2 {
		t.Fatalf("overlap inserted %d, want 2", n)
	}
	n, err = s.InsertEvents(ctx, nil)
	if err != nil || n != 0 {
		t.Fatalf("empty insert: %d %v", n, err)
	}
	for door, want := range map[int64]uint64{d1.ID: 4, d2.ID: 3, 9999: 0} {
		got, err := s.MaxEventSeq(ctx, door)
		must(t, err)
		if got != want {
			t.Errorf("MaxEventSeq(%d) = %d, want %d", door, got, want)
		}
	}
	all, next, err := s.SearchEvents(ctx, admin.EventFilter{})
	must(t, err)
	if len(all) != 7 || next != nil {
		t.Fatalf("all: %d events, next %v", len(all), next)
	}
	for i, e := range all {
		if i > 0 && !e.Time.Before(all[i-1].Time) {
			t.Fatalf("not newest first at %d", i)
		}
		if e.ID == 0 || e.ReceivedAt.IsZero() {
			t.Fatalf("event %+v", e)
		}
		if e.NIS == NIS(1) && (e.PersonID == nil || *e.PersonID != p.ID) {
			t.Errorf("event %d: person not resolved from NIS: %v", e.Seq, e.PersonID)
		}
		if e.NIS != NIS(1) && e.PersonID != nil {
			t.Errorf("event %d: person %d for NIS %q", e.Seq, *e.PersonID, e.NIS)
		}
	}
	forced := all[len(all)-4]
	if forced.Kind != varco.EventForced || forced.Detail != "" || forced.DoorID != d2.ID || forced.Seq != 1 || !forced.Time.Equal(t0.Add(3*time.Minute)) || !forced.ClockTrusted {
		t.Fatalf("stored %+v", forced)
	}
	seqs := func(f admin.EventFilter) string {
		t.Helper()
		es, _, err := s.SearchEvents(ctx, f)
		must(t, err)
		out := ""
		for _, e := range es {
			out += fmt.Sprintf("%s/%d ", map[int64]string{d1.ID: "d1", d2.ID: "d2"}[e.DoorID], e.Seq)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    admin.EventFilter
		want string
	}{
		{"door", admin.EventFilter{DoorID: d2.ID}, "d2/3 d2/2 d2/1 "},
		{"person", admin.EventFilter{PersonID: p.ID}, "d1/4 d2/2 d1/3 d1/1 "},
		{"kind", admin.EventFilter{Kind: varco.EventDenied}, "d1/3 d1/2 "},
		{"reason", admin.EventFilter{Reason: varco.ReasonUnknown}, "d1/2 "},
		{"from", admin.EventFilter{From: t0.Add(4 * time.Minute)}, "d1/4 d2/3 d2/2 "},
		{"to", admin.EventFilter{To: t0.Add(1 * time.Minute)}, "d1/1 "},
		{"range door person", admin.EventFilter{From: t0.Add(time.Minute), To: t0.Add(6 * time.Minute), DoorID: d1.ID, PersonID: p.ID}, "d1/3 "},
		{"limit", admin.EventFilter{Limit: 2}, "d1/4 d2/3 "},
		{"none", admin.EventFilter{DoorID: 9999}, ""},
	} {
		if got := seqs(tc.f); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// A door whose store was replaced starts its sequence again under a
	// new epoch: (door, epoch, seq) is the key.
	again := batch[0]
	again.Epoch = "2025-03-03T09:00:00Z"
	n, err = s.InsertEvents(ctx, []admin.Event{again, again})
	must(t, err)
	if n != 1 {
		t.Fatalf("same seq under a new epoch: inserted %d, want 1", n)
	}
	es, _, err := s.SearchEvents(ctx, admin.EventFilter{Limit: 1, From: again.Time, To: again.Time.Add(time.Second), DoorID: d1.ID})
	must(t, err)
	if len(es) != 1 || es[0].Epoch != again.Epoch {
		t.Fatalf("newest event of the epoch %+v", es)
	}
}

func testEventPages(t *testing.T, s admin.Store) {
	d := mustDoor(t, s, "d1")
	t0 := time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)
	var evs []admin.Event
	// 250 events on 4 distinct times: pages must break ties by id.
	for i := 0; i < 250; i++ {
		evs = append(evs, admin.Event{DoorID: d.ID, Seq: uint64(i + 1), Time: t0.Add(time.Duration(i%4) * time.Second), Kind: varco.EventGranted})
	}
	n, err := s.InsertEvents(ctx, evs)
	must(t, err)
	if n != 250 {
		t.Fatalf("inserted %d", n)
	}
	for _, limit := range []int{1, 7, 100, 250, 1000} {
		seen := map[int64]bool{}
		var prev *admin.Event
		f := admin.EventFilter{Limit: limit, DoorID: d.ID}
		pages := 0
		for {
			page, next, err := s.SearchEvents(ctx, f)
			must(t, err)
			pages++
			for i := range page {
				e := page[i]
				if seen[e.ID] {
					t.Fatalf("limit %d: event %d twice", limit, e.ID)
				}
				seen[e.ID] = true
				if prev != nil && (e.Time.After(prev.Time) || e.Time.Equal(prev.Time) && e.ID >= prev.ID) {
					t.Fatalf("limit %d: %v/%d after %v/%d", limit, e.Time, e.ID, prev.Time, prev.ID)
				}
				prev = &e
			}
			if next == nil {
				break
			}
			if len(page) != limit {
				t.Fatalf("limit %d: short page %d with a next cursor", limit, len(page))
			}
			f.After = next
		}
		if len(seen) != 250 {
			t.Fatalf("limit %d: %d events over %d pages, want 250", limit, len(seen), pages)
		}
		if want := (250 + limit - 1) / limit; pages != want && !(250%limit == 0 && pages == want+1) {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, want)
		}
	}
}

func testEventPurge(t *testing.T, s admin.Store) {
	d := mustDoor(t, s, "d1")
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []admin.Event
	for i := 0; i < 30; i++ {
		evs = append(evs, admin.Event{DoorID: d.ID, Seq: uint64(i + 1), Time: t0.AddDate(0, 0, i), Kind: varco.EventGranted})
	}
	_, err := s.InsertEvents(ctx, evs)
	must(t, err)
	n, err := s.PurgeEventsBefore(ctx, actor, t0.AddDate(0, 0, 10))
	must(t, err)
	if n != 10 {
		t.Fatalf("purged %d, want 10", n)
	}
	n, err = s.PurgeEventsBefore(ctx, actor, t0.AddDate(0, 0, 10))
	must(t, err)
	if n != 0 {
		t.Fatalf("purged again %d", n)
	}
	left, _, _ := s.SearchEvents(ctx, admin.EventFilter{Limit: 1000})
	if len(left) != 20 || !left[len(left)-1].Time.Equal(t0.AddDate(0, 0, 10)) {
		t.Fatalf("%d left, oldest %v", len(left), left[len(left)-1].Time)
	}
	es, _ := s.ListAudit(ctx, admin.AuditFilter{Action: admin.ActionPurge})
	if len(es) != 1 || es[0].Actor != actor.Name {
		t.Fatalf("purge audit %+v", es)
	}
}
