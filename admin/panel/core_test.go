package panel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/syncer"
)

// sample creates one row of each kind for the {placeholders} of
// pageAccessTable: a person with a card, a door, a schedule, a holiday
// and a group.
func (e *env) sample() map[string]string {
	e.t.Helper()
	ctx, sys := e.t.Context(), admin.Actor{Name: "test"}
	sites, err := e.st.ListSites(ctx)
	if err != nil || len(sites) == 0 {
		e.t.Fatalf("sites %v %v", sites, err)
	}
	per := admin.Person{EmployeeNo: "E100", Name: "Anna", Surname: "Rossi", Active: true}
	door := admin.Door{SiteID: sites[0].ID, Name: "Ingresso", ControllerID: "ingresso"}
	sch := admin.Schedule{Name: "Uffici"}
	sch.Days[1] = []varco.Window{{Start: 8 * 60, End: 18 * 60}}
	hol := admin.Holiday{SiteID: sites[0].ID, Date: "2026-12-25", Name: "Natale"}
	for _, err := range []error{
		e.st.CreatePerson(ctx, sys, &per), e.st.CreateDoor(ctx, sys, &door),
		e.st.CreateSchedule(ctx, sys, &sch), e.st.CreateHoliday(ctx, sys, &hol),
	} {
		if err != nil {
			e.t.Fatal(err)
		}
	}
	g := admin.Group{Name: "Staff", ScheduleID: &sch.ID, DoorIDs: []int64{door.ID}, PersonIDs: []int64{per.ID}}
	if err := e.st.CreateGroup(ctx, sys, &g); err != nil {
		e.t.Fatal(err)
	}
	users, _ := e.st.ListUsers(ctx)
	return map[string]string{
		"{person}": fmt.Sprint(per.ID), "{door}": fmt.Sprint(door.ID), "{schedule}": fmt.Sprint(sch.ID),
		"{holiday}": fmt.Sprint(hol.ID), "{group}": fmt.Sprint(g.ID), "{site}": fmt.Sprint(sites[0].ID),
		"{user}": fmt.Sprint(users[0].ID),
	}
}

func init() {
	pageAccessTable = append(pageAccessTable,
		pageAccess{"/live", []auth.Role{auth.RoleAdmin, auth.RoleHR, auth.RoleFacilities, auth.RoleViewer}},
	)
}

// TestPageAccess opens every page of pageAccessTable as each role and
// anonymously: the roles listed get it (200), the others a 403 page, and
// an anonymous visitor is sent to the login page with the way back.
func TestPageAccess(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	clients := map[auth.Role]*client{}
	for _, r := range auth.Roles() {
		clients[r] = e.as(r)
	}
	anon := e.anon()
	for _, pa := range pageAccessTable {
		path := pa.path
		for k, v := range ids {
			path = strings.ReplaceAll(path, k, v)
		}
		if path == "/live" {
			continue // a stream: TestLive
		}
		code, _, loc := anon.get(path)
		if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
			t.Errorf("anonymous GET %s: %d → %q, want the login page", path, code, loc)
		}
		for _, r := range auth.Roles() {
			want := http.StatusForbidden
			for _, ok := range pa.roles {
				if ok == r {
					want = http.StatusOK
				}
			}
			if code, body, loc := clients[r].get(path); code != want {
				t.Errorf("%s GET %s: %d (→ %q), want %d\n%s", r, path, code, loc, want, clip(body))
			}
		}
	}
}

// TestEveryRouteIsGuarded: every route but the public ones turns an
// anonymous request away, and every GET page is in pageAccessTable.
func TestEveryRouteIsGuarded(t *testing.T) {
	e := newEnv(t)
	listed := map[string]bool{}
	for _, pa := range pageAccessTable {
		listed[pa.path] = true
	}
	anon := e.anon()
	param := regexp.MustCompile(`:[a-z]+`)
	for _, r := range e.panel.routes {
		path := param.ReplaceAllString(r.path, "1")
		if r.public {
			continue
		}
		var code int
		if r.method == "GET" {
			code, _, _ = anon.get(path)
			if code != http.StatusSeeOther {
				t.Errorf("anonymous GET %s: %d, want 303 to the login page", r.path, code)
			}
			tpl := param.ReplaceAllStringFunc(r.path, func(s string) string { return "{" + s[1:] + "}" })
			if !listed[tpl] && !strings.HasSuffix(r.path, ".csv") && r.path != "/" {
				t.Errorf("GET %s is not in pageAccessTable (as %s)", r.path, tpl)
			}
		} else {
			code, _, _ = anon.post(path, url.Values{})
			if code != http.StatusUnauthorized {
				t.Errorf("anonymous %s %s: %d, want 401", r.method, r.path, code)
			}
		}
	}
}

// TestLoginLogout: wrong password, throttling names the wait, the way
// back after login, logout ends the session, and a form without its
// CSRF token is refused.
func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	c := e.anon()
	code, _, loc := c.get("/?q=x")
	if code != http.StatusSeeOther || loc != "/login?next=%2F%3Fq%3Dx" {
		t.Fatalf("anonymous: %d → %q", code, loc)
	}
	c.mustGet(loc, `name="next" value="/?q=x"`, "Accesso")
	code, body, _ := c.post("/login", url.Values{"username": {"hr-user"}, "password": {"wrong"}})
	if code != http.StatusUnauthorized || !strings.Contains(body, "Nome utente o password errati") {
		t.Fatalf("bad password: %d\n%s", code, clip(body))
	}
	code, _, loc = c.post("/login", url.Values{"username": {"hr-user"}, "password": {testPassword}, "next": {"/?q=x"}})
	if code != http.StatusSeeOther || loc != "/?q=x" {
		t.Fatalf("login: %d → %q", code, loc)
	}
	// An open redirect is not possible through next.
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		if got := safeNext(next); got != "/" {
			t.Errorf("safeNext(%q) = %q", next, got)
		}
	}
	code, _, loc = c.get("/")
	if code != http.StatusSeeOther || loc != "/people" {
		t.Fatalf("HR's home: %d → %q", code, loc)
	}
	// A form without the token is refused.
	code, _, _ = c.do("POST", "/logout", strings.NewReader(""), "application/x-www-form-urlencoded")
	if code != http.StatusForbidden {
		t.Fatalf("logout without a CSRF token: %d", code)
	}
	// Take the token from a page (the error page carries the header).
	c.get("/no-such-page")
	if c.csrf == "" {
		t.Fatal("no CSRF token in the page header")
	}
	u, _ := url.Parse(e.srv.URL)
	old := c.hc.Jar.Cookies(u)
	code, _, loc = c.post("/logout", nil)
	if code != http.StatusSeeOther || loc != "/login" {
		t.Fatalf("logout: %d → %q", code, loc)
	}
	if code, _, loc = c.get("/"); code != http.StatusSeeOther || loc != "/login?next=%2F" {
		t.Fatalf("after logout: %d → %q, want the login page", code, loc)
	}
	// The old cookie is dead: the login page says the session ended.
	c.hc.Jar.SetCookies(u, old)
	code, _, loc = c.get("/")
	if code != http.StatusSeeOther || !strings.Contains(loc, "expired=1") {
		t.Fatalf("with the old cookie: %d → %q, want the login page saying the session ended", code, loc)
	}
	c.mustGet(loc, "La sessione è scaduta")
	// A cross-site login form is refused.
	req, _ := http.NewRequest("POST", e.srv.URL+"/login", strings.NewReader("username=hr-user&password="+url.QueryEscape(testPassword)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin login: %d", resp.StatusCode)
	}
	// Throttled after five failures, saying how long to wait.
	c2 := e.anon()
	for range 5 {
		c2.post("/login", url.Values{"username": {"viewer-user"}, "password": {"nope"}})
	}
	code, body, _ = c2.post("/login", url.Values{"username": {"viewer-user"}, "password": {testPassword}})
	if code != http.StatusTooManyRequests || !strings.Contains(body, "Troppi tentativi") {
		t.Fatalf("throttled login: %d\n%s", code, clip(body))
	}
}

// TestLanguage: Italian by default, English from Accept-Language or the
// switch, which only takes a same-site way back.
func TestLanguage(t *testing.T) {
	e := newEnv(t)
	c := e.anon()
	c.mustGet("/login", `<html lang="it">`, "Nome utente")
	c.lang = "en-GB,en;q=0.9"
	c.mustGet("/login", `<html lang="en">`, "Username")
	c.lang = "de"
	c.mustGet("/login", `<html lang="it">`)
	code, _, loc := c.get("/lang/en?next=https://evil.example/")
	if code != http.StatusSeeOther || loc != "/" {
		t.Fatalf("switch: %d → %q", code, loc)
	}
	c.mustGet("/login", `<html lang="en">`, "Sign in")
	if code, _, _ := c.get("/lang/fr"); code != http.StatusNotFound {
		t.Fatalf("unknown language: %d", code)
	}
}

// TestSecurityHeaders: pages are not cached, framed or sniffed, and
// scripts come from the panel only.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	resp, err = http.Get(e.srv.URL + "/static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("style.css: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// API paths keep the API's JSON 404.
	resp, err = http.Get(e.srv.URL + "/api/v1/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("API 404: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestLive: /live relays door status to every role and door events only
// to roles that may read the entry log, with texts in the page's
// language and the person's name.
func TestLive(t *testing.T) {
	e := newEnv(t)
	ids := e.sample()
	_ = ids
	ctx := t.Context()
	per, _ := e.st.GetPersonByEmployeeNo(ctx, "E100")
	card := admin.Card{PersonID: per.ID, NIS: "123456789012", PublicKey: []byte{0x30, 0x03, 0x02, 0x01, 0x01}, EnrolledAt: time.Now()}
	if err := e.st.CreateCard(ctx, admin.Actor{Name: "test"}, &card); err != nil {
		t.Logf("card not stored (%v): the entry is checked without the name", err)
	}
	for _, tc := range []struct {
		role    auth.Role
		lang    string
		entries bool
		want    []string
	}{
		{auth.RoleFacilities, "it", true, []string{"event: door", `"state_text":"forzato"`, "event: entry", `"reason_text":"tessera non registrata"`, `"door_name":"Ingresso"`}},
		{auth.RoleViewer, "en", true, []string{`"state_text":"forced"`, `"kind_text":"access denied"`}},
		{auth.RoleHR, "en", false, []string{`"state_text":"forced"`}},
	} {
		c := e.as(tc.role)
		c.lang = tc.lang
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/live", nil)
		req.Header.Set("Accept-Language", tc.lang)
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("%s /live: %d %s", tc.role, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		e.sync.Push(t, syncer.Update{Door: "ingresso", Status: &syncer.DoorStatus{Online: true, Rev: 3, DoorState: "forced"}})
		e.sync.Push(t, syncer.Update{Door: "ingresso", Events: []admin.Event{{Time: time.Now(), Kind: varco.EventDenied, Reason: varco.ReasonUnknown, NIS: "999999999999"}}})
		e.sync.Push(t, syncer.Update{Door: "ingresso", Status: &syncer.DoorStatus{Online: false}}) // the end marker
		var got strings.Builder
		buf := make([]byte, 4096)
		for !strings.Contains(got.String(), `"state_text":"`+map[string]string{"it": "non in linea", "en": "offline"}[tc.lang]+`"`) {
			n, err := resp.Body.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				t.Fatalf("%s: stream ended: %v\n%s", tc.role, err, got.String())
			}
		}
		resp.Body.Close()
		e.sync.ForgetWatchers()
		for _, w := range tc.want {
			if !strings.Contains(got.String(), w) {
				t.Errorf("%s: no %s in\n%s", tc.role, w, got.String())
			}
		}
		if has := strings.Contains(got.String(), "event: entry"); has != tc.entries {
			t.Errorf("%s: entries on the stream %v, want %v", tc.role, has, tc.entries)
		}
		// Every data line is valid JSON.
		for l := range strings.Lines(got.String()) {
			if d, ok := strings.CutPrefix(l, "data: "); ok && !json.Valid([]byte(d)) {
				t.Errorf("bad JSON %q", d)
			}
		}
	}
}

var tKeyRE = regexp.MustCompile(`\.T "([a-z0-9_.]+)"`)

// TestCatalog: every message key a template or a handler names exists,
// in both languages, and no text is left untranslated by mistake.
func TestCatalog(t *testing.T) {
	for k, v := range catalog {
		if v[0] == "" || v[1] == "" {
			t.Errorf("message %s: empty text %q", k, v)
		}
	}
	files, _ := fs.Glob(templateFS, "templates/*.html")
	for _, f := range files {
		b, _ := fs.ReadFile(templateFS, f)
		for _, m := range tKeyRE.FindAllStringSubmatch(string(b), -1) {
			if _, ok := catalog[m[1]]; !ok {
				t.Errorf("%s: message %q not in the catalog", f, m[1])
			}
		}
	}
	for _, k := range []string{"unknown", "clone_suspected", "expired", "not_yet_valid", "outside_schedule", "holiday", "lockdown", "revoked", "clock_untrusted", "allowlist_stale", "read_error"} {
		if _, ok := catalog[ReasonKey(k)]; !ok {
			t.Errorf("reason %s has no text", k)
		}
	}
	for _, k := range []varco.EventKind{varco.EventGranted, varco.EventDenied, varco.EventForced, varco.EventHeldOpen, varco.EventClosed, varco.EventREX, varco.EventMode, varco.EventReader, varco.EventSync, varco.EventClock, varco.EventDropped, varco.EventController} {
		if _, ok := catalog[KindKey(string(k))]; !ok {
			t.Errorf("event kind %s has no text", k)
		}
	}
}

// TestLiveEndsOnStop: an open /live stream ends when the server starts
// shutting down, so that shutdown does not wait for it.
func TestLiveEndsOnStop(t *testing.T) {
	stop := make(chan struct{})
	e := newEnv(t, func(o *envOptions) { o.stopping = stop })
	c := e.as(auth.RoleViewer)
	resp, err := c.hc.Get(e.srv.URL + "/live")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ended := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); ended <- err }()
	select {
	case <-ended:
		t.Fatal("stream ended before the stop")
	case <-time.After(200 * time.Millisecond):
	}
	close(stop)
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("stream ended with %v, want a clean end", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open 5 s after the stop")
	}
}

// TestFormBodyBounded: a multipart post larger than any form the panel
// takes (urlencoded ones are bounded by net/http already) is refused,
// not spooled to disk first.
func TestFormBodyBounded(t *testing.T) {
	e := newEnv(t)
	c := e.as(auth.RoleHR)
	c.mustGet("/people") // for the CSRF token
	if c.csrf == "" {
		t.Fatal("no CSRF token")
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf_token", c.csrf)
	fw, _ := mw.CreateFormFile("file", "big.csv")
	fw.Write(bytes.Repeat([]byte("a"), maxFormBody))
	mw.Close()
	code, _, _ := c.do("POST", "/logout", &body, mw.FormDataContentType())
	if code < 400 {
		t.Fatalf("a %d MiB form: %d, want it refused", maxFormBody>>20, code)
	}
	// The session is still there: the oversized post did nothing.
	c.mustGet("/people")
}
