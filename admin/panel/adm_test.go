package panel

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/httpapi"
)

func init() {
	admins := []auth.Role{auth.RoleAdmin}
	pageAccessTable = append(pageAccessTable,
		pageAccess{"/users", admins},
		pageAccess{"/users/new", admins},
		pageAccess{"/users/{user}/edit", admins},
		pageAccess{"/account", []auth.Role{auth.RoleAdmin, auth.RoleHR, auth.RoleFacilities, auth.RoleViewer}},
		pageAccess{"/tokens", admins},
		pageAccess{"/audit", admins},
		pageAccess{"/settings", admins},
	)
}

// mustUser reads a user from the store by name.
func (e *env) mustUser(name string) admin.User {
	e.t.Helper()
	u, err := e.st.GetUserByUsername(e.t.Context(), name)
	if err != nil {
		e.t.Fatalf("user %s: %v", name, err)
	}
	return u
}

// login signs in through the panel's form; it reports whether it worked.
func (e *env) login(username, password string) (*client, bool) {
	e.t.Helper()
	c := e.anon()
	code, _, loc := c.post("/login", url.Values{"username": {username}, "password": {password}, "next": {"/"}})
	return c, code == http.StatusSeeOther && loc == "/"
}

// TestAdminUsers: create a user (the password policy is enforced and a
// refused form stores nothing), the user signs in with the panel's form,
// role edit, an administrator cannot disable, demote or delete their own
// account, a password reset ends the user's sessions, deletion, escaping,
// and the audit log shows the creation with its actor.
func TestAdminUsers(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	ad := e.as(auth.RoleAdmin)
	ad.mustGet("/users", "admin-user", "hr-user", "viewer-user", "Ultimo accesso")
	ad.mustGet("/users/new", `name="password"`, `value="facilities"`)

	// A weak password: the error names the field, nothing is stored.
	code, body, _ := ad.post("/users", url.Values{"username": {"mario"}, "role": {"hr"}, "password": {"short"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "La password non rispetta i requisiti") || !strings.Contains(body, `id="password-err"`) {
		t.Fatalf("weak password: %d\n%s", code, clip(body))
	}
	if !strings.Contains(body, `value="mario"`) {
		t.Errorf("the form lost the username")
	}
	if _, err := e.st.GetUserByUsername(ctx, "mario"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("a refused user was stored: %v", err)
	}
	// A bad role is refused too.
	if code, _, _ := ad.post("/users", url.Values{"username": {"mario"}, "role": {"root"}, "password": {"a long enough password"}}); code != http.StatusBadRequest {
		t.Fatalf("unknown role: %d", code)
	}

	const pw = "mario's long password"
	code, _, loc := ad.post("/users", url.Values{"username": {"mario"}, "role": {"hr"}, "password": {pw}})
	if code != http.StatusSeeOther || loc != "/users?done=done.user.created" {
		t.Fatalf("create: %d → %q", code, loc)
	}
	mario := e.mustUser("mario")
	if mario.Role != "hr" || mario.Disabled {
		t.Fatalf("stored %+v", mario)
	}
	if ok, _, err := auth.VerifyPassword(mario.PasswordHash, pw); !ok || err != nil {
		t.Fatalf("stored hash does not verify: %v %v", ok, err)
	}
	ad.mustGet("/users?done=done.user.created", "Utente creato.", "mario")
	// The same name again: an error on the username.
	code, body, _ = ad.post("/users", url.Values{"username": {"mario"}, "role": {"hr"}, "password": {pw}})
	if code != http.StatusBadRequest || !strings.Contains(body, "Questo nome utente esiste già") {
		t.Fatalf("duplicate: %d\n%s", code, clip(body))
	}

	// Mario signs in with the panel's form.
	mc, ok := e.login("mario", pw)
	if !ok {
		t.Fatal("the new user cannot sign in")
	}
	if code, _, loc := mc.get("/"); code != http.StatusSeeOther || loc != "/people" {
		t.Fatalf("mario's home: %d → %q", code, loc)
	}
	if code, _, _ := mc.get("/users"); code != http.StatusForbidden {
		t.Fatalf("HR opened /users: %d", code)
	}

	// Edit the role.
	ad.mustGet(fmt.Sprintf("/users/%d/edit", mario.ID), "mario", `<option value="hr" selected>`)
	code, _, loc = ad.post(fmt.Sprintf("/users/%d", mario.ID), url.Values{"role": {"facilities"}})
	if code != http.StatusSeeOther || loc != "/users?done=done.user.saved" {
		t.Fatalf("edit: %d → %q", code, loc)
	}
	if u := e.mustUser("mario"); u.Role != "facilities" || u.Disabled {
		t.Fatalf("after edit: %+v", u)
	}

	// The administrator cannot disable, demote or delete themselves.
	me := e.users[auth.RoleAdmin]
	for _, f := range []url.Values{{"role": {"admin"}, "disabled": {"1"}}, {"role": {"viewer"}}} {
		code, body, _ := ad.post(fmt.Sprintf("/users/%d", me.ID), f)
		if code != http.StatusConflict || !strings.Contains(body, "Non puoi disattivare, declassare o eliminare il tuo stesso account") {
			t.Fatalf("self edit %v: %d\n%s", f, code, clip(body))
		}
	}
	code, body, _ = ad.post(fmt.Sprintf("/users/%d/delete", me.ID), nil)
	if code != http.StatusConflict || !strings.Contains(body, "tuo stesso account") {
		t.Fatalf("self delete: %d\n%s", code, clip(body))
	}
	if u := e.mustUser(me.Username); u.Disabled || u.Role != "admin" {
		t.Fatalf("the admin changed their own account: %+v", u)
	}
	ad.mustGet(fmt.Sprintf("/users/%d/edit", me.ID), "È il tuo account")

	// A password reset: a weak one is refused and changes nothing; a good
	// one ends mario's sessions.
	code, body, _ = ad.post(fmt.Sprintf("/users/%d/password", mario.ID), url.Values{"password": {"aaaaaaaaaaaaaaa"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "La password non rispetta") {
		t.Fatalf("weak reset: %d\n%s", code, clip(body))
	}
	if code, _, _ := mc.get("/doors"); code == http.StatusSeeOther {
		t.Fatal("a refused reset ended the session")
	}
	const pw2 = "a brand new password"
	code, _, loc = ad.post(fmt.Sprintf("/users/%d/password", mario.ID), url.Values{"password": {pw2}})
	if code != http.StatusSeeOther || loc != fmt.Sprintf("/users/%d/edit?done=done.user.password", mario.ID) {
		t.Fatalf("reset: %d → %q", code, loc)
	}
	if code, _, loc := mc.get("/account"); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?") || !strings.Contains(loc, "expired=1") {
		t.Fatalf("mario after the reset: %d → %q, want the login page", code, loc)
	}
	if _, ok := e.login("mario", pw); ok {
		t.Fatal("the old password still works")
	}
	if _, ok := e.login("mario", pw2); !ok {
		t.Fatal("the new password does not work")
	}

	// Disable: mario cannot sign in.
	if code, _, _ := ad.post(fmt.Sprintf("/users/%d", mario.ID), url.Values{"role": {"facilities"}, "disabled": {"1"}}); code != http.StatusSeeOther {
		t.Fatalf("disable: %d", code)
	}
	if _, ok := e.login("mario", pw2); ok {
		t.Fatal("a disabled user signed in")
	}
	ad.mustGet("/users", "disattivato")

	// Names are escaped.
	if code, _, _ := ad.post("/users", url.Values{"username": {"<script>x</script>"}, "role": {"viewer"}, "password": {pw}}); code != http.StatusSeeOther {
		t.Fatalf("create <script>: %d", code)
	}
	body = ad.mustGet("/users", "&lt;script&gt;x&lt;/script&gt;")
	if strings.Contains(body, "<script>x") {
		t.Fatal("a username came back unescaped")
	}

	// The audit log shows the creation with its actor and the new row.
	body = ad.mustGet("/audit?entity=user&action=create&actor=admin-user", "<td>admin-user</td>", "creazione", "<details>", "mario")
	if strings.Contains(body, "<script>x") {
		t.Fatal("audit JSON came back unescaped")
	}
	if !regexp.MustCompile(`(?s)<pre class="adm-json">[^<]*&#34;username&#34;: &#34;mario&#34;`).MatchString(body) {
		t.Errorf("no indented after-JSON of mario in\n%s", clip(body))
	}
	ad.mustGet("/audit?actor=nobody", "Nessuna voce")

	// Deleting a user.
	code, _, loc = ad.post(fmt.Sprintf("/users/%d/delete", mario.ID), nil)
	if code != http.StatusSeeOther || loc != "/users?done=done.user.deleted" {
		t.Fatalf("delete: %d → %q", code, loc)
	}
	if _, err := e.st.GetUserByUsername(ctx, "mario"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("mario still there: %v", err)
	}
}

// TestAdminAccount: every role changes its own password; a wrong current
// password or a weak new one is refused and changes nothing; afterwards
// the user signs in again with the new one.
func TestAdminAccount(t *testing.T) {
	e := newEnv(t)
	v := e.as(auth.RoleViewer)
	v.mustGet("/account", "viewer-user", "osservatore", `name="current"`)
	code, body, _ := v.post("/account/password", url.Values{"current": {"wrong password!"}, "new": {"another good password"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "La password attuale non è corretta") || !strings.Contains(body, `id="current-err"`) {
		t.Fatalf("wrong current: %d\n%s", code, clip(body))
	}
	code, body, _ = v.post("/account/password", url.Values{"current": {testPassword}, "new": {"short"}})
	if code != http.StatusBadRequest || !strings.Contains(body, `id="new-err"`) {
		t.Fatalf("weak new: %d\n%s", code, clip(body))
	}
	if _, ok := e.login("viewer-user", testPassword); !ok {
		t.Fatal("a refused change changed the password")
	}
	code, _, loc := v.post("/account/password", url.Values{"current": {testPassword}, "new": {"another good password"}})
	if code != http.StatusSeeOther || loc != "/login?done=done.account.password" {
		t.Fatalf("change: %d → %q", code, loc)
	}
	v.mustGet(loc, "Password cambiata")
	if _, ok := e.login("viewer-user", testPassword); ok {
		t.Fatal("the old password still works")
	}
	if _, ok := e.login("viewer-user", "another good password"); !ok {
		t.Fatal("the new password does not work")
	}
}

var plainTokenRE = regexp.MustCompile(`id="plain"[^>]*value="(vt_[^"]+)"`)

// bearer calls the API's /auth/me with token: the status and the role.
func (e *env) bearer(token string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+httpapi.Prefix+"/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct {
		Role string `json:"role"`
	}
	json.NewDecoder(resp.Body).Decode(&me)
	return resp.StatusCode, me.Role
}

// TestAdminTokens: a token is shown once, works as a bearer token with
// its role, lists with its creator, and stops working when revoked; bad
// input stores nothing.
func TestAdminTokens(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	ad := e.as(auth.RoleAdmin)
	ad.mustGet("/tokens", "Nessun token", `name="expires_at"`)
	for _, f := range []url.Values{
		{"name": {""}, "role": {"viewer"}},
		{"name": {"ci"}, "role": {"viewer"}, "expires_at": {"tomorrow"}},
		{"name": {"ci"}, "role": {"viewer"}, "expires_at": {"2001-01-01T10:00"}},
	} {
		code, body, _ := ad.post("/tokens", f)
		if code != http.StatusBadRequest || !strings.Contains(body, `aria-invalid="true"`) {
			t.Fatalf("bad token %v: %d\n%s", f, code, clip(body))
		}
	}
	if ts, _ := e.st.ListAPITokens(ctx); len(ts) != 0 {
		t.Fatalf("a refused token was stored: %+v", ts)
	}

	code, body, _ := ad.post("/tokens", url.Values{"name": {"ci <b>"}, "role": {"viewer"}, "expires_at": {"2099-01-01T10:00"}})
	m := plainTokenRE.FindStringSubmatch(body)
	if code != http.StatusCreated || m == nil || !strings.Contains(body, "non verrà più mostrato") {
		t.Fatalf("create: %d\n%s", code, clip(body))
	}
	plain := m[1]
	if !strings.Contains(body, "ci &lt;b&gt;") {
		t.Error("the token's name came back unescaped")
	}
	ts, _ := e.st.ListAPITokens(ctx)
	if len(ts) != 1 || ts[0].Role != "viewer" || ts[0].ExpiresAt == nil || ts[0].ExpiresAt.Year() != 2099 || ts[0].UserID != e.users[auth.RoleAdmin].ID {
		t.Fatalf("stored %+v", ts)
	}
	if ts[0].Hash == plain || strings.Contains(ts[0].Hash, plain) {
		t.Fatal("the plain token is stored")
	}
	// Shown once: the list does not carry it.
	body = ad.mustGet("/tokens", "ci &lt;b&gt;", "admin-user", "osservatore", "attivo")
	if strings.Contains(body, plain) {
		t.Fatal("the list shows the plain token")
	}
	if code, role := e.bearer(plain); code != http.StatusOK || role != "viewer" {
		t.Fatalf("bearer: %d %q", code, role)
	}
	ad.mustGet("/tokens", "ci &lt;b&gt;") // last use recorded, shown
	if ts, _ := e.st.ListAPITokens(ctx); ts[0].LastUsedAt == nil {
		t.Error("use not recorded")
	}
	code, _, loc := ad.post(fmt.Sprintf("/tokens/%d/revoke", ts[0].ID), nil)
	if code != http.StatusSeeOther || loc != "/tokens?done=done.token.revoked" {
		t.Fatalf("revoke: %d → %q", code, loc)
	}
	if ts, _ := e.st.ListAPITokens(ctx); ts[0].RevokedAt == nil {
		t.Fatal("not revoked in the store")
	}
	if code, _ := e.bearer(plain); code != http.StatusUnauthorized {
		t.Fatalf("revoked bearer: %d", code)
	}
	ad.mustGet("/tokens", "revocato il")
}

// TestAdmRoleWithin: a token's role may not exceed its creator's.
func TestAdmRoleWithin(t *testing.T) {
	for _, tc := range []struct {
		r, within auth.Role
		want      bool
	}{
		{auth.RoleAdmin, auth.RoleAdmin, true}, {auth.RoleViewer, auth.RoleAdmin, true},
		{auth.RoleAdmin, auth.RoleHR, false}, {auth.RoleViewer, auth.RoleFacilities, true},
		{auth.RoleHR, auth.RoleFacilities, false}, {auth.RoleFacilities, auth.RoleViewer, false},
	} {
		if got := admRoleWithin(tc.r, tc.within); got != tc.want {
			t.Errorf("%s within %s: %v", tc.r, tc.within, got)
		}
	}
}

// TestAdminAuditPaging: the audit log pages by 50 with a link to the
// next page, and a bad date names its field.
func TestAdminAuditPaging(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	bulk := admin.Actor{Name: "bulk"}
	for i := range admAuditPage + 5 {
		s := admin.Schedule{Name: fmt.Sprintf("S%02d", i)}
		if err := e.st.CreateSchedule(ctx, bulk, &s); err != nil {
			t.Fatal(err)
		}
	}
	ad := e.as(auth.RoleAdmin)
	body := ad.mustGet("/audit?actor=bulk")
	if n := strings.Count(body, "<td>bulk</td>"); n != admAuditPage {
		t.Fatalf("first page: %d rows", n)
	}
	next := regexp.MustCompile(`href="(/audit\?[^"]*before=[0-9]+[^"]*)"`).FindStringSubmatch(body)
	if next == nil {
		t.Fatalf("no next link\n%s", clip(body))
	}
	body = ad.mustGet(strings.ReplaceAll(next[1], "&amp;", "&"), "S00", "S04")
	if n := strings.Count(body, "<td>bulk</td>"); n != 5 {
		t.Fatalf("second page: %d rows", n)
	}
	if strings.Contains(body, "before=") {
		t.Error("a next link after the last page")
	}
	// A day range in the site's zone: today holds them all, a past range none.
	today := e.panel.o.Now().In(e.panel.location(ctx)).Format("2006-01-02")
	if n := strings.Count(ad.mustGet("/audit?actor=bulk&from="+today+"&to="+today), "<td>bulk</td>"); n != admAuditPage {
		t.Fatalf("today: %d rows", n)
	}
	ad.mustGet("/audit?actor=bulk&from=2001-01-01&to=2001-01-31", "Nessuna voce")
	code, body, _ := ad.get("/audit?from=yesterday")
	if code != http.StatusBadRequest || !strings.Contains(body, `id="from-err"`) {
		t.Fatalf("bad date: %d\n%s", code, clip(body))
	}
}

// TestAdminSettings: the settings page shows the server's settings and
// where they are set; the site's time zone is edited, a bad zone names
// time_zone and changes nothing, names are escaped.
func TestAdminSettings(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	ad := e.as(auth.RoleAdmin)
	ad.mustGet("/settings", "/var/lib/varco-admin/csca", "2 certificati caricati", "365 giorni", "sqlite", "embedded",
		"varco-admin.toml", "csca_dir", "database.driver", "mqtt.*", "Europe/Rome")
	sites, _ := e.st.ListSites(ctx)
	site := sites[0]
	code, body, _ := ad.post(fmt.Sprintf("/settings/site/%d", site.ID), url.Values{"name": {site.Name}, "time_zone": {"Mars/Olympus"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "(time_zone)") || !strings.Contains(body, `value="Mars/Olympus"`) ||
		!strings.Contains(body, fmt.Sprintf(`id="tz-%d-err"`, site.ID)) {
		t.Fatalf("bad zone: %d\n%s", code, clip(body))
	}
	if s, _ := e.st.GetSite(ctx, site.ID); s.TimeZone != site.TimeZone {
		t.Fatalf("a bad zone was stored: %+v", s)
	}
	code, _, loc := ad.post(fmt.Sprintf("/settings/site/%d", site.ID), url.Values{"name": {"Sede <b>"}, "time_zone": {"Europe/London"}})
	if code != http.StatusSeeOther || loc != "/settings?done=done.site.saved" {
		t.Fatalf("save: %d → %q", code, loc)
	}
	if s, _ := e.st.GetSite(ctx, site.ID); s.TimeZone != "Europe/London" || s.Name != "Sede <b>" {
		t.Fatalf("stored %+v", s)
	}
	body = ad.mustGet("/settings?done=done.site.saved", "Sede salvata", "Sede &lt;b&gt;", `value="Europe/London"`)
	if strings.Contains(body, "Sede <b>") {
		t.Fatal("the site name came back unescaped")
	}
	// The panel now shows times in the new zone.
	ad.mustGet("/users", "Orari nel fuso Europe/London")
	// Only administrators change it.
	hr := e.as(auth.RoleHR)
	hr.get("/account")
	if code, _, _ := hr.post(fmt.Sprintf("/settings/site/%d", site.ID), url.Values{"name": {"x"}, "time_zone": {"UTC"}}); code != http.StatusForbidden {
		t.Fatalf("HR changed the site: %d", code)
	}
}

// TestAdminAccountLink: every page's header links the signed-in name to
// the account page.
func TestAdminAccountLink(t *testing.T) {
	e := newEnv(t)
	e.as(auth.RoleFacilities).mustGet("/account", `<a href="/account" aria-current="page">`)
}

// TestAdmAuditActions: every action the filter offers has a text, and an
// action without one is shown as stored.
func TestAdmAuditActions(t *testing.T) {
	for _, a := range admAuditActions {
		if admActionKey(a) == "" {
			t.Errorf("audit action %s has no text", a)
		}
	}
	if k := admActionKey("frobnicate"); k != "" {
		t.Errorf("unknown action: key %q", k)
	}
}
