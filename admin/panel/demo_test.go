package panel

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/varco-access/varco/admin/auth"
)

// fakeDemo is a panel.Demo that records taps and answers results[card].
type fakeDemo struct {
	mu      sync.Mutex
	taps    []string // "door card"
	results map[string]string
	err     error
}

func (f *fakeDemo) Cards() []string { return []string{"anna", "carla", "<b>x</b>"} }
func (f *fakeDemo) Doors() []string { return []string{"ingresso", "magazzino"} }
func (f *fakeDemo) Tap(ctx context.Context, door, card string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.taps = append(f.taps, door+" "+card)
	return f.results[card], f.err
}

func (f *fakeDemo) tapped() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.taps...)
}

func newDemoEnv(t *testing.T) (*env, *fakeDemo) {
	fd := &fakeDemo{results: map[string]string{"anna": "granted", "carla": "unknown", "<b>x</b>": "whatever"}}
	return newEnv(t, func(o *envOptions) { o.demo = fd }), fd
}

func TestDemoPageListsCardsAndDoors(t *testing.T) {
	e, _ := newDemoEnv(t)
	for _, role := range auth.Roles() {
		body := e.as(role).mustGet("/demo", "anna", "carla", "ingresso", "magazzino", `action="/demo/tap"`, `name="csrf_token"`, `href="/demo"`)
		// one form per card and door
		if n := strings.Count(body, `action="/demo/tap"`); n != 6 {
			t.Errorf("%s: %d tap forms, want 3 cards × 2 doors", role, n)
		}
		if strings.Contains(body, "<b>x</b>") {
			t.Errorf("%s: a card name is not escaped", role)
		}
	}
	// Signed out: the login page.
	if code, _, loc := e.anon().get("/demo"); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
		t.Errorf("anonymous GET /demo = %d %q, want a redirect to /login", code, loc)
	}
}

func TestDemoTap(t *testing.T) {
	e, fd := newDemoEnv(t)
	c := e.as(auth.RoleViewer)
	c.mustGet("/demo")
	code, _, loc := c.post("/demo/tap", url.Values{"card": {"anna"}, "door": {"ingresso"}})
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/demo?") || !strings.Contains(loc, "done=done.demo.tap") {
		t.Fatalf("POST /demo/tap = %d %q, want a redirect to /demo with done", code, loc)
	}
	if got := fd.tapped(); len(got) != 1 || got[0] != "ingresso anna" {
		t.Fatalf("taps %v, want [ingresso anna]", got)
	}
	c.lang = "en"
	c.mustGet(loc, "Card tapped.", "Card anna at door ingresso: access granted")
	c.lang = "it"
	c.mustGet("/demo?card=carla&door=magazzino&result=unknown", "Tessera carla al varco magazzino: tessera non registrata")
	// A result that is no reason says the card was presented; a card not
	// in the demo shows no result at all.
	c.mustGet("/demo?card=carla&door=magazzino&result=%3Cscript%3E", "tessera presentata")
	if body := c.mustGet("/demo?card=zoe&door=ingresso&result=granted"); strings.Contains(body, `id="result"`) {
		t.Error("a result shown for a card that is not in the demo")
	}

	// Unknown card or door: 400, nothing tapped.
	for _, f := range []url.Values{{"card": {"zoe"}, "door": {"ingresso"}}, {"card": {"anna"}, "door": {"cantina"}}, {}} {
		c.mustGet("/demo")
		if code, body, _ := c.post("/demo/tap", f); code != http.StatusBadRequest || !strings.Contains(body, "sconosciuti") {
			t.Errorf("POST /demo/tap %v = %d, want 400 naming the problem", f, code)
		}
	}
	if n := len(fd.tapped()); n != 1 {
		t.Errorf("%d taps after bad forms, want still 1", n)
	}

	// Without the CSRF token: refused, nothing tapped.
	if code, _, _ := c.post("/demo/tap", url.Values{"card": {"anna"}, "door": {"ingresso"}, "csrf_token": {"forged"}}); code != http.StatusForbidden {
		t.Errorf("POST /demo/tap with a bad CSRF token = %d, want 403", code)
	}
	if n := len(fd.tapped()); n != 1 {
		t.Errorf("%d taps after a forged form, want still 1", n)
	}

	// A failed tap shows why.
	fd.err = errors.New("vpcd 127.0.0.1:35963: connection refused")
	c.mustGet("/demo")
	if code, body, _ := c.post("/demo/tap", url.Values{"card": {"anna"}, "door": {"ingresso"}}); code != http.StatusBadGateway || !strings.Contains(body, "connection refused") {
		t.Errorf("failed tap: %d, want 502 with the reason", code)
	}
}

func TestDemoOffWithoutDemo(t *testing.T) {
	e := newEnv(t)
	c := e.as(auth.RoleAdmin)
	if code, _, _ := c.get("/demo"); code != http.StatusNotFound {
		t.Errorf("GET /demo without demo mode = %d, want 404", code)
	}
	if code, _, _ := c.post("/demo/tap", url.Values{"card": {"anna"}, "door": {"ingresso"}}); code != http.StatusNotFound {
		t.Errorf("POST /demo/tap without demo mode = %d, want 404", code)
	}
	for _, r := range e.panel.Routes() {
		if strings.Contains(r, "/demo") {
			t.Errorf("route %s registered without demo mode", r)
		}
	}
	if _, b, _ := c.get("/doors"); strings.Contains(b, `href="/demo"`) {
		t.Error("the demo link is shown without demo mode")
	}
}

func TestDemoResultKey(t *testing.T) {
	for in, want := range map[string]string{"granted": "kind.granted", "unknown": "reason.unknown",
		"clone_suspected": "reason.clone_suspected", "desk": "demo.desk", "presented": "demo.presented", "": "demo.presented", "nope": "demo.presented"} {
		if got := resultKey(in); got != want {
			t.Errorf("resultKey(%q) = %q, want %q", in, got, want)
		}
	}
}
