package store_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/controller/store/storetest"
	"github.com/varco-access/varco/wire"
)

func TestEpochKeptAcrossOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	s, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := s.Epoch()
	if !wire.ValidID(e) || len(e) != 32 {
		t.Fatalf("epoch %q is not a wire.NewID", e)
	}
	s.Close()
	s, err = store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Epoch() != e {
		t.Fatalf("epoch changed on reopen: %q then %q", e, s.Epoch())
	}
	other := storetest.Open(t)
	if other.Epoch() == e {
		t.Fatal("two files share an epoch")
	}
}

func TestAcked(t *testing.T) {
	s := storetest.Open(t)
	check := func(want uint64) {
		t.Helper()
		got, err := s.Acked(door)
		if err != nil || got != want {
			t.Fatalf("Acked = %d, %v; want %d", got, err, want)
		}
	}
	check(0)
	for i := 1; i <= 4; i++ {
		if _, err := s.Append(ev(door, i)); err != nil {
			t.Fatal(err)
		}
	}
	check(0)
	if err := s.Ack(door, 2); err != nil {
		t.Fatal(err)
	}
	check(2)
	if err := s.Ack(door, 4); err != nil {
		t.Fatal(err)
	}
	check(4)
}

func TestAckedAfterCapDrop(t *testing.T) {
	s := storetest.OpenWith(t, &store.Options{NoSync: true, OutboxCap: 3})
	for i := 1; i <= 5; i++ {
		if _, err := s.Append(ev(door, i)); err != nil {
			t.Fatal(err)
		}
	}
	pend, err := s.Pending(door, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Acked(door)
	if got != pend[0].Seq-1 {
		t.Fatalf("Acked = %d, first pending %d", got, pend[0].Seq)
	}
}

func TestDoorSettingsFromDeltaAndSnapshot(t *testing.T) {
	s := storetest.Open(t)
	settings := func() store.DoorSettings {
		t.Helper()
		d, err := s.DoorSettings(door)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if got := settings(); got != (store.DoorSettings{}) || got.Effective() != varco.ModeNormal {
		t.Fatalf("new door: %+v, effective %s", got, got.Effective())
	}
	mustSnapshot(t, s, store.Snapshot{Door: door, Rev: 1, Mode: varco.ModeLockdown, TimeZone: "Europe/Rome"})
	if got := settings(); got.Mode != varco.ModeLockdown || got.TimeZone != "Europe/Rome" {
		t.Fatalf("after snapshot: %+v", got)
	}
	// A delta without mode or zone changes neither.
	if err := s.ApplyDelta(store.Delta{Door: door, FromRev: 1, ToRev: 2}, store.T0); err != nil {
		t.Fatal(err)
	}
	if got := settings(); got.Mode != varco.ModeLockdown || got.TimeZone != "Europe/Rome" {
		t.Fatalf("after empty delta: %+v", got)
	}
	if err := s.ApplyDelta(store.Delta{Door: door, FromRev: 2, ToRev: 3, Mode: varco.ModeNormal, TimeZone: "UTC"}, store.T0); err != nil {
		t.Fatal(err)
	}
	if got := settings(); got.Mode != varco.ModeNormal || got.TimeZone != "UTC" {
		t.Fatalf("after delta: %+v", got)
	}
	// A snapshot without them resets both to the defaults.
	mustSnapshot(t, s, store.Snapshot{Door: door, Rev: 4})
	if got := settings(); got.Mode != "" || got.TimeZone != "" {
		t.Fatalf("after bare snapshot: %+v", got)
	}
	for _, d := range []store.Delta{
		{Door: door, FromRev: 4, ToRev: 5, Mode: "party"},
		{Door: door, FromRev: 4, ToRev: 5, TimeZone: "Mars/Olympus"},
		{Door: door, FromRev: 4, ToRev: 5, TimeZone: "Local"},
	} {
		if err := s.ApplyDelta(d, store.T0); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("delta mode %q zone %q: %v, want ErrInvalid", d.Mode, d.TimeZone, err)
		}
	}
	if rev, _, _ := s.Revision(door); rev != 4 {
		t.Fatalf("rejected deltas moved the revision to %d", rev)
	}
}

func TestRecordCmd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	s, err := store.Open(path, &store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	on, off := true, false
	if err := s.RecordCmd(door, 7, &on); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{7, 6} {
		if err := s.RecordCmd(door, seq, &off); !errors.Is(err, store.ErrStaleCommand) {
			t.Fatalf("RecordCmd(%d) = %v, want ErrStaleCommand", seq, err)
		}
	}
	s.Close()
	// The reboot: the same file, the same answers.
	s, err = store.Open(path, &store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := s.DoorSettings(door)
	if err != nil {
		t.Fatal(err)
	}
	if d.LastCmd != 7 || !d.Lockdown || d.Effective() != varco.ModeLockdown {
		t.Fatalf("after reopen: %+v", d)
	}
	if err := s.RecordCmd(door, 7, nil); !errors.Is(err, store.ErrStaleCommand) {
		t.Fatalf("replay after reopen: %v", err)
	}
	if err := s.RecordCmd(door, 8, &off); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.DoorSettings(door); d.Lockdown || d.LastCmd != 8 {
		t.Fatalf("after lockdown off: %+v", d)
	}
	if err := s.RecordCmd(door, 9, nil); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.DoorSettings(door); d.Lockdown || d.LastCmd != 9 {
		t.Fatalf("nil lockdown changed the flag: %+v", d)
	}
}

func TestMarkSynced(t *testing.T) {
	s := storetest.Open(t)
	t1 := store.T0.Add(time.Hour)
	if err := s.MarkSynced(door, t1); err != nil {
		t.Fatal(err)
	}
	if _, got, _ := s.Revision(door); !got.Equal(t1) {
		t.Fatalf("synced %v, want %v", got, t1)
	}
	// Never backwards.
	if err := s.MarkSynced(door, store.T0); err != nil {
		t.Fatal(err)
	}
	if _, got, _ := s.Revision(door); !got.Equal(t1) {
		t.Fatalf("synced went back to %v", got)
	}
}
