package auth_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/varco-access/varco/admin/auth"
)

// want is the expected answer of Role.Can for every role and permission,
// written out in full rather than derived from the code's matrix.
var want = map[auth.Role]map[auth.Permission]bool{
	auth.RoleAdmin: {
		auth.PeopleRead: true, auth.PeopleWrite: true,
		auth.CardsRead: true, auth.CardsWrite: true, auth.Enrol: true,
		auth.GroupsRead: true, auth.GroupsWrite: true,
		auth.DoorsRead: true, auth.DoorsWrite: true, auth.DoorControl: true,
		auth.SchedulesRead: true, auth.SchedulesWrite: true,
		auth.EventsRead: true, auth.EventsExport: true,
		auth.SitesRead: true, auth.SitesWrite: true,
		auth.AuditRead: true, auth.UsersManage: true, auth.TokensManage: true, auth.SettingsManage: true,
	},
	auth.RoleHR: {
		auth.PeopleRead: true, auth.PeopleWrite: true,
		auth.CardsRead: true, auth.CardsWrite: true, auth.Enrol: true,
		auth.GroupsRead: true, auth.GroupsWrite: true,
		auth.DoorsRead: true, auth.DoorsWrite: false, auth.DoorControl: false,
		auth.SchedulesRead: true, auth.SchedulesWrite: false,
		auth.EventsRead: false, auth.EventsExport: false,
		auth.SitesRead: true, auth.SitesWrite: false,
		auth.AuditRead: false, auth.UsersManage: false, auth.TokensManage: false, auth.SettingsManage: false,
	},
	auth.RoleFacilities: {
		auth.PeopleRead: true, auth.PeopleWrite: false,
		auth.CardsRead: false, auth.CardsWrite: false, auth.Enrol: false,
		auth.GroupsRead: true, auth.GroupsWrite: false,
		auth.DoorsRead: true, auth.DoorsWrite: true, auth.DoorControl: true,
		auth.SchedulesRead: true, auth.SchedulesWrite: true,
		auth.EventsRead: true, auth.EventsExport: true,
		auth.SitesRead: true, auth.SitesWrite: true,
		auth.AuditRead: false, auth.UsersManage: false, auth.TokensManage: false, auth.SettingsManage: false,
	},
	auth.RoleViewer: {
		auth.PeopleRead: false, auth.PeopleWrite: false,
		auth.CardsRead: false, auth.CardsWrite: false, auth.Enrol: false,
		auth.GroupsRead: false, auth.GroupsWrite: false,
		auth.DoorsRead: true, auth.DoorsWrite: false, auth.DoorControl: false,
		auth.SchedulesRead: false, auth.SchedulesWrite: false,
		auth.EventsRead: true, auth.EventsExport: false,
		auth.SitesRead: true, auth.SitesWrite: false,
		auth.AuditRead: false, auth.UsersManage: false, auth.TokensManage: false, auth.SettingsManage: false,
	},
}

func TestRoleCan(t *testing.T) {
	perms := auth.Permissions()
	if len(perms) != 20 {
		t.Fatalf("%d permissions; the issue lists 20", len(perms))
	}
	for _, r := range auth.Roles() {
		if len(want[r]) != len(perms) {
			t.Fatalf("test table for %s has %d entries, want %d", r, len(want[r]), len(perms))
		}
		for _, p := range perms {
			w, ok := want[r][p]
			if !ok {
				t.Fatalf("test table lacks %s × %s", r, p)
			}
			if got := r.Can(p); got != w {
				t.Errorf("%s.Can(%s) = %v; want %v", r, p, got, w)
			}
		}
	}
}

func TestUnknownCanNothing(t *testing.T) {
	for _, p := range auth.Permissions() {
		for _, r := range []auth.Role{"", "Admin", "root", "admin "} {
			if r.Can(p) {
				t.Errorf("unknown role %q can %s", r, p)
			}
		}
	}
	for _, r := range auth.Roles() {
		if r.Can("") || r.Can("doors.unlock") {
			t.Errorf("%s can an unknown permission", r)
		}
	}
	if auth.Permission("doors.unlock").Valid() || auth.Permission("").Valid() {
		t.Error("unknown permission reported Valid")
	}
}

func TestPermissionsDistinct(t *testing.T) {
	seen := map[auth.Permission]bool{}
	for _, p := range auth.Permissions() {
		if seen[p] {
			t.Errorf("permission %s listed twice", p)
		}
		seen[p] = true
		if !p.Valid() {
			t.Errorf("listed permission %s has no row in the matrix", p)
		}
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range auth.Roles() {
		got, err := auth.ParseRole(string(r))
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "Admin", "HR", " hr", "superuser", "viewer\x00"} {
		got, err := auth.ParseRole(s)
		if !errors.Is(err, auth.ErrUnknownRole) || got != "" {
			t.Errorf("ParseRole(%q) = %q, %v; want ErrUnknownRole", s, got, err)
		}
	}
}

// TestDocMatrix keeps the table in doc.go in step with Role.Can.
func TestDocMatrix(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	roles := []auth.Role{auth.RoleAdmin, auth.RoleHR, auth.RoleFacilities, auth.RoleViewer}
	rows := map[auth.Permission]bool{}
	header := false
	for _, line := range strings.Split(string(src), "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "//"))
		if len(f) == 5 && f[0] == "permission" {
			if strings.Join(f[1:], " ") != "admin hr facilities viewer" {
				t.Fatalf("doc.go matrix header %q: want columns admin hr facilities viewer", line)
			}
			header = true
			continue
		}
		if !header || len(f) != 5 || !auth.Permission(f[0]).Valid() {
			continue
		}
		p := auth.Permission(f[0])
		if rows[p] {
			t.Errorf("doc.go lists %s twice", p)
		}
		rows[p] = true
		for i, r := range roles {
			if doc, code := f[i+1] == "x", r.Can(p); doc != code || (f[i+1] != "x" && f[i+1] != "-") {
				t.Errorf("doc.go says %s × %s is %q; Can says %v", r, p, f[i+1], code)
			}
		}
	}
	for _, p := range auth.Permissions() {
		if !rows[p] {
			t.Errorf("doc.go matrix has no row for %s", p)
		}
	}
}
