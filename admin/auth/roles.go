package auth

import "fmt"

// Role is an admin user's or API token's role. A token is scoped to one
// role, which may be less than its owner's.
type Role string

// The roles (ARCHITECTURE.md section 7). What each may do is the matrix in
// the package doc and in the matrix table below.
const (
	RoleAdmin      Role = "admin"      // everything
	RoleHR         Role = "hr"         // people, cards, groups, enrolment; no door control
	RoleFacilities Role = "facilities" // doors, schedules, events, unlock, lockdown; no enrolment
	RoleViewer     Role = "viewer"     // read-only doors and events
)

// Roles returns every role, most powerful first.
func Roles() []Role { return []Role{RoleAdmin, RoleHR, RoleFacilities, RoleViewer} }

// ParseRole returns the role named s exactly (lower case, no spaces), or an
// error wrapping ErrUnknownRole.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleHR, RoleFacilities, RoleViewer:
		return r, nil
	}
	return "", fmt.Errorf("%w %q: want admin, hr, facilities or viewer", ErrUnknownRole, clip(s))
}

// Permission is one kind of action a route needs. The strings are stable:
// they appear in 403 messages and may appear in the audit log.
type Permission string

// The permissions, by area.
const (
	PeopleRead     Permission = "people.read"
	PeopleWrite    Permission = "people.write"    // create, edit, import, delete people
	CardsRead      Permission = "cards.read"      // cards and their verification results
	CardsWrite     Permission = "cards.write"     // suspend, revoke, replace a card
	Enrol          Permission = "enrol"           // enrol a card for a person
	GroupsRead     Permission = "groups.read"     // access groups: who can open which door when
	GroupsWrite    Permission = "groups.write"    // edit access groups and memberships
	DoorsRead      Permission = "doors.read"      // doors and their live status
	DoorsWrite     Permission = "doors.write"     // create and edit doors
	DoorControl    Permission = "doors.control"   // unlock once, lockdown, door mode
	SchedulesRead  Permission = "schedules.read"  // schedules and holidays
	SchedulesWrite Permission = "schedules.write" // edit schedules and holidays
	EventsRead     Permission = "events.read"     // the entry log
	EventsExport   Permission = "events.export"   // CSV export of the entry log
	SitesRead      Permission = "sites.read"
	SitesWrite     Permission = "sites.write"
	AuditRead      Permission = "audit.read"      // the audit log of admin actions
	UsersManage    Permission = "users.manage"    // admin users and their roles
	TokensManage   Permission = "tokens.manage"   // API tokens
	SettingsManage Permission = "settings.manage" // server settings
)

// grant is one row of the matrix: which roles hold a permission.
type grant struct{ admin, hr, facilities, viewer bool }

// matrix is the whole authorisation policy. Every permission has a row and
// every row names all four roles, so that a change is a visible edit here
// (and in doc.go, which TestDocMatrix keeps in step). Admin is spelled out
// rather than special-cased so the table reads the same as the doc.
var matrix = map[Permission]grant{
	//                admin  hr     facilities viewer
	PeopleRead:     {true, true, true, false},
	PeopleWrite:    {true, true, false, false},
	CardsRead:      {true, true, false, false},
	CardsWrite:     {true, true, false, false},
	Enrol:          {true, true, false, false},
	GroupsRead:     {true, true, true, false},
	GroupsWrite:    {true, true, false, false},
	DoorsRead:      {true, true, true, true},
	DoorsWrite:     {true, false, true, false},
	DoorControl:    {true, false, true, false},
	SchedulesRead:  {true, true, true, false},
	SchedulesWrite: {true, false, true, false},
	EventsRead:     {true, false, true, true},
	EventsExport:   {true, false, true, false},
	SitesRead:      {true, true, true, true},
	SitesWrite:     {true, false, true, false},
	AuditRead:      {true, false, false, false},
	UsersManage:    {true, false, false, false},
	TokensManage:   {true, false, false, false},
	SettingsManage: {true, false, false, false},
}

// Permissions returns every permission in the order of the matrix.
func Permissions() []Permission {
	return []Permission{
		PeopleRead, PeopleWrite, CardsRead, CardsWrite, Enrol,
		GroupsRead, GroupsWrite, DoorsRead, DoorsWrite, DoorControl,
		SchedulesRead, SchedulesWrite, EventsRead, EventsExport,
		SitesRead, SitesWrite, AuditRead, UsersManage, TokensManage, SettingsManage,
	}
}

// Valid reports whether p is one of the permissions above.
func (p Permission) Valid() bool {
	_, ok := matrix[p]
	return ok
}

// Can reports whether role r holds permission p. An unknown role or
// permission can do nothing.
func (r Role) Can(p Permission) bool {
	g := matrix[p]
	switch r {
	case RoleAdmin:
		return g.admin
	case RoleHR:
		return g.hr
	case RoleFacilities:
		return g.facilities
	case RoleViewer:
		return g.viewer
	}
	return false
}
