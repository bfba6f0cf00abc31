package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/httpapi"
)

// allowed is the authorisation policy of every route, written out by hand
// from the role definitions (a: admin, h: hr, f: facilities, v:
// viewer; "*" any logged-in principal; "public" no login), independently
// of the route table, so that a route registered with the wrong
// permission fails here.
var allowed = map[string]string{
	"POST /auth/login":    "public",
	"POST /auth/logout":   "*",
	"GET /auth/me":        "*",
	"POST /auth/password": "*",

	"GET /sites":        "ahfv",
	"POST /sites":       "af",
	"GET /sites/:id":    "ahfv",
	"PUT /sites/:id":    "af",
	"DELETE /sites/:id": "af",

	"GET /people":             "ahf",
	"POST /people":            "ah",
	"POST /people/import":     "ah",
	"GET /people/export":      "ahf",
	"GET /people/:id":         "ahf",
	"PUT /people/:id":         "ah",
	"DELETE /people/:id":      "ah",
	"GET /people/:id/cards":   "ah",
	"GET /people/:id/groups":  "ahf",
	"POST /cards":             "ah",
	"GET /cards":              "ah",
	"GET /cards/:id":          "ah",
	"PUT /cards/:id/status":   "ah",
	"POST /cards/:id/replace": "ah",
	"DELETE /cards/:id":       "ah",
	"POST /enrol/sessions":    "ah",
	"GET /enrol/sessions/:id": "ah",

	"GET /groups":               "ahf",
	"POST /groups":              "ah",
	"GET /groups/:id":           "ahf",
	"PUT /groups/:id":           "ah",
	"DELETE /groups/:id":        "ah",
	"POST /groups/:id/people":   "ah",
	"DELETE /groups/:id/people": "ah",
	"POST /groups/:id/doors":    "ah",
	"DELETE /groups/:id/doors":  "ah",
	"GET /doors":                "ahfv",
	"POST /doors":               "af",
	"GET /doors/:id":            "ahfv",
	"PUT /doors/:id":            "af",
	"DELETE /doors/:id":         "af",
	"POST /doors/:id/unlock":    "af",
	"POST /doors/:id/resync":    "af",
	"PUT /doors/:id/mode":       "af",
	"GET /doors/:id/status":     "ahfv",
	"GET /doors/:id/access":     "ahf",
	"GET /schedules":            "ahf",
	"POST /schedules":           "af",
	"GET /schedules/:id":        "ahf",
	"PUT /schedules/:id":        "af",
	"DELETE /schedules/:id":     "af",
	"GET /holidays":             "ahf",
	"POST /holidays":            "af",
	"GET /holidays/:id":         "ahf",
	"PUT /holidays/:id":         "af",
	"DELETE /holidays/:id":      "af",
	"GET /events":               "afv",
	"GET /events/export":        "af",
	"GET /users":                "a",
	"POST /users":               "a",
	"GET /users/:id":            "a",
	"PUT /users/:id":            "a",
	"PUT /users/:id/password":   "a",
	"DELETE /users/:id":         "a",
	"GET /tokens":               "a",
	"POST /tokens":              "a",
	"DELETE /tokens/:id":        "a",
	"GET /audit":                "a",
	"GET /openapi.json":         "public",
}

var roleLetter = map[auth.Role]string{auth.RoleAdmin: "a", auth.RoleHR: "h", auth.RoleFacilities: "f", auth.RoleViewer: "v"}

// TestEveryRouteEveryRole calls every registered route as every role (by
// API token), anonymously and with a session lacking the CSRF token, and
// checks who gets through.
func TestEveryRouteEveryRole(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		r := gin.New()
		e.api.Register(r)
		seen := map[string]bool{}
		for _, ri := range r.Routes() {
			rel := strings.TrimPrefix(ri.Path, httpapi.Prefix)
			key := ri.Method + " " + rel
			seen[key] = true
			policy, ok := allowed[key]
			if !ok {
				t.Errorf("route %s is not in the test's policy table: add it", key)
				continue
			}
			if policy == "public" {
				continue
			}
			path := strings.NewReplacer(":id", "999999").Replace(rel)
			method := ri.Method
			for _, role := range auth.Roles() {
				res := e.as(role, req{method: method, path: path, body: map[string]any{}})
				want := policy == "*" || strings.Contains(policy, roleLetter[role])
				switch {
				case want && (res.code == http.StatusForbidden || res.code == http.StatusUnauthorized):
					t.Errorf("%s as %s: %d %s, want access", key, role, res.code, res.body)
				case !want && res.code != http.StatusForbidden:
					t.Errorf("%s as %s: %d %s, want 403", key, role, res.code, res.body)
				}
			}
			if res := e.do(req{method: method, path: path, body: map[string]any{}}); res.code != http.StatusUnauthorized {
				t.Errorf("%s anonymous: %d, want 401", key, res.code)
			}
		}
		for key := range allowed {
			if !seen[key] {
				t.Errorf("policy table names %s, which is not registered", key)
			}
		}

		// Sessions: every unsafe method needs the CSRF token; safe ones do
		// not.
		b := e.login(auth.RoleAdmin)
		for key := range allowed {
			method, rel, _ := strings.Cut(key, " ")
			if method == "GET" || rel == "/auth/login" {
				continue
			}
			path := strings.NewReplacer(":id", "999999").Replace(rel)
			if res := b.do(req{method: method, path: path, body: map[string]any{}}, false); res.code != http.StatusForbidden || !contains(string(res.body), "CSRF") {
				t.Errorf("%s by session without CSRF token: %d %s, want 403", key, res.code, res.body)
			}
		}
	})
}
