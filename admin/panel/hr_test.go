package panel

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/wire"
)

func init() {
	hrPeople := []auth.Role{auth.RoleAdmin, auth.RoleHR, auth.RoleFacilities} // people.read
	hrWrite := []auth.Role{auth.RoleAdmin, auth.RoleHR}                       // people.write, enrol
	pageAccessTable = append(pageAccessTable,
		pageAccess{"/people", hrPeople},
		pageAccess{"/people/{person}", hrPeople},
		pageAccess{"/people/new", hrWrite},
		pageAccess{"/people/{person}/edit", hrWrite},
		pageAccess{"/people/import", hrWrite},
		pageAccess{"/enrol", hrWrite},
		// An unknown session is a page saying so, for the roles that may
		// enrol.
		pageAccess{"/enrol/{session}", hrWrite},
		pageAccess{"/enrol/{session}/result", hrWrite},
	)
}

var hrActor = admin.Actor{Name: "test"}

// hrTestKey is one 2048-bit RSA key as a card's public key file (DER
// PKCS#1), made once.
var hrTestKey = sync.OnceValue(func() []byte {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return x509.MarshalPKCS1PublicKey(&k.PublicKey)
})

// newCard is a valid card for person (not stored).
func hrCard(person int64, nis string) admin.Card {
	return admin.Card{PersonID: person, NIS: nis, PublicKey: hrTestKey(), SODGeneration: "gen3", DSSubject: "CN=DS Test,O=Ministero",
		Verification: "ok: test", EnrolledAt: time.Now(), EnrolledBy: "hr-user"}
}

func (e *env) hrPerson(no, name, surname, dept string, active bool) admin.Person {
	e.t.Helper()
	p := admin.Person{EmployeeNo: no, Name: name, Surname: surname, Department: dept, Active: active}
	if err := e.st.CreatePerson(e.t.Context(), hrActor, &p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func hrMustNot(t *testing.T, body string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(body, u) {
			t.Fatalf("unexpected %q in\n%s", u, clip(body))
		}
	}
}

func TestHRPeopleList(t *testing.T) {
	e := newEnv(t)
	e.hrPerson("E1", "Anna", "Rossi", "Vendite", true)
	e.hrPerson("E2", "Bruno", "Bianchi", "IT", false)
	e.hrPerson("E3", "Carla", "Verdi", "IT", true)
	hr := e.as(auth.RoleHR)
	hr.mustGet("/people", "Rossi", "Bianchi", "Verdi", `href="/people/new"`, `href="/people/import"`, "Persone trovate: 3")
	body := hr.mustGet("/people?q=ross", "Rossi", "Persone trovate: 1")
	hrMustNot(t, body, "Bianchi", "Verdi")
	body = hr.mustGet("/people?q=E2", "Bianchi")
	hrMustNot(t, body, "Rossi")
	body = hr.mustGet("/people?department=IT", "Bianchi", "Verdi")
	hrMustNot(t, body, "Rossi")
	body = hr.mustGet("/people?active=0", "Bianchi")
	hrMustNot(t, body, "Rossi", "Verdi")
	body = hr.mustGet("/people?active=1&department=IT", "Verdi", `<option value="1" selected>`)
	hrMustNot(t, body, "Bianchi")
	// Facilities read the list but get no create or import button.
	body = e.as(auth.RoleFacilities).mustGet("/people", "Rossi")
	hrMustNot(t, body, `href="/people/new"`, `href="/people/import"`)

	// Paging: 60 more people make two pages.
	var many []admin.Person
	for i := range 60 {
		many = append(many, admin.Person{EmployeeNo: fmt.Sprintf("P%03d", i), Name: "Nome", Surname: fmt.Sprintf("Zeta%03d", i), Active: true})
	}
	if _, _, err := e.st.ImportPeople(t.Context(), hrActor, many); err != nil {
		t.Fatal(err)
	}
	body = hr.mustGet("/people?q=zeta", "Pagina 1 di 2", `href="/people?page=2&amp;q=zeta"`, "Zeta000", "Zeta049")
	hrMustNot(t, body, "Zeta050")
	body = hr.mustGet("/people?q=zeta&page=2", "Pagina 2 di 2", "Zeta050", "Zeta059")
	hrMustNot(t, body, "Zeta049")
}

func TestHRPersonCreateEdit(t *testing.T) {
	e := newEnv(t)
	hr := e.as(auth.RoleHR)
	hr.mustGet("/people/new", `name="employee_no"`, `for="email"`)
	// A bad email and a missing name: the fields say so, nothing stored.
	code, body, _ := hr.post("/people", url.Values{"employee_no": {"E9"}, "surname": {"Neri"}, "email": {"not-an-email"}, "active": {"1"}})
	if code != http.StatusBadRequest {
		t.Fatalf("bad person: %d\n%s", code, clip(body))
	}
	for _, w := range []string{`id="email" name="email" type="email" value="not-an-email"`, `aria-describedby="email-err"`, `id="email-err"`, `id="name-err"`, `value="Neri"`} {
		if !strings.Contains(body, w) {
			t.Fatalf("bad person: no %q in\n%s", w, clip(body))
		}
	}
	if n, _ := e.st.CountPeople(t.Context(), admin.PersonFilter{}); n != 0 {
		t.Fatalf("a bad person was stored: %d people", n)
	}
	// A good one, with markup in the name.
	code, body, loc := hr.post("/people", url.Values{"employee_no": {"E9"}, "name": {"<script>alert(1)</script>"}, "surname": {"Neri"}, "email": {"g.neri@example.it"}, "active": {"1"}})
	if code != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", code, clip(body))
	}
	per, err := e.st.GetPersonByEmployeeNo(t.Context(), "E9")
	if err != nil || per.Name != "<script>alert(1)</script>" || !per.Active || per.Email != "g.neri@example.it" {
		t.Fatalf("stored %+v %v", per, err)
	}
	if want := fmt.Sprintf("/people/%d?done=done.person.created", per.ID); loc != want {
		t.Fatalf("create → %q, want %q", loc, want)
	}
	body = hr.mustGet(loc, "Persona creata.", "&lt;script&gt;alert(1)&lt;/script&gt;")
	hrMustNot(t, body, "<script>alert")
	body = hr.mustGet("/people?q=neri", "&lt;script&gt;")
	hrMustNot(t, body, "<script>alert")

	// Edit: department and inactive.
	hr.mustGet(fmt.Sprintf("/people/%d/edit", per.ID), `value="E9"`, `value="g.neri@example.it"`)
	code, body, _ = hr.post(fmt.Sprintf("/people/%d", per.ID), url.Values{"employee_no": {"E9"}, "name": {"Gino"}, "surname": {"Neri"}, "department": {"Logistica"}})
	if code != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", code, clip(body))
	}
	per, _ = e.st.GetPerson(t.Context(), per.ID)
	if per.Name != "Gino" || per.Department != "Logistica" || per.Active || per.Email != "" {
		t.Fatalf("after edit %+v", per)
	}
	// A duplicate employee number is shown on its field.
	other := e.hrPerson("E10", "Ugo", "Blu", "", true)
	code, body, _ = hr.post(fmt.Sprintf("/people/%d", other.ID), url.Values{"employee_no": {"E9"}, "name": {"Ugo"}, "surname": {"Blu"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "Questa matricola è già di un&#39;altra persona") || !strings.Contains(body, `id="employee_no-err"`) {
		t.Fatalf("duplicate: %d\n%s", code, clip(body))
	}
	if got, _ := e.st.GetPerson(t.Context(), other.ID); got.EmployeeNo != "E10" {
		t.Fatalf("duplicate stored: %+v", got)
	}
	// Facilities may not write.
	code, _, _ = e.as(auth.RoleFacilities).post("/people", url.Values{"employee_no": {"E11"}, "name": {"X"}, "surname": {"Y"}})
	if code != http.StatusForbidden {
		t.Fatalf("facilities create: %d", code)
	}
	if code, _, _ := hr.get("/people/999999"); code != http.StatusNotFound {
		t.Fatalf("missing person: %d", code)
	}
}

func TestHRPersonPage(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	ctx := t.Context()
	pid, _ := strconv.ParseInt(ids["{person}"], 10, 64)
	did, _ := strconv.ParseInt(ids["{door}"], 10, 64)
	card := hrCard(pid, "123456789012")
	if err := e.st.CreateCard(ctx, hrActor, &card); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.InsertEvents(ctx, []admin.Event{{DoorID: did, Seq: 1, Time: time.Now().Add(-time.Minute), ClockTrusted: true, Kind: varco.EventDenied, Reason: varco.ReasonOutsideSchedule, NIS: card.NIS}}); err != nil {
		t.Fatal(err)
	}
	path := "/people/" + ids["{person}"]
	body := e.as(auth.RoleHR).mustGet(path, "Anna Rossi", "E100", "123456789012", "gen3", "CN=DS Test,O=Ministero", "attiva", "da hr-user",
		`href="/groups/`+ids["{group}"]+`"`, "Staff", "Il registro accessi è visibile solo", `action="/cards/`+fmt.Sprint(card.ID)+`/status"`,
		`data-confirm="Revocare questa tessera`, fmt.Sprintf(`/enrol?person=%d&amp;replace=%d`, pid, card.ID))
	hrMustNot(t, body, "fuori orario")
	// Admin reads the entry log: the entry with its door and reason.
	e.as(auth.RoleAdmin).mustGet(path, "Ultimi accessi", "Ingresso", "accesso negato", "fuori orario")
	// Facilities read people but not cards: no card section.
	body = e.as(auth.RoleFacilities).mustGet(path, "Anna Rossi", "fuori orario")
	hrMustNot(t, body, "123456789012", "/cards/")
	c := e.as(auth.RoleAdmin)
	c.lang = "en"
	c.mustGet(path, "Cards", "Document signer", "outside the schedule")
}

func TestHRCardStatus(t *testing.T) {
	e := newEnv(t)
	per := e.hrPerson("E1", "Anna", "Rossi", "", true)
	card := hrCard(per.ID, "123456789012")
	if err := e.st.CreateCard(t.Context(), hrActor, &card); err != nil {
		t.Fatal(err)
	}
	status := func() admin.CardStatus {
		c, err := e.st.GetCard(t.Context(), card.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c.Status
	}
	path := fmt.Sprintf("/cards/%d/status", card.ID)
	// Facilities may not.
	fac := e.as(auth.RoleFacilities)
	if code, _, _ := fac.post(path, url.Values{"status": {"revoked"}}); code != http.StatusForbidden || status() != admin.CardActive {
		t.Fatalf("facilities revoke: %d, %s", code, status())
	}
	hr := e.as(auth.RoleHR)
	hr.get(fmt.Sprintf("/people/%d", per.ID))
	if code, _, _ := hr.post(path, url.Values{"status": {"lost"}}); code != http.StatusBadRequest || status() != admin.CardActive {
		t.Fatalf("bad status: %d, %s", code, status())
	}
	for _, st := range []admin.CardStatus{admin.CardSuspended, admin.CardActive, admin.CardRevoked} {
		code, _, loc := hr.post(path, url.Values{"status": {string(st)}})
		if code != http.StatusSeeOther || status() != st || loc != fmt.Sprintf("/people/%d?done=done.person.card.%s", per.ID, st) {
			t.Fatalf("%s: %d → %q, stored %s", st, code, loc, status())
		}
	}
	hr.mustGet(fmt.Sprintf("/people/%d?done=done.person.card.revoked", per.ID), "Tessera revocata.", "revocata")
	// Revoked is for good.
	if code, _, _ := hr.post(path, url.Values{"status": {"active"}}); code != http.StatusConflict || status() != admin.CardRevoked {
		t.Fatalf("reactivate a revoked card: %d, %s", code, status())
	}
}

// upload posts a CSV to the import form as a browser does.
func (c *client) upload(name, csv string) (int, string, string) {
	c.e.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("csrf_token", c.csrf)
	f, _ := w.CreateFormFile("file", name)
	f.Write([]byte(csv))
	w.Close()
	return c.do("POST", "/people/import", &b, w.FormDataContentType())
}

func TestHRImport(t *testing.T) {
	e := newEnv(t)
	e.hrPerson("E1", "Anna", "Rossi", "Vendite", true)
	e.hrPerson("E2", "Bruno", "Bianchi", "IT", true)
	hr := e.as(auth.RoleHR)
	hr.mustGet("/people/import", `enctype="multipart/form-data"`, `<progress id="import-bar"`, `src="/static/hr.js"`)

	// Row errors: shown with row and column, nothing saved.
	bad := "employee_no;name;surname;email\nE3;Carla;Verdi;carla@example.it\nE4;;Neri;x\nE3;Dario;Gialli;\n"
	code, body, loc := hr.upload("bad.csv", bad)
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/people/import?preview=") {
		t.Fatalf("upload: %d → %q\n%s", code, loc, clip(body))
	}
	body = hr.mustGet(loc, "bad.csv", "Errori nel file: 3", "Niente è stato importato")
	rows := regexp.MustCompile(`<tr class="row-error"><td>(\d+)</td><td>([a-z_]*)</td>`).FindAllStringSubmatch(body, -1)
	var got []string
	for _, r := range rows {
		got = append(got, r[1]+":"+r[2])
	}
	if strings.Join(got, " ") != "3:name 3:email 4:employee_no" {
		t.Fatalf("row errors %v\n%s", got, clip(body))
	}
	hrMustNot(t, body, "/people/import/confirm")
	if n, _ := e.st.CountPeople(t.Context(), admin.PersonFilter{}); n != 2 {
		t.Fatalf("after a bad file: %d people", n)
	}

	// A good file: preview of what changes, nothing saved yet.
	good := "employee_no,name,surname,department,active\nE1,Anna,Rossi,Vendite,true\nE2,Bruno,Bianchi,Acquisti,true\nE3,<b>Carla</b>,Verdi,IT,no\n"
	_, _, loc = hr.upload("staff.csv", good)
	body = hr.mustGet(loc, "3 persone nel file: 1 da creare, 1 da aggiornare, 1 già uguali", "aggiorna (department)", "nuova", "&lt;b&gt;Carla&lt;/b&gt;", `action="/people/import/confirm"`)
	hrMustNot(t, body, "<b>Carla")
	if _, err := e.st.GetPersonByEmployeeNo(t.Context(), "E3"); err == nil {
		t.Fatal("the preview saved a person")
	}
	id := strings.TrimPrefix(loc, "/people/import?preview=")
	// Another user cannot see or confirm it.
	other := e.as(auth.RoleAdmin)
	other.mustGet(loc, "Anteprima scaduta o non trovata")
	other.post("/people/import/confirm", url.Values{"id": {id}})
	if _, err := e.st.GetPersonByEmployeeNo(t.Context(), "E3"); err == nil {
		t.Fatal("another user imported the file")
	}
	// Confirm: all imported.
	code, body, loc = hr.post("/people/import/confirm", url.Values{"id": {id}})
	if code != http.StatusSeeOther {
		t.Fatalf("confirm: %d\n%s", code, clip(body))
	}
	hr.mustGet(loc, "Importazione completata: 1 persone create, 1 aggiornate")
	carla, err := e.st.GetPersonByEmployeeNo(t.Context(), "E3")
	if err != nil || carla.Active || carla.Department != "IT" {
		t.Fatalf("imported %+v %v", carla, err)
	}
	if b, _ := e.st.GetPersonByEmployeeNo(t.Context(), "E2"); b.Department != "Acquisti" {
		t.Fatalf("not updated: %+v", b)
	}
	// Not twice.
	if code, _, _ := hr.post("/people/import/confirm", url.Values{"id": {id}}); code != http.StatusConflict {
		t.Fatalf("second confirm: %d", code)
	}
	// The script's upload asks for JSON.
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("csrf_token", hr.csrf)
	f, _ := w.CreateFormFile("file", "x.csv")
	f.Write([]byte(good))
	w.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/people/import", &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", e.srv.URL)
	resp, err := hr.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Redirect string }
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(res.Redirect, "/people/import?preview=") {
		t.Fatalf("JSON upload: %d %+v", resp.StatusCode, res)
	}
	hr.mustGet(res.Redirect, "0 da creare, 0 da aggiornare, 3 già uguali")
	// No file.
	code, body, _ = hr.do("POST", "/people/import", strings.NewReader("csrf_token="+url.QueryEscape(hr.csrf)), "application/x-www-form-urlencoded")
	if code != http.StatusBadRequest || !strings.Contains(body, "Scegli un file CSV") {
		t.Fatalf("no file: %d\n%s", code, clip(body))
	}
}

// fakeEnrol is an Enroller whose sessions a test finishes by hand.
type fakeEnrol struct {
	mu       sync.Mutex
	sessions map[string]syncer.EnrolSession
	starts   []string
}

func (f *fakeEnrol) StartEnrol(ctx context.Context, station string, personID int64, by string) (syncer.EnrolSession, error) {
	if station == "offline" {
		return syncer.EnrolSession{}, syncer.ErrNotConnected
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now().UTC()
	s := syncer.EnrolSession{ID: wire.NewID(), Station: station, PersonID: personID, By: by, CreatedAt: now, ExpiresAt: now.Add(time.Minute), State: syncer.EnrolWaiting}
	f.sessions[s.ID] = s
	f.starts = append(f.starts, fmt.Sprintf("%s %d %s", station, personID, by))
	return s, nil
}

func (f *fakeEnrol) EnrolResult(id string) (syncer.EnrolSession, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[id]
	return s, ok
}

func (f *fakeEnrol) WaitEnrol(ctx context.Context, id string) (syncer.EnrolSession, bool) {
	return f.EnrolResult(id)
}

// finish ends session id as the syncer would.
func (f *fakeEnrol) finish(id string, state syncer.EnrolState, card *admin.Card, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sessions[id]
	now := time.Now()
	s.State, s.Card, s.Reason, s.DoneAt = state, card, reason, &now
	if card != nil {
		s.NIS = card.NIS
	}
	f.sessions[id] = s
}

func TestHREnrolUnavailable(t *testing.T) {
	e := newEnv(t)
	e.sample()
	hr := e.as(auth.RoleHR)
	hr.mustGet("/enrol", "La registrazione non è disponibile")
	if code, _, _ := hr.post("/enrol", url.Values{"person": {"1"}, "station": {"desk"}}); code != http.StatusServiceUnavailable {
		t.Fatalf("start without stations: %d", code)
	}
}

func TestHREnrol(t *testing.T) {
	fe := &fakeEnrol{sessions: map[string]syncer.EnrolSession{}}
	e := newEnv(t, func(o *envOptions) { o.enrol = fe })
	ids := e.sample()
	pid, _ := strconv.ParseInt(ids["{person}"], 10, 64)
	hr := e.as(auth.RoleHR)
	hr.mustGet("/enrol?q=ross", "/enrol?person="+ids["{person}"], "Crea prima la persona")
	if body := hr.mustGet("/enrol?person="+ids["{person}"], "Anna Rossi", `name="station"`); strings.Contains(body, `<option value="ingresso">`) {
		t.Error("a door is offered as an enrolment station")
	}
	// Bad input: no person, a bad station name, an unreachable station.
	code, body, _ := hr.post("/enrol", url.Values{"station": {"desk"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "Scegli prima la persona") {
		t.Fatalf("no person: %d\n%s", code, clip(body))
	}
	code, body, _ = hr.post("/enrol", url.Values{"person": {ids["{person}"]}, "station": {"a desk/1"}})
	if code != http.StatusBadRequest || !strings.Contains(body, `id="station-err"`) {
		t.Fatalf("bad station: %d\n%s", code, clip(body))
	}
	code, body, _ = hr.post("/enrol", url.Values{"person": {ids["{person}"]}, "station": {"offline"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "Impossibile contattare la postazione offline") {
		t.Fatalf("offline station: %d\n%s", code, clip(body))
	}
	if len(fe.starts) != 0 {
		t.Fatalf("sessions started on bad input: %v", fe.starts)
	}
	// Start: the station gets the person and who enrols.
	code, _, loc := hr.post("/enrol", url.Values{"person": {ids["{person}"]}, "station": {"hr-desk"}})
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/enrol/") {
		t.Fatalf("start: %d → %q", code, loc)
	}
	if want := fmt.Sprintf("hr-desk %d hr-user", pid); len(fe.starts) != 1 || fe.starts[0] != want {
		t.Fatalf("started %v, want %q", fe.starts, want)
	}
	id := strings.TrimPrefix(loc, "/enrol/")
	hr.mustGet(loc, "Appoggia ora la tessera", "hr-desk", "Anna Rossi", `data-session="`+id+`"`, `data-state="waiting"`)
	// The station is remembered for the next enrolment, and offered.
	hr.mustGet("/enrol?person="+ids["{person}"], `value="hr-desk"`, `<option value="hr-desk">`)

	// Verified: the syncer stored the card.
	card := hrCard(pid, "123456789012")
	card.SODGeneration, card.DSSubject = "CIE 3.0", "CN=Documento Firmatario 7"
	if err := e.st.CreateCard(t.Context(), hrActor, &card); err != nil {
		t.Fatal(err)
	}
	fe.finish(id, syncer.EnrolVerified, &card, "")
	hr.mustGet(loc, "Tessera autentica", "123456789012", "CIE 3.0", "CN=Documento Firmatario 7", "La tessera è registrata", `data-state="verified"`)
	var v enrolView
	_, body, _ = hr.get(loc + "/result?wait=1")
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.State != "verified" || v.NIS != "123456789012" || v.Generation != "CIE 3.0" || v.Signer != "CN=Documento Firmatario 7" || v.ReplacePending {
		t.Fatalf("result %s: %+v %v", body, v, err)
	}

	// Refused: the reason in plain words, in both languages.
	_, _, loc = hr.post("/enrol", url.Values{"person": {ids["{person}"]}, "station": {"hr-desk"}})
	id = strings.TrimPrefix(loc, "/enrol/")
	fe.finish(id, syncer.EnrolRefused, nil, admin.ChallengeReason(reader.ErrChallengeSignature))
	hr.mustGet(loc, "tessera rifiutata", "Possibile clone: la tessera non ha firmato la sfida", "Dettagli tecnici", "the card did not sign the challenge")
	en := e.as(auth.RoleHR)
	en.lang = "en"
	// Sessions are their starter's: the other client is the same user.
	en.mustGet(loc, "card refused", "Suspected clone: the card did not sign the challenge with its own key")
	_, body, _ = en.get(loc + "/result")
	if !strings.Contains(body, `"reason":"Suspected clone`) {
		t.Fatalf("JSON refusal %s", body)
	}
	// Another user does not see it.
	e.as(auth.RoleAdmin).mustGet(loc, "Sessione di registrazione non trovata")
	hr.mustGet("/enrol/nope", "Sessione di registrazione non trovata")
	// Facilities may not enrol.
	if code, _, _ := e.as(auth.RoleFacilities).get("/enrol"); code != http.StatusForbidden {
		t.Fatalf("facilities enrol: %d", code)
	}
}

func TestHREnrolReplace(t *testing.T) {
	fe := &fakeEnrol{sessions: map[string]syncer.EnrolSession{}}
	e := newEnv(t, func(o *envOptions) { o.enrol = fe })
	ctx := t.Context()
	per := e.hrPerson("E1", "Anna", "Rossi", "", true)
	other := e.hrPerson("E2", "Bruno", "Bianchi", "", true)
	old := hrCard(per.ID, "111111111111")
	if err := e.st.CreateCard(ctx, hrActor, &old); err != nil {
		t.Fatal(err)
	}
	hr := e.as(auth.RoleHR)
	// A card of someone else cannot be replaced through this person.
	hr.mustGet(fmt.Sprintf("/enrol?person=%d&replace=%d", other.ID, old.ID), "La tessera da sostituire non è di questa persona")
	code, _, _ := hr.post("/enrol", url.Values{"person": {fmt.Sprint(other.ID)}, "replace": {fmt.Sprint(old.ID)}, "station": {"desk"}})
	if code != http.StatusBadRequest || len(fe.starts) != 0 {
		t.Fatalf("replace another's card: %d %v", code, fe.starts)
	}
	hr.mustGet(fmt.Sprintf("/enrol?person=%d&replace=%d", per.ID, old.ID), "Sostituzione della tessera con NIS 111111111111", `name="replace" value="`+fmt.Sprint(old.ID)+`"`)
	_, _, loc := hr.post("/enrol", url.Values{"person": {fmt.Sprint(per.ID)}, "replace": {fmt.Sprint(old.ID)}, "station": {"desk"}})
	if len(fe.starts) != 1 || fe.starts[0] != "desk 0 hr-user" {
		t.Fatalf("a replace session verifies only: %v", fe.starts)
	}
	id := strings.TrimPrefix(loc, "/enrol/")
	// Not yet verified: no replacement.
	hr.get(loc)
	if code, _, _ := hr.post(loc+"/replace", nil); code != http.StatusConflict {
		t.Fatalf("replace before the result: %d", code)
	}
	renewed := hrCard(0, "222222222222")
	renewed.SODGeneration = "CIE 3.0"
	fe.finish(id, syncer.EnrolVerified, &renewed, "")
	body := hr.mustGet(loc, "222222222222", `action="/enrol/`+id+`/replace"`, "Sostituire la vecchia tessera")
	hrMustNot(t, body, "La tessera è registrata")
	var v enrolView
	_, jb, _ := hr.get(loc + "/result")
	if json.Unmarshal([]byte(jb), &v); !v.ReplacePending || v.Replace != old.ID {
		t.Fatalf("result %s", jb)
	}
	// Another user cannot confirm it.
	adm := e.as(auth.RoleAdmin)
	adm.get("/people")
	if code, _, _ := adm.post(loc+"/replace", nil); code != http.StatusNotFound {
		t.Fatalf("another user's replace: %d", code)
	}
	code, _, rloc := hr.post(loc+"/replace", nil)
	if code != http.StatusSeeOther || rloc != fmt.Sprintf("/people/%d?done=done.person.card.replaced", per.ID) {
		t.Fatalf("replace: %d → %q", code, rloc)
	}
	o, _ := e.st.GetCard(ctx, old.ID)
	cards, _ := e.st.ListCards(ctx, per.ID)
	if o.Status != admin.CardRevoked || o.ReplacedBy == nil || len(cards) != 2 {
		t.Fatalf("old %+v, cards %+v", o, cards)
	}
	n, err := e.st.GetCardByNIS(ctx, "222222222222")
	if err != nil || n.PersonID != per.ID || n.Status != admin.CardActive || *o.ReplacedBy != n.ID || n.SODGeneration != "CIE 3.0" {
		t.Fatalf("new card %+v %v", n, err)
	}
	// Twice is once.
	hr.post(loc+"/replace", nil)
	if cards, _ := e.st.ListCards(ctx, per.ID); len(cards) != 2 {
		t.Fatalf("replaced twice: %d cards", len(cards))
	}
	hr.mustGet(rloc, "Tessera sostituita", "Sostituita da")
	hr.mustGet(loc, "Sostituzione fatta.")
}

// TestRefusalKeys: every reason worded by admin and the syncer maps to
// its own plain words, not to the fallback.
func TestRefusalKeys(t *testing.T) {
	_, noCSCA := admin.VerifyCard(admin.CardRead{NIS: "123456789012"}, nil, time.Now())
	_, badNIS := admin.VerifyCard(admin.CardRead{NIS: "12"}, []*x509.Certificate{{}}, time.Now())
	_, badKey := admin.VerifyCard(admin.CardRead{NIS: "123456789012", PublicKey: []byte{1}}, []*x509.Certificate{{}}, time.Now())
	_, noSOD := admin.VerifyCard(admin.CardRead{NIS: "123456789012", PublicKey: hrTestKey()}, []*x509.Certificate{{}}, time.Now())
	for _, tc := range []struct {
		state  syncer.EnrolState
		reason string
		key    string
	}{
		{syncer.EnrolRefused, noCSCA.(*admin.Refusal).Reason, "enrol.why.nocsca"},
		{syncer.EnrolRefused, badNIS.(*admin.Refusal).Reason, "enrol.why.badnis"},
		{syncer.EnrolRefused, badKey.(*admin.Refusal).Reason, "enrol.why.keyfile"},
		{syncer.EnrolRefused, noSOD.(*admin.Refusal).Reason, "enrol.why.nosod"},
		{syncer.EnrolRefused, admin.SODReason(reader.ErrUnknownCSCA), "enrol.why.csca"},
		{syncer.EnrolRefused, admin.SODReason(reader.ErrDSExpired), "enrol.why.certexpired"},
		{syncer.EnrolRefused, admin.SODReason(reader.ErrNISHash), "enrol.why.nis"},
		{syncer.EnrolRefused, admin.SODReason(reader.ErrKeyHash), "enrol.why.key"},
		{syncer.EnrolRefused, admin.SODReason(reader.ErrSODFormat), "enrol.why.sod"},
		{syncer.EnrolRefused, admin.ChallengeReason(reader.ErrChallengeSignature), "enrol.why.clone"},
		{syncer.EnrolRefused, "the card is genuine but already enrolled (card 3 of person 4, active): revoke", "enrol.why.already"},
		{syncer.EnrolError, "the station could not read a card: no card", "enrol.why.noread"},
		{syncer.EnrolExpired, "no answer from station desk in time: is", "enrol.why.timeout"},
		{syncer.EnrolExpired, "", "enrol.why.timeout"},
		{syncer.EnrolError, "replaced by a newer enrolment session at station desk", "enrol.why.replaced"},
		{syncer.EnrolRefused, "something new", "enrol.why.refused"},
	} {
		if got := RefusalKey(tc.state, tc.reason); got != tc.key {
			t.Errorf("%s %q: %s, want %s", tc.state, tc.reason, got, tc.key)
		}
		if _, ok := catalog[tc.key]; !ok {
			t.Errorf("%s not in the catalog", tc.key)
		}
	}
	for _, st := range []syncer.EnrolState{syncer.EnrolWaiting, syncer.EnrolVerified, syncer.EnrolRefused, syncer.EnrolError, syncer.EnrolExpired} {
		if _, ok := catalog["enrol.state."+string(st)]; !ok {
			t.Errorf("state %s has no text", st)
		}
	}
	for _, st := range []admin.CardStatus{admin.CardActive, admin.CardSuspended, admin.CardRevoked} {
		for _, k := range []string{CardStatusKey(st), "done.person.card." + string(st)} {
			if _, ok := catalog[k]; !ok {
				t.Errorf("%s not in the catalog", k)
			}
		}
	}
}

// TestHRImportTooLarge: with the CSRF token in the header (the script's
// upload) the body is bounded before it is read: an endless upload is
// answered, not read to its end.
func TestHRImportTooLarge(t *testing.T) {
	e := newEnv(t)
	hr := e.as(auth.RoleHR)
	hr.get("/people/import")
	pr, pw := io.Pipe()
	w := multipart.NewWriter(pw)
	go func() {
		f, _ := w.CreateFormFile("file", "huge.csv")
		f.Write([]byte("employee_no,name,surname\n"))
		line := bytes.Repeat([]byte("E1,Anna,Rossi\n"), 1<<14)
		for { // without end: only a bounded read answers
			if _, err := f.Write(line); err != nil {
				break
			}
		}
		w.Close()
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", e.srv.URL+"/people/import", pr)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Origin", e.srv.URL)
	req.Header.Set("X-CSRF-Token", hr.csrf)
	resp, err := hr.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	pr.CloseWithError(io.ErrClosedPipe)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "Il file supera 32 MiB") {
		t.Fatalf("huge upload: %d\n%s", resp.StatusCode, clip(string(body)))
	}
	if n, _ := e.st.CountPeople(t.Context(), admin.PersonFilter{}); n != 0 {
		t.Fatalf("%d people after a refused upload", n)
	}
}
