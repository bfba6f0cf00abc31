package auth_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/auth/authtest"
)

func init() { gin.SetMode(gin.TestMode) }

const cookieName = "varco_session"

// server is a small router wired as varco-admin wires its routes.
type server struct {
	res    *authtest.Resolver
	csrf   *auth.CSRF
	engine *gin.Engine
}

func newServer(t *testing.T) *server {
	t.Helper()
	cs, err := auth.NewCSRF(bytes.Repeat([]byte{0x42}, auth.CSRFKeySize))
	if err != nil {
		t.Fatal(err)
	}
	s := &server{res: authtest.NewResolver(), csrf: cs, engine: gin.New()}
	whoami := func(c *gin.Context) {
		p, ok := auth.PrincipalFrom(c)
		c.JSON(http.StatusOK, gin.H{"anonymous": !ok, "user": p.Username, "via": p.Via, "session": p.SessionID, "token": p.TokenID})
	}
	r := s.engine
	r.Use(auth.Authenticate(s.res, cookieName), auth.CSRFProtect(cs))
	r.GET("/public", whoami)
	r.POST("/public", whoami)
	r.GET("/doors", auth.Require(auth.DoorsRead), whoami)
	r.POST("/doors/1/unlock", auth.Require(auth.DoorControl), whoami)
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		r.Handle(m, "/people", auth.Require(auth.PeopleWrite), whoami)
	}
	return s
}

// do sends a request to s and returns the recorder. hdr values are set as
// headers; "Cookie" is sent as the session cookie's value.
func (s *server) do(method, target string, body string, hdr map[string]string) *httptest.ResponseRecorder {
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	for k, v := range hdr {
		if k == "Cookie" {
			r.AddCookie(&http.Cookie{Name: cookieName, Value: v})
			continue
		}
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.engine.ServeHTTP(w, r)
	return w
}

// mustStatus checks w's status and, when wantErr is not empty, its JSON
// {"error": wantErr} body.
func mustStatus(t *testing.T, w *httptest.ResponseRecorder, want int, wantErr string) map[string]any {
	t.Helper()
	if w.Code != want {
		t.Fatalf("status %d; want %d (body %s)", w.Code, want, w.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", w.Body, err)
	}
	if wantErr != "" && body["error"] != wantErr {
		t.Fatalf("error %q; want %q", body["error"], wantErr)
	}
	return body
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func TestRequire(t *testing.T) {
	s := newServer(t)
	viewer := s.res.AddSession(auth.Principal{UserID: 1, Username: "vera", Role: auth.RoleViewer})
	hrTok := s.res.AddToken(auth.Principal{UserID: 2, Username: "hugo", Role: auth.RoleHR, TokenID: 7})
	facTok := s.res.AddToken(auth.Principal{UserID: 3, Username: "fede", Role: auth.RoleFacilities, TokenID: 8})

	t.Run("no credentials", func(t *testing.T) {
		w := s.do("GET", "/doors", "", nil)
		mustStatus(t, w, 401, "authentication required")
		if got := w.Header().Get("WWW-Authenticate"); got != "Bearer" {
			t.Errorf("WWW-Authenticate %q; want Bearer", got)
		}
	})
	t.Run("anonymous POST is 401, not a CSRF 403", func(t *testing.T) {
		mustStatus(t, s.do("POST", "/doors/1/unlock", "", nil), 401, "authentication required")
	})
	t.Run("right role by session", func(t *testing.T) {
		body := mustStatus(t, s.do("GET", "/doors", "", map[string]string{"Cookie": viewer}), 200, "")
		if body["user"] != "vera" || body["via"] != auth.ViaSession || body["session"] != viewer {
			t.Errorf("principal %v; want vera via session with her session id", body)
		}
	})
	t.Run("wrong role by token", func(t *testing.T) {
		mustStatus(t, s.do("POST", "/doors/1/unlock", "", bearer(hrTok)), 403,
			"forbidden: role hr lacks permission doors.control")
	})
	t.Run("wrong role by session", func(t *testing.T) {
		mustStatus(t, s.do("POST", "/doors/1/unlock", "", map[string]string{
			"Cookie": viewer, auth.CSRFHeader: s.csrf.Token(viewer),
		}), 403, "forbidden: role viewer lacks permission doors.control")
	})
	t.Run("right role by token, POST without CSRF token", func(t *testing.T) {
		body := mustStatus(t, s.do("POST", "/doors/1/unlock", "", bearer(facTok)), 200, "")
		if body["user"] != "fede" || body["via"] != auth.ViaToken || body["token"] != float64(8) || body["session"] != "" {
			t.Errorf("principal %v; want fede via token 8, no session", body)
		}
	})
	t.Run("unknown permission panics at setup", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("Require(doors.unlock) did not panic")
			}
		}()
		auth.Require("doors.unlock")
	})
}

func TestAuthenticateBearer(t *testing.T) {
	s := newServer(t)
	tok := s.res.AddToken(auth.Principal{UserID: 1, Username: "ada", Role: auth.RoleAdmin, TokenID: 3})
	session := s.res.AddSession(auth.Principal{UserID: 1, Username: "ada", Role: auth.RoleAdmin})
	revoked := s.res.AddToken(auth.Principal{UserID: 1, Username: "ada", Role: auth.RoleAdmin, TokenID: 4})
	s.res.Revoke(revoked)
	unknown, _, err := auth.NewSecret(auth.TokenPrefix)
	if err != nil {
		t.Fatal(err)
	}

	const (
		malformed = "malformed Authorization header: want Bearer <token>"
		invalid   = "invalid or revoked token"
	)
	tests := []struct {
		name, header, wantErr, challenge string
	}{
		{"scheme only", "Bearer", malformed, `Bearer error="invalid_request"`},
		{"empty token", "Bearer ", malformed, `Bearer error="invalid_request"`},
		{"basic", "Basic YWRhOnB3", malformed, `Bearer error="invalid_request"`},
		{"no scheme", tok, malformed, `Bearer error="invalid_request"`},
		{"two words", "Bearer " + tok + " extra", malformed, `Bearer error="invalid_request"`},
		{"tab separated", "Bearer\t" + tok, malformed, `Bearer error="invalid_request"`},
		{"other scheme", "Token " + tok, malformed, `Bearer error="invalid_request"`},
		{"unknown token", "Bearer " + unknown, invalid, `Bearer error="invalid_token"`},
		{"revoked token", "Bearer " + revoked, invalid, `Bearer error="invalid_token"`},
		{"session id as token", "Bearer " + session, invalid, `Bearer error="invalid_token"`},
		{"junk token", "Bearer vt_hunter2", invalid, `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A valid session cookie beside a bad header does not rescue it,
			// and even a public route refuses bad explicit credentials.
			for _, target := range []string{"/doors", "/public"} {
				w := s.do("GET", target, "", map[string]string{"Authorization": tt.header, "Cookie": session})
				mustStatus(t, w, 401, tt.wantErr)
				if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
					t.Errorf("%s: WWW-Authenticate %q; want %q", target, got, tt.challenge)
				}
			}
		})
	}
	t.Run("two Authorization headers", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/doors", nil)
		r.Header.Add("Authorization", "Bearer "+tok)
		r.Header.Add("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		s.engine.ServeHTTP(w, r)
		mustStatus(t, w, 401, malformed)
	})
	t.Run("scheme is case-insensitive", func(t *testing.T) {
		body := mustStatus(t, s.do("GET", "/doors", "", map[string]string{"Authorization": "bEARER  " + tok}), 200, "")
		if body["via"] != auth.ViaToken {
			t.Errorf("principal %v; want via token", body)
		}
	})
	t.Run("bearer wins over cookie", func(t *testing.T) {
		body := mustStatus(t, s.do("GET", "/public", "", map[string]string{"Authorization": "Bearer " + tok, "Cookie": session}), 200, "")
		if body["via"] != auth.ViaToken || body["session"] != "" || body["token"] != float64(3) {
			t.Errorf("principal %v; want via token 3, no session id", body)
		}
	})
}

func TestAuthenticateSession(t *testing.T) {
	s := newServer(t)
	live := s.res.AddSession(auth.Principal{UserID: 5, Username: "vera", Role: auth.RoleViewer, TokenID: 99})
	gone := s.res.AddSession(auth.Principal{UserID: 5, Username: "vera", Role: auth.RoleViewer})
	s.res.Revoke(gone)

	body := mustStatus(t, s.do("GET", "/public", "", map[string]string{"Cookie": live}), 200, "")
	if body["anonymous"] != false || body["via"] != auth.ViaSession || body["session"] != live || body["token"] != float64(0) {
		t.Errorf("principal %v; want vera via session, her session id, no token id", body)
	}
	for name, cookie := range map[string]string{
		"revoked session": gone,
		"junk cookie":     "not-a-session",
		"token as cookie": s.res.AddToken(auth.Principal{Username: "x", Role: auth.RoleAdmin}),
		"empty cookie":    "",
	} {
		t.Run(name, func(t *testing.T) {
			// Public routes still work (the login page must), as anonymous.
			body := mustStatus(t, s.do("GET", "/public", "", map[string]string{"Cookie": cookie}), 200, "")
			if body["anonymous"] != true {
				t.Errorf("principal %v; want anonymous", body)
			}
			mustStatus(t, s.do("GET", "/doors", "", map[string]string{"Cookie": cookie}), 401, "authentication required")
		})
	}
}

func TestAuthenticateStoreFailure(t *testing.T) {
	s := newServer(t)
	session := s.res.AddSession(auth.Principal{Username: "ada", Role: auth.RoleAdmin})
	tok := s.res.AddToken(auth.Principal{Username: "ada", Role: auth.RoleAdmin})
	s.res.FailWith(errors.New("database is closed"))
	mustStatus(t, s.do("GET", "/public", "", map[string]string{"Cookie": session}), 500, "internal error")
	mustStatus(t, s.do("GET", "/public", "", bearer(tok)), 500, "internal error")
	// Anonymous requests need no lookup.
	mustStatus(t, s.do("GET", "/public", "", nil), 200, "")
	// An ErrUnauthenticated wrapped by the store is still a 401.
	s.res.FailWith(errors.Join(errors.New("store: no such token"), auth.ErrUnauthenticated))
	mustStatus(t, s.do("GET", "/public", "", bearer(tok)), 401, "invalid or revoked token")
}

func TestCSRFProtect(t *testing.T) {
	s := newServer(t)
	hr := s.res.AddSession(auth.Principal{UserID: 2, Username: "hugo", Role: auth.RoleHR})
	other := s.res.AddSession(auth.Principal{UserID: 3, Username: "hana", Role: auth.RoleHR})
	hrTok := s.res.AddToken(auth.Principal{UserID: 2, Username: "hugo", Role: auth.RoleHR})
	const bad = "missing or invalid CSRF token"

	tests := []struct {
		name, method, body string
		hdr                map[string]string
		want               int
		wantErr            string
	}{
		{"missing", "POST", "", map[string]string{"Cookie": hr}, 403, bad},
		{"invalid header", "POST", "", map[string]string{"Cookie": hr, auth.CSRFHeader: "AAAA"}, 403, bad},
		{"other session's token", "POST", "", map[string]string{"Cookie": hr, auth.CSRFHeader: s.csrf.Token(other)}, 403, bad},
		{"session id as token", "POST", "", map[string]string{"Cookie": hr, auth.CSRFHeader: hr}, 403, bad},
		{"valid header", "POST", "", map[string]string{"Cookie": hr, auth.CSRFHeader: s.csrf.Token(hr)}, 200, ""},
		{"valid form field", "POST", url.Values{auth.CSRFFormField: {s.csrf.Token(hr)}, "name": {"Rossi"}}.Encode(), map[string]string{"Cookie": hr}, 200, ""},
		{"invalid form field", "POST", url.Values{auth.CSRFFormField: {s.csrf.Token(other)}}.Encode(), map[string]string{"Cookie": hr}, 403, bad},
		{"PUT missing", "PUT", "", map[string]string{"Cookie": hr}, 403, bad},
		{"PATCH missing", "PATCH", "", map[string]string{"Cookie": hr}, 403, bad},
		{"DELETE missing", "DELETE", "", map[string]string{"Cookie": hr}, 403, bad},
		{"DELETE valid", "DELETE", "", map[string]string{"Cookie": hr, auth.CSRFHeader: s.csrf.Token(hr)}, 200, ""},
		{"bearer POST needs none", "POST", "", bearer(hrTok), 200, ""},
		{"anonymous POST passes to the handler", "POST", "", nil, 401, "authentication required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustStatus(t, s.do(tt.method, "/people", tt.body, tt.hdr), tt.want, tt.wantErr)
		})
	}
	t.Run("GET needs none", func(t *testing.T) {
		mustStatus(t, s.do("GET", "/doors", "", map[string]string{"Cookie": hr}), 200, "")
	})
	t.Run("checked before the role", func(t *testing.T) {
		// A session without the permission and without a token learns
		// nothing about the route's permission.
		mustStatus(t, s.do("POST", "/doors/1/unlock", "", map[string]string{"Cookie": hr}), 403, bad)
	})
}

func TestSessionCookie(t *testing.T) {
	cookieOf := func(t *testing.T, set func(c *gin.Context)) (*http.Cookie, string) {
		t.Helper()
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest("POST", "/login", nil)
		set(c)
		raw := w.Header().Values("Set-Cookie")
		cs := (&http.Response{Header: w.Header()}).Cookies()
		if len(raw) != 1 || len(cs) != 1 {
			t.Fatalf("Set-Cookie %q; want one cookie", raw)
		}
		return cs[0], raw[0]
	}
	for _, secure := range []bool{true, false} {
		ck, raw := cookieOf(t, func(c *gin.Context) {
			auth.SetSessionCookie(c, "__Host-varco", "abc_DEF-123", 12*time.Hour, secure)
		})
		if ck.Name != "__Host-varco" || ck.Value != "abc_DEF-123" || ck.Path != "/" || ck.Domain != "" {
			t.Errorf("cookie %q: want __Host-varco=abc_DEF-123; Path=/ and no Domain", raw)
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge != 43200 {
			t.Errorf("cookie %q: want HttpOnly; SameSite=Lax; Max-Age=43200", raw)
		}
		if ck.Secure != secure {
			t.Errorf("cookie %q: Secure = %v; want %v", raw, ck.Secure, secure)
		}
		for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Max-Age=43200"} {
			if !strings.Contains(raw, attr) {
				t.Errorf("Set-Cookie %q lacks %s", raw, attr)
			}
		}
		if strings.Contains(raw, "Secure") != secure {
			t.Errorf("Set-Cookie %q: Secure present = %v; want %v", raw, !secure, secure)
		}
	}
	t.Run("browser session", func(t *testing.T) {
		ck, raw := cookieOf(t, func(c *gin.Context) { auth.SetSessionCookie(c, "s", "v", 0, true) })
		if ck.MaxAge != 0 || strings.Contains(raw, "Max-Age") || strings.Contains(raw, "Expires") {
			t.Errorf("Set-Cookie %q: want no Max-Age or Expires", raw)
		}
	})
	t.Run("rounded up", func(t *testing.T) {
		ck, raw := cookieOf(t, func(c *gin.Context) { auth.SetSessionCookie(c, "s", "v", 1500*time.Millisecond, true) })
		if ck.MaxAge != 2 {
			t.Errorf("Set-Cookie %q: want Max-Age=2", raw)
		}
	})
	t.Run("clear", func(t *testing.T) {
		ck, raw := cookieOf(t, func(c *gin.Context) { auth.ClearSessionCookie(c, "s", true) })
		if ck.Value != "" || ck.MaxAge >= 0 || !strings.Contains(raw, "Max-Age=0") {
			t.Errorf("Set-Cookie %q: want an empty value with Max-Age=0", raw)
		}
		if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
			t.Errorf("Set-Cookie %q: want the attributes SetSessionCookie uses", raw)
		}
	})
}

func TestLoginRoundTrip(t *testing.T) {
	// A login handler as the server would write it: SameOrigin against
	// login CSRF, then a new session in a cookie that later requests use.
	s := newServer(t)
	s.engine.POST("/login", func(c *gin.Context) {
		if !auth.SameOrigin(c.Request) {
			c.AbortWithStatusJSON(403, gin.H{"error": "cross-site login refused"})
			return
		}
		id := s.res.AddSession(auth.Principal{UserID: 9, Username: "ada", Role: auth.RoleAdmin})
		auth.SetSessionCookie(c, cookieName, id, time.Hour, c.Request.TLS != nil)
		c.JSON(200, gin.H{"csrf": s.csrf.Token(id)})
	})
	w := s.do("POST", "/login", "", map[string]string{"Origin": "https://evil.example"})
	mustStatus(t, w, 403, "cross-site login refused")
	if len(w.Header().Values("Set-Cookie")) != 0 {
		t.Fatal("refused login set a cookie")
	}
	w = s.do("POST", "/login", "", map[string]string{"Origin": "http://example.com"}) // httptest's Host
	body := mustStatus(t, w, 200, "")
	cs := (&http.Response{Header: w.Header()}).Cookies()
	if len(cs) != 1 || cs[0].Secure {
		t.Fatalf("cookies %v; want one, not Secure over plain HTTP", cs)
	}
	hdr := map[string]string{"Cookie": cs[0].Value, auth.CSRFHeader: body["csrf"].(string)}
	mustStatus(t, s.do("POST", "/doors/1/unlock", "", hdr), 200, "")
}
