package panel

import (
	"bytes"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/httpapi"
	"github.com/varco-access/varco/admin/sqlstore"
	"github.com/varco-access/varco/admin/syncer/synctest"
	"github.com/varco-access/varco/reader/testpki"
)

func init() { gin.SetMode(gin.TestMode) }

const testPassword = "correct horse battery staple"

// env is the real panel and API over a real SQLite store, served on
// loopback, with one user per role. Doors are a synctest.Fake.
type env struct {
	t     *testing.T
	st    admin.Store
	api   *httpapi.API
	panel *Panel
	srv   *httptest.Server
	users map[auth.Role]admin.User
	sync  *synctest.Fake
}

// envOptions tweak newEnv.
type envOptions struct {
	enrol    httpapi.Enroller
	demo     Demo
	stopping chan struct{}
}

func newEnv(t *testing.T, opts ...func(*envOptions)) *env {
	t.Helper()
	var o envOptions
	for _, f := range opts {
		f(&o)
	}
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "admin.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, users: map[auth.Role]admin.User{}, sync: synctest.New()}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ao := httpapi.Options{
		Store: st, CSRFKey: bytes.Repeat([]byte{7}, auth.CSRFKeySize),
		CSCAs: testpki.Committed(t).TrustedCSCAs(), Password: &auth.TestParams,
		Log: log, Sync: e.sync,
	}
	if o.enrol != nil {
		ao.Enrol = o.enrol
	}
	e.api, err = httpapi.New(ao)
	if err != nil {
		t.Fatal(err)
	}
	po := Options{API: e.api, Store: st, Sync: e.sync, Log: log, Demo: o.demo, Stopping: o.stopping,
		Settings: Settings{CSCADir: "/var/lib/varco-admin/csca", CSCAs: 2, Retention: 365 * 24 * time.Hour, Database: "sqlite", Broker: "embedded"}}
	if o.enrol != nil {
		po.Enrol = o.enrol
	}
	e.panel, err = New(po)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	e.api.Register(r)
	e.panel.Register(r, e.api)
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.srv.Close)
	sys := admin.Actor{Name: "test"}
	for _, role := range auth.Roles() {
		h, err := auth.TestParams.Hash(testPassword)
		if err != nil {
			t.Fatal(err)
		}
		u := admin.User{Username: string(role) + "-user", PasswordHash: h, Role: string(role)}
		if err := st.CreateUser(t.Context(), sys, &u); err != nil {
			t.Fatal(err)
		}
		e.users[role] = u
	}
	return e
}

// client is a browser: a cookie jar, no redirects followed, and the CSRF
// token of the last page it loaded.
type client struct {
	e    *env
	hc   *http.Client
	lang string
	csrf string
}

func (e *env) anon() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// as returns a client signed in through the login form as role's user.
func (e *env) as(role auth.Role) *client {
	e.t.Helper()
	c := e.anon()
	code, _, loc := c.post("/login", url.Values{"username": {e.users[role].Username}, "password": {testPassword}, "next": {"/"}})
	if code != http.StatusSeeOther || loc != "/" {
		e.t.Fatalf("login as %s: %d → %q", role, code, loc)
	}
	c.get("/login") // any page, for the CSRF token: /login redirects a signed-in user
	return c
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (c *client) do(method, path string, body io.Reader, ctype string) (int, string, string) {
	c.e.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Origin", c.e.srv.URL)
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(b); m != nil {
		c.csrf = html.UnescapeString(string(m[1]))
	}
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

// get loads a page: status, body, Location.
func (c *client) get(path string) (int, string, string) {
	c.e.t.Helper()
	return c.do("GET", path, nil, "")
}

// post submits a form with the CSRF token of the last page loaded.
func (c *client) post(path string, form url.Values) (int, string, string) {
	c.e.t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	if c.csrf != "" && f.Get("csrf_token") == "" {
		f.Set("csrf_token", c.csrf)
	}
	return c.do("POST", path, strings.NewReader(f.Encode()), "application/x-www-form-urlencoded")
}

// mustGet loads a page and fails unless it is a 200 containing every want.
func (c *client) mustGet(path string, want ...string) string {
	c.e.t.Helper()
	code, body, loc := c.get(path)
	if code != http.StatusOK {
		c.e.t.Fatalf("GET %s: %d (Location %q)\n%s", path, code, loc, clip(body))
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			c.e.t.Fatalf("GET %s: no %q in\n%s", path, w, clip(body))
		}
	}
	return body
}

func clip(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

// pageAccess is one page and the roles that may open it, written out by
// hand for TestPageAccess (each area's test file adds its pages in an
// init function). Path may hold "{person}", "{door}", ... which the test
// replaces with ids of sample rows.
type pageAccess struct {
	path  string
	roles []auth.Role
}

var pageAccessTable []pageAccess
