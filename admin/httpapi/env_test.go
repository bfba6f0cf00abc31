package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/httpapi"
	"github.com/varco-access/varco/admin/sqlstore"
	"github.com/varco-access/varco/admin/sqlstore/pgtest"
	"github.com/varco-access/varco/admin/syncer/synctest"
	"github.com/varco-access/varco/reader/testpki"
)

func init() { gin.SetMode(gin.TestMode) }

const testPassword = "correct horse battery staple"

// env is a real API over a real SQLite store, served on loopback, with
// one user and one API token per role.
type env struct {
	t      *testing.T
	st     admin.Store
	api    *httpapi.API
	srv    *httptest.Server
	users  map[auth.Role]admin.User
	tokens map[auth.Role]string
	now    time.Time
	sync   *synctest.Fake
}

func TestMain(m *testing.M) { pgtest.Main(m) }

// forEachBackend runs fn on a fresh env over SQLite and over PostgreSQL.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) { fn(t, newEnv(t, b)) })
	}
}

func newEnv(t *testing.T, backend string) *env {
	t.Helper()
	var st admin.Store
	var err error
	if backend == "postgres" {
		st, err = sqlstore.OpenPostgres(t.Context(), pgtest.Start(t), nil)
	} else {
		st, err = sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "admin.db"), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, users: map[auth.Role]admin.User{}, tokens: map[auth.Role]string{}, now: time.Now(),
		sync: synctest.New()}
	e.api, err = httpapi.New(httpapi.Options{
		Store: st, CSRFKey: bytes.Repeat([]byte{7}, auth.CSRFKeySize),
		CSCAs: testpki.Committed(t).TrustedCSCAs(), Password: &auth.TestParams,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Sync: e.sync,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	e.api.Register(r)
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
		plain, hash, err := auth.NewSecret(auth.TokenPrefix)
		if err != nil {
			t.Fatal(err)
		}
		tok := admin.APIToken{Name: string(role) + "-token", UserID: u.ID, Role: string(role), Hash: hash, CreatedAt: time.Now().UTC()}
		if err := st.CreateAPIToken(t.Context(), sys, &tok); err != nil {
			t.Fatal(err)
		}
		e.tokens[role] = plain
	}
	return e
}

// req is one request: a JSON body (or raw bytes with a content type),
// authenticated by a bearer token when token is set.
type req struct {
	method, path string
	token        string
	body         any
	raw          []byte
	ctype        string
	header       map[string]string
}

type resp struct {
	code   int
	body   []byte
	header http.Header
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// fields returns the "fields" of a 400 answer.
func (r resp) fields(t *testing.T) map[string]string {
	t.Helper()
	var b struct {
		Fields map[string]string `json:"fields"`
	}
	r.json(t, &b)
	return b.Fields
}

func (e *env) doWith(c *http.Client, q req) resp {
	e.t.Helper()
	var body io.Reader
	ctype := q.ctype
	switch {
	case q.raw != nil:
		body = bytes.NewReader(q.raw)
	case q.body != nil:
		b, err := json.Marshal(q.body)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(b)
		if ctype == "" {
			ctype = "application/json"
		}
	}
	r, err := http.NewRequest(q.method, e.srv.URL+httpapi.Prefix+q.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	if q.token != "" {
		r.Header.Set("Authorization", "Bearer "+q.token)
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	res, err := c.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{res.StatusCode, b, res.Header}
}

func (e *env) do(q req) resp { e.t.Helper(); return e.doWith(http.DefaultClient, q) }

// as sends q with role's API token.
func (e *env) as(role auth.Role, q req) resp {
	e.t.Helper()
	q.token = e.tokens[role]
	return e.do(q)
}

// must sends q as admin and fails unless the answer has status code.
func (e *env) must(code int, q req) resp {
	e.t.Helper()
	r := e.as(auth.RoleAdmin, q)
	if r.code != code {
		e.t.Fatalf("%s %s: %d %s, want %d", q.method, q.path, r.code, r.body, code)
	}
	return r
}

// browser is a cookie-keeping client logged in as role, with its CSRF
// token.
type browser struct {
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) login(role auth.Role) *browser {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{e: e, c: &http.Client{Jar: jar}}
	r := e.doWith(b.c, req{method: "POST", path: "/auth/login", body: map[string]string{"username": string(role) + "-user", "password": testPassword},
		header: map[string]string{"Origin": e.srv.URL}})
	if r.code != 200 {
		e.t.Fatalf("login as %s: %d %s", role, r.code, r.body)
	}
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	r.json(e.t, &me)
	if me.CSRF == "" {
		e.t.Fatal("login answered no CSRF token")
	}
	b.csrf = me.CSRF
	return b
}

// do sends q with the session cookie and, when withCSRF, the token.
func (b *browser) do(q req, withCSRF bool) resp {
	b.e.t.Helper()
	if withCSRF {
		if q.header == nil {
			q.header = map[string]string{}
		}
		q.header["X-CSRF-Token"] = b.csrf
	}
	return b.e.doWith(b.c, q)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
