package panel

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/wire"
)

// facilitiesRoutes are facilities' pages: doors, the entry log,
// schedules, holidays, groups and statistics.
func (p *Panel) facilitiesRoutes() []route {
	return []route{
		{method: "GET", path: "/doors", perm: auth.DoorsRead, handler: p.facDoors},
		{method: "GET", path: "/doors/new", perm: auth.DoorsWrite, handler: p.facDoorNew},
		{method: "POST", path: "/doors", perm: auth.DoorsWrite, handler: p.facDoorCreate},
		{method: "GET", path: "/doors/:door", perm: auth.DoorsRead, handler: p.facDoor},
		{method: "GET", path: "/doors/:door/edit", perm: auth.DoorsWrite, handler: p.facDoorEdit},
		{method: "POST", path: "/doors/:door", perm: auth.DoorsWrite, handler: p.facDoorUpdate},
		{method: "POST", path: "/doors/:door/unlock", perm: auth.DoorControl, handler: p.facDoorUnlock},
		{method: "POST", path: "/doors/:door/mode", perm: auth.DoorControl, handler: p.facDoorMode},

		{method: "GET", path: "/events", perm: auth.EventsRead, handler: p.facEventsPage},
		{method: "GET", path: "/events.csv", perm: auth.EventsExport, handler: p.facEventsCSV},
		{method: "GET", path: "/stats", perm: auth.EventsRead, handler: p.facStats},

		{method: "GET", path: "/schedules", perm: auth.SchedulesRead, handler: p.facSchedules},
		{method: "GET", path: "/schedules/new", perm: auth.SchedulesWrite, handler: p.facScheduleNew},
		{method: "POST", path: "/schedules", perm: auth.SchedulesWrite, handler: p.facScheduleCreate},
		{method: "GET", path: "/schedules/:schedule", perm: auth.SchedulesRead, handler: p.facSchedule},
		{method: "POST", path: "/schedules/:schedule", perm: auth.SchedulesWrite, handler: p.facScheduleUpdate},
		{method: "POST", path: "/schedules/:schedule/delete", perm: auth.SchedulesWrite, handler: p.facScheduleDelete},
		{method: "POST", path: "/holidays", perm: auth.SchedulesWrite, handler: p.facHolidayCreate},
		{method: "POST", path: "/holidays/:holiday/delete", perm: auth.SchedulesWrite, handler: p.facHolidayDelete},

		{method: "GET", path: "/groups", perm: auth.GroupsRead, handler: p.facGroups},
		{method: "GET", path: "/groups/new", perm: auth.GroupsWrite, handler: p.facGroupNew},
		{method: "POST", path: "/groups", perm: auth.GroupsWrite, handler: p.facGroupCreate},
		{method: "GET", path: "/groups/:group", perm: auth.GroupsRead, handler: p.facGroup},
		{method: "POST", path: "/groups/:group", perm: auth.GroupsWrite, handler: p.facGroupUpdate},
		{method: "POST", path: "/groups/:group/delete", perm: auth.GroupsWrite, handler: p.facGroupDelete},
		{method: "GET", path: "/access", perm: auth.GroupsRead, handler: p.facAccess},
	}
}

// facID is the id of the route's one path parameter (404 otherwise).
func (p *Panel) facID(c *gin.Context) (int64, bool) {
	if len(c.Params) != 1 {
		p.errorPage(c, http.StatusNotFound, "error.notfound")
		return 0, false
	}
	return p.idParam(c, c.Params[0].Key)
}

// facDoor is a door with what the sync last heard from it.
type facDoor struct {
	admin.Door
	Site string
	// Sync is the door's last status; nil when it never reported or sync
	// is off (NoSync).
	Sync   *syncer.DoorStatus
	NoSync bool
}

// Online, StateKey, ModeKey and InSync describe the status for the
// templates.
func (d facDoor) Online() bool { return d.Sync != nil && d.Sync.Online }

func (d facDoor) StateKey() string {
	if d.Sync == nil {
		return "door.state.unknown"
	}
	return stateKey(d.Sync.Online, d.Sync.DoorState)
}

// ModeKey is the mode the door reports, else the one it is set to.
func (d facDoor) ModeKey() string {
	if d.Sync != nil && d.Sync.Mode != "" {
		return modeKey(string(d.Sync.Mode))
	}
	return modeKey(string(d.Mode))
}

// InSync: the door holds the admin's current revision.
func (d facDoor) InSync() bool { return d.Sync != nil && int64(d.Sync.Rev) == d.Revision }

func (p *Panel) facDoorStatus(d admin.Door, sites map[int64]string) facDoor {
	fd := facDoor{Door: d, Site: sites[d.SiteID], NoSync: p.o.Sync == nil}
	if p.o.Sync != nil {
		if st, ok := p.o.Sync.Status(d.ControllerID); ok {
			fd.Sync = &st
		}
	}
	return fd
}

func (p *Panel) facSiteNames(ctx context.Context) (map[int64]string, []admin.Site, error) {
	sites, err := p.o.Store.ListSites(ctx)
	if err != nil {
		return nil, nil, err
	}
	m := map[int64]string{}
	for _, s := range sites {
		m[s.ID] = s.Name
	}
	return m, sites, nil
}

// facEvent is an event with the names a person reads.
type facEvent struct {
	admin.Event
	DoorName   string
	DoorCtl    string
	PersonName string
}

// KindKey and ReasonKey are the message keys of the event's texts.
func (e facEvent) KindKey() string { return KindKey(string(e.Kind)) }

func (e facEvent) ReasonKey() string {
	if e.Reason == "" {
		return ""
	}
	return ReasonKey(string(e.Reason))
}

// facNamer resolves door and person names for a page of events, each
// looked up once.
type facNamer struct {
	p      *Panel
	ctx    context.Context
	doors  map[int64]admin.Door
	people map[int64]string
}

func (p *Panel) facNamer(ctx context.Context) (*facNamer, error) {
	doors, err := p.o.Store.ListDoors(ctx, 0)
	if err != nil {
		return nil, err
	}
	n := &facNamer{p: p, ctx: ctx, doors: map[int64]admin.Door{}, people: map[int64]string{}}
	for _, d := range doors {
		n.doors[d.ID] = d
	}
	return n, nil
}

func (n *facNamer) person(id int64) string {
	if s, ok := n.people[id]; ok {
		return s
	}
	s := ""
	if per, err := n.p.o.Store.GetPerson(n.ctx, id); err == nil {
		s = per.DisplayName()
	}
	n.people[id] = s
	return s
}

func (n *facNamer) events(evs []admin.Event) []facEvent {
	out := make([]facEvent, 0, len(evs))
	for _, e := range evs {
		fe := facEvent{Event: e, DoorName: n.doors[e.DoorID].Name, DoorCtl: n.doors[e.DoorID].ControllerID}
		if e.PersonID != nil {
			fe.PersonName = n.person(*e.PersonID)
		}
		out = append(out, fe)
	}
	return out
}

// recentEvents is the newest limit events f selects, with names.
func (p *Panel) facRecent(ctx context.Context, f admin.EventFilter) ([]facEvent, error) {
	evs, _, err := p.o.Store.SearchEvents(ctx, f)
	if err != nil {
		return nil, err
	}
	n, err := p.facNamer(ctx)
	if err != nil {
		return nil, err
	}
	return n.events(evs), nil
}

// facDoorsData is the doors page's.
type facDoorsData struct {
	Doors  []facDoor
	Feed   []facEvent
	NoSync bool
}

func (p *Panel) facDoors(c *gin.Context) {
	ctx := c.Request.Context()
	names, _, err := p.facSiteNames(ctx)
	if err != nil {
		p.fail(c, err)
		return
	}
	doors, err := p.o.Store.ListDoors(ctx, 0)
	if err != nil {
		p.fail(c, err)
		return
	}
	d := facDoorsData{NoSync: p.o.Sync == nil}
	for _, door := range doors {
		d.Doors = append(d.Doors, p.facDoorStatus(door, names))
	}
	pr, _ := auth.PrincipalFrom(c)
	if pr.Role.Can(auth.EventsRead) {
		if d.Feed, err = p.facRecent(ctx, admin.EventFilter{Limit: 20}); err != nil {
			p.fail(c, err)
			return
		}
	}
	p.show(c, "fac_doors", "doors.title", d)
}

// facAccessLine is one person who can open a door.
type facAccessLine struct {
	PersonID  int64
	Name      string
	Always    bool
	Schedules []string
	Lockdown  bool
}

// facDoorData is the door page's.
type facDoorData struct {
	Door   facDoor
	Access []facAccessLine
	Recent []facEvent
}

func (p *Panel) facDoor(c *gin.Context) {
	id, ok := p.facID(c)
	if !ok {
		return
	}
	p.facDoorPage(c, id, http.StatusOK, nil)
}

// facDoorPage renders door id's page with status code and errs.
func (p *Panel) facDoorPage(c *gin.Context, id int64, code int, errs map[string]string) {
	ctx := c.Request.Context()
	door, err := p.o.Store.GetDoor(ctx, id)
	if err != nil {
		p.fail(c, err)
		return
	}
	names, _, err := p.facSiteNames(ctx)
	if err != nil {
		p.fail(c, err)
		return
	}
	d := facDoorData{Door: p.facDoorStatus(door, names)}
	pr, _ := auth.PrincipalFrom(c)
	if pr.Role.Can(auth.GroupsRead) {
		if d.Access, err = p.facDoorAccess(ctx, id); err != nil {
			p.fail(c, err)
			return
		}
	}
	if pr.Role.Can(auth.EventsRead) {
		if d.Recent, err = p.facRecent(ctx, admin.EventFilter{DoorID: id, Limit: 20}); err != nil {
			p.fail(c, err)
			return
		}
	}
	pg := p.page(c, "doors.door", d)
	pg.Errors = errs
	p.render(c, code, "fac_door", pg)
}

// facDoorAccess is who can open the door: its allowlist as the door holds
// it (the same view as GET /api/v1/doors/{id}/access), one line per
// person.
func (p *Panel) facDoorAccess(ctx context.Context, id int64) ([]facAccessLine, error) {
	v, err := p.o.Store.DoorView(ctx, id)
	if err != nil {
		return nil, err
	}
	sched := map[string]string{}
	for _, s := range v.Schedules {
		sched[s.ID] = s.Name
	}
	var out []facAccessLine
	seen := map[string]int{}
	for _, g := range v.Grants {
		i, ok := seen[g.PersonID]
		if !ok {
			pid, _ := strconv.ParseInt(g.PersonID, 10, 64)
			out = append(out, facAccessLine{PersonID: pid, Name: g.DisplayName})
			i = len(out) - 1
			seen[g.PersonID] = i
		}
		l := &out[i]
		l.Always = l.Always || g.Flags.Has(varco.FlagAlways)
		l.Lockdown = l.Lockdown || g.Flags.Has(varco.FlagLockdownOverride)
		for _, s := range g.ScheduleIDs {
			n := sched[s]
			if n == "" {
				n = "#" + s
			}
			if !contains(l.Schedules, n) {
				l.Schedules = append(l.Schedules, n)
			}
		}
	}
	return out, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (p *Panel) facDoorUnlock(c *gin.Context) {
	door, ok := loadParam(p, c, "door", p.o.Store.GetDoor)
	if !ok {
		return
	}
	id := door.ID
	lang := langOf(c.Request)
	if p.o.Sync == nil {
		p.facDoorPage(c, id, http.StatusServiceUnavailable, map[string]string{"": translate(lang, "doors.nosync_cmd")})
		return
	}
	if _, err := p.o.Sync.Command(c.Request.Context(), door.ControllerID, wire.ActionUnlockOnce, actor(c).Name); err != nil {
		p.log.Error("panel: unlock", "door", door.ControllerID, "err", err)
		p.facDoorPage(c, id, http.StatusBadGateway, map[string]string{"": translate(lang, "doors.cmd_failed", err.Error())})
		return
	}
	redirectDone(c, "/doors/"+strconv.FormatInt(id, 10), "done.door.unlocked")
}

// facDoorMode sets lockdown or back to normal: the mode is stored (the
// door's view carries it, so a door that is offline gets it when it
// reconnects) and a signed command tells a connected door at once.
func (p *Panel) facDoorMode(c *gin.Context) {
	id, ok := p.facID(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	door, err := p.o.Store.GetDoor(ctx, id)
	if err != nil {
		p.fail(c, err)
		return
	}
	lang := langOf(c.Request)
	var action wire.Action
	mode := varco.DoorMode(c.PostForm("mode"))
	switch mode {
	case varco.ModeLockdown:
		action = wire.ActionLockdownOn
	case varco.ModeNormal:
		action = wire.ActionLockdownOff
	default:
		p.facDoorPage(c, id, http.StatusBadRequest, map[string]string{"": translate(lang, "doors.bad_mode")})
		return
	}
	if err := p.o.Store.SetDoorMode(ctx, actor(c), id, mode); err != nil {
		p.fail(c, err)
		return
	}
	if p.o.Sync == nil {
		p.facDoorPage(c, id, http.StatusServiceUnavailable, map[string]string{"": translate(lang, "doors.nosync_mode")})
		return
	}
	if _, err := p.o.Sync.Command(ctx, door.ControllerID, action, actor(c).Name); err != nil {
		p.log.Error("panel: door mode", "door", door.ControllerID, "err", err)
		p.facDoorPage(c, id, http.StatusBadGateway, map[string]string{"": translate(lang, "doors.cmd_failed", err.Error())})
		return
	}
	done := "done.door.lockdown"
	if mode == varco.ModeNormal {
		done = "done.door.normal"
	}
	redirectDone(c, "/doors/"+strconv.FormatInt(id, 10), done)
}

// facDoorFormData is the door form's.
type facDoorFormData struct {
	Door  admin.Door
	Sites []admin.Site
}

func (p *Panel) facDoorForm(c *gin.Context, code int, d admin.Door, errs map[string]string) {
	sites, err := p.o.Store.ListSites(c.Request.Context())
	if err != nil {
		p.fail(c, err)
		return
	}
	title := "doors.new"
	if d.ID != 0 {
		title = "doors.edit"
	}
	pg := p.page(c, title, facDoorFormData{Door: d, Sites: sites})
	pg.Errors = errs
	p.render(c, code, "fac_door_form", pg)
}

func (p *Panel) facDoorNew(c *gin.Context) {
	p.facDoorForm(c, http.StatusOK, admin.Door{}, nil)
}

func (p *Panel) facDoorEdit(c *gin.Context) {
	d, ok := loadParam(p, c, "door", p.o.Store.GetDoor)
	if !ok {
		return
	}
	p.facDoorForm(c, http.StatusOK, d, nil)
}

// facDoorFromForm reads the door form into d (mode untouched: that is
// door control).
func facDoorFromForm(c *gin.Context, d *admin.Door) {
	d.Name = strings.TrimSpace(c.PostForm("name"))
	d.Location = strings.TrimSpace(c.PostForm("location"))
	d.ControllerID = strings.TrimSpace(c.PostForm("controller_id"))
	d.SiteID, _ = strconv.ParseInt(c.PostForm("site_id"), 10, 64)
}

func (p *Panel) facDoorCreate(c *gin.Context) {
	var d admin.Door
	facDoorFromForm(c, &d)
	if err := p.o.Store.CreateDoor(c.Request.Context(), actor(c), &d); err != nil {
		p.facFormFail(c, err, func(code int, errs map[string]string) { p.facDoorForm(c, code, d, errs) })
		return
	}
	redirectDone(c, "/doors/"+strconv.FormatInt(d.ID, 10), "done.door.created")
}

func (p *Panel) facDoorUpdate(c *gin.Context) {
	d, ok := loadParam(p, c, "door", p.o.Store.GetDoor)
	if !ok {
		return
	}
	id := d.ID
	facDoorFromForm(c, &d)
	if err := p.o.Store.UpdateDoor(c.Request.Context(), actor(c), &d); err != nil {
		p.facFormFail(c, err, func(code int, errs map[string]string) { p.facDoorForm(c, code, d, errs) })
		return
	}
	redirectDone(c, "/doors/"+strconv.FormatInt(id, 10), "done.door.saved")
}

// facFormFail re-renders a form after a failed write: a validation error
// or a conflict names what to fix (400, 409); a missing entity is a 404
// page; anything else is the server's.
func (p *Panel) facFormFail(c *gin.Context, err error, again func(code int, errs map[string]string)) {
	var ve *admin.ValidationError
	switch {
	case errors.As(err, &ve):
		again(http.StatusBadRequest, p.formErrors(c, err))
	case errors.Is(err, admin.ErrConflict):
		again(http.StatusConflict, p.formErrors(c, err))
	default:
		p.fail(c, err)
	}
}
