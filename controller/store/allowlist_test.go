package store_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/controller/store/storetest"
)

const door = "main"

func mustSnapshot(t testing.TB, s *store.Store, snap store.Snapshot) {
	t.Helper()
	if err := s.ApplySnapshot(snap, store.T0); err != nil {
		t.Fatal(err)
	}
}

// state is what a door's allowlist looks like from outside.
type state struct {
	rev   uint64
	count int
	names map[string]string // NIS → display name
}

func readState(t testing.TB, s *store.Store, nis ...string) state {
	t.Helper()
	st := state{names: map[string]string{}}
	err := s.View(func(r *store.ReadTx) error {
		var err error
		if st.rev, _, err = r.Revision(door); err != nil {
			return err
		}
		if st.count, err = r.GrantCount(door); err != nil {
			return err
		}
		for _, n := range nis {
			g, ok, err := r.Grant(door, n)
			if err != nil {
				return err
			}
			if ok {
				st.names[n] = g.DisplayName
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestApplyDelta(t *testing.T) {
	bad := store.FixtureGrant(9, "bad key")
	bad.PublicKey = []byte{0x30, 0x03, 0x02, 0x01, 0x01}
	noPerson := store.FixtureGrant(9, "no person")
	noPerson.PersonID = ""
	badNIS := store.FixtureGrant(9, "bad nis")
	badNIS.NIS = "12345"
	n1, n2, n3, n4 := store.FixtureNIS(1), store.FixtureNIS(2), store.FixtureNIS(3), store.FixtureNIS(4)

	// Every case starts from rev 2 with grants 1..3 named "v2".
	tests := []struct {
		name    string
		delta   store.Delta
		wantErr error
		want    state // checked for grants 1..4; on error must equal the start
	}{
		{
			name:  "upsert and delete",
			delta: store.Delta{FromRev: 2, ToRev: 3, Upserts: []varco.Grant{store.FixtureGrant(1, "v3"), store.FixtureGrant(4, "v3")}, Deletes: []string{n2}},
			want:  state{rev: 3, count: 3, names: map[string]string{n1: "v3", n3: "v2", n4: "v3"}},
		},
		{
			name:  "skipping revisions is allowed",
			delta: store.Delta{FromRev: 2, ToRev: 7, Deletes: []string{n3, n4}},
			want:  state{rev: 7, count: 2, names: map[string]string{n1: "v2", n2: "v2"}},
		},
		{name: "stale", delta: store.Delta{FromRev: 1, ToRev: 2}, wantErr: store.ErrStaleRevision},
		{name: "duplicate of applied", delta: store.Delta{FromRev: 1, ToRev: 3, Upserts: []varco.Grant{store.FixtureGrant(1, "x")}}, wantErr: store.ErrStaleRevision},
		{name: "gap", delta: store.Delta{FromRev: 3, ToRev: 4, Upserts: []varco.Grant{store.FixtureGrant(1, "x")}}, wantErr: store.ErrRevisionGap},
		{name: "to not after from", delta: store.Delta{FromRev: 2, ToRev: 2}, wantErr: store.ErrInvalid},
		{name: "bad key after a good grant", delta: store.Delta{FromRev: 2, ToRev: 3, Upserts: []varco.Grant{store.FixtureGrant(1, "x"), bad}, Deletes: []string{n2}}, wantErr: store.ErrInvalid},
		{name: "no person", delta: store.Delta{FromRev: 2, ToRev: 3, Upserts: []varco.Grant{noPerson}}, wantErr: store.ErrInvalid},
		{name: "bad NIS", delta: store.Delta{FromRev: 2, ToRev: 3, Upserts: []varco.Grant{badNIS}}, wantErr: store.ErrInvalid},
		{name: "bad delete NIS", delta: store.Delta{FromRev: 2, ToRev: 3, Deletes: []string{"x"}}, wantErr: store.ErrInvalid},
		{name: "upsert and delete same NIS", delta: store.Delta{FromRev: 2, ToRev: 3, Upserts: []varco.Grant{store.FixtureGrant(1, "x")}, Deletes: []string{n1}}, wantErr: store.ErrInvalid},
		{name: "bad schedule", delta: store.Delta{FromRev: 2, ToRev: 3, Upserts: []varco.Grant{store.FixtureGrant(1, "x")}, Schedules: []varco.Schedule{{ID: "s", Days: [7][]varco.Window{{{Start: 600, End: 500}}}}}}, wantErr: store.ErrInvalid},
		{name: "bad holiday", delta: store.Delta{FromRev: 2, ToRev: 3, Holidays: []varco.Holiday{{Date: "25/12/2026"}}}, wantErr: store.ErrInvalid},
		{name: "no door", delta: store.Delta{Door: "-", FromRev: 2, ToRev: 3}, wantErr: store.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := storetest.Open(t)
			mustSnapshot(t, s, store.Snapshot{Door: door, Rev: 2, Grants: store.FixtureGrants(1, 3, "v2")})
			start := readState(t, s, n1, n2, n3, n4)
			d := tc.delta
			d.Door = door
			if tc.delta.Door == "-" {
				d.Door = ""
			}
			now := store.T0.Add(time.Hour)
			err := s.ApplyDelta(d, now)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ApplyDelta = %v, want %v", err, tc.wantErr)
			}
			got := readState(t, s, n1, n2, n3, n4)
			want := tc.want
			if tc.wantErr != nil {
				want = start
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("state = %v, want %v", got, want)
			}
			_, synced, _ := s.Revision(door)
			if wantSync := tc.wantErr == nil; synced.Equal(now) != wantSync {
				t.Errorf("last sync = %v, want updated %v", synced, wantSync)
			}
		})
	}
}

func TestRevisionErrorsNameBothNumbers(t *testing.T) {
	s := storetest.Open(t)
	mustSnapshot(t, s, store.Snapshot{Door: door, Rev: 5})
	err := s.ApplyDelta(store.Delta{Door: door, FromRev: 8, ToRev: 9}, store.T0)
	if want := "delta starts at 8, door is at 5"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to say %q", err, want)
	}
}

func TestApplySnapshot(t *testing.T) {
	dup := append(store.FixtureGrants(1, 2, "v9"), store.FixtureGrant(1, "again"))
	tests := []struct {
		name    string
		snap    store.Snapshot
		wantErr error
		want    state
	}{
		{"replaces", store.Snapshot{Rev: 9, Grants: store.FixtureGrants(3, 2, "v9")}, nil,
			state{rev: 9, count: 2, names: map[string]string{store.FixtureNIS(3): "v9", store.FixtureNIS(4): "v9"}}},
		{"empty", store.Snapshot{Rev: 9}, nil, state{rev: 9, count: 0, names: map[string]string{}}},
		{"same revision is a no-op", store.Snapshot{Rev: 5, Grants: store.FixtureGrants(3, 2, "v9")}, nil,
			state{rev: 5, count: 2, names: map[string]string{store.FixtureNIS(1): "v5", store.FixtureNIS(2): "v5"}}},
		{"older", store.Snapshot{Rev: 4}, store.ErrStaleRevision, state{}},
		{"duplicate NIS", store.Snapshot{Rev: 9, Grants: dup}, store.ErrInvalid, state{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := storetest.Open(t)
			mustSnapshot(t, s, store.Snapshot{Door: door, Rev: 5, Grants: store.FixtureGrants(1, 2, "v5")})
			// Another door is untouched by all this.
			mustSnapshot(t, s, store.Snapshot{Door: "other", Rev: 1, Grants: store.FixtureGrants(1, 3, "o")})
			nis := []string{store.FixtureNIS(1), store.FixtureNIS(2), store.FixtureNIS(3), store.FixtureNIS(4)}
			start := readState(t, s, nis...)
			snap := tc.snap
			snap.Door = door
			now := store.T0.Add(time.Hour)
			if err := s.ApplySnapshot(snap, now); !errors.Is(err, tc.wantErr) {
				t.Fatalf("ApplySnapshot = %v, want %v", err, tc.wantErr)
			}
			want := tc.want
			if tc.wantErr != nil {
				want = start
			}
			if got := readState(t, s, nis...); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("state = %v, want %v", got, want)
			}
			if _, synced, _ := s.Revision(door); synced.Equal(now) != (tc.wantErr == nil) {
				t.Errorf("last sync = %v", synced)
			}
			if n, _ := s.GrantCount("other"); n != 3 {
				t.Errorf("other door has %d grants, want 3", n)
			}
		})
	}
}

func TestSchedulesAndHolidays(t *testing.T) {
	s := storetest.Open(t)
	office := varco.Schedule{ID: "office", Days: [7][]varco.Window{1: {{Start: 480, End: 720}, {Start: 780, End: 1080}}}}
	night := varco.Schedule{ID: "night", Days: [7][]varco.Window{0: {{Start: 0, End: 360}}}}
	xmas := varco.Holiday{Date: "2026-12-25", Name: "Natale"}
	steps := []struct {
		name      string
		delta     store.Delta
		schedules []string
		holidays  []string
	}{
		{"add", store.Delta{FromRev: 0, ToRev: 1, Schedules: []varco.Schedule{office, night}, Holidays: []varco.Holiday{xmas}}, []string{"night", "office"}, []string{"2026-12-25"}},
		{"upsert holiday", store.Delta{FromRev: 1, ToRev: 2, DeleteSchedules: []string{"night"}, Holidays: []varco.Holiday{{Date: "2026-01-01"}}}, []string{"office"}, []string{"2026-01-01", "2026-12-25"}},
		{"replace holidays", store.Delta{FromRev: 2, ToRev: 3, Holidays: []varco.Holiday{{Date: "2026-08-15"}}, ReplaceHolidays: true}, []string{"office"}, []string{"2026-08-15"}},
	}
	for _, st := range steps {
		d := st.delta
		d.Door = door
		if err := s.ApplyDelta(d, store.T0); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		scheds, err := s.Schedules()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, id := range []string{"night", "office"} {
			if _, ok := scheds[id]; ok {
				ids = append(ids, id)
			}
		}
		if fmt.Sprint(ids) != fmt.Sprint(st.schedules) || len(scheds) != len(ids) {
			t.Errorf("%s: schedules %v, want %v", st.name, scheds, st.schedules)
		}
		hs, err := s.Holidays()
		if err != nil {
			t.Fatal(err)
		}
		var dates []string
		for _, h := range hs {
			dates = append(dates, h.Date)
		}
		if fmt.Sprint(dates) != fmt.Sprint(st.holidays) {
			t.Errorf("%s: holidays %v, want %v", st.name, dates, st.holidays)
		}
	}
	if sc, _ := s.Schedules(); fmt.Sprint(sc["office"]) != fmt.Sprint(office) {
		t.Errorf("office = %+v, want %+v", sc["office"], office)
	}
	if ok, _ := s.IsHoliday("2026-08-15"); !ok {
		t.Error("2026-08-15 is not a holiday")
	}
	if ok, _ := s.IsHoliday("2026-12-25"); ok {
		t.Error("2026-12-25 still a holiday after replace")
	}
}

func TestMeta(t *testing.T) {
	s := storetest.Open(t)
	if k, err := s.SiteKey(); k != nil || err != nil {
		t.Fatalf("SiteKey on a new store = %x, %v", k, err)
	}
	if err := s.SetSiteKey([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDoorConfig(door, []byte(`release = "7s"`)); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.SiteKey(); string(k) != "\x01\x02\x03" {
		t.Errorf("SiteKey = %x", k)
	}
	if c, _ := s.DoorConfig(door); string(c) != `release = "7s"` {
		t.Errorf("DoorConfig = %q", c)
	}
	if c, _ := s.DoorConfig("other"); c != nil {
		t.Errorf("DoorConfig(other) = %q", c)
	}
}

// TestReaderSeesWholeDeltas runs a reader against a writer whose every
// delta renames grants 1 and 2 to its revision and adds one grant: each
// read transaction must see both names, the count and the revision agree.
func TestReaderSeesWholeDeltas(t *testing.T) {
	s := storetest.Open(t)
	const base, deltas = 10, 200
	mustSnapshot(t, s, store.Snapshot{Door: door, Rev: 1, Grants: store.FixtureGrants(1, base, "1")})
	n1, n2 := store.FixtureNIS(1), store.FixtureNIS(2)

	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads, errs int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			st := readState(t, s, n1, n2)
			reads++
			want := fmt.Sprint(st.rev)
			if st.names[n1] != want || st.names[n2] != want || st.count != base+int(st.rev)-1 {
				errs++
				if errs < 5 {
					t.Errorf("mixed state: %+v", st)
				}
			}
		}
	}()
	for rev := uint64(1); rev < deltas; rev++ {
		name := fmt.Sprint(rev + 1)
		d := store.Delta{Door: door, FromRev: rev, ToRev: rev + 1, Upserts: []varco.Grant{
			store.FixtureGrant(1, name), store.FixtureGrant(2, name), store.FixtureGrant(1000+int(rev), name),
		}}
		if err := s.ApplyDelta(d, store.T0); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	t.Logf("%d reads during %d deltas", reads, deltas)
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "varco.db")
	s, err := store.Open(path, &store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		name    string
		timeout time.Duration
	}{
		{"short", 100 * time.Millisecond},
		{"default", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.timeout
			if limit == 0 {
				limit = store.DefaultLockTimeout
			}
			start := time.Now()
			s2, err := store.Open(path, &store.Options{LockTimeout: tc.timeout})
			took := time.Since(start)
			if err == nil {
				s2.Close()
				t.Fatal("second Open succeeded")
			}
			if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "another varco-door") {
				t.Errorf("err = %v, want ErrLocked naming varco-door", err)
			}
			// bbolt retries the lock every 50 ms and may give up one
			// retry early.
			if took < limit-60*time.Millisecond || took > limit+500*time.Millisecond {
				t.Errorf("gave up after %v, want about %v", took, limit)
			}
		})
	}
}

func TestOpenRejectsCapOne(t *testing.T) {
	_, err := store.Open(filepath.Join(t.TempDir(), "x.db"), &store.Options{OutboxCap: 1})
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("err = %v, want ErrInvalid", err)
	}
}
