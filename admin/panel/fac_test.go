package panel

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/syncer"
)

func init() {
	all := []auth.Role{auth.RoleAdmin, auth.RoleHR, auth.RoleFacilities, auth.RoleViewer}
	events := []auth.Role{auth.RoleAdmin, auth.RoleFacilities, auth.RoleViewer}
	doorsWrite := []auth.Role{auth.RoleAdmin, auth.RoleFacilities}
	schedRead := []auth.Role{auth.RoleAdmin, auth.RoleHR, auth.RoleFacilities}
	schedWrite := []auth.Role{auth.RoleAdmin, auth.RoleFacilities}
	groupsRead := []auth.Role{auth.RoleAdmin, auth.RoleHR, auth.RoleFacilities}
	groupsWrite := []auth.Role{auth.RoleAdmin, auth.RoleHR}
	pageAccessTable = append(pageAccessTable,
		pageAccess{"/doors", all},
		pageAccess{"/doors/{door}", all},
		pageAccess{"/doors/new", doorsWrite},
		pageAccess{"/doors/{door}/edit", doorsWrite},
		pageAccess{"/events", events},
		pageAccess{"/stats", events},
		pageAccess{"/schedules", schedRead},
		pageAccess{"/schedules/new", schedWrite},
		pageAccess{"/schedules/{schedule}", schedRead},
		pageAccess{"/groups", groupsRead},
		pageAccess{"/groups/new", groupsWrite},
		pageAccess{"/groups/{group}", groupsRead},
		pageAccess{"/access", groupsRead},
	)
}

// facIDs of the sample rows, as numbers.
func facSampleIDs(t *testing.T, ids map[string]string) (person, door, schedule, group int64) {
	t.Helper()
	for k, p := range map[string]*int64{"{person}": &person, "{door}": &door, "{schedule}": &schedule, "{group}": &group} {
		if _, err := fmt.Sscan(ids[k], p); err != nil {
			t.Fatalf("%s %q: %v", k, ids[k], err)
		}
	}
	return
}

// TestFacDoorsStatus: the doors page shows what the sync last heard from
// each door (and "no sync" for one it never heard), the entry feed for
// roles that read the log, and escapes door names.
func TestFacDoorsStatus(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	ctx := t.Context()
	sites, _ := e.st.ListSites(ctx)
	quiet := admin.Door{SiteID: sites[0].ID, Name: "<script>alert(1)</script>", ControllerID: "retro"}
	if err := e.st.CreateDoor(ctx, admin.Actor{Name: "test"}, &quiet); err != nil {
		t.Fatal(err)
	}
	_, doorID, _, _ := facSampleIDs(t, ids)
	door, _ := e.st.GetDoor(ctx, doorID)
	e.sync.SetStatus("ingresso", syncer.DoorStatus{Online: true, Rev: uint64(door.Revision), OutboxLen: 7, DoorState: "held_open",
		Mode: varco.ModeNormal, Seen: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)})
	if _, err := e.st.InsertEvents(ctx, []admin.Event{{DoorID: doorID, Seq: 1, Time: time.Now(), Kind: varco.EventDenied, Reason: varco.ReasonOutsideSchedule, NIS: "000000000001"}}); err != nil {
		t.Fatal(err)
	}
	c := e.as(auth.RoleFacilities)
	body := c.mustGet("/doors",
		`data-door="ingresso"`, "aperto troppo a lungo", ">7<", "02/03/2026 10:30:00", // Europe/Rome
		fmt.Sprintf("%d / %d", door.Revision, door.Revision),
		"&lt;script&gt;alert(1)&lt;/script&gt;", `data-label-online="in linea"`, "Accessi in diretta", "fuori orario", `src="/static/fac.js"`)
	if strings.Contains(body, "<script>alert(1)") {
		t.Fatal("door name not escaped")
	}
	// The door that never reported: state unknown, offline.
	row := body[strings.Index(body, `data-door="retro"`):]
	row = row[:strings.Index(row, "</tr>")]
	if !strings.Contains(row, "non in linea") || !strings.Contains(row, "stato sconosciuto") {
		t.Errorf("silent door's row: %s", row)
	}
	// HR reads doors but not the entry log: no feed.
	hr := e.as(auth.RoleHR)
	if body := hr.mustGet("/doors", `data-door="ingresso"`); strings.Contains(body, "fac-feed") {
		t.Error("HR sees the entry feed")
	}
	// The door page: status, who can open it (through the sample group)
	// — nobody yet, since the sample person has no card.
	c.mustGet("/doors/"+ids["{door}"], "aperto troppo a lungo", "Chi può aprire questo varco", "Apri una volta", "Metti in blocco")
	// A viewer sees the status but no commands and no access list.
	v := e.as(auth.RoleViewer)
	body = v.mustGet("/doors/"+ids["{door}"], "aperto troppo a lungo")
	if strings.Contains(body, "Apri una volta") || strings.Contains(body, "Chi può aprire") {
		t.Error("viewer sees commands or the access list")
	}
}

// facKey is a card key for the tests' cards (DER PKCS#1, as enrolled).
var facKey = sync.OnceValue(func() []byte {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return x509.MarshalPKCS1PublicKey(&k.PublicKey)
})

// TestFacWhoCanOpen: the door page lists the people its allowlist
// holds, with the schedule that lets them in, once per person.
func TestFacWhoCanOpen(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	personID, _, _, _ := facSampleIDs(t, ids)
	c := e.as(auth.RoleFacilities)
	if body := c.mustGet("/doors/"+ids["{door}"], "Nessuno: il varco non ha autorizzazioni"); strings.Contains(body, "Anna Rossi") {
		t.Fatal("a person without a card can open the door")
	}
	card := admin.Card{PersonID: personID, NIS: "123456789012", PublicKey: facKey(), EnrolledAt: time.Now()}
	if err := e.st.CreateCard(t.Context(), admin.Actor{Name: "test"}, &card); err != nil {
		t.Fatal(err)
	}
	body := c.mustGet("/doors/"+ids["{door}"], "Anna Rossi", "<td>Uffici</td>")
	if n := strings.Count(body, "Anna Rossi"); n != 1 {
		t.Errorf("Anna Rossi listed %d times", n)
	}
}

// TestFacDoorCommands: unlock and lockdown send signed commands through
// the sync and lockdown changes the stored mode; a viewer gets 403 and
// nothing is sent.
func TestFacDoorCommands(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	_, doorID, _, _ := facSampleIDs(t, ids)
	v := e.as(auth.RoleViewer)
	v.get("/doors/" + ids["{door}"])
	if code, _, _ := v.post("/doors/"+ids["{door}"]+"/unlock", nil); code != http.StatusForbidden {
		t.Fatalf("viewer unlock: %d", code)
	}
	if code, _, _ := v.post("/doors/"+ids["{door}"]+"/mode", url.Values{"mode": {"lockdown"}}); code != http.StatusForbidden {
		t.Fatalf("viewer lockdown: %d", code)
	}
	if got := e.sync.Commands(); len(got) != 0 {
		t.Fatalf("commands after the viewer: %v", got)
	}
	c := e.as(auth.RoleFacilities)
	c.get("/doors/" + ids["{door}"])
	code, _, loc := c.post("/doors/"+ids["{door}"]+"/unlock", nil)
	if code != http.StatusSeeOther || loc != "/doors/"+ids["{door}"]+"?done=done.door.unlocked" {
		t.Fatalf("unlock: %d → %q", code, loc)
	}
	c.mustGet(loc, "Comando di apertura inviato")
	code, _, loc = c.post("/doors/"+ids["{door}"]+"/mode", url.Values{"mode": {"lockdown"}})
	if code != http.StatusSeeOther {
		t.Fatalf("lockdown: %d", code)
	}
	d, _ := e.st.GetDoor(t.Context(), doorID)
	if d.Mode != varco.ModeLockdown {
		t.Fatalf("mode after lockdown: %s", d.Mode)
	}
	c.mustGet(loc, "Varco in blocco", "Torna al funzionamento normale")
	if code, _, _ = c.post("/doors/"+ids["{door}"]+"/mode", url.Values{"mode": {"normal"}}); code != http.StatusSeeOther {
		t.Fatalf("normal: %d", code)
	}
	if d, _ = e.st.GetDoor(t.Context(), doorID); d.Mode != varco.ModeNormal {
		t.Fatalf("mode after normal: %s", d.Mode)
	}
	want := []string{"ingresso unlock_once facilities-user", "ingresso lockdown_on facilities-user", "ingresso lockdown_off facilities-user"}
	if got := e.sync.Commands(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("commands %v, want %v", got, want)
	}
	// A mode that is not lockdown or normal changes nothing.
	code, body, _ := c.post("/doors/"+ids["{door}"]+"/mode", url.Values{"mode": {"unlocked_command"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "Modalità non valida") {
		t.Fatalf("bad mode: %d", code)
	}
	if d, _ = e.st.GetDoor(t.Context(), doorID); d.Mode != varco.ModeNormal || len(e.sync.Commands()) != 3 {
		t.Fatalf("bad mode changed something: %s %v", d.Mode, e.sync.Commands())
	}
}

// TestFacDoorCommandsNoSync: without a sync, unlock says no door is
// connected and sends nothing.
func TestFacDoorCommandsNoSync(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	e.panel.o.Sync = nil
	c := e.as(auth.RoleAdmin)
	c.mustGet("/doors", "nessuna sincronizzazione")
	c.get("/doors/" + ids["{door}"])
	code, body, _ := c.post("/doors/"+ids["{door}"]+"/unlock", nil)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "Nessun varco è collegato") {
		t.Fatalf("unlock without sync: %d\n%s", code, clip(body))
	}
}

// TestFacDoorCreateEdit: a door is created and edited through the forms,
// a bad controller id names the field, and editing keeps the mode.
func TestFacDoorCreateEdit(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	ctx := t.Context()
	c := e.as(auth.RoleFacilities)
	c.get("/doors/new")
	code, body, _ := c.post("/doors", url.Values{"name": {"Magazzino"}, "controller_id": {"bad id!"}, "site_id": {ids["{site}"]}})
	if code != http.StatusBadRequest || !strings.Contains(body, `id="e-ctl"`) || !strings.Contains(body, `value="Magazzino"`) {
		t.Fatalf("bad controller id: %d\n%s", code, clip(body))
	}
	if ds, _ := e.st.ListDoors(ctx, 0); len(ds) != 1 {
		t.Fatalf("a bad door was stored: %v", ds)
	}
	code, _, loc := c.post("/doors", url.Values{"name": {"Magazzino"}, "location": {"Piano terra"}, "controller_id": {"magazzino"}, "site_id": {ids["{site}"]}})
	if code != http.StatusSeeOther {
		t.Fatalf("create: %d", code)
	}
	d, err := e.st.GetDoorByControllerID(ctx, "magazzino")
	if err != nil || d.Location != "Piano terra" {
		t.Fatalf("stored door %+v %v", d, err)
	}
	c.mustGet(loc, "Varco creato", "Magazzino")
	if err := e.st.SetDoorMode(ctx, admin.Actor{Name: "test"}, d.ID, varco.ModeLockdown); err != nil {
		t.Fatal(err)
	}
	c.mustGet(fmt.Sprintf("/doors/%d/edit", d.ID), `value="magazzino"`)
	code, _, _ = c.post(fmt.Sprintf("/doors/%d", d.ID), url.Values{"name": {"Magazzino nord"}, "controller_id": {"magazzino"}, "site_id": {ids["{site}"]}})
	if code != http.StatusSeeOther {
		t.Fatalf("edit: %d", code)
	}
	if d, _ = e.st.GetDoor(ctx, d.ID); d.Name != "Magazzino nord" || d.Location != "" || d.Mode != varco.ModeLockdown {
		t.Fatalf("edited door %+v", d)
	}
	// A viewer cannot create doors.
	v := e.as(auth.RoleViewer)
	v.get("/doors")
	if code, _, _ := v.post("/doors", url.Values{"name": {"X"}, "controller_id": {"x"}, "site_id": {ids["{site}"]}}); code != http.StatusForbidden {
		t.Fatalf("viewer create: %d", code)
	}
}

// facEvents stores n granted events at door, one a minute before t0,
// and a denied one for person at t0.
func facEvents(t *testing.T, e *env, door, person int64, t0 time.Time, n int) {
	t.Helper()
	evs := []admin.Event{{DoorID: door, Seq: 1 << 20, Time: t0, Kind: varco.EventDenied, Reason: varco.ReasonLockdown, PersonID: &person, NIS: "000000000009"}}
	for i := range n {
		evs = append(evs, admin.Event{DoorID: door, Seq: uint64(i + 1), Time: t0.Add(-time.Duration(i+1) * time.Minute), Kind: varco.EventGranted, NIS: "000000000001", ClockTrusted: true})
	}
	if got, err := e.st.InsertEvents(t.Context(), evs); err != nil || got != len(evs) {
		t.Fatalf("insert: %d %v", got, err)
	}
}

// TestFacEvents: filters by person (id and search), result, reason and
// time range in the site's zone, pages by the store's cursor without
// repeating or skipping, and names people and doors.
func TestFacEvents(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	personID, doorID, _, _ := facSampleIDs(t, ids)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // 10:00 in Rome
	facEvents(t, e, doorID, personID, t0, 120)
	c := e.as(auth.RoleViewer)
	// By person, by search: the one denial, with the person's name.
	for _, q := range []string{"person=" + ids["{person}"], "person=rossi"} {
		body := c.mustGet("/events?"+q, "Anna Rossi", "varco in blocco", "Ingresso")
		if n := strings.Count(body, `<tr class="`); n != 1 {
			t.Errorf("%s: %d rows", q, n)
		}
	}
	c.mustGet("/events?person=nessuno", "Nessuna persona corrisponde")
	// Result and reason.
	body := c.mustGet("/events?result=denied&reason=lockdown")
	if n := strings.Count(body, `<tr class="denied"`); n != 1 || strings.Contains(body, `<tr class="granted"`) {
		t.Errorf("denied filter: %d denied rows", n)
	}
	// Time range in the site's zone: 09:55 to 10:00 Rome is 5 granted
	// events (08:55..08:59 UTC), the end exclusive.
	body = c.mustGet("/events?from=2026-03-02T09:55&to=2026-03-02T10:00")
	if n := strings.Count(body, `<tr class="granted"`); n != 5 || strings.Contains(body, `<tr class="denied"`) {
		t.Errorf("time range: %d granted rows\n%s", n, clip(body))
	}
	code, body, _ := c.get("/events?from=2026-03-02T10:00&to=2026-03-02T09:00")
	if code != http.StatusBadRequest || !strings.Contains(body, `id="e-to"`) {
		t.Errorf("to before from: %d", code)
	}
	// Paging: 121 events in pages of 50, each once.
	seen := map[string]bool{}
	next, pages := "/events?door="+ids["{door}"], 0
	timeRE := `<tr class="`
	for next != "" {
		pages++
		body := c.mustGet(next)
		for _, row := range strings.Split(body, timeRE)[1:] {
			cell := row[strings.Index(row, "<td>")+4:]
			cell = cell[:strings.Index(cell, "<")]
			if seen[cell] {
				t.Fatalf("page %d repeats %s", pages, cell)
			}
			seen[cell] = true
		}
		next = ""
		if i := strings.Index(body, `rel="next"`); i >= 0 {
			h := body[:i]
			h = h[strings.LastIndex(h, `href="`)+6:]
			next = strings.ReplaceAll(h[:strings.Index(h, `"`)], "&amp;", "&")
			if !strings.Contains(next, "door="+ids["{door}"]) {
				t.Fatalf("next page lost the filter: %s", next)
			}
		}
	}
	if pages != 3 || len(seen) != 121 {
		t.Fatalf("%d pages, %d distinct events", pages, len(seen))
	}
	// HR cannot read the log.
	if code, _, _ := e.as(auth.RoleHR).get("/events"); code != http.StatusForbidden {
		t.Fatalf("HR /events: %d", code)
	}
}

// TestFacEventsCSV: the export holds the filtered events, all pages,
// and is refused to the viewer (no events.export).
func TestFacEventsCSV(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	personID, doorID, _, _ := facSampleIDs(t, ids)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	facEvents(t, e, doorID, personID, t0, 1500)
	c := e.as(auth.RoleFacilities)
	c.mustGet("/events?result=granted", `href="/events.csv?result=granted"`)
	code, body, _ := c.get("/events.csv?result=granted")
	if code != http.StatusOK {
		t.Fatalf("export: %d", code)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1501 || rows[0][0] != "time" || rows[1][4] != "granted" || rows[1][2] != "Ingresso" {
		t.Fatalf("%d rows; first %v %v", len(rows), rows[0], rows[1])
	}
	code, body, _ = c.get("/events.csv?person=" + ids["{person}"])
	rows, _ = csv.NewReader(strings.NewReader(body)).ReadAll()
	if code != http.StatusOK || len(rows) != 2 || rows[1][5] != "lockdown" || rows[1][7] != ids["{person}"] {
		t.Fatalf("person export: %d %v", code, rows)
	}
	if code, _, _ := e.as(auth.RoleViewer).get("/events.csv"); code != http.StatusForbidden {
		t.Fatalf("viewer export: %d", code)
	}
}

// TestFacSchedules: create and edit a schedule through the day fields;
// a bad window names its day and changes nothing; a schedule in use is
// not deleted, an unused one is.
func TestFacSchedules(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	_, _, schedID, _ := facSampleIDs(t, ids)
	ctx := t.Context()
	c := e.as(auth.RoleFacilities)
	c.mustGet("/schedules", "Uffici", "08:00-18:00", "Natale")
	c.get("/schedules/new")
	code, _, loc := c.post("/schedules", url.Values{"name": {"Turni"}, "days[1]": {"14:00-18:00, 08:00-12:00"}, "days[6]": {"9:00-24:00"}})
	if code != http.StatusSeeOther {
		t.Fatalf("create: %d", code)
	}
	scheds, _ := e.st.ListSchedules(ctx)
	var s admin.Schedule
	for _, x := range scheds {
		if x.Name == "Turni" {
			s = x
		}
	}
	if fmt.Sprint(s.Days[1]) != "[08:00-12:00 14:00-18:00]" || fmt.Sprint(s.Days[6]) != "[09:00-24:00]" || len(s.Days[0]) != 0 {
		t.Fatalf("stored %+v", s.Days)
	}
	c.mustGet(loc, "Orario creato", `value="08:00-12:00, 14:00-18:00"`, `data-day="1"`)
	// Bad windows: text that is not a window, and overlapping windows.
	for _, tc := range []struct{ day, text, want string }{
		{"days[2]", "8-12", "non è una fascia"},
		{"days[3]", "08:00-12:00, 11:00-13:00", "non sovrapporsi"},
		{"days[4]", "12:00-08:00", "finire dopo"},
	} {
		code, body, _ := c.post(fmt.Sprintf("/schedules/%d", s.ID), url.Values{"name": {"Turni"}, tc.day: {tc.text}})
		day := tc.day[5:6]
		if code != http.StatusBadRequest || !strings.Contains(body, `id="e-d`+day+`"`) || !strings.Contains(body, tc.want) {
			t.Errorf("%s %q: %d\n%s", tc.day, tc.text, code, clip(body))
		}
	}
	if got, _ := e.st.GetSchedule(ctx, s.ID); fmt.Sprint(got.Days) != fmt.Sprint(s.Days) {
		t.Fatalf("a bad edit changed the schedule: %v", got.Days)
	}
	code, _, _ = c.post(fmt.Sprintf("/schedules/%d", s.ID), url.Values{"name": {"Turni"}, "days[0]": {"10:00-11:00"}, "open_on_holidays": {"1"}})
	if got, _ := e.st.GetSchedule(ctx, s.ID); code != http.StatusSeeOther || fmt.Sprint(got.Days[0]) != "[10:00-11:00]" || len(got.Days[1]) != 0 || !got.OpenOnHolidays {
		t.Fatalf("edit: %d %+v", code, got)
	}
	// The sample schedule is used by the sample group.
	code, body, _ := c.post(fmt.Sprintf("/schedules/%d/delete", schedID), nil)
	if code != http.StatusConflict || !strings.Contains(body, "usato da almeno un gruppo") {
		t.Fatalf("delete in use: %d", code)
	}
	if _, err := e.st.GetSchedule(ctx, schedID); err != nil {
		t.Fatal("the schedule in use was deleted")
	}
	if code, _, _ = c.post(fmt.Sprintf("/schedules/%d/delete", s.ID), nil); code != http.StatusSeeOther {
		t.Fatalf("delete: %d", code)
	}
	if _, err := e.st.GetSchedule(ctx, s.ID); err == nil {
		t.Fatal("not deleted")
	}
	// HR reads schedules but cannot change them.
	hr := e.as(auth.RoleHR)
	body = hr.mustGet(fmt.Sprintf("/schedules/%d", schedID), "<fieldset disabled>")
	if code, _, _ := hr.post(fmt.Sprintf("/schedules/%d", schedID), url.Values{"name": {"X"}}); code != http.StatusForbidden {
		t.Fatalf("HR edit: %d", code)
	}
	_ = body
}

// TestFacHolidays: add (a bad date names the field) and delete.
func TestFacHolidays(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	ctx := t.Context()
	c := e.as(auth.RoleAdmin)
	c.get("/schedules")
	code, body, _ := c.post("/holidays", url.Values{"date": {"2026-02-30"}, "name": {"Mai"}, "site_id": {ids["{site}"]}})
	if code != http.StatusBadRequest || !strings.Contains(body, `id="e-date"`) || !strings.Contains(body, `value="Mai"`) {
		t.Fatalf("bad date: %d\n%s", code, clip(body))
	}
	code, _, loc := c.post("/holidays", url.Values{"date": {"2026-08-15"}, "name": {"Ferragosto"}, "site_id": {ids["{site}"]}})
	if code != http.StatusSeeOther {
		t.Fatalf("add: %d", code)
	}
	c.mustGet(loc, "Giorno festivo aggiunto", "Ferragosto")
	hols, _ := e.st.ListHolidays(ctx, 0)
	if len(hols) != 2 {
		t.Fatalf("holidays %v", hols)
	}
	// The same date again is a conflict, shown on the page.
	if code, _, _ := c.post("/holidays", url.Values{"date": {"2026-08-15"}, "site_id": {ids["{site}"]}}); code != http.StatusConflict {
		t.Fatalf("duplicate: %d", code)
	}
	var id int64
	for _, h := range hols {
		if h.Name == "Ferragosto" {
			id = h.ID
		}
	}
	if code, _, _ := c.post(fmt.Sprintf("/holidays/%d/delete", id), nil); code != http.StatusSeeOther {
		t.Fatalf("delete: %d", code)
	}
	if _, err := e.st.GetHoliday(ctx, id); err == nil {
		t.Fatal("not deleted")
	}
	v := e.as(auth.RoleFacilities)
	v.get("/schedules")
	if code, _, _ := v.post("/holidays/"+ids["{holiday}"]+"/delete", nil); code != http.StatusSeeOther {
		t.Fatalf("facilities delete: %d", code)
	}
}

// TestFacGroups: create and edit a group through the multi-select, the
// store changes, facilities reads but cannot edit, and "which doors can
// this person open" follows the groups.
func TestFacGroups(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	personID, doorID, schedID, groupID := facSampleIDs(t, ids)
	ctx := t.Context()
	sys := admin.Actor{Name: "test"}
	sites, _ := e.st.ListSites(ctx)
	d2 := admin.Door{SiteID: sites[0].ID, Name: "Magazzino", ControllerID: "magazzino"}
	if err := e.st.CreateDoor(ctx, sys, &d2); err != nil {
		t.Fatal(err)
	}
	c := e.as(auth.RoleHR)
	c.mustGet("/groups", "Staff", "Uffici")
	c.get("/groups/new")
	code, body, _ := c.post("/groups", url.Values{"name": {""}, "door_ids": {fmt.Sprint(d2.ID)}})
	if code != http.StatusBadRequest || !strings.Contains(body, `id="e-name"`) {
		t.Fatalf("no name: %d", code)
	}
	code, _, loc := c.post("/groups", url.Values{"name": {"Magazzinieri"}, "door_ids": {fmt.Sprint(d2.ID)}, "person_ids": {fmt.Sprint(personID)}, "lockdown_override": {"1"}})
	if code != http.StatusSeeOther {
		t.Fatalf("create: %d", code)
	}
	groups, _ := e.st.ListGroups(ctx)
	var g admin.Group
	for _, x := range groups {
		if x.Name == "Magazzinieri" {
			g = x
		}
	}
	if fmt.Sprint(g.DoorIDs) != fmt.Sprint([]int64{d2.ID}) || fmt.Sprint(g.PersonIDs) != fmt.Sprint([]int64{personID}) || !g.LockdownOverride || g.ScheduleID != nil {
		t.Fatalf("stored %+v", g)
	}
	c.mustGet(loc, "Gruppo creato", "Rossi Anna")
	// Edit: both doors, the schedule, nobody.
	code, _, _ = c.post(fmt.Sprintf("/groups/%d", g.ID), url.Values{"name": {"Magazzinieri"}, "door_ids": {fmt.Sprint(d2.ID), fmt.Sprint(doorID)}, "schedule_id": {fmt.Sprint(schedID)}})
	if code != http.StatusSeeOther {
		t.Fatalf("edit: %d", code)
	}
	if g, _ = e.st.GetGroup(ctx, g.ID); len(g.DoorIDs) != 2 || len(g.PersonIDs) != 0 || g.ScheduleID == nil || *g.ScheduleID != schedID || g.LockdownOverride {
		t.Fatalf("edited %+v", g)
	}
	// Which doors: the sample person opens Ingresso through Staff only.
	f := e.as(auth.RoleFacilities)
	body = f.mustGet("/access?person="+ids["{person}"], "Anna", "Ingresso", "Staff", "Nessuna tessera attiva")
	if strings.Contains(body, "Magazzino<") {
		t.Error("Magazzino listed without a group giving it")
	}
	f.mustGet("/access?person=rossi", "Staff")
	// Facilities reads groups, cannot edit them.
	f.mustGet(fmt.Sprintf("/groups/%d", groupID), "Staff", "<fieldset disabled")
	if code, _, _ := f.post(fmt.Sprintf("/groups/%d", groupID), url.Values{"name": {"X"}}); code != http.StatusForbidden {
		t.Fatalf("facilities edit: %d", code)
	}
	// Delete.
	c.get("/groups")
	if code, _, _ := c.post(fmt.Sprintf("/groups/%d/delete", g.ID), nil); code != http.StatusSeeOther {
		t.Fatalf("delete: %d", code)
	}
	if _, err := e.st.GetGroup(ctx, g.ID); err == nil {
		t.Fatal("not deleted")
	}
}

// TestFacStats: the chart and table count granted and denied entries per
// door and day in the site's zone, over the last 14 days only.
func TestFacStats(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	personID, doorID, _, _ := facSampleIDs(t, ids)
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	e.panel.o.Now = func() time.Time { return now }
	var evs []admin.Event
	add := func(at time.Time, k varco.EventKind, n int) {
		for range n {
			evs = append(evs, admin.Event{DoorID: doorID, Seq: uint64(len(evs) + 1), Time: at, Kind: k, PersonID: &personID})
		}
	}
	add(now, varco.EventGranted, 3)
	add(now, varco.EventDenied, 2)
	add(time.Date(2026, 3, 9, 23, 30, 0, 0, time.UTC), varco.EventGranted, 4) // 10 March 00:30 in Rome
	add(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), varco.EventDenied, 1)
	add(time.Date(2026, 2, 20, 10, 0, 0, 0, time.UTC), varco.EventGranted, 9) // too old
	add(now, varco.EventForced, 5)                                            // neither
	if _, err := e.st.InsertEvents(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	c := e.as(auth.RoleViewer)
	body := c.mustGet("/stats", "7 consentiti, 3 negati", "<svg", `class="bar-granted"`,
		"<th scope=\"row\">10/03/2026</th><td>7</td><td>2</td>",
		"<th scope=\"row\">02/03/2026</th><td>0</td><td>1</td>",
		"<th scope=\"row\">25/02/2026</th>")
	if strings.Contains(body, "24/02/2026") || strings.Contains(body, "style=") {
		t.Error("a 15th day, or an inline style")
	}
	// The tallest bar is the scale: 7 granted on the 10th fills it.
	if !strings.Contains(body, `y="0" width="10" height="100"`) {
		t.Errorf("no full-height bar\n%s", clip(body[strings.Index(body, "<svg"):]))
	}
	c.mustGet("/events", `href="/stats"`)
}
