package panel

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
)

// facGroupPeopleMax caps the people offered as checkboxes on a group's
// page; members are always shown.
const facGroupPeopleMax = 2000

// facGroupRow is one group in the list.
type facGroupRow struct {
	admin.Group
	Schedule string // "" = always
}

// facGroupsData is the groups page's.
type facGroupsData struct {
	Groups []facGroupRow
}

func (p *Panel) facScheduleNames(c *gin.Context) (map[int64]string, []admin.Schedule, bool) {
	scheds, err := p.o.Store.ListSchedules(c.Request.Context())
	if err != nil {
		p.fail(c, err)
		return nil, nil, false
	}
	m := map[int64]string{}
	for _, s := range scheds {
		m[s.ID] = s.Name
	}
	return m, scheds, true
}

func (p *Panel) facGroups(c *gin.Context) {
	groups, err := p.o.Store.ListGroups(c.Request.Context())
	if err != nil {
		p.fail(c, err)
		return
	}
	names, _, ok := p.facScheduleNames(c)
	if !ok {
		return
	}
	var d facGroupsData
	for _, g := range groups {
		r := facGroupRow{Group: g}
		if g.ScheduleID != nil {
			r.Schedule = names[*g.ScheduleID]
		}
		d.Groups = append(d.Groups, r)
	}
	p.show(c, "fac_groups", "group.title", d)
}

// facCheck is one checkbox of a multi-select.
type facCheck struct {
	ID      int64
	Label   string
	Note    string
	Checked bool
}

// facGroupForm is a group's page: the group and its choices.
type facGroupForm struct {
	Group     admin.Group
	Schedules []admin.Schedule
	Doors     []facCheck
	People    []facCheck
	Members   []facCheck
	More      bool // more people than the list shows
}

func (p *Panel) facGroupPage(c *gin.Context, code int, g admin.Group, errs map[string]string) {
	ctx := c.Request.Context()
	_, scheds, ok := p.facScheduleNames(c)
	if !ok {
		return
	}
	doors, err := p.o.Store.ListDoors(ctx, 0)
	if err != nil {
		p.fail(c, err)
		return
	}
	people, err := p.o.Store.ListPeople(ctx, admin.PersonFilter{Limit: facGroupPeopleMax})
	if err != nil {
		p.fail(c, err)
		return
	}
	d := facGroupForm{Group: g, Schedules: scheds, More: len(people) == facGroupPeopleMax}
	in := func(ids []int64, id int64) bool {
		for _, x := range ids {
			if x == id {
				return true
			}
		}
		return false
	}
	for _, door := range doors {
		d.Doors = append(d.Doors, facCheck{ID: door.ID, Label: door.Name, Note: door.Location, Checked: in(g.DoorIDs, door.ID)})
	}
	listed := map[int64]bool{}
	for _, per := range people {
		listed[per.ID] = true
		fc := facCheck{ID: per.ID, Label: per.Surname + " " + per.Name, Note: per.EmployeeNo, Checked: in(g.PersonIDs, per.ID)}
		d.People = append(d.People, fc)
		if fc.Checked {
			d.Members = append(d.Members, fc)
		}
	}
	for _, id := range g.PersonIDs {
		if listed[id] {
			continue
		}
		if per, err := p.o.Store.GetPerson(ctx, id); err == nil {
			fc := facCheck{ID: per.ID, Label: per.Surname + " " + per.Name, Note: per.EmployeeNo, Checked: true}
			d.People = append(d.People, fc)
			d.Members = append(d.Members, fc)
		}
	}
	title := "group.new"
	if g.ID != 0 {
		title = "group.group"
	}
	pg := p.page(c, title, d)
	pg.Errors = errs
	p.render(c, code, "fac_group", pg)
}

func (p *Panel) facGroupNew(c *gin.Context) {
	p.facGroupPage(c, http.StatusOK, admin.Group{}, nil)
}

func (p *Panel) facGroup(c *gin.Context) {
	g, ok := loadParam(p, c, "group", p.o.Store.GetGroup)
	if !ok {
		return
	}
	p.facGroupPage(c, http.StatusOK, g, nil)
}

// facIDs reads the ids of a multi-select; what is not an id is skipped
// (a tampered form), sorted and without repeats.
func facIDs(vals []string) []int64 {
	var ids []int64
	seen := map[int64]bool{}
	for _, v := range vals {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 || seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// facGroupFromForm reads the group form; errs names a bad schedule.
func facGroupFromForm(c *gin.Context, id int64) (admin.Group, map[string]string) {
	g := admin.Group{ID: id, Name: strings.TrimSpace(c.PostForm("name")), LockdownOverride: c.PostForm("lockdown_override") != "",
		DoorIDs: facIDs(c.PostFormArray("door_ids")), PersonIDs: facIDs(c.PostFormArray("person_ids"))}
	if s := c.PostForm("schedule_id"); s != "" {
		sid, err := strconv.ParseInt(s, 10, 64)
		if err != nil || sid <= 0 {
			return g, map[string]string{"schedule_id": translate(langOf(c.Request), "group.bad_schedule")}
		}
		g.ScheduleID = &sid
	}
	return g, nil
}

func (p *Panel) facGroupSave(c *gin.Context, id int64) {
	g, errs := facGroupFromForm(c, id)
	if errs != nil {
		p.facGroupPage(c, http.StatusBadRequest, g, errs)
		return
	}
	var err error
	if id == 0 {
		err = p.o.Store.CreateGroup(c.Request.Context(), actor(c), &g)
	} else {
		err = p.o.Store.UpdateGroup(c.Request.Context(), actor(c), &g)
	}
	if err != nil {
		p.facFormFail(c, err, func(code int, errs map[string]string) { p.facGroupPage(c, code, g, errs) })
		return
	}
	done := "done.group.saved"
	if id == 0 {
		done = "done.group.created"
	}
	redirectDone(c, "/groups/"+strconv.FormatInt(g.ID, 10), done)
}

func (p *Panel) facGroupCreate(c *gin.Context) { p.facGroupSave(c, 0) }

func (p *Panel) facGroupUpdate(c *gin.Context) {
	row, ok := loadParam(p, c, "group", p.o.Store.GetGroup)
	if !ok {
		return
	}
	id := row.ID
	p.facGroupSave(c, id)
}

func (p *Panel) facGroupDelete(c *gin.Context) {
	id, ok := p.facID(c)
	if !ok {
		return
	}
	if err := p.o.Store.DeleteGroup(c.Request.Context(), actor(c), id); err != nil {
		p.fail(c, err)
		return
	}
	redirectDone(c, "/groups", "done.group.deleted")
}

// facAccessDoor is one door a person can open, with the groups that let
// them.
type facAccessDoor struct {
	Door   admin.Door
	Groups []facGroupRow
}

// facAccessData is the "which doors can this person open" page's.
type facAccessData struct {
	Query   string
	Person  *admin.Person
	Matches []admin.Person
	Doors   []facAccessDoor
	// NoCard: the person holds no active card, so the doors below stay
	// shut to them until one is enrolled.
	NoCard bool
}

// facAccess answers which doors a person can open through their groups:
// ?person= takes an id or words to search for.
func (p *Panel) facAccess(c *gin.Context) {
	ctx := c.Request.Context()
	d := facAccessData{Query: strings.TrimSpace(c.Query("person"))}
	if d.Query == "" {
		p.show(c, "fac_access", "group.access", d)
		return
	}
	id, err := strconv.ParseInt(d.Query, 10, 64)
	if err != nil || id <= 0 {
		ps, err := p.o.Store.ListPeople(ctx, admin.PersonFilter{Search: d.Query, Limit: 50})
		if err != nil {
			p.fail(c, err)
			return
		}
		if len(ps) != 1 {
			d.Matches = ps
			p.show(c, "fac_access", "group.access", d)
			return
		}
		id = ps[0].ID
	}
	per, err := p.o.Store.GetPerson(ctx, id)
	if err != nil {
		p.fail(c, err)
		return
	}
	d.Person = &per
	cards, err := p.o.Store.ListCards(ctx, id)
	if err != nil {
		p.fail(c, err)
		return
	}
	d.NoCard = true
	for _, card := range cards {
		if card.Status == admin.CardActive {
			d.NoCard = false
		}
	}
	groups, err := p.o.Store.ListPersonGroups(ctx, id)
	if err != nil {
		p.fail(c, err)
		return
	}
	names, _, ok := p.facScheduleNames(c)
	if !ok {
		return
	}
	doors, err := p.o.Store.ListDoors(ctx, 0)
	if err != nil {
		p.fail(c, err)
		return
	}
	for _, door := range doors {
		ad := facAccessDoor{Door: door}
		for _, g := range groups {
			for _, did := range g.DoorIDs {
				if did == door.ID {
					r := facGroupRow{Group: g}
					if g.ScheduleID != nil {
						r.Schedule = names[*g.ScheduleID]
					}
					ad.Groups = append(ad.Groups, r)
				}
			}
		}
		if len(ad.Groups) > 0 {
			d.Doors = append(d.Doors, ad)
		}
	}
	p.show(c, "fac_access", "group.access", d)
}
