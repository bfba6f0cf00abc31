package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/httpapi"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
	"github.com/varco-access/varco/wire"
)

func TestSessionLoginCSRFLogout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		// Wrong password, unknown user: the same 401.
		for _, body := range []map[string]string{
			{"username": "hr-user", "password": "wrong password here"},
			{"username": "nobody", "password": testPassword},
		} {
			r := e.do(req{method: "POST", path: "/auth/login", body: body, header: map[string]string{"Origin": e.srv.URL}})
			if r.code != 401 || !contains(string(r.body), "wrong username or password") {
				t.Errorf("login %v: %d %s", body["username"], r.code, r.body)
			}
		}
		// A login posted from another site is refused (login CSRF).
		if r := e.do(req{method: "POST", path: "/auth/login", body: map[string]string{"username": "hr-user", "password": testPassword},
			header: map[string]string{"Origin": "https://evil.example"}}); r.code != 403 {
			t.Errorf("cross-origin login: %d %s", r.code, r.body)
		}

		b := e.login(auth.RoleHR)
		// The cookie is HttpOnly and SameSite: check the raw Set-Cookie.
		raw := e.do(req{method: "POST", path: "/auth/login", body: map[string]string{"username": "hr-user", "password": testPassword}, header: map[string]string{"Origin": e.srv.URL}})
		sc := raw.header.Get("Set-Cookie")
		if !strings.Contains(sc, httpapi.SessionCookie+"=") || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") || strings.Contains(sc, "Secure") {
			t.Errorf("Set-Cookie %q: want HttpOnly, SameSite=Lax, not Secure without TLS", sc)
		}

		var me struct {
			Username    string   `json:"username"`
			Role        string   `json:"role"`
			Permissions []string `json:"permissions"`
		}
		r := b.do(req{method: "GET", path: "/auth/me"}, false)
		r.json(t, &me)
		if me.Username != "hr-user" || me.Role != "hr" || !contains(strings.Join(me.Permissions, ","), "enrol") || contains(strings.Join(me.Permissions, ","), "doors.control") {
			t.Errorf("me = %+v", me)
		}
		person := map[string]any{"employee_no": "E1", "name": "Anna", "surname": "Bianchi", "active": true}
		if r := b.do(req{method: "POST", path: "/people", body: person}, false); r.code != 403 {
			t.Errorf("write without CSRF token: %d", r.code)
		}
		if r := b.do(req{method: "POST", path: "/people", body: person, header: map[string]string{"X-CSRF-Token": "forged"}}, false); r.code != 403 {
			t.Errorf("write with a forged CSRF token: %d", r.code)
		}
		if r := b.do(req{method: "POST", path: "/people", body: person}, true); r.code != 201 {
			t.Fatalf("write with CSRF token: %d %s", r.code, r.body)
		}
		// The audit log names the session's user.
		var audit struct {
			Entries []admin.AuditEntry `json:"entries"`
		}
		e.must(200, req{method: "GET", path: "/audit?entity=person"}).json(t, &audit)
		if len(audit.Entries) != 1 || audit.Entries[0].Actor != "hr-user" || audit.Entries[0].Action != "create" || !bytes.Contains(audit.Entries[0].After, []byte("Bianchi")) {
			t.Errorf("audit after create: %+v", audit.Entries)
		}
		// HR may not lock a door down nor read the audit log.
		if r := b.do(req{method: "GET", path: "/audit"}, false); r.code != 403 {
			t.Errorf("hr reads audit: %d", r.code)
		}
		if r := b.do(req{method: "POST", path: "/auth/logout"}, true); r.code != 204 {
			t.Fatalf("logout: %d %s", r.code, r.body)
		}
		if r := b.do(req{method: "GET", path: "/auth/me"}, false); r.code != 401 {
			t.Errorf("after logout: %d", r.code)
		}
	})
}

func TestLoginLockout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		bad := map[string]string{"username": "viewer-user", "password": "not the password!"}
		for i := range 5 {
			if r := e.do(req{method: "POST", path: "/auth/login", body: bad, header: map[string]string{"Origin": e.srv.URL}}); r.code != 401 {
				t.Fatalf("failure %d: %d", i+1, r.code)
			}
		}
		r := e.do(req{method: "POST", path: "/auth/login", body: map[string]string{"username": "viewer-user", "password": testPassword}, header: map[string]string{"Origin": e.srv.URL}})
		if r.code != 429 || r.header.Get("Retry-After") == "" {
			t.Fatalf("6th attempt, right password, during the lock: %d %s (Retry-After %q)", r.code, r.body, r.header.Get("Retry-After"))
		}
	})
}

func TestTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var tok struct {
			ID    int64  `json:"id"`
			Token string `json:"token"`
			Role  string `json:"role"`
		}
		e.must(201, req{method: "POST", path: "/tokens", body: map[string]any{"name": "badge-sync", "role": "viewer"}}).json(t, &tok)
		if !strings.HasPrefix(tok.Token, auth.TokenPrefix) || tok.Role != "viewer" {
			t.Fatalf("token %+v", tok)
		}
		if r := e.do(req{method: "GET", path: "/doors", token: tok.Token}); r.code != 200 {
			t.Errorf("viewer token reads doors: %d", r.code)
		}
		if r := e.do(req{method: "GET", path: "/people", token: tok.Token}); r.code != 403 {
			t.Errorf("viewer token reads people: %d", r.code)
		}
		// The list never shows the secret nor its hash.
		r := e.must(200, req{method: "GET", path: "/tokens"})
		if bytes.Contains(r.body, []byte(tok.Token)) || bytes.Contains(r.body, []byte(auth.HashSecret(tok.Token))) {
			t.Errorf("token list leaks the token: %s", r.body)
		}
		e.must(204, req{method: "DELETE", path: fmt.Sprintf("/tokens/%d", tok.ID)})
		if r := e.do(req{method: "GET", path: "/doors", token: tok.Token}); r.code != 401 {
			t.Errorf("revoked token: %d", r.code)
		}
		if r := e.do(req{method: "GET", path: "/doors", token: "vt_" + strings.Repeat("A", 43)}); r.code != 401 {
			t.Errorf("unknown token: %d", r.code)
		}
		if r := e.do(req{method: "GET", path: "/doors", header: map[string]string{"Authorization": "Basic abc"}}); r.code != 401 {
			t.Errorf("malformed Authorization: %d", r.code)
		}
	})
}

func TestUsersAndPasswords(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		if r := e.as(auth.RoleAdmin, req{method: "POST", path: "/users", body: map[string]any{"username": "mario", "password": "short", "role": "hr"}}); r.code != 400 || r.fields(t)["password"] == "" {
			t.Errorf("weak password: %d %s", r.code, r.body)
		}
		if r := e.as(auth.RoleAdmin, req{method: "POST", path: "/users", body: map[string]any{"username": "mario", "password": testPassword, "role": "boss"}}); r.code != 400 || r.fields(t)["role"] == "" {
			t.Errorf("unknown role: %d %s", r.code, r.body)
		}
		var u admin.User
		r := e.must(201, req{method: "POST", path: "/users", body: map[string]any{"username": "mario", "password": testPassword, "role": "facilities"}})
		r.json(t, &u)
		if bytes.Contains(r.body, []byte("argon2")) {
			t.Errorf("user answer holds the hash: %s", r.body)
		}
		if r := e.as(auth.RoleAdmin, req{method: "POST", path: "/users", body: map[string]any{"username": "mario", "password": testPassword, "role": "hr"}}); r.code != 409 {
			t.Errorf("duplicate username: %d", r.code)
		}
		// A browser session of mario ends when an admin sets his password.
		b := e.login(auth.RoleFacilities)
		_ = b
		jarLogin := func(user, pw string) int {
			return e.do(req{method: "POST", path: "/auth/login", body: map[string]string{"username": user, "password": pw}, header: map[string]string{"Origin": e.srv.URL}}).code
		}
		if c := jarLogin("mario", testPassword); c != 200 {
			t.Fatalf("mario login: %d", c)
		}
		e.must(204, req{method: "PUT", path: fmt.Sprintf("/users/%d/password", u.ID), body: map[string]string{"password": "a brand new passphrase"}})
		if c := jarLogin("mario", testPassword); c != 401 {
			t.Errorf("old password after reset: %d", c)
		}
		if c := jarLogin("mario", "a brand new passphrase"); c != 200 {
			t.Errorf("new password: %d", c)
		}
		// Disabled users cannot log in; an admin cannot disable themself.
		e.must(200, req{method: "PUT", path: fmt.Sprintf("/users/%d", u.ID), body: map[string]any{"username": "mario", "role": "facilities", "disabled": true}})
		if c := jarLogin("mario", "a brand new passphrase"); c != 401 {
			t.Errorf("disabled user logs in: %d", c)
		}
		ab := e.login(auth.RoleAdmin)
		if r := ab.do(req{method: "DELETE", path: fmt.Sprintf("/users/%d", e.users[auth.RoleAdmin].ID)}, true); r.code != 409 {
			t.Errorf("admin deletes themself: %d %s", r.code, r.body)
		}
		// Changing one's own password needs the current one.
		if r := ab.do(req{method: "POST", path: "/auth/password", body: map[string]string{"current": "nope nope nope", "new": "another long passphrase"}}, true); r.code != 400 {
			t.Errorf("own password with a wrong current one: %d", r.code)
		}
		if r := ab.do(req{method: "POST", path: "/auth/password", body: map[string]string{"current": testPassword, "new": "another long passphrase"}}, true); r.code != 204 {
			t.Errorf("own password: %d %s", r.code, r.body)
		}
	})
}

// TestBadInput covers what the issue lists: malformed JSON, wrong types,
// unknown fields, oversized bodies, bad NIS, and SQL metacharacters and
// HTML in names, which are stored verbatim and come back escaped.
func TestBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		for _, tc := range []struct {
			name  string
			q     req
			code  int
			field string // expected in "fields"
			msg   string // expected in the body
		}{
			{"malformed", req{method: "POST", path: "/people", raw: []byte(`{"name": "Anna",`), ctype: "application/json"}, 400, "", "malformed JSON"},
			{"not an object", req{method: "POST", path: "/people", raw: []byte(`[1,2]`), ctype: "application/json"}, 400, "body", ""},
			{"trailing data", req{method: "POST", path: "/people", raw: []byte(`{} {}`), ctype: "application/json"}, 400, "", "data after the object"},
			{"empty", req{method: "POST", path: "/people", raw: []byte(``), ctype: "application/json"}, 400, "", "empty body"},
			{"wrong type", req{method: "POST", path: "/people", body: map[string]any{"employee_no": 12, "name": "A", "surname": "B"}}, 400, "employee_no", ""},
			{"wrong bool", req{method: "POST", path: "/people", body: map[string]any{"employee_no": "1", "name": "A", "surname": "B", "active": "yes"}}, 400, "active", ""},
			{"unknown field", req{method: "POST", path: "/people", body: map[string]any{"employee_no": "1", "name": "A", "surname": "B", "salary": 1}}, 400, "salary", ""},
			{"missing fields", req{method: "POST", path: "/people", body: map[string]any{"employee_no": "1"}}, 400, "surname", ""},
			{"control chars", req{method: "POST", path: "/people", body: map[string]any{"employee_no": "1", "name": "A\x00", "surname": "B"}}, 400, "name", ""},
			{"text/plain", req{method: "POST", path: "/people", raw: []byte(`{}`), ctype: "text/plain"}, 400, "", "Content-Type"},
			{"oversized", req{method: "POST", path: "/people", raw: append(append([]byte(`{"name":"`), bytes.Repeat([]byte("a"), httpapi.MaxJSONBody)...), `"}`...), ctype: "application/json"}, 413, "", "too large"},
			{"bad id", req{method: "GET", path: "/people/abc"}, 400, "id", ""},
			{"negative id", req{method: "GET", path: "/people/-1"}, 400, "id", ""},
			{"not found", req{method: "GET", path: "/people/424242"}, 404, "", "not found"},
			{"no route", req{method: "GET", path: "/nothing-here"}, 404, "", "no such API route"},
			{"nis letters", req{method: "GET", path: "/cards?nis=12345678901A"}, 400, "nis", ""},
			{"nis short", req{method: "POST", path: "/cards", body: map[string]any{"person_id": 1, "nis": "123", "public_key": "AA==", "sod": "AA=="}}, 400, "nis", ""},
			{"bad cursor", req{method: "GET", path: "/events?cursor=%27%3B--"}, 400, "cursor", ""},
			{"bad time", req{method: "GET", path: "/events?from=yesterday"}, 400, "from", ""},
			{"bad limit", req{method: "GET", path: "/people?limit=1000000"}, 400, "limit", ""},
			{"bad site filter", req{method: "GET", path: "/doors?site_id=x"}, 400, "site_id", ""},
			{"bad holiday site filter", req{method: "GET", path: "/holidays?site_id=-2"}, 400, "site_id", ""},
			{"bad mode", req{method: "PUT", path: "/doors/1/mode", body: map[string]string{"mode": "open-sesame"}}, 400, "mode", ""},
			{"bad schedule", req{method: "POST", path: "/schedules", body: map[string]any{"name": "x", "days": [][]map[string]int{{{"start": 600, "end": 500}}, {}, {}, {}, {}, {}, {}}}}, 400, "days[0][0]", ""},
			{"bad time zone", req{method: "POST", path: "/sites", body: map[string]any{"name": "Milano", "time_zone": "Mars/Olympus"}}, 400, "time_zone", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.as(auth.RoleAdmin, tc.q)
				if r.code != tc.code {
					t.Fatalf("%d %s, want %d", r.code, r.body, tc.code)
				}
				if tc.field != "" {
					if f := r.fields(t); f[tc.field] == "" {
						t.Errorf("fields %v lack %q", f, tc.field)
					}
				}
				if tc.msg != "" && !contains(string(r.body), tc.msg) {
					t.Errorf("body %s lacks %q", r.body, tc.msg)
				}
			})
		}

		// Names with SQL and HTML are stored as typed and escaped in JSON.
		evil := map[string]any{"employee_no": "E'1; DROP TABLE people;--", "name": "<script>alert(1)</script>", "surname": "O'Brien\"); DELETE FROM cards;--", "active": true}
		var p admin.Person
		r := e.must(201, req{method: "POST", path: "/people", body: evil})
		if bytes.Contains(r.body, []byte("<script>")) {
			t.Errorf("HTML not escaped in JSON: %s", r.body)
		}
		r.json(t, &p)
		e.must(200, req{method: "GET", path: fmt.Sprintf("/people/%d", p.ID)}).json(t, &p)
		if p.Name != evil["name"] || p.Surname != evil["surname"] || p.EmployeeNo != evil["employee_no"] {
			t.Errorf("round trip changed the names: %+v", p)
		}
		var list struct {
			People []admin.Person `json:"people"`
			Total  int            `json:"total"`
		}
		e.must(200, req{method: "GET", path: "/people?q=" + "O%27Brien"}).json(t, &list)
		if list.Total != 1 {
			t.Errorf("search for O'Brien: %+v", list)
		}
	})
}

func TestPeopleCRUDAndConflicts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var p admin.Person
		e.must(201, req{method: "POST", path: "/people", body: map[string]any{"employee_no": "100", "name": "Anna", "surname": "Bianchi", "department": "HR", "email": "anna@example.it", "active": true}}).json(t, &p)
		var p2 admin.Person
		if r := e.as(auth.RoleAdmin, req{method: "POST", path: "/people", body: map[string]any{"employee_no": "100", "name": "Other", "surname": "Person", "active": true}}); r.code != 409 {
			t.Errorf("duplicate employee number: %d %s", r.code, r.body)
		}
		e.must(200, req{method: "PUT", path: fmt.Sprintf("/people/%d", p.ID), body: map[string]any{"employee_no": "100", "name": "Anna", "surname": "Rossi", "active": true}}).json(t, &p2)
		if p2.Surname != "Rossi" || p2.Department != "" || p2.Email != "" {
			t.Errorf("after PUT: %+v", p2)
		}
		e.must(204, req{method: "DELETE", path: fmt.Sprintf("/people/%d", p.ID)})
		e.must(404, req{method: "GET", path: fmt.Sprintf("/people/%d", p.ID)})
		// A schedule in use by a group cannot be deleted.
		var s admin.Schedule
		e.must(201, req{method: "POST", path: "/schedules", body: map[string]any{"name": "Uffici", "days": [][]map[string]int{{}, {{"start": 480, "end": 1080}}, {}, {}, {}, {}, {}}}}).json(t, &s)
		e.must(201, req{method: "POST", path: "/groups", body: map[string]any{"name": "Staff", "schedule_id": s.ID}})
		if r := e.as(auth.RoleAdmin, req{method: "DELETE", path: fmt.Sprintf("/schedules/%d", s.ID)}); r.code != 409 {
			t.Errorf("delete a schedule in use: %d %s", r.code, r.body)
		}
	})
}

// enrolCard is what an enrolment station reads from c.
func enrolCard(personID int64, c *virtcie.Card) map[string]any {
	return map[string]any{"person_id": personID, "nis": c.NIS(), "public_key": c.KeyFileTLV(), "sod": c.SOD()}
}

// TestEnrolAndAccess enrols cards (verified against the test CSCA), puts
// the person in a group with a door, and follows the door's allowlist
// through revoke, replace and deactivation.
func TestEnrolAndAccess(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		pki := testpki.Committed(t)
		mk := func(nis string, neg virtcie.Negative) *virtcie.Card {
			c, err := virtcie.New(virtcie.Options{NIS: nis, PKI: pki, Gen: reader.Gen2022, Negative: neg})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		var p admin.Person
		e.must(201, req{method: "POST", path: "/people", body: map[string]any{"employee_no": "7", "name": "Bruno", "surname": "Verdi", "active": true}}).json(t, &p)
		var sites []admin.Site
		e.must(200, req{method: "GET", path: "/sites"}).json(t, &sites)
		var d admin.Door
		e.must(201, req{method: "POST", path: "/doors", body: map[string]any{"site_id": sites[0].ID, "name": "Ingresso", "controller_id": "ingresso-1"}}).json(t, &d)
		var g admin.Group
		e.must(201, req{method: "POST", path: "/groups", body: map[string]any{"name": "Tutti", "schedule_id": nil}}).json(t, &g)
		e.must(200, req{method: "POST", path: fmt.Sprintf("/groups/%d/people", g.ID), body: map[string]any{"ids": []int64{p.ID}}})
		e.must(200, req{method: "POST", path: fmt.Sprintf("/groups/%d/doors", g.ID), body: map[string]any{"ids": []int64{d.ID}}})

		card := mk("111122223333", virtcie.Genuine)
		var c1 admin.Card
		e.must(201, req{method: "POST", path: "/cards", body: enrolCard(p.ID, card)}).json(t, &c1)
		if c1.SODGeneration != "2022" || !strings.Contains(c1.DSSubject, "Document Signer") || !strings.HasPrefix(c1.Verification, "ok:") || c1.EnrolledBy != "token:admin-token" {
			t.Errorf("enrolled card: %+v", c1)
		}
		access := func() []string {
			var a struct {
				Grants []struct {
					NIS    string `json:"nis"`
					Always bool   `json:"always"`
				} `json:"grants"`
			}
			e.must(200, req{method: "GET", path: fmt.Sprintf("/doors/%d/access", d.ID)}).json(t, &a)
			var out []string
			for _, g := range a.Grants {
				out = append(out, fmt.Sprintf("%s always=%v", g.NIS, g.Always))
			}
			return out
		}
		if got := access(); len(got) != 1 || got[0] != "111122223333 always=true" {
			t.Fatalf("door access after enrolment: %v", got)
		}
		// The same card twice is a conflict.
		if r := e.as(auth.RoleAdmin, req{method: "POST", path: "/cards", body: enrolCard(p.ID, card)}); r.code != 409 {
			t.Errorf("second enrolment of one NIS: %d %s", r.code, r.body)
		}
		// Refusals, with the reason in plain words.
		for _, tc := range []struct {
			name string
			body map[string]any
			want string
		}{
			{"untrusted document signer", enrolCard(p.ID, mk("999900001111", virtcie.UntrustedDS)), "not issued under a trusted CSCA"},
			{"NIS not the signed one", func() map[string]any {
				b := enrolCard(p.ID, mk("999900002222", virtcie.Genuine))
				b["nis"] = "999900002223"
				return b
			}(), "NIS read does not match"},
			{"key not the signed one", func() map[string]any {
				b := enrolCard(p.ID, mk("999900003333", virtcie.Genuine))
				b["public_key"] = mk("999900004444", virtcie.Genuine).KeyFileTLV()
				return b
			}(), "public key read does not match"},
		} {
			r := e.as(auth.RoleAdmin, req{method: "POST", path: "/cards", body: tc.body})
			if r.code != 422 || !contains(string(r.body), tc.want) {
				t.Errorf("%s: %d %s, want 422 with %q", tc.name, r.code, r.body, tc.want)
			}
		}
		// Facilities may not enrol.
		if r := e.as(auth.RoleFacilities, req{method: "POST", path: "/cards", body: enrolCard(p.ID, mk("555566667777", virtcie.Genuine))}); r.code != 403 {
			t.Errorf("facilities enrols: %d", r.code)
		}

		// A renewed CIE replaces the old card.
		renewed := mk("444455556666", virtcie.Genuine)
		var c2 admin.Card
		b := enrolCard(0, renewed)
		delete(b, "person_id")
		e.must(201, req{method: "POST", path: fmt.Sprintf("/cards/%d/replace", c1.ID), body: b}).json(t, &c2)
		e.must(200, req{method: "GET", path: fmt.Sprintf("/cards/%d", c1.ID)}).json(t, &c1)
		if c1.Status != admin.CardRevoked || c1.ReplacedBy == nil || *c1.ReplacedBy != c2.ID || c2.PersonID != p.ID {
			t.Errorf("after replace: old %+v new %+v", c1, c2)
		}
		if got := access(); len(got) != 1 || got[0] != "444455556666 always=true" {
			t.Fatalf("door access after replace: %v", got)
		}
		// Suspend: gone; reactivate: back; deactivating the person: gone.
		e.must(200, req{method: "PUT", path: fmt.Sprintf("/cards/%d/status", c2.ID), body: map[string]string{"status": "suspended"}})
		if got := access(); len(got) != 0 {
			t.Errorf("door access with the card suspended: %v", got)
		}
		e.must(200, req{method: "PUT", path: fmt.Sprintf("/cards/%d/status", c2.ID), body: map[string]string{"status": "active"}})
		e.must(200, req{method: "PUT", path: fmt.Sprintf("/people/%d", p.ID), body: map[string]any{"employee_no": "7", "name": "Bruno", "surname": "Verdi", "active": false}})
		if got := access(); len(got) != 0 {
			t.Errorf("door access with the person inactive: %v", got)
		}
		var cards []admin.Card
		e.must(200, req{method: "GET", path: fmt.Sprintf("/people/%d/cards", p.ID)}).json(t, &cards)
		if len(cards) != 2 {
			t.Errorf("person's cards: %d", len(cards))
		}

		// Door mode needs door control; a plain PUT may not change it.
		if r := e.as(auth.RoleAdmin, req{method: "PUT", path: fmt.Sprintf("/doors/%d", d.ID), body: map[string]any{"site_id": d.SiteID, "name": "Ingresso", "controller_id": "ingresso-1", "mode": "lockdown"}}); r.code != 400 {
			t.Errorf("mode through PUT /doors: %d %s", r.code, r.body)
		}
		e.as(auth.RoleFacilities, req{method: "PUT", path: fmt.Sprintf("/doors/%d/mode", d.ID), body: map[string]string{"mode": "lockdown"}})
		var st struct {
			Door admin.Door `json:"door"`
		}
		e.must(200, req{method: "GET", path: fmt.Sprintf("/doors/%d/status", d.ID)}).json(t, &st)
		if st.Door.Mode != varco.ModeLockdown {
			t.Errorf("door mode after lockdown: %s", st.Door.Mode)
		}
	})
}

func TestEventsSearchAndExport(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var sites []admin.Site
		e.must(200, req{method: "GET", path: "/sites"}).json(t, &sites)
		var d1, d2 admin.Door
		e.must(201, req{method: "POST", path: "/doors", body: map[string]any{"site_id": sites[0].ID, "name": "Uno", "controller_id": "uno"}}).json(t, &d1)
		e.must(201, req{method: "POST", path: "/doors", body: map[string]any{"site_id": sites[0].ID, "name": "=Due", "controller_id": "due"}}).json(t, &d2)
		t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
		var evs []admin.Event
		for i := range 250 {
			d := d1.ID
			kind, reason := varco.EventGranted, varco.Reason("")
			if i%5 == 0 {
				d, kind, reason = d2.ID, varco.EventDenied, varco.ReasonUnknown
			}
			// Pairs of events share a timestamp: the keyset must break ties.
			evs = append(evs, admin.Event{DoorID: d, Seq: uint64(i + 1), Time: t0.Add(time.Duration(i/2) * time.Minute), ClockTrusted: true, Kind: kind, Reason: reason, NIS: "000000000001"})
		}
		if n, err := e.st.InsertEvents(t.Context(), evs); err != nil || n != 250 {
			t.Fatal(n, err)
		}
		// Page through everything, 40 at a time.
		seen := map[string]bool{}
		cursor := ""
		pages := 0
		for {
			var page struct {
				Events []admin.Event `json:"events"`
				Next   string        `json:"next"`
			}
			e.as(auth.RoleViewer, req{method: "GET", path: "/events?limit=40&cursor=" + cursor}).json(t, &page)
			pages++
			for i, ev := range page.Events {
				k := fmt.Sprint(ev.DoorID, "/", ev.Seq)
				if seen[k] {
					t.Fatalf("event %s twice", k)
				}
				seen[k] = true
				if i > 0 && ev.Time.After(page.Events[i-1].Time) {
					t.Fatal("not newest first")
				}
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		if len(seen) != 250 || pages != 7 {
			t.Errorf("paged %d events in %d pages, want 250 in 7", len(seen), pages)
		}
		var page struct {
			Events []admin.Event `json:"events"`
		}
		e.as(auth.RoleViewer, req{method: "GET", path: fmt.Sprintf("/events?door_id=%d&reason=unknown&from=%s&to=%s", d2.ID, t0.Add(10*time.Minute).Format(time.RFC3339), t0.Add(20*time.Minute).Format(time.RFC3339))}).json(t, &page)
		if len(page.Events) != 4 { // i in [20,40) with i%5==0: 20, 25, 30, 35
			t.Errorf("filtered search: %d events", len(page.Events))
		}
		// CSV export streams the whole selection; a door name starting with
		// '=' is defused for spreadsheets.
		r := e.as(auth.RoleFacilities, req{method: "GET", path: "/events/export"})
		if r.code != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
			t.Fatalf("export: %d %s", r.code, r.header.Get("Content-Type"))
		}
		lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
		if len(lines) != 251 || !strings.HasPrefix(lines[0], "time,door_id,door,seq") || !strings.Contains(string(r.body), ",'=Due,") {
			t.Errorf("export: %d lines, head %q", len(lines), lines[0])
		}
		if r := e.as(auth.RoleViewer, req{method: "GET", path: "/events/export"}); r.code != 403 {
			t.Errorf("viewer exports: %d", r.code)
		}
	})
}

func TestOpenAPIServed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		r := e.do(req{method: "GET", path: "/openapi.json"})
		var doc struct {
			OpenAPI string                    `json:"openapi"`
			Paths   map[string]map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(r.body, &doc); err != nil || doc.OpenAPI != "3.0.3" {
			t.Fatalf("openapi.json: %v %s", err, r.body[:min(len(r.body), 200)])
		}
		for _, rt := range e.api.Routes() {
			p := strings.NewReplacer(":id", "{id}").Replace(rt.Path)
			if doc.Paths[p][strings.ToLower(rt.Method)] == nil {
				t.Errorf("%s %s missing from the OpenAPI document", rt.Method, p)
			}
		}
	})
}

func TestDoorCommandsAndSyncNotice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var sites []admin.Site
		e.must(200, req{method: "GET", path: "/sites"}).json(t, &sites)
		before := e.sync.ChangedCount()
		var d admin.Door
		e.must(201, req{method: "POST", path: "/doors", body: map[string]any{"site_id": sites[0].ID, "name": "Retro", "controller_id": "retro-1"}}).json(t, &d)
		if e.sync.ChangedCount() != before+1 {
			t.Errorf("a write did not notify the sync side")
		}
		e.must(200, req{method: "GET", path: "/doors"})
		e.as(auth.RoleAdmin, req{method: "POST", path: "/doors", body: map[string]any{"name": "no site"}})
		if e.sync.ChangedCount() != before+1 {
			t.Errorf("a read or a failed write notified the sync side")
		}
		var cmd wire.Cmd
		r := e.as(auth.RoleFacilities, req{method: "POST", path: fmt.Sprintf("/doors/%d/unlock", d.ID)})
		if r.code != 202 {
			t.Fatalf("unlock: %d %s", r.code, r.body)
		}
		r.json(t, &cmd)
		if cmds := e.sync.Commands(); cmd.Action != wire.ActionUnlockOnce || len(cmds) != 1 || cmds[0] != "retro-1 unlock_once token:facilities-token" {
			t.Errorf("unlock sent %v, answered %+v", cmds, cmd)
		}
		if r := e.as(auth.RoleHR, req{method: "POST", path: fmt.Sprintf("/doors/%d/unlock", d.ID)}); r.code != 403 {
			t.Errorf("hr unlocks: %d", r.code)
		}
		e.sync.SetStatus("retro-1", syncer.DoorStatus{Online: true, Rev: 3, OutboxLen: 12, ClockTrusted: true})
		var st struct {
			Sync *syncer.DoorStatus `json:"sync"`
		}
		e.as(auth.RoleViewer, req{method: "GET", path: fmt.Sprintf("/doors/%d/status", d.ID)}).json(t, &st)
		if st.Sync == nil || !st.Sync.Online || st.Sync.OutboxLen != 12 {
			t.Errorf("door status sync part: %+v", st.Sync)
		}
	})
}
