package storetest

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
)

// Run runs the suite. open returns a fresh, empty store (freshly migrated:
// only the default site) for each subtest and arranges its Close with
// t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) admin.Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s admin.Store)
	}{
		{"Sites", testSites},
		{"People", testPeople},
		{"PeopleList", testPeopleList},
		{"Import", testImport},
		{"Cards", testCards},
		{"Schedules", testSchedules},
		{"Holidays", testHolidays},
		{"Doors", testDoors},
		{"Groups", testGroups},
		{"Users", testUsers},
		{"Sessions", testSessions},
		{"APITokens", testAPITokens},
		{"Audit", testAudit},
		{"Metacharacters", testMetacharacters},
		{"Events", testEvents},
		{"EventPages", testEventPages},
		{"EventPurge", testEventPurge},
		{"ViewGrants", testViewGrants},
		{"ViewRevisions", testViewRevisions},
		{"ViewDeltas", testViewDeltas},
		{"ViewScheduleEdit", testViewScheduleEdit},
		{"ViewHolidaysModeZone", testViewHolidaysModeZone},
		{"ViewRevisionGone", testViewRevisionGone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			tc.f(t, s)
			if !t.Failed() {
				CheckViews(t, s)
			}
		})
	}
}

var (
	ctx   = context.Background()
	actor = admin.Actor{Name: "tester"}
)

// Key returns a well-formed DER PKCS#1 RSA-2048 public key derived from
// seed. It is not a usable key pair (the modulus is not a product of two
// primes), which is all a store needs.
func Key(seed int) []byte {
	n := make([]byte, 0, 256)
	var ctr [16]byte
	binary.BigEndian.PutUint64(ctr[:], uint64(seed))
	for i := 0; len(n) < 256; i++ {
		binary.BigEndian.PutUint64(ctr[8:], uint64(i))
		h := sha256.Sum256(ctr[:])
		n = append(n, h[:]...)
	}
	n[0] |= 0x80
	n[255] |= 1
	return x509.MarshalPKCS1PublicKey(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
}

// NIS returns the 12-digit NIS of test card i.
func NIS(i int) string { return fmt.Sprintf("%012d", i) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

// wantFields checks that err is a *admin.ValidationError naming exactly
// these fields.
func wantFields(t testing.TB, err error, fields ...string) {
	t.Helper()
	var ve *admin.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a *admin.ValidationError on %v", err, fields)
	}
	var got []string
	for k := range ve.Fields {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(fields)
	if !slices.Equal(got, fields) {
		t.Fatalf("invalid fields = %v (%v), want %v", got, ve, fields)
	}
}

func mustPerson(t testing.TB, s admin.Store, no, name, surname string) admin.Person {
	t.Helper()
	p := admin.Person{EmployeeNo: no, Name: name, Surname: surname, Active: true}
	must(t, s.CreatePerson(ctx, actor, &p))
	return p
}

func mustCard(t testing.TB, s admin.Store, personID int64, i int) admin.Card {
	t.Helper()
	c := admin.Card{PersonID: personID, NIS: NIS(i), PublicKey: Key(i), Verification: "ok: test"}
	must(t, s.CreateCard(ctx, actor, &c))
	return c
}

func mustDoor(t testing.TB, s admin.Store, controllerID string) admin.Door {
	t.Helper()
	d := admin.Door{SiteID: 1, Name: "Door " + controllerID, ControllerID: controllerID}
	must(t, s.CreateDoor(ctx, actor, &d))
	return d
}

func mustSchedule(t testing.TB, s admin.Store, name string, start, end int) admin.Schedule {
	t.Helper()
	sc := admin.Schedule{Name: name}
	for d := time1; d <= time5; d++ {
		sc.Days[d] = []varco.Window{{Start: start, End: end}}
	}
	must(t, s.CreateSchedule(ctx, actor, &sc))
	return sc
}

// Monday..Friday as Days indexes.
const (
	time1 = 1
	time5 = 5
)

func mustGroup(t testing.TB, s admin.Store, name string, sched *int64, doors, people []int64) admin.Group {
	t.Helper()
	g := admin.Group{Name: name, ScheduleID: sched, DoorIDs: doors, PersonIDs: people}
	must(t, s.CreateGroup(ctx, actor, &g))
	return g
}

func rev(t testing.TB, s admin.Store, door int64) int64 {
	t.Helper()
	r, err := s.DoorRevision(ctx, door)
	must(t, err)
	return r
}

func ptr[T any](v T) *T { return &v }

// ExpectedView computes a door's view in Go from the store's domain data:
// the reference the materialised views are checked against.
func ExpectedView(t testing.TB, s admin.Store, doorID int64) admin.DoorView {
	t.Helper()
	d, err := s.GetDoor(ctx, doorID)
	must(t, err)
	site, err := s.GetSite(ctx, d.SiteID)
	must(t, err)
	groups, err := s.ListGroups(ctx)
	must(t, err)
	type acc struct {
		g     varco.Grant
		sched map[int64]bool
	}
	grants := map[string]*acc{}
	schedUsed := map[int64]bool{}
	people := map[int64]admin.Person{}
	cards := map[int64][]admin.Card{}
	for _, g := range groups {
		if !slices.Contains(g.DoorIDs, doorID) {
			continue
		}
		for _, pid := range g.PersonIDs {
			p, ok := people[pid]
			if !ok {
				p, err = s.GetPerson(ctx, pid)
				must(t, err)
				people[pid] = p
				cs, err := s.ListCards(ctx, pid)
				must(t, err)
				cards[pid] = cs
			}
			if !p.Active {
				continue
			}
			for _, c := range cards[pid] {
				if c.Status != admin.CardActive {
					continue
				}
				a := grants[c.NIS]
				if a == nil {
					a = &acc{g: varco.Grant{NIS: c.NIS, PersonID: strconv.FormatInt(p.ID, 10), DisplayName: p.Name + " " + p.Surname, PublicKey: c.PublicKey}, sched: map[int64]bool{}}
					grants[c.NIS] = a
				}
				if g.ScheduleID == nil {
					a.g.Flags |= varco.FlagAlways
				} else {
					a.sched[*g.ScheduleID] = true
					schedUsed[*g.ScheduleID] = true
				}
				if g.LockdownOverride {
					a.g.Flags |= varco.FlagLockdownOverride
				}
			}
		}
	}
	v := admin.DoorView{DoorID: doorID, Revision: d.Revision, Mode: d.Mode, TimeZone: site.TimeZone,
		Grants: []varco.Grant{}, Schedules: []varco.Schedule{}, Holidays: []varco.Holiday{}}
	for _, a := range grants {
		var ids []int64
		for id := range a.sched {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			a.g.ScheduleIDs = append(a.g.ScheduleIDs, strconv.FormatInt(id, 10))
		}
		v.Grants = append(v.Grants, a.g)
	}
	sort.Slice(v.Grants, func(i, j int) bool { return v.Grants[i].NIS < v.Grants[j].NIS })
	scheds, err := s.ListSchedules(ctx)
	must(t, err)
	for i := range scheds {
		if schedUsed[scheds[i].ID] {
			v.Schedules = append(v.Schedules, scheds[i].Varco())
		}
	}
	sort.Slice(v.Schedules, func(i, j int) bool {
		a, _ := strconv.ParseInt(v.Schedules[i].ID, 10, 64)
		b, _ := strconv.ParseInt(v.Schedules[j].ID, 10, 64)
		return a < b
	})
	hs, err := s.ListHolidays(ctx, d.SiteID)
	must(t, err)
	for i := range hs {
		v.Holidays = append(v.Holidays, hs[i].Varco())
	}
	return v
}

// CheckViews checks every door's DoorView against ExpectedView.
func CheckViews(t testing.TB, s admin.Store) {
	t.Helper()
	doors, err := s.ListDoors(ctx, 0)
	must(t, err)
	for _, d := range doors {
		got, err := s.DoorView(ctx, d.ID)
		must(t, err)
		want := ExpectedView(t, s, d.ID)
		if !reflect.DeepEqual(normView(got), normView(want)) {
			t.Errorf("door %d (%s) view:\n got %+v\nwant %+v", d.ID, d.ControllerID, got, want)
		}
	}
}

// normView makes nil and empty slices compare equal.
func normView(v admin.DoorView) admin.DoorView {
	if len(v.Grants) == 0 {
		v.Grants = nil
	}
	if len(v.Schedules) == 0 {
		v.Schedules = nil
	}
	if len(v.Holidays) == 0 {
		v.Holidays = nil
	}
	for i := range v.Grants {
		if len(v.Grants[i].ScheduleIDs) == 0 {
			v.Grants[i].ScheduleIDs = nil
		}
	}
	for i := range v.Schedules {
		for d := range v.Schedules[i].Days {
			if len(v.Schedules[i].Days[d]) == 0 {
				v.Schedules[i].Days[d] = nil
			}
		}
	}
	return v
}

// DoorState is what a door holds, built from a view and moved on by
// deltas the way a door applies them.
type DoorState struct {
	Rev       int64
	Grants    map[string]varco.Grant
	Schedules []varco.Schedule
	Holidays  []varco.Holiday
	Mode      varco.DoorMode
	TimeZone  string
}

// StateOf is the state of a door that applied snapshot v.
func StateOf(v admin.DoorView) DoorState {
	st := DoorState{Rev: v.Revision, Grants: map[string]varco.Grant{}, Schedules: v.Schedules, Holidays: v.Holidays, Mode: v.Mode, TimeZone: v.TimeZone}
	for _, g := range v.Grants {
		st.Grants[g.NIS] = g
	}
	return st
}

// Apply returns the state after applying d, which must start at st.Rev.
func (st DoorState) Apply(d admin.DoorDelta) (DoorState, error) {
	if d.From != st.Rev {
		return st, fmt.Errorf("delta from %d applied at %d", d.From, st.Rev)
	}
	n := DoorState{Rev: d.To, Grants: map[string]varco.Grant{}, Schedules: st.Schedules, Holidays: st.Holidays, Mode: d.Mode, TimeZone: d.TimeZone}
	for k, g := range st.Grants {
		n.Grants[k] = g
	}
	for _, nis := range d.Deletes {
		delete(n.Grants, nis)
	}
	for _, g := range d.Upserts {
		n.Grants[g.NIS] = g
	}
	if d.Schedules != nil {
		n.Schedules = d.Schedules
	}
	if d.Holidays != nil {
		n.Holidays = d.Holidays
	}
	return n, nil
}

// View turns the state back into a view, for comparison.
func (st DoorState) View(doorID int64) admin.DoorView {
	v := admin.DoorView{DoorID: doorID, Revision: st.Rev, Schedules: st.Schedules, Holidays: st.Holidays, Mode: st.Mode, TimeZone: st.TimeZone}
	for _, g := range st.Grants {
		v.Grants = append(v.Grants, g)
	}
	sort.Slice(v.Grants, func(i, j int) bool { return v.Grants[i].NIS < v.Grants[j].NIS })
	return normView(v)
}
