package storetest

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
)

func testSites(t *testing.T, s admin.Store) {
	sites, err := s.ListSites(ctx)
	must(t, err)
	if len(sites) != 1 || sites[0].Name != "Sede" || sites[0].TimeZone != "Europe/Rome" {
		t.Fatalf("default sites = %+v, want Sede in Europe/Rome", sites)
	}
	wantFields(t, s.CreateSite(ctx, actor, &admin.Site{Name: " Milano", TimeZone: "Mars/Olympus"}), "name", "time_zone")
	wantFields(t, s.CreateSite(ctx, actor, &admin.Site{TimeZone: ""}), "name", "time_zone")
	wantFields(t, s.CreateSite(ctx, admin.Actor{}, &admin.Site{Name: "Milano", TimeZone: "Europe/Rome"}), "actor")

	m := admin.Site{Name: "Milano", TimeZone: "Europe/Rome"}
	must(t, s.CreateSite(ctx, actor, &m))
	if m.ID == 0 {
		t.Fatal("CreateSite did not set ID")
	}
	got, err := s.GetSite(ctx, m.ID)
	must(t, err)
	if got != m {
		t.Fatalf("GetSite = %+v, want %+v", got, m)
	}
	m.TimeZone = "Europe/London"
	must(t, s.UpdateSite(ctx, actor, &m))
	got, _ = s.GetSite(ctx, m.ID)
	if got.TimeZone != "Europe/London" {
		t.Fatalf("after update %+v", got)
	}
	_, err = s.GetSite(ctx, 9999)
	wantErr(t, err, admin.ErrNotFound)
	wantErr(t, s.UpdateSite(ctx, actor, &admin.Site{ID: 9999, Name: "x", TimeZone: "UTC"}), admin.ErrNotFound)
	wantErr(t, s.DeleteSite(ctx, actor, 9999), admin.ErrNotFound)

	d := admin.Door{SiteID: m.ID, Name: "Ingresso", ControllerID: "mi-1"}
	must(t, s.CreateDoor(ctx, actor, &d))
	wantErr(t, s.DeleteSite(ctx, actor, m.ID), admin.ErrConflict)
	must(t, s.DeleteDoor(ctx, actor, d.ID))
	must(t, s.CreateHoliday(ctx, actor, &admin.Holiday{SiteID: m.ID, Date: "2025-12-07", Name: "Sant'Ambrogio"}))
	must(t, s.DeleteSite(ctx, actor, m.ID))
	_, err = s.GetSite(ctx, m.ID)
	wantErr(t, err, admin.ErrNotFound)
	hs, err := s.ListHolidays(ctx, m.ID)
	must(t, err)
	if len(hs) != 0 {
		t.Fatalf("holidays of a deleted site: %+v", hs)
	}
	wantAudit(t, s, "site", m.ID, admin.ActionCreate, admin.ActionUpdate, admin.ActionDelete)
}

// wantAudit checks the actions recorded for an entity, oldest first, each
// by the suite's actor and with the before/after a create, update or
// delete must carry.
func wantAudit(t testing.TB, s admin.Store, entity string, id int64, actions ...string) []admin.AuditEntry {
	t.Helper()
	es, err := s.ListAudit(ctx, admin.AuditFilter{Entity: entity, EntityID: itoa(id), Limit: 1000})
	must(t, err)
	var got []string
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		got = append(got, e.Action)
		if e.Actor != actor.Name {
			t.Errorf("audit %s %d %s: actor %q", entity, id, e.Action, e.Actor)
		}
		if e.Time.IsZero() || time.Since(e.Time) > time.Hour {
			t.Errorf("audit %s %d %s: time %v", entity, id, e.Action, e.Time)
		}
		switch e.Action {
		case admin.ActionCreate:
			if e.Before != nil || !json.Valid(e.After) {
				t.Errorf("audit create %s %d: before %s after %s", entity, id, e.Before, e.After)
			}
		case admin.ActionUpdate:
			if !json.Valid(e.After) {
				t.Errorf("audit update %s %d: after %s", entity, id, e.After)
			}
		case admin.ActionDelete:
			if !json.Valid(e.Before) || e.After != nil {
				t.Errorf("audit delete %s %d: before %s after %s", entity, id, e.Before, e.After)
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(actions, ",") {
		t.Errorf("audit of %s %d = %v, want %v", entity, id, got, actions)
	}
	return es
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func testPeople(t *testing.T, s admin.Store) {
	for _, tc := range []struct {
		name   string
		p      admin.Person
		fields []string
	}{
		{"empty", admin.Person{}, []string{"employee_no", "name", "surname"}},
		{"spaces", admin.Person{EmployeeNo: "E1 ", Name: " Mario", Surname: "Rossi"}, []string{"employee_no", "name"}},
		{"control", admin.Person{EmployeeNo: "E1", Name: "Ma\x00rio", Surname: "Ros\nsi"}, []string{"name", "surname"}},
		{"long", admin.Person{EmployeeNo: "E1", Name: strings.Repeat("a", 201), Surname: "Rossi"}, []string{"name"}},
		{"utf8", admin.Person{EmployeeNo: "E1", Name: "\xff", Surname: "Rossi"}, []string{"name"}},
		{"email", admin.Person{EmployeeNo: "E1", Name: "Mario", Surname: "Rossi", Email: "mario at example"}, []string{"email"}},
		{"email name", admin.Person{EmployeeNo: "E1", Name: "Mario", Surname: "Rossi", Email: "Mario <m@example.it>"}, []string{"email"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			wantFields(t, s.CreatePerson(ctx, actor, &p), tc.fields...)
		})
	}
	p := admin.Person{EmployeeNo: "E1", Name: "Mario", Surname: "Rossi", Department: "Produzione", Email: "mario.rossi@example.it", Active: true}
	before := time.Now().Add(-time.Second)
	must(t, s.CreatePerson(ctx, actor, &p))
	if p.ID == 0 || p.CreatedAt.Before(before) || !p.UpdatedAt.Equal(p.CreatedAt) {
		t.Fatalf("created %+v", p)
	}
	got, err := s.GetPerson(ctx, p.ID)
	must(t, err)
	if got != p {
		t.Fatalf("GetPerson = %+v, want %+v", got, p)
	}
	got, err = s.GetPersonByEmployeeNo(ctx, "E1")
	must(t, err)
	if got != p {
		t.Fatalf("GetPersonByEmployeeNo = %+v, want %+v", got, p)
	}
	_, err = s.GetPersonByEmployeeNo(ctx, "E2")
	wantErr(t, err, admin.ErrNotFound)
	_, err = s.GetPerson(ctx, 9999)
	wantErr(t, err, admin.ErrNotFound)

	dup := admin.Person{EmployeeNo: "E1", Name: "Luigi", Surname: "Verdi"}
	wantErr(t, s.CreatePerson(ctx, actor, &dup), admin.ErrConflict)

	// A no-op update records nothing.
	same := p
	must(t, s.UpdatePerson(ctx, actor, &same))
	if same != p {
		t.Fatalf("no-op update changed %+v to %+v", p, same)
	}
	time.Sleep(2 * time.Millisecond)
	p.Email = ""
	p.Active = false
	must(t, s.UpdatePerson(ctx, actor, &p))
	if !p.UpdatedAt.After(p.CreatedAt) {
		t.Fatalf("UpdatedAt not moved: %+v", p)
	}
	got, _ = s.GetPerson(ctx, p.ID)
	if got != p {
		t.Fatalf("after update %+v, want %+v", got, p)
	}
	wantErr(t, s.UpdatePerson(ctx, actor, &admin.Person{ID: 9999, EmployeeNo: "X", Name: "a", Surname: "b"}), admin.ErrNotFound)
	q := mustPerson(t, s, "E2", "Luigi", "Verdi")
	q.EmployeeNo = "E1"
	wantErr(t, s.UpdatePerson(ctx, actor, &q), admin.ErrConflict)

	es := wantAudit(t, s, "person", p.ID, admin.ActionCreate, admin.ActionUpdate)
	var b, a admin.Person
	must(t, json.Unmarshal(es[0].Before, &b))
	must(t, json.Unmarshal(es[0].After, &a))
	if b.Email != "mario.rossi@example.it" || a.Email != "" || !b.Active || a.Active {
		t.Errorf("update audit before %s after %s", es[0].Before, es[0].After)
	}
	must(t, s.DeletePerson(ctx, actor, p.ID))
	_, err = s.GetPerson(ctx, p.ID)
	wantErr(t, err, admin.ErrNotFound)
	wantErr(t, s.DeletePerson(ctx, actor, p.ID), admin.ErrNotFound)
	wantAudit(t, s, "person", p.ID, admin.ActionCreate, admin.ActionUpdate, admin.ActionDelete)
}

func testPeopleList(t *testing.T, s admin.Store) {
	in := []admin.Person{
		{EmployeeNo: "A-001", Name: "Mario", Surname: "Rossi", Department: "Produzione", Email: "mario.rossi@example.it", Active: true},
		{EmployeeNo: "A-002", Name: "Maria", Surname: "Rossi", Department: "Amministrazione", Active: true},
		{EmployeeNo: "A-003", Name: "Luigi", Surname: "Bianchi", Department: "Produzione", Active: false},
		{EmployeeNo: "B_100", Name: "Anna", Surname: "Verdi", Department: "Produzione", Email: "anna%verdi@example.it", Active: true},
		{EmployeeNo: "B-101", Name: "NICOLÒ", Surname: "D'Àrco", Active: true},
	}
	for i := range in {
		must(t, s.CreatePerson(ctx, actor, &in[i]))
	}
	names := func(ps []admin.Person) string {
		var v []string
		for _, p := range ps {
			v = append(v, p.EmployeeNo)
		}
		return strings.Join(v, " ")
	}
	for _, tc := range []struct {
		name string
		f    admin.PersonFilter
		want string
	}{
		{"all by surname name id", admin.PersonFilter{}, "A-003 B-101 A-002 A-001 B_100"},
		{"search surname case", admin.PersonFilter{Search: "rOSSI"}, "A-002 A-001"},
		{"search two words", admin.PersonFilter{Search: "rossi mar"}, "A-002 A-001"},
		{"search two words narrow", admin.PersonFilter{Search: "mario rossi"}, "A-001"},
		{"search email", admin.PersonFilter{Search: "example.it"}, "A-001 B_100"},
		{"search employee no", admin.PersonFilter{Search: "a-00"}, "A-003 A-002 A-001"},
		{"search like metachar _", admin.PersonFilter{Search: "b_"}, "B_100"},
		{"search like metachar %", admin.PersonFilter{Search: "a%v"}, "B_100"},
		{"search unicode fold", admin.PersonFilter{Search: "nicolò d'àrco"}, "B-101"},
		{"search none", admin.PersonFilter{Search: "zzz"}, ""},
		{"active", admin.PersonFilter{Active: ptr(true)}, "B-101 A-002 A-001 B_100"},
		{"inactive", admin.PersonFilter{Active: ptr(false)}, "A-003"},
		{"department", admin.PersonFilter{Department: "Produzione"}, "A-003 A-001 B_100"},
		{"department active", admin.PersonFilter{Department: "Produzione", Active: ptr(true), Search: "example"}, "A-001 B_100"},
		{"limit", admin.PersonFilter{Limit: 2}, "A-003 B-101"},
		{"offset", admin.PersonFilter{Limit: 2, Offset: 2}, "A-002 A-001"},
		{"keyset", admin.PersonFilter{Limit: 2, After: &in[1]}, "A-001 B_100"},
		{"keyset end", admin.PersonFilter{After: &in[3]}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListPeople(ctx, tc.f)
			must(t, err)
			if names(got) != tc.want {
				t.Errorf("ListPeople(%+v) = %q, want %q", tc.f, names(got), tc.want)
			}
			n, err := s.CountPeople(ctx, tc.f)
			must(t, err)
			if tc.f.Limit == 0 && tc.f.After == nil && n != len(got) {
				t.Errorf("CountPeople = %d, want %d", n, len(got))
			}
			if tc.name == "limit" && n != 5 {
				t.Errorf("CountPeople ignoring limit = %d, want 5", n)
			}
		})
	}
}

func testImport(t *testing.T, s admin.Store) {
	existing := mustPerson(t, s, "E2", "Luigi", "Verdi")
	rows := func() []admin.Person {
		return []admin.Person{
			{EmployeeNo: "E1", Name: "Mario", Surname: "Rossi", Active: true},
			{EmployeeNo: "E2", Name: "Luigi", Surname: "Verdi", Department: "Magazzino", Active: true},
			{EmployeeNo: "E3", Name: "Anna", Surname: "Bianchi", Active: true},
		}
	}
	// All or nothing: one bad row, nothing written.
	bad := rows()
	bad[2].Email = "no"
	_, _, err := s.ImportPeople(ctx, actor, bad)
	wantFields(t, err, "people[2].email")
	dup := append(rows(), admin.Person{EmployeeNo: "E1", Name: "X", Surname: "Y"})
	_, _, err = s.ImportPeople(ctx, actor, dup)
	wantFields(t, err, "people[3].employee_no")
	if n, _ := s.CountPeople(ctx, admin.PersonFilter{}); n != 1 {
		t.Fatalf("after failed imports %d people, want 1", n)
	}

	in := rows()
	c, u, err := s.ImportPeople(ctx, actor, in)
	must(t, err)
	if c != 2 || u != 1 {
		t.Fatalf("import: created %d updated %d, want 2 1", c, u)
	}
	if in[1].ID != existing.ID || in[0].ID == 0 || in[2].ID == 0 {
		t.Fatalf("import ids %d %d %d (existing %d)", in[0].ID, in[1].ID, in[2].ID, existing.ID)
	}
	got, _ := s.GetPerson(ctx, existing.ID)
	if got.Department != "Magazzino" {
		t.Fatalf("import did not update %+v", got)
	}
	audits, _ := s.ListAudit(ctx, admin.AuditFilter{Limit: 1000})
	// Idempotent: the same rows again change nothing and record nothing.
	again := rows()
	c, u, err = s.ImportPeople(ctx, actor, again)
	must(t, err)
	if c != 0 || u != 0 {
		t.Fatalf("second import: created %d updated %d, want 0 0", c, u)
	}
	if again[0].ID != in[0].ID {
		t.Fatalf("second import ids %d, want %d", again[0].ID, in[0].ID)
	}
	audits2, _ := s.ListAudit(ctx, admin.AuditFilter{Limit: 1000})
	if len(audits2) != len(audits) {
		t.Fatalf("a no-op import added %d audit entries", len(audits2)-len(audits))
	}
	imp, _ := s.ListAudit(ctx, admin.AuditFilter{Action: admin.ActionImport})
	if len(imp) != 1 || !strings.Contains(string(imp[0].After), `"created":2`) {
		t.Fatalf("import audit %+v", imp)
	}
	wantAudit(t, s, "person", existing.ID, admin.ActionCreate, admin.ActionUpdate)
}

func testCards(t *testing.T, s admin.Store) {
	p := mustPerson(t, s, "E1", "Mario", "Rossi")
	for _, tc := range []struct {
		name   string
		c      admin.Card
		fields []string
	}{
		{"empty", admin.Card{}, []string{"person_id", "nis", "public_key"}},
		{"nis letters", admin.Card{PersonID: p.ID, NIS: "12345678901A", PublicKey: Key(1)}, []string{"nis"}},
		{"nis short", admin.Card{PersonID: p.ID, NIS: "1234", PublicKey: Key(1)}, []string{"nis"}},
		{"key garbage", admin.Card{PersonID: p.ID, NIS: NIS(1), PublicKey: []byte{0x30, 0x03, 1, 2, 3}}, []string{"public_key"}},
		{"key padded", admin.Card{PersonID: p.ID, NIS: NIS(1), PublicKey: append(Key(1), 0, 0)}, []string{"public_key"}},
		{"status", admin.Card{PersonID: p.ID, NIS: NIS(1), PublicKey: Key(1), Status: "lost"}, []string{"status"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			wantFields(t, s.CreateCard(ctx, actor, &c), tc.fields...)
		})
	}
	c := admin.Card{PersonID: p.ID, NIS: NIS(1), PublicKey: Key(1), SODGeneration: "3", DSSubject: "CN=Documento Signer,O=IPZS,C=IT",
		Verification: "ok: SOD verified against CSCA Italy 2", EnrolledBy: "hr1"}
	must(t, s.CreateCard(ctx, actor, &c))
	if c.ID == 0 || c.Status != admin.CardActive || c.EnrolledAt.IsZero() || len(c.KeyHash) != 64 {
		t.Fatalf("created %+v", c)
	}
	g := varco.Grant{PublicKey: Key(1)}
	if c.KeyHash != g.KeyHash() {
		t.Fatalf("KeyHash %s, want %s", c.KeyHash, g.KeyHash())
	}
	got, err := s.GetCard(ctx, c.ID)
	must(t, err)
	if jsonString(got) != jsonString(c) {
		t.Fatalf("GetCard = %+v, want %+v", got, c)
	}
	got, err = s.GetCardByNIS(ctx, NIS(1))
	must(t, err)
	if got.ID != c.ID {
		t.Fatalf("GetCardByNIS = %+v", got)
	}
	_, err = s.GetCardByNIS(ctx, NIS(2))
	wantErr(t, err, admin.ErrNotFound)
	dup := admin.Card{PersonID: p.ID, NIS: NIS(1), PublicKey: Key(2)}
	wantErr(t, s.CreateCard(ctx, actor, &dup), admin.ErrConflict)
	orphan := admin.Card{PersonID: 9999, NIS: NIS(3), PublicKey: Key(3)}
	wantErr(t, s.CreateCard(ctx, actor, &orphan), admin.ErrNotFound)

	must(t, s.SetCardStatus(ctx, actor, c.ID, admin.CardSuspended))
	must(t, s.SetCardStatus(ctx, actor, c.ID, admin.CardSuspended)) // no-op
	got, _ = s.GetCard(ctx, c.ID)
	if got.Status != admin.CardSuspended {
		t.Fatalf("status %s", got.Status)
	}
	wantFields(t, s.SetCardStatus(ctx, actor, c.ID, "lost"), "status")
	wantErr(t, s.SetCardStatus(ctx, actor, 9999, admin.CardActive), admin.ErrNotFound)

	time.Sleep(2 * time.Millisecond)
	n := admin.Card{NIS: NIS(2), PublicKey: Key(2), Verification: "ok"}
	must(t, s.ReplaceCard(ctx, actor, c.ID, &n))
	if n.PersonID != p.ID || n.Status != admin.CardActive {
		t.Fatalf("replacement %+v", n)
	}
	old, _ := s.GetCard(ctx, c.ID)
	if old.Status != admin.CardRevoked || old.ReplacedBy == nil || *old.ReplacedBy != n.ID {
		t.Fatalf("replaced card %+v", old)
	}
	wantErr(t, s.ReplaceCard(ctx, actor, 9999, &admin.Card{NIS: NIS(5), PublicKey: Key(5)}), admin.ErrNotFound)
	cs, err := s.ListCards(ctx, p.ID)
	must(t, err)
	if len(cs) != 2 || cs[0].ID != n.ID || cs[1].ID != c.ID {
		t.Fatalf("ListCards = %+v", cs)
	}
	wantAudit(t, s, "card", c.ID, admin.ActionCreate, admin.ActionUpdate, admin.ActionUpdate)
	must(t, s.DeleteCard(ctx, actor, n.ID))
	wantErr(t, s.DeleteCard(ctx, actor, n.ID), admin.ErrNotFound)
	old, _ = s.GetCard(ctx, c.ID)
	if old.ReplacedBy != nil {
		t.Fatalf("ReplacedBy still points to a deleted card: %+v", old)
	}
	wantAudit(t, s, "card", n.ID, admin.ActionCreate, admin.ActionDelete)
	// Deleting the person takes the cards.
	must(t, s.DeletePerson(ctx, actor, p.ID))
	_, err = s.GetCard(ctx, c.ID)
	wantErr(t, err, admin.ErrNotFound)
}

func testSchedules(t *testing.T, s admin.Store) {
	for _, tc := range []struct {
		name   string
		days   map[int][]varco.Window
		fields []string
	}{
		{"empty window", map[int][]varco.Window{1: {{Start: 480, End: 480}}}, []string{"days[1][0]"}},
		{"past midnight", map[int][]varco.Window{2: {{Start: 480, End: 1441}}}, []string{"days[2][0]"}},
		{"negative", map[int][]varco.Window{0: {{Start: -1, End: 10}}}, []string{"days[0][0]"}},
		{"overlap", map[int][]varco.Window{3: {{Start: 480, End: 720}, {Start: 700, End: 800}}}, []string{"days[3][1]"}},
		{"unsorted", map[int][]varco.Window{6: {{Start: 800, End: 900}, {Start: 100, End: 200}}}, []string{"days[6][1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := admin.Schedule{Name: "x"}
			for d, ws := range tc.days {
				sc.Days[d] = ws
			}
			wantFields(t, s.CreateSchedule(ctx, actor, &sc), tc.fields...)
		})
	}
	wantFields(t, s.CreateSchedule(ctx, actor, &admin.Schedule{}), "name")

	sc := admin.Schedule{Name: "Uffici", OpenOnHolidays: false}
	sc.Days[1] = []varco.Window{{Start: 8 * 60, End: 12*60 + 30}, {Start: 14 * 60, End: 18 * 60}}
	sc.Days[6] = []varco.Window{{Start: 0, End: 1440}}
	sc.Days[0] = []varco.Window{}
	must(t, s.CreateSchedule(ctx, actor, &sc))
	got, err := s.GetSchedule(ctx, sc.ID)
	must(t, err)
	if jsonString(got) != jsonString(sc) {
		t.Fatalf("GetSchedule = %s, want %s", jsonString(got), jsonString(sc))
	}
	v := got.Varco()
	if v.ID != itoa(sc.ID) || v.Name != "Uffici" || len(v.Days[1]) != 2 || v.Validate() != nil {
		t.Fatalf("Varco() = %+v", v)
	}
	wantErr(t, s.CreateSchedule(ctx, actor, &admin.Schedule{Name: "Uffici"}), admin.ErrConflict)
	sc.OpenOnHolidays = true
	sc.Days[6] = nil
	must(t, s.UpdateSchedule(ctx, actor, &sc))
	got, _ = s.GetSchedule(ctx, sc.ID)
	if !got.OpenOnHolidays || got.Days[6] != nil {
		t.Fatalf("after update %+v", got)
	}
	ss, err := s.ListSchedules(ctx)
	must(t, err)
	if len(ss) != 1 {
		t.Fatalf("ListSchedules = %+v", ss)
	}
	wantErr(t, s.UpdateSchedule(ctx, actor, &admin.Schedule{ID: 9999, Name: "n"}), admin.ErrNotFound)
	mustGroup(t, s, "g", &sc.ID, nil, nil)
	wantErr(t, s.DeleteSchedule(ctx, actor, sc.ID), admin.ErrConflict)
	other := mustSchedule(t, s, "Altro", 0, 60)
	must(t, s.DeleteSchedule(ctx, actor, other.ID))
	_, err = s.GetSchedule(ctx, other.ID)
	wantErr(t, err, admin.ErrNotFound)
	wantAudit(t, s, "schedule", sc.ID, admin.ActionCreate, admin.ActionUpdate)
}

func testHolidays(t *testing.T, s admin.Store) {
	wantFields(t, s.CreateHoliday(ctx, actor, &admin.Holiday{Date: "2025-13-01"}), "site_id", "date")
	wantFields(t, s.CreateHoliday(ctx, actor, &admin.Holiday{SiteID: 1, Date: "2025-1-6"}), "date")
	wantErr(t, s.CreateHoliday(ctx, actor, &admin.Holiday{SiteID: 9999, Date: "2025-01-06"}), admin.ErrNotFound)
	h := admin.Holiday{SiteID: 1, Date: "2025-12-25", Name: "Natale"}
	must(t, s.CreateHoliday(ctx, actor, &h))
	e := admin.Holiday{SiteID: 1, Date: "2025-01-06", Name: "Epifania"}
	must(t, s.CreateHoliday(ctx, actor, &e))
	wantErr(t, s.CreateHoliday(ctx, actor, &admin.Holiday{SiteID: 1, Date: "2025-12-25"}), admin.ErrConflict)
	hs, err := s.ListHolidays(ctx, 1)
	must(t, err)
	if len(hs) != 2 || hs[0] != e || hs[1] != h {
		t.Fatalf("ListHolidays = %+v", hs)
	}
	got, err := s.GetHoliday(ctx, h.ID)
	must(t, err)
	if got != h {
		t.Fatalf("GetHoliday = %+v", got)
	}
	h.Name = "Natale del Signore"
	must(t, s.UpdateHoliday(ctx, actor, &h))
	e.Date = "2025-12-25"
	wantErr(t, s.UpdateHoliday(ctx, actor, &e), admin.ErrConflict)
	must(t, s.DeleteHoliday(ctx, actor, h.ID))
	wantErr(t, s.DeleteHoliday(ctx, actor, h.ID), admin.ErrNotFound)
	hs, _ = s.ListHolidays(ctx, 0)
	if len(hs) != 1 {
		t.Fatalf("after delete %+v", hs)
	}
	wantAudit(t, s, "holiday", h.ID, admin.ActionCreate, admin.ActionUpdate, admin.ActionDelete)
}

func testDoors(t *testing.T, s admin.Store) {
	wantFields(t, s.CreateDoor(ctx, actor, &admin.Door{}), "site_id", "name", "controller_id")
	wantFields(t, s.CreateDoor(ctx, actor, &admin.Door{SiteID: 1, Name: "a", ControllerID: "porta/1#", Mode: "open"}), "controller_id", "mode")
	wantErr(t, s.CreateDoor(ctx, actor, &admin.Door{SiteID: 9999, Name: "a", ControllerID: "d1"}), admin.ErrNotFound)
	d := admin.Door{SiteID: 1, Name: "Ingresso principale", Location: "Piano terra", ControllerID: "pi-ingresso.1"}
	must(t, s.CreateDoor(ctx, actor, &d))
	if d.ID == 0 || d.Mode != varco.ModeNormal || d.Revision != 1 {
		t.Fatalf("created %+v", d)
	}
	wantErr(t, s.CreateDoor(ctx, actor, &admin.Door{SiteID: 1, Name: "b", ControllerID: "pi-ingresso.1"}), admin.ErrConflict)
	got, err := s.GetDoor(ctx, d.ID)
	must(t, err)
	if got != d {
		t.Fatalf("GetDoor = %+v, want %+v", got, d)
	}
	got, err = s.GetDoorByControllerID(ctx, "pi-ingresso.1")
	must(t, err)
	if got != d {
		t.Fatalf("GetDoorByControllerID = %+v", got)
	}
	_, err = s.GetDoorByControllerID(ctx, "nope")
	wantErr(t, err, admin.ErrNotFound)

	// Name and location are not in the view: no revision.
	d.Location = "Piano terra, lato nord"
	must(t, s.UpdateDoor(ctx, actor, &d))
	if d.Revision != 1 || rev(t, s, d.ID) != 1 {
		t.Fatalf("revision after a rename: %d", rev(t, s, d.ID))
	}
	d.Mode = varco.ModeLockdown
	must(t, s.UpdateDoor(ctx, actor, &d))
	if d.Revision != 2 {
		t.Fatalf("revision after a mode change: %d", d.Revision)
	}
	must(t, s.SetDoorMode(ctx, actor, d.ID, varco.ModeNormal))
	must(t, s.SetDoorMode(ctx, actor, d.ID, varco.ModeNormal))
	wantFields(t, s.SetDoorMode(ctx, actor, d.ID, "open"), "mode")
	wantErr(t, s.SetDoorMode(ctx, actor, 9999, varco.ModeNormal), admin.ErrNotFound)
	got, _ = s.GetDoor(ctx, d.ID)
	if got.Mode != varco.ModeNormal || got.Revision != 3 {
		t.Fatalf("after SetDoorMode %+v", got)
	}
	d2 := mustDoor(t, s, "d2")
	m := admin.Site{Name: "Milano", TimeZone: "Europe/Rome"}
	must(t, s.CreateSite(ctx, actor, &m))
	d2.SiteID = m.ID
	must(t, s.UpdateDoor(ctx, actor, &d2))
	ds, err := s.ListDoors(ctx, 0)
	must(t, err)
	if len(ds) != 2 || ds[0].ID != d2.ID {
		t.Fatalf("ListDoors(0) = %+v", ds)
	}
	ds, _ = s.ListDoors(ctx, m.ID)
	if len(ds) != 1 || ds[0].ID != d2.ID {
		t.Fatalf("ListDoors(site) = %+v", ds)
	}
	must(t, s.DeleteDoor(ctx, actor, d.ID))
	_, err = s.GetDoor(ctx, d.ID)
	wantErr(t, err, admin.ErrNotFound)
	_, err = s.DoorView(ctx, d.ID)
	wantErr(t, err, admin.ErrNotFound)
	es := wantAudit(t, s, "door", d.ID, admin.ActionCreate, admin.ActionUpdate, admin.ActionUpdate, admin.ActionUpdate, admin.ActionDelete)
	if strings.Contains(string(es[1].After), `"revision":2`) {
		t.Errorf("audit logs the revision: %s", es[1].After)
	}
}

func testGroups(t *testing.T, s admin.Store) {
	p1 := mustPerson(t, s, "E1", "Mario", "Rossi")
	p2 := mustPerson(t, s, "E2", "Luigi", "Verdi")
	d1, d2 := mustDoor(t, s, "d1"), mustDoor(t, s, "d2")
	sc := mustSchedule(t, s, "Uffici", 480, 1080)
	wantFields(t, s.CreateGroup(ctx, actor, &admin.Group{ScheduleID: ptr(int64(0)), DoorIDs: []int64{-1}}), "name", "schedule_id", "door_ids[0]")
	wantErr(t, s.CreateGroup(ctx, actor, &admin.Group{Name: "x", ScheduleID: ptr(int64(9999))}), admin.ErrNotFound)
	wantErr(t, s.CreateGroup(ctx, actor, &admin.Group{Name: "x", DoorIDs: []int64{9999}}), admin.ErrNotFound)
	wantErr(t, s.CreateGroup(ctx, actor, &admin.Group{Name: "x", PersonIDs: []int64{9999}}), admin.ErrNotFound)

	g := admin.Group{Name: "Impiegati", ScheduleID: &sc.ID, DoorIDs: []int64{d2.ID, d1.ID, d1.ID}, PersonIDs: []int64{p1.ID}}
	must(t, s.CreateGroup(ctx, actor, &g))
	want := admin.Group{ID: g.ID, Name: "Impiegati", ScheduleID: &sc.ID, DoorIDs: []int64{d1.ID, d2.ID}, PersonIDs: []int64{p1.ID}}
	got, err := s.GetGroup(ctx, g.ID)
	must(t, err)
	if jsonString(got) != jsonString(want) || jsonString(g) != jsonString(want) {
		t.Fatalf("GetGroup = %s, created %s, want %s", jsonString(got), jsonString(g), jsonString(want))
	}
	wantErr(t, s.CreateGroup(ctx, actor, &admin.Group{Name: "Impiegati"}), admin.ErrConflict)
	_, err = s.GetGroup(ctx, 9999)
	wantErr(t, err, admin.ErrNotFound)

	must(t, s.AddGroupPeople(ctx, actor, g.ID, p2.ID, p1.ID))
	must(t, s.AddGroupPeople(ctx, actor, g.ID, p2.ID)) // no-op
	wantErr(t, s.AddGroupPeople(ctx, actor, g.ID, 9999), admin.ErrNotFound)
	wantErr(t, s.AddGroupPeople(ctx, actor, 9999, p1.ID), admin.ErrNotFound)
	must(t, s.RemoveGroupDoors(ctx, actor, g.ID, d2.ID))
	must(t, s.RemoveGroupDoors(ctx, actor, g.ID, d2.ID)) // no-op
	got, _ = s.GetGroup(ctx, g.ID)
	if jsonString(got.PersonIDs) != jsonString([]int64{p1.ID, p2.ID}) || jsonString(got.DoorIDs) != jsonString([]int64{d1.ID}) {
		t.Fatalf("after add/remove %+v", got)
	}
	must(t, s.AddGroupDoors(ctx, actor, g.ID, d2.ID))
	must(t, s.RemoveGroupPeople(ctx, actor, g.ID, p1.ID))

	g2 := mustGroup(t, s, "Sicurezza", nil, []int64{d1.ID}, []int64{p1.ID})
	gs, err := s.ListGroups(ctx)
	must(t, err)
	if len(gs) != 2 || gs[0].ID != g.ID || gs[1].ID != g2.ID {
		t.Fatalf("ListGroups = %+v", gs)
	}
	gs, err = s.ListPersonGroups(ctx, p1.ID)
	must(t, err)
	if len(gs) != 1 || gs[0].ID != g2.ID {
		t.Fatalf("ListPersonGroups = %+v", gs)
	}
	g2.ScheduleID, g2.LockdownOverride, g2.PersonIDs = &sc.ID, true, []int64{p2.ID}
	must(t, s.UpdateGroup(ctx, actor, &g2))
	got, _ = s.GetGroup(ctx, g2.ID)
	if jsonString(got) != jsonString(g2) {
		t.Fatalf("after UpdateGroup %s, want %s", jsonString(got), jsonString(g2))
	}
	g2.Name = "Impiegati"
	wantErr(t, s.UpdateGroup(ctx, actor, &g2), admin.ErrConflict)
	wantErr(t, s.UpdateGroup(ctx, actor, &admin.Group{ID: 9999, Name: "z"}), admin.ErrNotFound)
	must(t, s.DeleteGroup(ctx, actor, g.ID))
	wantErr(t, s.DeleteGroup(ctx, actor, g.ID), admin.ErrNotFound)
	// A person or door deleted leaves the group.
	must(t, s.DeleteDoor(ctx, actor, d1.ID))
	must(t, s.DeletePerson(ctx, actor, p2.ID))
	got, _ = s.GetGroup(ctx, g2.ID)
	if len(got.DoorIDs) != 0 || len(got.PersonIDs) != 0 {
		t.Fatalf("group keeps deleted members: %+v", got)
	}
	es := wantAudit(t, s, "group", g.ID, admin.ActionCreate, admin.ActionAddPeople, admin.ActionRemoveDoors,
		admin.ActionAddDoors, admin.ActionRemovePeople, admin.ActionDelete)
	// Newest first: es[4] is add_people, which records only the id added.
	if string(es[4].After) != `{"person_ids":[`+itoa(p2.ID)+`]}` || es[4].Before != nil {
		t.Errorf("add_people audit: before %s after %s", es[4].Before, es[4].After)
	}
}

func testUsers(t *testing.T, s admin.Store) {
	const hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
	wantFields(t, s.CreateUser(ctx, actor, &admin.User{Username: "a b", Role: "root"}), "username", "role")
	u := admin.User{Username: "anna", PasswordHash: hash, Role: admin.RoleHR}
	must(t, s.CreateUser(ctx, actor, &u))
	if u.ID == 0 || u.CreatedAt.IsZero() || u.LastLoginAt != nil {
		t.Fatalf("created %+v", u)
	}
	got, err := s.GetUser(ctx, u.ID)
	must(t, err)
	if jsonString(got) != jsonString(u) || got.PasswordHash != hash {
		t.Fatalf("GetUser = %+v, want %+v", got, u)
	}
	got, err = s.GetUserByUsername(ctx, "anna")
	must(t, err)
	if got.ID != u.ID {
		t.Fatalf("GetUserByUsername = %+v", got)
	}
	_, err = s.GetUserByUsername(ctx, "Anna")
	wantErr(t, err, admin.ErrNotFound)
	wantErr(t, s.CreateUser(ctx, actor, &admin.User{Username: "anna", Role: admin.RoleViewer}), admin.ErrConflict)
	u.Role = admin.RoleAdmin
	u.PasswordHash = "ignored"
	must(t, s.UpdateUser(ctx, actor, &u))
	got, _ = s.GetUser(ctx, u.ID)
	if got.Role != admin.RoleAdmin || got.PasswordHash != hash {
		t.Fatalf("after UpdateUser %+v", got)
	}
	must(t, s.SetUserPassword(ctx, actor, u.ID, hash+"2"))
	got, _ = s.GetUser(ctx, u.ID)
	if got.PasswordHash != hash+"2" {
		t.Fatalf("SetUserPassword: %+v", got)
	}
	wantFields(t, s.SetUserPassword(ctx, actor, u.ID, ""), "password_hash")
	wantErr(t, s.SetUserPassword(ctx, actor, 9999, hash), admin.ErrNotFound)
	v := admin.User{Username: "bruno", PasswordHash: hash, Role: admin.RoleViewer}
	must(t, s.CreateUser(ctx, actor, &v))
	us, err := s.ListUsers(ctx)
	must(t, err)
	if len(us) != 2 || us[0].Username != "anna" {
		t.Fatalf("ListUsers = %+v", us)
	}
	must(t, s.DeleteUser(ctx, actor, v.ID))
	wantErr(t, s.DeleteUser(ctx, actor, v.ID), admin.ErrNotFound)
	wantAudit(t, s, "user", u.ID, admin.ActionCreate, admin.ActionUpdate, admin.ActionUpdate)
	noSecret(t, s, hash)
}

// noSecret fails if any audit entry contains secret.
func noSecret(t testing.TB, s admin.Store, secret string) {
	t.Helper()
	es, err := s.ListAudit(ctx, admin.AuditFilter{Limit: 1000})
	must(t, err)
	for _, e := range es {
		if strings.Contains(string(e.Before)+string(e.After), secret) {
			t.Errorf("audit entry %d (%s %s) holds a secret: %s %s", e.ID, e.Action, e.Entity, e.Before, e.After)
		}
	}
}

func testSessions(t *testing.T, s admin.Store) {
	u := admin.User{Username: "anna", PasswordHash: "h", Role: admin.RoleHR}
	must(t, s.CreateUser(ctx, actor, &u))
	now := time.Date(2025, 3, 30, 1, 30, 0, 123456000, time.UTC)
	const idHash = "5e55104d5e55104d5e55104d5e55104d5e55104d5e55104d5e55104d5e55104d"
	wantFields(t, s.CreateSession(ctx, actor, admin.Session{UserID: u.ID, CreatedAt: now, ExpiresAt: now}), "id_hash", "expires_at")
	wantErr(t, s.CreateSession(ctx, actor, admin.Session{IDHash: "x", UserID: 9999, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}), admin.ErrNotFound)
	se := admin.Session{IDHash: idHash, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(8 * time.Hour)}
	must(t, s.CreateSession(ctx, actor, se))
	wantErr(t, s.CreateSession(ctx, actor, se), admin.ErrConflict)
	got, err := s.GetSession(ctx, idHash, now.Add(time.Hour))
	must(t, err)
	if got != se {
		t.Fatalf("GetSession = %+v, want %+v", got, se)
	}
	gu, _ := s.GetUser(ctx, u.ID)
	if gu.LastLoginAt == nil || !gu.LastLoginAt.Equal(now) {
		t.Fatalf("LastLoginAt = %v, want %v", gu.LastLoginAt, now)
	}
	_, err = s.GetSession(ctx, idHash, now.Add(8*time.Hour))
	wantErr(t, err, admin.ErrNotFound)
	_, err = s.GetSession(ctx, "nope", now)
	wantErr(t, err, admin.ErrNotFound)

	must(t, s.DeleteSession(ctx, actor, idHash))
	wantErr(t, s.DeleteSession(ctx, actor, idHash), admin.ErrNotFound)
	for i, exp := range []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour} {
		must(t, s.CreateSession(ctx, actor, admin.Session{IDHash: idHash + itoa(int64(i)), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(exp)}))
	}
	n, err := s.DeleteExpiredSessions(ctx, now.Add(2*time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("DeleteExpiredSessions = %d, want 2", n)
	}
	n, err = s.DeleteUserSessions(ctx, actor, u.ID)
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteUserSessions = %d, want 1", n)
	}
	// Disabling a user logs them out.
	must(t, s.CreateSession(ctx, actor, se))
	u.Disabled = true
	must(t, s.UpdateUser(ctx, actor, &u))
	_, err = s.GetSession(ctx, idHash, now)
	wantErr(t, err, admin.ErrNotFound)
	es, _ := s.ListAudit(ctx, admin.AuditFilter{Entity: "user", EntityID: itoa(u.ID), Action: admin.ActionLogin})
	if len(es) != 5 {
		t.Fatalf("%d login audit entries, want 5", len(es))
	}
	noSecret(t, s, idHash)
}

func testAPITokens(t *testing.T, s admin.Store) {
	u := admin.User{Username: "anna", PasswordHash: "h", Role: admin.RoleAdmin}
	must(t, s.CreateUser(ctx, actor, &u))
	const hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	wantFields(t, s.CreateAPIToken(ctx, actor, &admin.APIToken{Hash: "XYZ"}), "name", "user_id", "role", "hash")
	exp := time.Now().Add(24 * time.Hour)
	k := admin.APIToken{Name: "import script", UserID: u.ID, Role: admin.RoleHR, Hash: hash, ExpiresAt: &exp}
	must(t, s.CreateAPIToken(ctx, actor, &k))
	if k.ID == 0 || k.CreatedAt.IsZero() {
		t.Fatalf("created %+v", k)
	}
	wantErr(t, s.CreateAPIToken(ctx, actor, &admin.APIToken{Name: "again", UserID: u.ID, Role: admin.RoleHR, Hash: hash}), admin.ErrConflict)
	wantErr(t, s.CreateAPIToken(ctx, actor, &admin.APIToken{Name: "orphan", UserID: 9999, Role: admin.RoleHR, Hash: hash[:63] + "0"}), admin.ErrNotFound)
	got, err := s.GetAPITokenByHash(ctx, hash)
	must(t, err)
	if jsonString(got) != jsonString(k) || got.Hash != hash {
		t.Fatalf("GetAPITokenByHash = %+v, want %+v", got, k)
	}
	_, err = s.GetAPITokenByHash(ctx, "00")
	wantErr(t, err, admin.ErrNotFound)
	used := time.Now().UTC().Truncate(time.Microsecond)
	must(t, s.TouchAPIToken(ctx, k.ID, used))
	wantErr(t, s.TouchAPIToken(ctx, 9999, used), admin.ErrNotFound)
	must(t, s.RevokeAPIToken(ctx, actor, k.ID, used))
	must(t, s.RevokeAPIToken(ctx, actor, k.ID, used.Add(time.Hour))) // no-op
	wantErr(t, s.RevokeAPIToken(ctx, actor, 9999, used), admin.ErrNotFound)
	ks, err := s.ListAPITokens(ctx)
	must(t, err)
	if len(ks) != 1 || ks[0].LastUsedAt == nil || !ks[0].LastUsedAt.Equal(used) || ks[0].RevokedAt == nil || !ks[0].RevokedAt.Equal(used) {
		t.Fatalf("ListAPITokens = %+v", ks)
	}
	wantAudit(t, s, "api_token", k.ID, admin.ActionCreate, admin.ActionRevoke)
	noSecret(t, s, hash)
}

func testAudit(t *testing.T, s admin.Store) {
	other := admin.Actor{Name: "token:script"}
	p := mustPerson(t, s, "E1", "Mario", "Rossi")
	q := admin.Person{EmployeeNo: "E2", Name: "Luigi", Surname: "Verdi"}
	must(t, s.CreatePerson(ctx, other, &q))
	for i := 0; i < 5; i++ {
		p.Department = "D" + itoa(int64(i))
		must(t, s.UpdatePerson(ctx, actor, &p))
	}
	all, err := s.ListAudit(ctx, admin.AuditFilter{})
	must(t, err)
	if len(all) != 7 {
		t.Fatalf("%d entries, want 7", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("not newest first: %d then %d", all[i-1].ID, all[i].ID)
		}
	}
	by, _ := s.ListAudit(ctx, admin.AuditFilter{Actor: other.Name})
	if len(by) != 1 || by[0].EntityID != itoa(q.ID) {
		t.Fatalf("by actor %+v", by)
	}
	upd, _ := s.ListAudit(ctx, admin.AuditFilter{Action: admin.ActionUpdate, Limit: 2})
	if len(upd) != 2 || upd[0].ID != all[0].ID {
		t.Fatalf("updates limit 2 %+v", upd)
	}
	page2, _ := s.ListAudit(ctx, admin.AuditFilter{Action: admin.ActionUpdate, Limit: 2, BeforeID: upd[1].ID})
	if len(page2) != 2 || page2[0].ID >= upd[1].ID {
		t.Fatalf("page 2 %+v", page2)
	}
	from := all[0].Time
	recent, _ := s.ListAudit(ctx, admin.AuditFilter{From: from})
	if len(recent) == 0 || len(recent) > 7 {
		t.Fatalf("from %v: %d", from, len(recent))
	}
	none, _ := s.ListAudit(ctx, admin.AuditFilter{To: all[len(all)-1].Time})
	if len(none) != 0 {
		t.Fatalf("to the first entry's time: %+v", none)
	}
	var b, a admin.Person
	must(t, json.Unmarshal(all[0].Before, &b))
	must(t, json.Unmarshal(all[0].After, &a))
	if b.Department != "D3" || a.Department != "D4" {
		t.Fatalf("before %s after %s", all[0].Before, all[0].After)
	}
	// A failed write leaves no entry.
	wantErr(t, s.CreatePerson(ctx, actor, &admin.Person{EmployeeNo: "E1", Name: "x", Surname: "y"}), admin.ErrConflict)
	after, _ := s.ListAudit(ctx, admin.AuditFilter{})
	if len(after) != 7 {
		t.Fatalf("a failed write was audited: %d", len(after))
	}
}

func testMetacharacters(t *testing.T, s admin.Store) {
	const (
		bobby  = "Robert'); DROP TABLE people;--"
		script = `<script>alert("x")</script>`
		mixed  = `50% _off_ \ "quoted" 'single' ; -- /* */ ? $1 :name @v ${x} ` + "`tick`" + ` Nicolò ✓ 🚪`
	)
	p := admin.Person{EmployeeNo: "E'1;--", Name: bobby, Surname: script, Department: mixed, Email: "o'brien+x@example.it", Active: true}
	must(t, s.CreatePerson(ctx, actor, &p))
	got, err := s.GetPerson(ctx, p.ID)
	must(t, err)
	if got != p {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, p)
	}
	got, err = s.GetPersonByEmployeeNo(ctx, "E'1;--")
	must(t, err)
	if got.ID != p.ID {
		t.Fatal("lookup by a quoted employee no")
	}
	for _, q := range []string{"'); drop", "<SCRIPT>", "o'brien", "robert');"} {
		ps, err := s.ListPeople(ctx, admin.PersonFilter{Search: q})
		must(t, err)
		if len(ps) != 1 || ps[0].ID != p.ID {
			t.Errorf("search %q = %+v", q, ps)
		}
	}
	ps, _ := s.ListPeople(ctx, admin.PersonFilter{Department: mixed})
	if len(ps) != 1 {
		t.Errorf("department filter with metacharacters: %+v", ps)
	}
	d := admin.Door{SiteID: 1, Name: script, Location: bobby, ControllerID: "d-1"}
	must(t, s.CreateDoor(ctx, actor, &d))
	gd, _ := s.GetDoor(ctx, d.ID)
	if gd != d {
		t.Fatalf("door round trip %+v", gd)
	}
	sc := admin.Schedule{Name: mixed}
	must(t, s.CreateSchedule(ctx, actor, &sc))
	g := mustGroup(t, s, bobby, &sc.ID, []int64{d.ID}, []int64{p.ID})
	mustCard(t, s, p.ID, 1)
	gg, _ := s.GetGroup(ctx, g.ID)
	if gg.Name != bobby {
		t.Fatalf("group name %q", gg.Name)
	}
	v, err := s.DoorView(ctx, d.ID)
	must(t, err)
	if len(v.Grants) != 1 || v.Grants[0].DisplayName != bobby+" "+script || v.Schedules[0].Name != mixed {
		t.Fatalf("view %+v", v)
	}
	h := admin.Holiday{SiteID: 1, Date: "2025-08-15", Name: bobby}
	must(t, s.CreateHoliday(ctx, actor, &h))
	u := admin.User{Username: "o'brien<b>", Role: admin.RoleViewer}
	must(t, s.CreateUser(ctx, actor, &u))
	gu, err := s.GetUserByUsername(ctx, "o'brien<b>")
	must(t, err)
	if gu.ID != u.ID {
		t.Fatal("user lookup")
	}
	es, err := s.ListAudit(ctx, admin.AuditFilter{Entity: "person"})
	must(t, err)
	var a admin.Person
	must(t, json.Unmarshal(es[0].After, &a))
	if a.Name != bobby {
		t.Fatalf("audit after %s", es[0].After)
	}
	// The tables are all still there.
	if n, err := s.CountPeople(ctx, admin.PersonFilter{}); err != nil || n != 1 {
		t.Fatalf("CountPeople = %d, %v", n, err)
	}
}
