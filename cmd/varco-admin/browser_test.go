package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/pcsc/pcscdtest"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
)

// Passwords of the panel users the browser tests create.
const (
	hrPassword         = "risorse umane 2024 e2e"
	facilitiesPassword = "servizi generali 2024 e2e"
	viewerPassword     = "solo lettura 2024 e2e"
)

// browserSite is the site of TestBrowserJourneys: the e2e site (the
// varco-admin binary on SQLite with its embedded broker, doors A and B
// provisioned) with its doors, users and people made through the API.
type browserSite struct {
	*site
	siteID  int64
	cards   map[string]*virtcie.Card // by first name
	group   int64                    // "Tutti": both doors
	station *proc                    // varco enroll, while it runs
}

// TestBrowserJourneys drives the panel with Debian's Chromium (chromedp,
// headless) against real processes: the varco-admin binary (SQLite, its
// embedded broker), two varco-door processes on the two vpcd readers of
// a private pcscd, an enrolment station ('varco enroll') and virtual
// CIEs. Each journey is what a person does in the panel, through its
// forms and links, and is checked on the page and in the system behind
// it:
//
//   - HR signs in, imports a CSV (the preview names the bad row; the
//     fixed file imports) and sees the people in the list;
//   - HR enrols a virtual card at the enrolment station: the result
//     appears live with the card's NIS, and the card is stored; a clone
//     is refused with the reason in plain words. HR then adds the person
//     to a group through its form. The
//     station reads door B's reader, so this runs before door B starts
//     (pcscdtest gives two vpcd readers);
//   - facilities signs in, opens /doors, a card is tapped at door A and
//     the entry appears in the live feed without a reload;
//   - facilities filters the entry log by door and result and exports it
//     as CSV with the browser's session;
//   - facilities locks door A down (confirming the dialog): the next tap
//     is denied with reason lockdown at the door and in the live feed;
//   - a viewer gets the 403 page for /people and no HR links.
//
// Full-page screenshots of the main pages go to $VARCO_ARTEFACTS (default
// testdata/screenshots-out); VARCO_DOCS_SCREENSHOTS=1 also rewrites the
// README's docs/screenshots. Without Chromium or pcscd + vpcd the test is
// skipped (fails under CI=true); -short skips it. It takes about 20 s.
func TestBrowserJourneys(t *testing.T) {
	if testing.Short() {
		t.Skip("browser journeys: several processes and a browser")
	}
	findChromium(t) // skip early, before building anything
	start := time.Now()
	pd := pcscdtest.Start(t)
	bins := buildAll(t)
	bs := setUpBrowserSite(t, pd, bins)
	b := startChromium(t, bs.admin.base)
	t.Logf("site and browser ready after %v", time.Since(start).Round(time.Millisecond))

	step := func(name string, f func()) {
		t.Helper()
		began := time.Now()
		f()
		t.Logf("%s: %v (total %v)", name, time.Since(began).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	}
	hr := b.newUser(t, "hr")
	step("HR: login and CSV import", func() { bs.hrImport(hr) })
	step("HR: enrol at the station", func() { bs.hrEnrol(hr) })
	step("doors start", func() { bs.startDoors() })
	fac := b.newUser(t, "facilities")
	step("facilities: live feed", func() { bs.facilitiesLiveFeed(fac) })
	step("facilities: entry log and CSV", func() { bs.facilitiesLog(fac) })
	step("facilities: lockdown", func() { bs.facilitiesLockdown(fac) })
	step("viewer: no HR pages", func() { bs.viewerNoHR(b.newUser(t, "viewer")) })
	step("screenshots", func() { bs.screenshots(b.newUser(t, "admin"), fac) })
}

// setUpBrowserSite starts the e2e site and gives it what the journeys
// start from: the doors, the panel users, Bruno (a card enrolled
// through the API) and the group "Tutti" of both doors.
func setUpBrowserSite(t *testing.T, pd *pcscdtest.Daemon, bins binaries) *browserSite {
	pki := testpki.Committed(t)
	mk := func(nis string) *virtcie.Card {
		c, err := virtcie.New(virtcie.Options{NIS: nis, PKI: pki, Gen: reader.Gen2022})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	bs := &browserSite{site: setUpSite(t, pd, bins, nil), cards: map[string]*virtcie.Card{
		"Anna":  mk("100000000021"), // enrolled in the browser
		"Bruno": mk("100000000022"), // enrolled through the API
	}}
	a := bs.admin
	var sites []struct {
		ID int64 `json:"id"`
	}
	a.must("GET", "/sites", nil, http.StatusOK, &sites)
	bs.siteID = sites[0].ID
	for _, d := range []struct {
		door *doorProc
		name string
	}{{bs.a, "Ingresso principale"}, {bs.b, "Magazzino"}} {
		var door apiDoor
		a.must("POST", "/doors", map[string]any{"site_id": bs.siteID, "name": d.name, "controller_id": d.door.id}, http.StatusCreated, &door)
		d.door.apiID = door.ID
	}
	for _, u := range []struct{ name, role, password string }{
		{"giulia.hr", "hr", hrPassword},
		{"marco.servizi", "facilities", facilitiesPassword},
		{"ospite", "viewer", viewerPassword},
	} {
		a.must("POST", "/users", map[string]any{"username": u.name, "role": u.role, "password": u.password}, http.StatusCreated, nil)
	}
	var bruno struct {
		ID int64 `json:"id"`
	}
	a.must("POST", "/people", map[string]any{"employee_no": "B001", "name": "Bruno", "surname": "Neri", "department": "Logistica", "active": true}, http.StatusCreated, &bruno)
	c := bs.cards["Bruno"]
	a.must("POST", "/cards", map[string]any{"person_id": bruno.ID, "nis": c.NIS(), "public_key": c.KeyFileTLV(), "sod": c.SOD()}, http.StatusCreated, nil)
	var g struct {
		ID int64 `json:"id"`
	}
	a.must("POST", "/groups", map[string]any{"name": "Tutti", "schedule_id": nil, "door_ids": []int64{bs.a.apiID, bs.b.apiID}, "person_ids": []int64{bruno.ID}}, http.StatusCreated, &g)
	bs.group = g.ID
	return bs
}

// personID finds a person by employee number through the API.
func (bs *browserSite) personID(employeeNo string) int64 {
	bs.t.Helper()
	var list struct {
		People []struct {
			ID         int64  `json:"id"`
			EmployeeNo string `json:"employee_no"`
		} `json:"people"`
	}
	bs.admin.must("GET", "/people?q="+employeeNo, nil, http.StatusOK, &list)
	for _, p := range list.People {
		if p.EmployeeNo == employeeNo {
			return p.ID
		}
	}
	bs.t.Fatalf("no person with employee number %s", employeeNo)
	return 0
}

// The CSV files HR imports: the first has a row without a surname, the
// second is the corrected file.
const (
	importBad = "employee_no;name;surname;department;email;active\n" +
		"A001;Anna;Rossi;Amministrazione;anna.rossi@example.it;sì\n" +
		"A002;Carla;;Amministrazione;carla@example.it;sì\n" +
		"A003;Dario;Bianchi;Produzione;;sì\n"
	importGood = "employee_no;name;surname;department;email;active\n" +
		"A001;Anna;Rossi;Amministrazione;anna.rossi@example.it;sì\n" +
		"A002;Carla;Verdi;Amministrazione;carla@example.it;sì\n" +
		"A003;Dario;Bianchi;Produzione;;sì\n"
)

// hrImport: HR signs in through the form, previews a CSV with a bad row
// (the row is named, nothing is imported), then imports the fixed file
// and finds the people in the list.
func (bs *browserSite) hrImport(u *user) {
	t := u.t
	u.mustOpen("/")
	if !strings.Contains(u.location(), "/login") {
		t.Fatalf("an anonymous visitor at / is at %s, want the login page", u.location())
	}
	u.shot("login")
	u.login("giulia.hr", hrPassword)
	if !strings.HasSuffix(strings.SplitN(u.location(), "?", 2)[0], "/people") {
		t.Errorf("HR's home is %s, want /people", u.location())
	}

	dir := t.TempDir()
	bad, good := filepath.Join(dir, "dipendenti.csv"), filepath.Join(dir, "dipendenti-corretto.csv")
	os.WriteFile(bad, []byte(importBad), 0o600)
	os.WriteFile(good, []byte(importGood), 0o600)
	form := `form[action="/people/import"]`

	u.mustOpen("/people/import")
	u.setFile(form+` input[name="file"]`, bad)
	if code := u.submit(form + ` button[type="submit"]`); code != http.StatusOK && code != http.StatusUnprocessableEntity && code != http.StatusBadRequest {
		t.Fatalf("import preview of the bad file: status %d", code)
	}
	if n := u.count("tr.row-error"); n != 1 {
		t.Fatalf("the preview of the bad file shows %d row errors, want 1:\n%s", n, u.pageText("main"))
	}
	if row := u.text("tr.row-error"); !strings.Contains(row, "3") || !strings.Contains(row, "surname") {
		t.Errorf("the row error %q does not name row 3 and the surname column", row)
	}
	if !strings.Contains(u.text("main"), "Errori nel file: 1. Niente è stato importato") {
		t.Errorf("the preview of the bad file does not say nothing was imported:\n%s", u.pageText("main"))
	}
	if u.has(`form[action="/people/import/confirm"]`) {
		t.Error("a file with errors can be confirmed")
	}
	u.shot("import-errors")
	var list struct {
		Total int `json:"total"`
	}
	bs.admin.must("GET", "/people?q=A00", nil, http.StatusOK, &list)
	if list.Total != 0 {
		t.Fatalf("the previewed bad file imported %d people", list.Total)
	}

	u.setFile(form+` input[name="file"]`, good)
	u.submit(form + ` button[type="submit"]`)
	u.waitFor(`form[action="/people/import/confirm"] button[type="submit"]`)
	if u.has("tr.row-error") {
		t.Fatalf("the fixed file still shows errors:\n%s", u.pageText("main"))
	}
	for _, name := range []string{"Anna", "Carla", "Dario"} {
		if !strings.Contains(u.text("main"), name) {
			t.Errorf("the preview does not list %s", name)
		}
	}
	u.shot("import-preview")
	u.submit(`form[action="/people/import/confirm"] button[type="submit"]`)
	bs.admin.must("GET", "/people?q=A00", nil, http.StatusOK, &list)
	if list.Total != 3 {
		t.Fatalf("after the import the API finds %d people A00x, want 3", list.Total)
	}

	u.mustOpen("/people")
	for _, name := range []string{"Rossi", "Verdi", "Bianchi", "Neri"} {
		if !strings.Contains(u.text("main"), name) {
			t.Errorf("the people list does not show %s:\n%s", name, u.pageText("main"))
		}
	}
	u.shot("people")
}

// hrEnrol: with the station on door B's reader, HR enrols Anna's card:
// picks Anna and the station, the page says to tap the card, the card
// is presented over vpcd, and the verified result (the NIS) appears
// without a reload; the card is stored for Anna.
func (bs *browserSite) hrEnrol(u *user) {
	t := u.t
	bs.startStation("desk-1", bs.pd.ReaderNames()[1])
	anna := bs.personID("A001")
	// From the menu: find Anna, pick her, name the station.
	u.mustOpen("/people")
	u.submit(`nav a[href="/enrol"]`)
	u.fill(`form[action="/enrol"] input[name="q"]`, "Rossi")
	u.submit(`form[action="/enrol"] button[type="submit"]`)
	u.submit(fmt.Sprintf(`a[href="/enrol?person=%d"]`, anna))
	form := `form[action="/enrol"][method="post"]`
	u.fill(form+` input[name="station"]`, "desk-1")
	u.shot("enrol")
	u.submit(form + ` button[type="submit"]`)
	u.waitFor(`#enrol-session[data-state="waiting"]`)
	if !strings.Contains(u.text("main"), "Appoggia ora la tessera sul lettore della postazione.") {
		t.Errorf("the waiting enrolment page does not ask for the card:\n%s", u.pageText("main"))
	}
	u.mark()
	conn := pcscdtest.InsertCard(t, bs.b.vpcd, bs.cards["Anna"])
	u.waitFor(`#enrol-session[data-state="verified"]`)
	u.waitText("#enrol-session", bs.cards["Anna"].NIS())
	u.checkMark("the enrolment result")
	u.shot("enrol-result")
	conn.Close()
	bs.pd.WaitEmpty(t, 10*time.Second)
	var cards []struct {
		NIS    string `json:"nis"`
		Status string `json:"status"`
	}
	bs.admin.must("GET", fmt.Sprintf("/people/%d/cards", anna), nil, http.StatusOK, &cards)
	if len(cards) != 1 || cards[0].NIS != bs.cards["Anna"].NIS() {
		t.Fatalf("Anna's cards after the enrolment: %+v", cards)
	}

	// A clone of Anna's card (her NIS and EF.SOD, another key) presented
	// for Carla is refused, in plain words, and nothing is stored.
	clone, err := virtcie.NewClone(bs.cards["Anna"])
	if err != nil {
		t.Fatal(err)
	}
	carla := bs.personID("A002")
	u.mustOpen(fmt.Sprintf("/enrol?person=%d", carla))
	u.fill(form+` input[name="station"]`, "desk-1")
	u.submit(form + ` button[type="submit"]`)
	u.waitFor(`#enrol-session[data-state="waiting"]`)
	conn = pcscdtest.InsertCard(t, bs.b.vpcd, clone)
	u.waitFor(`#enrol-session[data-state="refused"]`)
	u.waitText("#enrol-session", "Possibile clone: la tessera non ha firmato la sfida con la propria chiave.")
	u.shot("enrol-refused")
	conn.Close()
	bs.pd.WaitEmpty(t, 10*time.Second)
	bs.admin.must("GET", fmt.Sprintf("/people/%d/cards", carla), nil, http.StatusOK, &cards)
	if len(cards) != 0 {
		t.Fatalf("Carla's cards after a refused clone: %+v", cards)
	}
	bs.stopStation()

	u.mustOpen(fmt.Sprintf("/people/%d", anna))
	if !strings.Contains(u.text("main"), bs.cards["Anna"].NIS()) {
		t.Errorf("Anna's page does not show her card:\n%s", u.pageText("main"))
	}
	u.shot("person")
	// HR gives Anna both doors: she joins the group "Tutti".
	u.mustOpen("/groups")
	u.submit(fmt.Sprintf(`a[href="/groups/%d"]`, bs.group))
	u.check(fmt.Sprintf(`form[action="/groups/%d"] input[name="person_ids"][value="%d"]`, bs.group, anna))
	u.submit(fmt.Sprintf(`form[action="/groups/%d"] button[type="submit"]`, bs.group))
	var g struct {
		PersonIDs []int64 `json:"person_ids"`
	}
	bs.admin.must("GET", fmt.Sprintf("/groups/%d", bs.group), nil, http.StatusOK, &g)
	if !slices.Contains(g.PersonIDs, anna) || len(g.PersonIDs) != 2 {
		t.Fatalf("group Tutti after HR added Anna: people %v, want Bruno and Anna (%d)", g.PersonIDs, anna)
	}
	if !strings.Contains(u.text("main"), "Rossi") {
		t.Errorf("the group page does not list Anna among its members:\n%s", u.pageText("main"))
	}
	u.shot("group")
}

// startStation provisions an enrolment station and runs 'varco enroll'
// on readerName until stopStation.
func (bs *browserSite) startStation(id, readerName string) {
	t := bs.t
	root := filepath.Dir(bs.admin.dataDir)
	out := filepath.Join(root, "station-"+id)
	logPath := filepath.Join(root, "varco-station.log")
	showLogOnFailure(t, "varco enroll", logPath)
	p := startProc(t, "varco station provision", logPath, os.Environ(), bs.bins.varco,
		"station", "provision", "--data-dir", bs.admin.dataDir, "--station", id, "--broker", bs.broker, "-out", out)
	<-p.done
	if p.err != nil {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("varco station provision: %v\n%s", p.err, b)
	}
	bs.station = startProc(t, "varco enroll", logPath, os.Environ(), bs.bins.varco, "enroll",
		"--broker", bs.broker, "--cert", filepath.Join(out, id+".crt"), "--key", filepath.Join(out, id+".key"), "--reader", readerName)
	eventually(t, hangGuard, "the station is ready", func() bool {
		if !bs.station.running() {
			t.Fatalf("varco enroll exited: %v", bs.station.err)
		}
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "ready")
	})
}

func (bs *browserSite) stopStation() {
	bs.station.stop()
	bs.station = nil
}

// startDoors starts doors A and B and waits until both hold the admin's
// revision. Each door's HTTP port is picked again just before: the one
// chosen at provisioning has been free for the HR journeys' seconds, long
// enough for a browser connection to take it as its local port.
func (bs *browserSite) startDoors() {
	for _, d := range []*doorProc{bs.a, bs.b} {
		cfg, err := os.ReadFile(d.cfgPath)
		if err != nil {
			bs.t.Fatal(err)
		}
		old := fmt.Sprintf("metrics_addr = %q", strings.TrimPrefix(d.base, "http://"))
		if !strings.Contains(string(cfg), old) {
			bs.t.Fatalf("%s has no %s", d.cfgPath, old)
		}
		d.base = fmt.Sprintf("http://127.0.0.1:%d", freePort(bs.t))
		cfg = []byte(strings.Replace(string(cfg), old, fmt.Sprintf("metrics_addr = %q", strings.TrimPrefix(d.base, "http://")), 1))
		if err := os.WriteFile(d.cfgPath, cfg, 0o600); err != nil {
			bs.t.Fatal(err)
		}
		d.start()
		bs.waitSynced(d)
	}
}

// facilitiesLiveFeed: facilities opens the doors page; Anna taps at door
// A and her entry appears in the live feed without a reload.
func (bs *browserSite) facilitiesLiveFeed(u *user) {
	t := u.t
	u.login("marco.servizi", facilitiesPassword)
	u.mustOpen("/doors")
	if !strings.Contains(u.text("main"), "Ingresso principale") {
		t.Fatalf("the doors page does not list door A:\n%s", u.pageText("main"))
	}
	// The live badge shows once the event stream is open.
	u.waitFor(`[data-live-badge]:not([hidden])`)
	u.mark()
	bs.a.tap(bs.pd, bs.cards["Anna"], "granted")
	u.waitText("#fac-feed", "Anna Rossi")
	u.checkMark("the live feed")
	if row := u.text("#fac-feed tr"); !strings.Contains(row, "Ingresso principale") || !strings.Contains(row, "accesso consentito") {
		t.Errorf("the newest feed row is %q, want Anna granted at Ingresso principale", row)
	}
	u.shot("doors")
}

// facilitiesLog: the entry log filtered by door and result, and its CSV
// export fetched with the browser's session.
func (bs *browserSite) facilitiesLog(u *user) {
	t := u.t
	// Bruno at door B: in the log, not in door A's.
	bs.b.tap(bs.pd, bs.cards["Bruno"], "granted")
	eventually(t, hangGuard, "Bruno's entry reaches the admin", func() bool {
		return countGranted(bs.admin.events(bs.b.apiID, ""), bs.cards["Bruno"].NIS()) == 1
	})
	u.submit(`nav a[href="/events"]`)
	if main := u.text("main"); !strings.Contains(main, "Anna Rossi") || !strings.Contains(main, "Bruno Neri") {
		t.Errorf("the unfiltered log does not show both entries:\n%s", main)
	}
	form := `form[action="/events"]`
	u.selectValue(form+` select[name="door"]`, fmt.Sprint(bs.a.apiID))
	u.selectValue(form+` select[name="result"]`, "granted")
	u.submit(form + ` button[type="submit"]`)
	main := u.text("main")
	if !strings.Contains(main, "Anna Rossi") || strings.Contains(main, "Bruno Neri") {
		t.Errorf("the log filtered on door A, granted shows:\n%s", main)
	}
	u.shot("events")

	href := u.attr(`a[href^="/events.csv"]`, "href")
	if !strings.Contains(href, fmt.Sprintf("door=%d", bs.a.apiID)) {
		t.Errorf("the export link %q does not keep the door filter", href)
	}
	code, typ, body := u.fetch(href)
	if code != http.StatusOK || !strings.HasPrefix(typ, "text/csv") {
		t.Fatalf("GET %s = %d %s", href, code, typ)
	}
	// A header and Anna's one entry.
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], bs.cards["Anna"].NIS()) || !strings.Contains(lines[1], "granted") {
		t.Errorf("the CSV export of door A, granted:\n%s", body)
	}
}

// facilitiesLockdown: facilities locks door A down from its page,
// accepting the confirmation; the door reports lockdown, Anna's next tap
// is denied with reason lockdown, and the feed on /doors shows it live.
func (bs *browserSite) facilitiesLockdown(u *user) {
	t := u.t
	u.mustOpen(fmt.Sprintf("/doors/%d", bs.a.apiID))
	form := fmt.Sprintf(`form[action="/doors/%d/mode"]:has(input[name="mode"][value="lockdown"])`, bs.a.apiID)
	if !u.has(form + "[data-confirm]") {
		t.Errorf("the lockdown form asks for no confirmation")
	}
	u.submit(form + ` button[type="submit"]`)
	if d := u.dialogs(); len(d) != 1 || !strings.Contains(d[0], "Ingresso principale") {
		t.Errorf("confirmations asked before the lockdown: %q, want one naming the door", d)
	}
	// The door applies the command and reports its mode: the page shows
	// it live.
	u.waitText(`[data-door] [data-field="mode"]`, "blocco")
	u.mustOpen("/doors")
	u.waitFor(`[data-live-badge]:not([hidden])`)
	u.mark()
	bs.a.tap(bs.pd, bs.cards["Anna"], "lockdown")
	u.waitText("#fac-feed", "varco in blocco")
	u.checkMark("the live feed")
	if row := u.text("#fac-feed tr"); !strings.Contains(row, "Anna Rossi") || !strings.Contains(row, "accesso negato") {
		t.Errorf("the newest feed row is %q, want Anna denied", row)
	}
	u.shot("doors-lockdown")
}

// viewerNoHR: a viewer gets the 403 page for HR pages and sees no HR
// links.
func (bs *browserSite) viewerNoHR(u *user) {
	t := u.t
	u.login("ospite", viewerPassword)
	for _, path := range []string{"/people", "/people/import", "/enrol"} {
		if code := u.open(path); code != http.StatusForbidden {
			t.Errorf("viewer: GET %s = %d, want 403", path, code)
		}
		if txt := u.text("main"); !strings.Contains(txt, "Il tuo ruolo non permette di aprire questa pagina.") {
			t.Errorf("viewer: %s shows %q, not the 403 message", path, txt)
		}
	}
	u.mustOpen("/doors")
	for _, href := range []string{"/people", "/enrol", "/groups"} {
		if u.has(fmt.Sprintf(`nav a[href=%q]`, href)) {
			t.Errorf("viewer: the menu links to %s", href)
		}
	}
	if !u.has(`nav a[href="/events"]`) {
		t.Error("viewer: the menu has no entry log")
	}
	// The header's EN link switches the panel to English and back.
	u.submit(`a[href^="/lang/en"]`)
	if !strings.HasSuffix(u.location(), "/doors") || u.text(`nav a[href="/doors"]`) != "Doors" {
		t.Errorf("viewer: after EN, at %s the menu says %q", u.location(), u.text(`nav a[href="/doors"]`))
	}
	u.submit(`a[href^="/lang/it"]`)
	if got := u.text(`nav a[href="/doors"]`); got != "Varchi" {
		t.Errorf("viewer: after IT the menu says %q", got)
	}
	// Signing out ends the session: the doors page asks to sign in.
	u.submit(`form[action="/logout"] button[type="submit"]`)
	if code := u.open("/doors"); code != http.StatusOK || !u.has(`form[action="/login"]`) {
		t.Errorf("viewer: after signing out /doors gives %d at %s, not the login form", code, u.location())
	}
}

// screenshots of the remaining main pages: groups and schedules as
// facilities, the audit log as the administrator.
func (bs *browserSite) screenshots(admin, fac *user) {
	for _, p := range []struct{ path, name string }{{"/groups", "groups"}, {"/schedules", "schedules"}} {
		fac.mustOpen(p.path)
		fac.shot(p.name)
	}
	admin.login("admin", e2ePassword)
	admin.mustOpen("/audit")
	admin.shot("audit")
}
