package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/wire"
)

// Route is one API operation: the single declaration behind both the gin
// handler and the OpenAPI document.
type Route struct {
	Method string
	// Path is relative to Prefix, in gin syntax (":id").
	Path string
	// Perm is the permission the route needs; with Perm empty, Auth says
	// whether any authenticated principal may call it (else it is
	// public: login).
	Perm    auth.Permission
	Auth    bool
	Tag     string
	Summary string
	// Body and Resp are example values of the request and response
	// bodies, from which the OpenAPI schemas are derived (nil: none);
	// CSV marks a text/csv body or response.
	Body, Resp any
	CSVBody    bool
	CSVResp    bool
	// Query lists the query parameters.
	Query []Param
	// PathString says the path parameters are opaque strings (enrolment
	// session ids), not int64 ids.
	PathString bool
	// Status is the success status (default 200).
	Status  int
	handler gin.HandlerFunc
}

// Param is a query parameter.
type Param struct {
	Name, Type, Desc string
}

// Response shapes that are not domain types.
type (
	listPeople struct {
		People []admin.Person `json:"people"`
		Total  int            `json:"total"`
	}
	importResult struct {
		DryRun  bool `json:"dry_run"`
		Rows    int  `json:"rows"`
		Created int  `json:"created"`
		Updated int  `json:"updated"`
	}
	eventPage struct {
		Events []admin.Event `json:"events"`
		// Next is the cursor of the next page, absent after the last.
		Next string `json:"next,omitempty"`
	}
	auditPage struct {
		Entries []admin.AuditEntry `json:"entries"`
		Next    int64              `json:"next,omitempty"`
	}
	idsBody struct {
		IDs []int64 `json:"ids"`
	}
	modeBody struct {
		Mode string `json:"mode"`
	}
	statusBody struct {
		Status admin.CardStatus `json:"status"`
	}
)

var (
	qPeople = []Param{
		{"q", "string", "words that must all appear in name, surname, employee number or email"},
		{"active", "boolean", "only active (true) or inactive (false) people"},
		{"department", "string", "exact department"},
		{"limit", "integer", "page size, default 100, at most 1000"},
		{"offset", "integer", "people to skip"},
	}
	qEvents = []Param{
		{"from", "string", "RFC 3339 time, inclusive"},
		{"to", "string", "RFC 3339 time, exclusive"},
		{"door_id", "integer", "one door"},
		{"person_id", "integer", "one person"},
		{"kind", "string", "event kind: granted, denied, forced, held_open, ..."},
		{"reason", "string", "deny reason: unknown, clone_suspected, expired, ..."},
		{"cursor", "string", "the next value of the previous page"},
		{"limit", "integer", "page size, default 100, at most 1000"},
	}
	qAudit = []Param{
		{"actor", "string", "who"}, {"action", "string", "create, update, delete, ..."},
		{"entity", "string", "person, card, door, ..."}, {"entity_id", "string", "the entity's id"},
		{"from", "string", "RFC 3339 time, inclusive"}, {"to", "string", "RFC 3339 time, exclusive"},
		{"before", "integer", "the next value of the previous page"},
		{"limit", "integer", "page size, default 100, at most 1000"},
	}
)

// table declares every route.
func (a *API) table() []Route {
	s := a.store
	sites := crud[admin.Site]{a, "site", s.CreateSite, s.GetSite, s.UpdateSite, s.DeleteSite, func(v *admin.Site, id int64) { v.ID = id }}
	people := crud[admin.Person]{a, "person", s.CreatePerson, s.GetPerson, s.UpdatePerson, s.DeletePerson, func(v *admin.Person, id int64) { v.ID = id }}
	scheds := crud[admin.Schedule]{a, "schedule", s.CreateSchedule, s.GetSchedule, s.UpdateSchedule, s.DeleteSchedule, func(v *admin.Schedule, id int64) { v.ID = id }}
	hols := crud[admin.Holiday]{a, "holiday", s.CreateHoliday, s.GetHoliday, s.UpdateHoliday, s.DeleteHoliday, func(v *admin.Holiday, id int64) { v.ID = id }}
	doors := crud[admin.Door]{a, "door", s.CreateDoor, s.GetDoor, s.UpdateDoor, s.DeleteDoor, func(v *admin.Door, id int64) { v.ID = id }}
	groups := crud[admin.Group]{a, "group", s.CreateGroup, s.GetGroup, s.UpdateGroup, s.DeleteGroup, func(v *admin.Group, id int64) { v.ID = id }}

	const (
		get, post, put, del = "GET", "POST", "PUT", "DELETE"
	)
	return []Route{
		// Session.
		{Method: post, Path: "/auth/login", Tag: "auth", Summary: "log in: sets the session cookie, returns the CSRF token", Body: loginBody{}, Resp: meResp{}, handler: a.login},
		{Method: post, Path: "/auth/logout", Auth: true, Tag: "auth", Summary: "log out: ends the session", Status: 204, handler: a.logout},
		{Method: get, Path: "/auth/me", Auth: true, Tag: "auth", Summary: "who is logged in, their permissions and CSRF token", Resp: meResp{}, handler: a.me},
		{Method: post, Path: "/auth/password", Auth: true, Tag: "auth", Summary: "change one's own password", Body: passwordBody{}, Status: 204, handler: a.changePassword},

		// Sites.
		{Method: get, Path: "/sites", Perm: auth.SitesRead, Tag: "sites", Summary: "list sites", Resp: []admin.Site{}, handler: list(s.ListSites)},
		{Method: post, Path: "/sites", Perm: auth.SitesWrite, Tag: "sites", Summary: "create a site", Body: admin.Site{}, Resp: admin.Site{}, Status: 201, handler: sites.create},
		{Method: get, Path: "/sites/:id", Perm: auth.SitesRead, Tag: "sites", Summary: "get a site", Resp: admin.Site{}, handler: sites.get},
		{Method: put, Path: "/sites/:id", Perm: auth.SitesWrite, Tag: "sites", Summary: "replace a site", Body: admin.Site{}, Resp: admin.Site{}, handler: sites.update},
		{Method: del, Path: "/sites/:id", Perm: auth.SitesWrite, Tag: "sites", Summary: "delete a site without doors", Status: 204, handler: sites.delete},

		// People.
		{Method: get, Path: "/people", Perm: auth.PeopleRead, Tag: "people", Summary: "search people", Query: qPeople, Resp: listPeople{}, handler: a.listPeople},
		{Method: post, Path: "/people", Perm: auth.PeopleWrite, Tag: "people", Summary: "create a person", Body: admin.Person{}, Resp: admin.Person{}, Status: 201, handler: people.create},
		{Method: post, Path: "/people/import", Perm: auth.PeopleWrite, Tag: "people", Summary: "import people from CSV (all rows validated first; nothing imported on error; idempotent on employee_no)", CSVBody: true, Query: []Param{{"dry_run", "boolean", "validate only"}}, Resp: importResult{}, handler: a.importPeople},
		{Method: get, Path: "/people/export", Perm: auth.PeopleRead, Tag: "people", Summary: "export people as CSV (the import format)", Query: qPeople[:3], CSVResp: true, handler: a.exportPeople},
		{Method: get, Path: "/people/:id", Perm: auth.PeopleRead, Tag: "people", Summary: "get a person", Resp: admin.Person{}, handler: people.get},
		{Method: put, Path: "/people/:id", Perm: auth.PeopleWrite, Tag: "people", Summary: "replace a person (active=false removes them from every door)", Body: admin.Person{}, Resp: admin.Person{}, handler: people.update},
		{Method: del, Path: "/people/:id", Perm: auth.PeopleWrite, Tag: "people", Summary: "delete a person with their cards", Status: 204, handler: people.delete},
		{Method: get, Path: "/people/:id/cards", Perm: auth.CardsRead, Tag: "cards", Summary: "a person's cards, newest first", Resp: []admin.Card{}, handler: a.personCards},
		{Method: get, Path: "/people/:id/groups", Perm: auth.GroupsRead, Tag: "groups", Summary: "the access groups a person is in", Resp: []admin.Group{}, handler: a.personGroups},

		// Cards.
		{Method: post, Path: "/cards", Perm: auth.Enrol, Tag: "cards", Summary: "enrol a card read at an enrolment station: EF.SOD is verified against the CSCA set", Body: enrolBody{}, Resp: admin.Card{}, Status: 201, handler: a.enrol},
		{Method: get, Path: "/cards", Perm: auth.CardsRead, Tag: "cards", Summary: "find a card by NIS", Query: []Param{{"nis", "string", "12 digits"}}, Resp: []admin.Card{}, handler: a.findCard},
		{Method: get, Path: "/cards/:id", Perm: auth.CardsRead, Tag: "cards", Summary: "get a card", Resp: admin.Card{}, handler: a.getCard},
		{Method: put, Path: "/cards/:id/status", Perm: auth.CardsWrite, Tag: "cards", Summary: "suspend, reactivate or revoke a card", Body: statusBody{}, Resp: admin.Card{}, handler: a.setCardStatus},
		{Method: post, Path: "/cards/:id/replace", Perm: auth.Enrol, Tag: "cards", Summary: "enrol a renewed CIE in place of this card (revokes it)", Body: enrolBody{}, Resp: admin.Card{}, Status: 201, handler: a.replaceCard},
		{Method: del, Path: "/cards/:id", Perm: auth.CardsWrite, Tag: "cards", Summary: "delete a card enrolled by mistake", Status: 204, handler: a.deleteCard},

		// Enrolment at a station (varco enroll): the admin's own challenge.
		{Method: post, Path: "/enrol/sessions", Perm: auth.Enrol, Tag: "cards", Summary: "ask an enrolment station to read a card: it gets a fresh challenge, valid 60 s; a card that passes every check (EF.SOD against the CSCA set, the signature over the challenge) is stored for person_id at once, a refused one never (without person_id the card is only verified)", Body: enrolSessionBody{}, Resp: syncer.EnrolSession{}, Status: 201, handler: a.startEnrol},
		{Method: get, Path: "/enrol/sessions/:id", Perm: auth.Enrol, Tag: "cards", Summary: "an enrolment session: waiting, verified (the card, stored), refused or error (the reason in plain words), expired", Query: []Param{{"wait", "string", "long poll: wait up to this duration (at most 30s) while the session is waiting, e.g. 20s"}}, PathString: true, Resp: syncer.EnrolSession{}, handler: a.getEnrol},

		// Access groups.
		{Method: get, Path: "/groups", Perm: auth.GroupsRead, Tag: "groups", Summary: "list access groups", Resp: []admin.Group{}, handler: list(s.ListGroups)},
		{Method: post, Path: "/groups", Perm: auth.GroupsWrite, Tag: "groups", Summary: "create an access group", Body: admin.Group{}, Resp: admin.Group{}, Status: 201, handler: groups.create},
		{Method: get, Path: "/groups/:id", Perm: auth.GroupsRead, Tag: "groups", Summary: "get an access group", Resp: admin.Group{}, handler: groups.get},
		{Method: put, Path: "/groups/:id", Perm: auth.GroupsWrite, Tag: "groups", Summary: "replace an access group", Body: admin.Group{}, Resp: admin.Group{}, handler: groups.update},
		{Method: del, Path: "/groups/:id", Perm: auth.GroupsWrite, Tag: "groups", Summary: "delete an access group", Status: 204, handler: groups.delete},
		{Method: post, Path: "/groups/:id/people", Perm: auth.GroupsWrite, Tag: "groups", Summary: "add people to a group", Body: idsBody{}, Resp: admin.Group{}, handler: a.members(s.AddGroupPeople)},
		{Method: del, Path: "/groups/:id/people", Perm: auth.GroupsWrite, Tag: "groups", Summary: "remove people from a group", Body: idsBody{}, Resp: admin.Group{}, handler: a.members(s.RemoveGroupPeople)},
		{Method: post, Path: "/groups/:id/doors", Perm: auth.GroupsWrite, Tag: "groups", Summary: "add doors to a group", Body: idsBody{}, Resp: admin.Group{}, handler: a.members(s.AddGroupDoors)},
		{Method: del, Path: "/groups/:id/doors", Perm: auth.GroupsWrite, Tag: "groups", Summary: "remove doors from a group", Body: idsBody{}, Resp: admin.Group{}, handler: a.members(s.RemoveGroupDoors)},

		// Doors.
		{Method: get, Path: "/doors", Perm: auth.DoorsRead, Tag: "doors", Summary: "list doors", Query: []Param{{"site_id", "integer", "one site"}}, Resp: []admin.Door{}, handler: bySite(s.ListDoors)},
		{Method: post, Path: "/doors", Perm: auth.DoorsWrite, Tag: "doors", Summary: "create a door", Body: admin.Door{}, Resp: admin.Door{}, Status: 201, handler: doors.create},
		{Method: get, Path: "/doors/:id", Perm: auth.DoorsRead, Tag: "doors", Summary: "get a door", Resp: admin.Door{}, handler: doors.get},
		{Method: put, Path: "/doors/:id", Perm: auth.DoorsWrite, Tag: "doors", Summary: "replace a door (its mode is set with /mode)", Body: admin.Door{}, Resp: admin.Door{}, handler: a.updateDoor},
		{Method: del, Path: "/doors/:id", Perm: auth.DoorsWrite, Tag: "doors", Summary: "delete a door", Status: 204, handler: doors.delete},
		{Method: put, Path: "/doors/:id/mode", Perm: auth.DoorControl, Tag: "doors", Summary: "set a door's mode: normal, lockdown, unlocked_schedule, unlocked_command", Body: modeBody{}, Resp: admin.Door{}, handler: a.setDoorMode},
		{Method: post, Path: "/doors/:id/unlock", Perm: auth.DoorControl, Tag: "doors", Summary: "release the door's strike once (signed command; 202 when sent)", Resp: wire.Cmd{}, Status: 202, handler: a.command(wire.ActionUnlockOnce)},
		{Method: post, Path: "/doors/:id/resync", Perm: auth.DoorControl, Tag: "doors", Summary: "ask the door to resynchronise its allowlist", Resp: wire.Cmd{}, Status: 202, handler: a.command(wire.ActionResync)},
		{Method: get, Path: "/doors/:id/status", Perm: auth.DoorsRead, Tag: "doors", Summary: "a door's mode, revision and last event", Resp: doorStatus{}, handler: a.doorStatus},
		{Method: get, Path: "/doors/:id/access", Perm: auth.GroupsRead, Tag: "doors", Summary: "who can open this door: the door's allowlist", Resp: doorAccess{}, handler: a.doorAccess},

		// Schedules and holidays.
		{Method: get, Path: "/schedules", Perm: auth.SchedulesRead, Tag: "schedules", Summary: "list schedules", Resp: []admin.Schedule{}, handler: list(s.ListSchedules)},
		{Method: post, Path: "/schedules", Perm: auth.SchedulesWrite, Tag: "schedules", Summary: "create a schedule", Body: admin.Schedule{}, Resp: admin.Schedule{}, Status: 201, handler: scheds.create},
		{Method: get, Path: "/schedules/:id", Perm: auth.SchedulesRead, Tag: "schedules", Summary: "get a schedule", Resp: admin.Schedule{}, handler: scheds.get},
		{Method: put, Path: "/schedules/:id", Perm: auth.SchedulesWrite, Tag: "schedules", Summary: "replace a schedule", Body: admin.Schedule{}, Resp: admin.Schedule{}, handler: scheds.update},
		{Method: del, Path: "/schedules/:id", Perm: auth.SchedulesWrite, Tag: "schedules", Summary: "delete a schedule no group uses", Status: 204, handler: scheds.delete},
		{Method: get, Path: "/holidays", Perm: auth.SchedulesRead, Tag: "schedules", Summary: "list holidays", Query: []Param{{"site_id", "integer", "one site"}}, Resp: []admin.Holiday{}, handler: bySite(s.ListHolidays)},
		{Method: post, Path: "/holidays", Perm: auth.SchedulesWrite, Tag: "schedules", Summary: "create a holiday", Body: admin.Holiday{}, Resp: admin.Holiday{}, Status: 201, handler: hols.create},
		{Method: get, Path: "/holidays/:id", Perm: auth.SchedulesRead, Tag: "schedules", Summary: "get a holiday", Resp: admin.Holiday{}, handler: hols.get},
		{Method: put, Path: "/holidays/:id", Perm: auth.SchedulesWrite, Tag: "schedules", Summary: "replace a holiday", Body: admin.Holiday{}, Resp: admin.Holiday{}, handler: hols.update},
		{Method: del, Path: "/holidays/:id", Perm: auth.SchedulesWrite, Tag: "schedules", Summary: "delete a holiday", Status: 204, handler: hols.delete},

		// Events.
		{Method: get, Path: "/events", Perm: auth.EventsRead, Tag: "events", Summary: "search the entry log, newest first (keyset pagination)", Query: qEvents, Resp: eventPage{}, handler: a.searchEvents},
		{Method: get, Path: "/events/export", Perm: auth.EventsExport, Tag: "events", Summary: "export the entry log as CSV (streamed)", Query: qEvents[:6], CSVResp: true, handler: a.exportEvents},

		// Administration.
		{Method: get, Path: "/users", Perm: auth.UsersManage, Tag: "admin", Summary: "list admin users", Resp: []admin.User{}, handler: list(s.ListUsers)},
		{Method: post, Path: "/users", Perm: auth.UsersManage, Tag: "admin", Summary: "create an admin user", Body: userBody{}, Resp: admin.User{}, Status: 201, handler: a.createUser},
		{Method: get, Path: "/users/:id", Perm: auth.UsersManage, Tag: "admin", Summary: "get an admin user", Resp: admin.User{}, handler: a.getUser},
		{Method: put, Path: "/users/:id", Perm: auth.UsersManage, Tag: "admin", Summary: "change username, role, disabled", Body: userBody{}, Resp: admin.User{}, handler: a.updateUser},
		{Method: put, Path: "/users/:id/password", Perm: auth.UsersManage, Tag: "admin", Summary: "set a user's password (logs them out everywhere)", Body: setPasswordBody{}, Status: 204, handler: a.setUserPassword},
		{Method: del, Path: "/users/:id", Perm: auth.UsersManage, Tag: "admin", Summary: "delete an admin user", Status: 204, handler: a.deleteUser},
		{Method: get, Path: "/tokens", Perm: auth.TokensManage, Tag: "admin", Summary: "list API tokens", Resp: []admin.APIToken{}, handler: list(s.ListAPITokens)},
		{Method: post, Path: "/tokens", Perm: auth.TokensManage, Tag: "admin", Summary: "create an API token (shown once)", Body: tokenBody{}, Resp: tokenResp{}, Status: 201, handler: a.createToken},
		{Method: del, Path: "/tokens/:id", Perm: auth.TokensManage, Tag: "admin", Summary: "revoke an API token", Status: 204, handler: a.revokeToken},
		{Method: get, Path: "/audit", Perm: auth.AuditRead, Tag: "admin", Summary: "the audit log, newest first", Query: qAudit, Resp: auditPage{}, handler: a.listAudit},
	}
}
