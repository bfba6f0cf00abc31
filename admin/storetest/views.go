package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
)

func grantOf(t testing.TB, v admin.DoorView, nis string) (varco.Grant, bool) {
	t.Helper()
	for _, g := range v.Grants {
		if g.NIS == nis {
			return g, true
		}
	}
	return varco.Grant{}, false
}

func view(t testing.TB, s admin.Store, door int64) admin.DoorView {
	t.Helper()
	v, err := s.DoorView(ctx, door)
	must(t, err)
	return v
}

func testViewGrants(t *testing.T, s admin.Store) {
	p1 := mustPerson(t, s, "E1", "Mario", "Rossi")
	p2 := mustPerson(t, s, "E2", "Luigi", "Verdi")
	c1 := mustCard(t, s, p1.ID, 1)
	mustCard(t, s, p2.ID, 2)
	d1, d2 := mustDoor(t, s, "d1"), mustDoor(t, s, "d2")
	office := mustSchedule(t, s, "Uffici", 480, 1080)
	night := mustSchedule(t, s, "Notte", 0, 360)

	if v := view(t, s, d1.ID); len(v.Grants) != 0 || v.Revision != 1 || v.Mode != varco.ModeNormal || v.TimeZone != "Europe/Rome" {
		t.Fatalf("empty door view %+v", v)
	}
	g1 := mustGroup(t, s, "Uffici", &office.ID, []int64{d1.ID}, []int64{p1.ID})
	v := view(t, s, d1.ID)
	g, ok := grantOf(t, v, NIS(1))
	want := varco.Grant{NIS: NIS(1), PersonID: itoa(p1.ID), DisplayName: "Mario Rossi", PublicKey: Key(1), ScheduleIDs: []string{itoa(office.ID)}}
	if !ok || !reflect.DeepEqual(g, want) || len(v.Grants) != 1 {
		t.Fatalf("grant %+v, want %+v (view %+v)", g, want, v)
	}
	if err := g.Validate(); err != nil {
		t.Fatalf("grant does not validate: %v", err)
	}
	if len(v.Schedules) != 1 || v.Schedules[0].ID != itoa(office.ID) || !reflect.DeepEqual(v.Schedules[0], office.Varco()) {
		t.Fatalf("schedules %+v", v.Schedules)
	}
	if v2 := view(t, s, d2.ID); len(v2.Grants) != 0 {
		t.Fatalf("d2 got grants %+v", v2.Grants)
	}

	// A second group: schedules united, lockdown override.
	g2 := mustGroup(t, s, "Notte", &night.ID, []int64{d1.ID, d2.ID}, []int64{p1.ID, p2.ID})
	g2.LockdownOverride = true
	must(t, s.UpdateGroup(ctx, actor, &g2))
	v = view(t, s, d1.ID)
	g, _ = grantOf(t, v, NIS(1))
	if !slices.Equal(g.ScheduleIDs, []string{itoa(office.ID), itoa(night.ID)}) || g.Flags != varco.FlagLockdownOverride {
		t.Fatalf("united grant %+v", g)
	}
	if len(v.Schedules) != 2 {
		t.Fatalf("schedules %+v", v.Schedules)
	}
	// A group without a schedule: always.
	g3 := mustGroup(t, s, "Sempre", nil, []int64{d1.ID}, []int64{p1.ID})
	g, _ = grantOf(t, view(t, s, d1.ID), NIS(1))
	if !g.Flags.Has(varco.FlagAlways | varco.FlagLockdownOverride) {
		t.Fatalf("always grant %+v", g)
	}
	must(t, s.DeleteGroup(ctx, actor, g3.ID))
	g, _ = grantOf(t, view(t, s, d1.ID), NIS(1))
	if g.Flags.Has(varco.FlagAlways) {
		t.Fatalf("always after the group went %+v", g)
	}

	// Renaming shows in the display name.
	p1.Surname = "Rossi-Bianchi"
	must(t, s.UpdatePerson(ctx, actor, &p1))
	g, _ = grantOf(t, view(t, s, d2.ID), NIS(1))
	if g.DisplayName != "Mario Rossi-Bianchi" {
		t.Fatalf("display name %q", g.DisplayName)
	}

	removed := func(what string) {
		t.Helper()
		for _, d := range []int64{d1.ID, d2.ID} {
			if _, ok := grantOf(t, view(t, s, d), NIS(1)); ok {
				t.Fatalf("%s: door %d still grants card 1", what, d)
			}
		}
		CheckViews(t, s)
	}
	present := func(what string, doors ...int64) {
		t.Helper()
		for _, d := range doors {
			if _, ok := grantOf(t, view(t, s, d), NIS(1)); !ok {
				t.Fatalf("%s: door %d does not grant card 1", what, d)
			}
		}
		CheckViews(t, s)
	}
	present("start", d1.ID, d2.ID)
	must(t, s.SetCardStatus(ctx, actor, c1.ID, admin.CardSuspended))
	removed("suspended")
	must(t, s.SetCardStatus(ctx, actor, c1.ID, admin.CardActive))
	present("reactivated", d1.ID, d2.ID)
	must(t, s.SetCardStatus(ctx, actor, c1.ID, admin.CardRevoked))
	removed("revoked")
	must(t, s.SetCardStatus(ctx, actor, c1.ID, admin.CardActive))
	p1.Active = false
	must(t, s.UpdatePerson(ctx, actor, &p1))
	removed("person inactive")
	p1.Active = true
	must(t, s.UpdatePerson(ctx, actor, &p1))
	present("person active", d1.ID, d2.ID)
	must(t, s.RemoveGroupPeople(ctx, actor, g2.ID, p1.ID))
	present("out of one group", d1.ID)
	if _, ok := grantOf(t, view(t, s, d2.ID), NIS(1)); ok {
		t.Fatal("d2 still grants after the only group covering it lost the person")
	}
	must(t, s.RemoveGroupDoors(ctx, actor, g1.ID, d1.ID))
	removed("door out of the group")
	must(t, s.AddGroupDoors(ctx, actor, g1.ID, d1.ID, d2.ID))
	present("doors back", d1.ID, d2.ID)
	// A replaced card: the old NIS goes, the new one comes.
	nc := admin.Card{NIS: NIS(11), PublicKey: Key(11)}
	must(t, s.ReplaceCard(ctx, actor, c1.ID, &nc))
	removed("replaced")
	if g, ok := grantOf(t, view(t, s, d2.ID), NIS(11)); !ok || !reflect.DeepEqual(g.PublicKey, Key(11)) {
		t.Fatalf("new card grant %+v", g)
	}
	// Deleting the person tombstones their grants.
	must(t, s.DeletePerson(ctx, actor, p1.ID))
	if _, ok := grantOf(t, view(t, s, d2.ID), NIS(11)); ok {
		t.Fatal("deleted person still granted")
	}
	if _, ok := grantOf(t, view(t, s, d2.ID), NIS(2)); !ok {
		t.Fatal("p2 lost their grant")
	}
}

// revs reads the revisions of doors.
func revs(t testing.TB, s admin.Store, doors []int64) []int64 {
	t.Helper()
	var out []int64
	for _, d := range doors {
		out = append(out, rev(t, s, d))
	}
	return out
}

func testViewRevisions(t *testing.T, s admin.Store) {
	p1 := mustPerson(t, s, "E1", "Mario", "Rossi")
	p2 := mustPerson(t, s, "E2", "Luigi", "Verdi")
	p3 := mustPerson(t, s, "E3", "Anna", "Bianchi") // no card
	c1 := mustCard(t, s, p1.ID, 1)
	d1, d2, d3 := mustDoor(t, s, "d1"), mustDoor(t, s, "d2"), mustDoor(t, s, "d3")
	office := mustSchedule(t, s, "Uffici", 480, 1080)
	unused := mustSchedule(t, s, "Mai usato", 0, 60)
	var g admin.Group
	doors := []int64{d1.ID, d2.ID, d3.ID}
	// Each step says which doors' views it changes: exactly those move,
	// by one.
	steps := []struct {
		name string
		do   func()
		move []bool
	}{
		{"group d1 d2 with p1", func() { g = mustGroup(t, s, "g", &office.ID, []int64{d1.ID, d2.ID}, []int64{p1.ID}) }, []bool{true, true, false}},
		{"rename group", func() { g.Name = "g2"; must(t, s.UpdateGroup(ctx, actor, &g)) }, []bool{false, false, false}},
		{"same group again", func() { must(t, s.UpdateGroup(ctx, actor, &g)) }, []bool{false, false, false}},
		{"add p3 without card", func() { must(t, s.AddGroupPeople(ctx, actor, g.ID, p3.ID)) }, []bool{false, false, false}},
		{"add p2 without card", func() { must(t, s.AddGroupPeople(ctx, actor, g.ID, p2.ID)) }, []bool{false, false, false}},
		{"p2 gets a card", func() { mustCard(t, s, p2.ID, 2) }, []bool{true, true, false}},
		{"p1 department", func() { p1.Department = "IT"; must(t, s.UpdatePerson(ctx, actor, &p1)) }, []bool{false, false, false}},
		{"p1 email", func() { p1.Email = "m@example.it"; must(t, s.UpdatePerson(ctx, actor, &p1)) }, []bool{false, false, false}},
		{"p1 name", func() { p1.Name = "Marco"; must(t, s.UpdatePerson(ctx, actor, &p1)) }, []bool{true, true, false}},
		{"p1 no-op", func() { must(t, s.UpdatePerson(ctx, actor, &p1)) }, []bool{false, false, false}},
		{"unused schedule edited", func() {
			unused.Days[0] = []varco.Window{{Start: 0, End: 30}}
			must(t, s.UpdateSchedule(ctx, actor, &unused))
		}, []bool{false, false, false}},
		{"office edited", func() {
			office.Days[6] = []varco.Window{{Start: 600, End: 700}}
			must(t, s.UpdateSchedule(ctx, actor, &office))
		}, []bool{true, true, false}},
		{"office same", func() { must(t, s.UpdateSchedule(ctx, actor, &office)) }, []bool{false, false, false}},
		{"group to always", func() {
			g, _ = s.GetGroup(ctx, g.ID)
			g.ScheduleID = nil
			must(t, s.UpdateGroup(ctx, actor, &g))
		}, []bool{true, true, false}},
		{"office edited, unused now", func() {
			office.Days[6] = nil
			must(t, s.UpdateSchedule(ctx, actor, &office))
		}, []bool{false, false, false}},
		{"door d3 added", func() { must(t, s.AddGroupDoors(ctx, actor, g.ID, d3.ID)) }, []bool{false, false, true}},
		{"card suspended", func() { must(t, s.SetCardStatus(ctx, actor, c1.ID, admin.CardSuspended)) }, []bool{true, true, true}},
		{"card suspended again", func() { must(t, s.SetCardStatus(ctx, actor, c1.ID, admin.CardSuspended)) }, []bool{false, false, false}},
		{"suspended card's person renamed", func() { p1.Name = "Mario"; must(t, s.UpdatePerson(ctx, actor, &p1)) }, []bool{false, false, false}},
		{"card revoked (was suspended)", func() { must(t, s.SetCardStatus(ctx, actor, c1.ID, admin.CardRevoked)) }, []bool{false, false, false}},
		{"mode d2", func() { must(t, s.SetDoorMode(ctx, actor, d2.ID, varco.ModeLockdown)) }, []bool{false, true, false}},
		{"holiday", func() {
			must(t, s.CreateHoliday(ctx, actor, &admin.Holiday{SiteID: 1, Date: "2025-06-02", Name: "Repubblica"}))
		}, []bool{true, true, true}},
		{"site zone", func() {
			site, _ := s.GetSite(ctx, 1)
			site.TimeZone = "Europe/Vatican"
			must(t, s.UpdateSite(ctx, actor, &site))
		}, []bool{true, true, true}},
		{"site name", func() {
			site, _ := s.GetSite(ctx, 1)
			site.Name = "Sede centrale"
			must(t, s.UpdateSite(ctx, actor, &site))
		}, []bool{false, false, false}},
		{"remove p3 (no card)", func() { must(t, s.RemoveGroupPeople(ctx, actor, g.ID, p3.ID)) }, []bool{false, false, false}},
		{"p2 deactivated", func() { p2.Active = false; must(t, s.UpdatePerson(ctx, actor, &p2)) }, []bool{true, true, true}},
		{"delete group (no grants left)", func() { must(t, s.DeleteGroup(ctx, actor, g.ID)) }, []bool{false, false, false}},
		{"failed write", func() {
			wantErr(t, s.CreateCard(ctx, actor, &admin.Card{PersonID: p2.ID, NIS: NIS(2), PublicKey: Key(3)}), admin.ErrConflict)
		}, []bool{false, false, false}},
	}
	for _, st := range steps {
		before := revs(t, s, doors)
		st.do()
		after := revs(t, s, doors)
		for i := range doors {
			want := before[i]
			if st.move[i] {
				want++
			}
			if after[i] != want {
				t.Errorf("%s: door %d revision %d -> %d, want %d", st.name, i+1, before[i], after[i], want)
			}
		}
		CheckViews(t, s)
	}
}

// testViewDeltas runs a sequence of changes, keeps every door's view at
// every revision, and checks that the delta from each earlier revision,
// applied to the view at that revision, gives the current view.
func testViewDeltas(t *testing.T, s admin.Store) {
	var people []admin.Person
	var cards []admin.Card
	for i := 0; i < 6; i++ {
		p := mustPerson(t, s, "E"+itoa(int64(i)), "N"+itoa(int64(i)), "S")
		people = append(people, p)
		cards = append(cards, mustCard(t, s, p.ID, i+1))
	}
	d1, d2 := mustDoor(t, s, "d1"), mustDoor(t, s, "d2")
	doors := []int64{d1.ID, d2.ID}
	sA := mustSchedule(t, s, "A", 480, 1080)
	sB := mustSchedule(t, s, "B", 0, 360)
	snaps := map[int64]map[int64]admin.DoorView{d1.ID: {}, d2.ID: {}}
	snap := func() {
		for _, d := range doors {
			v := view(t, s, d)
			snaps[d][v.Revision] = v
		}
	}
	snap()
	var gA, gB admin.Group
	ops := []func(){
		func() {
			gA = mustGroup(t, s, "A", &sA.ID, []int64{d1.ID}, []int64{people[0].ID, people[1].ID, people[2].ID})
		},
		func() { gB = mustGroup(t, s, "B", &sB.ID, []int64{d1.ID, d2.ID}, []int64{people[2].ID, people[3].ID}) },
		func() { must(t, s.AddGroupPeople(ctx, actor, gB.ID, people[4].ID, people[5].ID)) },
		func() { must(t, s.SetCardStatus(ctx, actor, cards[1].ID, admin.CardSuspended)) },
		func() { sA.Days[0] = []varco.Window{{Start: 60, End: 120}}; must(t, s.UpdateSchedule(ctx, actor, &sA)) },
		func() { must(t, s.CreateHoliday(ctx, actor, &admin.Holiday{SiteID: 1, Date: "2025-11-01"})) },
		func() { must(t, s.RemoveGroupPeople(ctx, actor, gB.ID, people[4].ID)) },
		func() { gA.LockdownOverride = true; must(t, s.UpdateGroup(ctx, actor, &gA)) },
		func() { must(t, s.SetCardStatus(ctx, actor, cards[1].ID, admin.CardActive)) },
		func() { must(t, s.SetDoorMode(ctx, actor, d1.ID, varco.ModeLockdown)) },
		func() { must(t, s.AddGroupDoors(ctx, actor, gA.ID, d2.ID)) },
		func() { must(t, s.RemoveGroupDoors(ctx, actor, gB.ID, d2.ID)) },
		func() {
			nc := admin.Card{NIS: NIS(50), PublicKey: Key(50)}
			must(t, s.ReplaceCard(ctx, actor, cards[2].ID, &nc))
		},
		func() { people[0].Active = false; must(t, s.UpdatePerson(ctx, actor, &people[0])) },
		func() { must(t, s.DeletePerson(ctx, actor, people[3].ID)) },
		func() { must(t, s.AddGroupPeople(ctx, actor, gB.ID, people[4].ID)) },
		func() { must(t, s.DeleteGroup(ctx, actor, gA.ID)) },
	}
	for _, op := range ops {
		op()
		snap()
	}
	for _, d := range doors {
		cur := view(t, s, d)
		if len(snaps[d]) < 5 {
			t.Fatalf("door %d: only %d revisions", d, len(snaps[d]))
		}
		for r, old := range snaps[d] {
			delta, err := s.DoorDelta(ctx, d, r)
			must(t, err)
			if delta.From != r || delta.To != cur.Revision {
				t.Fatalf("door %d delta %d->%d, want %d->%d", d, delta.From, delta.To, r, cur.Revision)
			}
			st, err := StateOf(old).Apply(delta)
			must(t, err)
			if got, want := st.View(d), normView(cur); !reflect.DeepEqual(got, want) {
				t.Errorf("door %d: view at %d + delta:\n got %+v\nwant %+v", d, r, got, want)
			}
		}
		// From nothing: revision 0 gives the whole view.
		delta, err := s.DoorDelta(ctx, d, 0)
		must(t, err)
		st, _ := StateOf(admin.DoorView{}).Apply(delta)
		if got, want := st.View(d), normView(cur); !reflect.DeepEqual(got, want) {
			t.Errorf("door %d: delta from 0:\n got %+v\nwant %+v", d, got, want)
		}
		// Up to date: an empty delta.
		delta, err = s.DoorDelta(ctx, d, cur.Revision)
		must(t, err)
		if len(delta.Upserts)+len(delta.Deletes) != 0 || delta.Schedules != nil || delta.Holidays != nil {
			t.Errorf("door %d: delta from the current revision %+v", d, delta)
		}
	}
}

func testViewScheduleEdit(t *testing.T, s admin.Store) {
	d1, d2 := mustDoor(t, s, "d1"), mustDoor(t, s, "d2")
	office := mustSchedule(t, s, "Uffici", 480, 1080)
	other := mustSchedule(t, s, "Altro", 0, 60)
	var ps []int64
	for i := 0; i < 20; i++ {
		p := mustPerson(t, s, "E"+itoa(int64(i)), "N", "S")
		mustCard(t, s, p.ID, i+1)
		ps = append(ps, p.ID)
	}
	mustGroup(t, s, "office", &office.ID, []int64{d1.ID}, ps)
	mustGroup(t, s, "other", &other.ID, []int64{d2.ID}, ps[:1])
	r1, r2 := rev(t, s, d1.ID), rev(t, s, d2.ID)
	office.Days[1] = []varco.Window{{Start: 420, End: 1140}}
	must(t, s.UpdateSchedule(ctx, actor, &office))
	if rev(t, s, d1.ID) != r1+1 || rev(t, s, d2.ID) != r2 {
		t.Fatalf("revisions %d %d, want %d %d", rev(t, s, d1.ID), rev(t, s, d2.ID), r1+1, r2)
	}
	// The delta carries the schedule set and no grant: the grants name
	// the schedule by id and were not rewritten.
	delta, err := s.DoorDelta(ctx, d1.ID, r1)
	must(t, err)
	if len(delta.Upserts) != 0 || len(delta.Deletes) != 0 || len(delta.Schedules) != 1 || delta.Holidays != nil {
		t.Fatalf("delta %+v", delta)
	}
	if !reflect.DeepEqual(delta.Schedules[0], office.Varco()) {
		t.Fatalf("schedule in delta %+v, want %+v", delta.Schedules[0], office.Varco())
	}
}

func testViewHolidaysModeZone(t *testing.T, s admin.Store) {
	m := admin.Site{Name: "Milano", TimeZone: "Europe/Rome"}
	must(t, s.CreateSite(ctx, actor, &m))
	d1 := mustDoor(t, s, "d1")
	d2 := admin.Door{SiteID: m.ID, Name: "Milano", ControllerID: "mi"}
	must(t, s.CreateDoor(ctx, actor, &d2))
	r1, r2 := rev(t, s, d1.ID), rev(t, s, d2.ID)
	h := admin.Holiday{SiteID: m.ID, Date: "2025-12-07", Name: "Sant'Ambrogio"}
	must(t, s.CreateHoliday(ctx, actor, &h))
	if rev(t, s, d1.ID) != r1 || rev(t, s, d2.ID) != r2+1 {
		t.Fatal("a holiday moved the wrong doors")
	}
	v := view(t, s, d2.ID)
	if len(v.Holidays) != 1 || v.Holidays[0] != (varco.Holiday{Date: "2025-12-07", Name: "Sant'Ambrogio"}) {
		t.Fatalf("holidays %+v", v.Holidays)
	}
	delta, err := s.DoorDelta(ctx, d2.ID, r2)
	must(t, err)
	if len(delta.Holidays) != 1 || delta.Schedules != nil {
		t.Fatalf("delta %+v", delta)
	}
	must(t, s.DeleteHoliday(ctx, actor, h.ID))
	delta, err = s.DoorDelta(ctx, d2.ID, r2+1)
	must(t, err)
	if delta.Holidays == nil || len(delta.Holidays) != 0 {
		t.Fatalf("delta after the last holiday went: %+v (want empty, non-nil)", delta.Holidays)
	}
	// Moving a door to another site brings that site's holidays and zone.
	must(t, s.CreateHoliday(ctx, actor, &admin.Holiday{SiteID: 1, Date: "2025-04-25"}))
	m.TimeZone = "Europe/London"
	must(t, s.UpdateSite(ctx, actor, &m))
	r2 = rev(t, s, d2.ID)
	d2.SiteID = 1
	must(t, s.UpdateDoor(ctx, actor, &d2))
	delta, err = s.DoorDelta(ctx, d2.ID, r2)
	must(t, err)
	if delta.To != r2+1 || len(delta.Holidays) != 1 || delta.TimeZone != "Europe/Rome" {
		t.Fatalf("delta after moving site: %+v", delta)
	}
	must(t, s.SetDoorMode(ctx, actor, d2.ID, varco.ModeUnlockedCommand))
	delta, err = s.DoorDelta(ctx, d2.ID, r2+1)
	must(t, err)
	if delta.Mode != varco.ModeUnlockedCommand || delta.To != r2+2 || delta.Holidays != nil {
		t.Fatalf("delta after mode: %+v", delta)
	}
}

func testViewRevisionGone(t *testing.T, s admin.Store) {
	d := mustDoor(t, s, "d1")
	for _, from := range []int64{-1, 2, 100} {
		_, err := s.DoorDelta(ctx, d.ID, from)
		if !errors.Is(err, admin.ErrRevisionGone) {
			t.Errorf("DoorDelta from %d (door at 1): %v, want ErrRevisionGone", from, err)
		}
	}
	_, err := s.DoorDelta(ctx, 9999, 0)
	wantErr(t, err, admin.ErrNotFound)
	_, err = s.DoorRevision(ctx, 9999)
	wantErr(t, err, admin.ErrNotFound)
}
