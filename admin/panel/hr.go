package panel

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
)

// hrRoutes are HR's pages: people, cards, CSV import, enrolment.
func (p *Panel) hrRoutes() []route {
	return []route{
		{method: "GET", path: "/people", perm: auth.PeopleRead, handler: p.peopleList},
		{method: "GET", path: "/people/new", perm: auth.PeopleWrite, handler: p.personNew},
		{method: "POST", path: "/people", perm: auth.PeopleWrite, handler: p.personCreate},
		{method: "GET", path: "/people/import", perm: auth.PeopleWrite, handler: p.importPage},
		{method: "POST", path: "/people/import", perm: auth.PeopleWrite, handler: p.importUpload},
		{method: "POST", path: "/people/import/confirm", perm: auth.PeopleWrite, handler: p.importConfirm},
		{method: "GET", path: "/people/:person", perm: auth.PeopleRead, handler: p.personPage},
		{method: "GET", path: "/people/:person/edit", perm: auth.PeopleWrite, handler: p.personEdit},
		{method: "POST", path: "/people/:person", perm: auth.PeopleWrite, handler: p.personUpdate},
		{method: "POST", path: "/cards/:card/status", perm: auth.CardsWrite, handler: p.cardStatus},
		{method: "GET", path: "/enrol", perm: auth.Enrol, handler: p.enrolPage},
		{method: "POST", path: "/enrol", perm: auth.Enrol, handler: p.enrolStart},
		{method: "GET", path: "/enrol/:session", perm: auth.Enrol, handler: p.enrolSession},
		{method: "GET", path: "/enrol/:session/result", perm: auth.Enrol, handler: p.enrolResultJSON},
		// Replacing stores a card and revokes another: a card write.
		{method: "POST", path: "/enrol/:session/replace", perm: auth.CardsWrite, handler: p.enrolReplace},
	}
}

// hrState is what the HR pages keep between requests: CSV uploads
// waiting for confirmation and the enrolment sessions this panel
// started. It lives beside the Panel (keyed by it) so that the core
// struct stays the core's.
type hrState struct {
	mu      sync.Mutex
	imports map[string]*pendingImport
	enrols  map[string]*panelEnrol
}

var (
	hrMu     sync.Mutex
	hrStates = map[*Panel]*hrState{}
)

// hr returns p's HR state, made on first use.
func (p *Panel) hr() *hrState {
	hrMu.Lock()
	defer hrMu.Unlock()
	s, ok := hrStates[p]
	if !ok {
		s = &hrState{imports: map[string]*pendingImport{}, enrols: map[string]*panelEnrol{}}
		hrStates[p] = s
	}
	return s
}

// peoplePageSize is how many people a page of the list shows.
const peoplePageSize = 50

// peopleData is the people list's.
type peopleData struct {
	Q, Department, Active string
	People                []admin.Person
	Total, Page, Pages    int
	Prev, Next            string // links, "" when none
}

func (p *Panel) peopleList(c *gin.Context) {
	d := peopleData{Q: strings.TrimSpace(c.Query("q")), Department: strings.TrimSpace(c.Query("department")), Active: c.Query("active")}
	f := admin.PersonFilter{Search: d.Q, Department: d.Department, Limit: peoplePageSize}
	switch d.Active {
	case "1":
		t := true
		f.Active = &t
	case "0":
		fl := false
		f.Active = &fl
	default:
		d.Active = ""
	}
	d.Page, _ = strconv.Atoi(c.Query("page"))
	if d.Page < 1 || d.Page > 1<<20 {
		d.Page = 1
	}
	f.Offset = (d.Page - 1) * peoplePageSize
	ctx := c.Request.Context()
	var err error
	if d.Total, err = p.o.Store.CountPeople(ctx, f); err != nil {
		p.fail(c, err)
		return
	}
	if d.People, err = p.o.Store.ListPeople(ctx, f); err != nil {
		p.fail(c, err)
		return
	}
	d.Pages = max(1, (d.Total+peoplePageSize-1)/peoplePageSize)
	link := func(page int) string {
		q := url.Values{}
		for k, v := range map[string]string{"q": d.Q, "department": d.Department, "active": d.Active} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if page > 1 {
			q.Set("page", strconv.Itoa(page))
		}
		if len(q) == 0 {
			return "/people"
		}
		return "/people?" + q.Encode()
	}
	if d.Page > 1 {
		d.Prev = link(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.Next = link(d.Page + 1)
	}
	p.show(c, "hr_people", "people.title", d)
}

// personForm is the create and edit form's.
type personForm struct {
	Person admin.Person
	New    bool
}

func (p *Panel) personNew(c *gin.Context) {
	p.show(c, "hr_person_form", "person.new", personForm{Person: admin.Person{Active: true}, New: true})
}

func (p *Panel) personEdit(c *gin.Context) {
	per, ok := p.personParam(c)
	if !ok {
		return
	}
	p.show(c, "hr_person_form", "person.edit", personForm{Person: per})
}

// readPerson fills the editable fields of per from the posted form.
func readPerson(c *gin.Context, per *admin.Person) {
	per.EmployeeNo = strings.TrimSpace(c.PostForm("employee_no"))
	per.Name = strings.TrimSpace(c.PostForm("name"))
	per.Surname = strings.TrimSpace(c.PostForm("surname"))
	per.Department = strings.TrimSpace(c.PostForm("department"))
	per.Email = strings.TrimSpace(c.PostForm("email"))
	per.Active = c.PostForm("active") == "1"
}

func (p *Panel) personCreate(c *gin.Context) {
	var per admin.Person
	readPerson(c, &per)
	if err := p.o.Store.CreatePerson(c.Request.Context(), actor(c), &per); err != nil {
		p.personFormError(c, personForm{Person: per, New: true}, err)
		return
	}
	redirectDone(c, fmt.Sprintf("/people/%d", per.ID), "done.person.created")
}

func (p *Panel) personUpdate(c *gin.Context) {
	per, ok := p.personParam(c)
	if !ok {
		return
	}
	readPerson(c, &per)
	if err := p.o.Store.UpdatePerson(c.Request.Context(), actor(c), &per); err != nil {
		p.personFormError(c, personForm{Person: per}, err)
		return
	}
	redirectDone(c, fmt.Sprintf("/people/%d", per.ID), "done.person.saved")
}

// personFormError shows the form again with what was wrong. A duplicate
// employee number is the one conflict a person can have.
func (p *Panel) personFormError(c *gin.Context, f personForm, err error) {
	title := "person.edit"
	if f.New {
		title = "person.new"
	}
	pg := p.page(c, title, f)
	if errors.Is(err, admin.ErrConflict) {
		pg.Errors = map[string]string{"employee_no": pg.T("person.dupno")}
	} else {
		pg.Errors = p.formErrors(c, err)
	}
	p.render(c, http.StatusBadRequest, "hr_person_form", pg)
}

// personParam loads the person of the :person parameter, or answers 404.
func (p *Panel) personParam(c *gin.Context) (admin.Person, bool) {
	return loadParam(p, c, "person", p.o.Store.GetPerson)
}

// personEntry is one recent event of a person, with its door's name.
type personEntry struct {
	admin.Event
	DoorName string
}

// personData is the person page's.
type personData struct {
	Person  admin.Person
	Cards   []admin.Card
	Groups  []admin.Group
	Entries []personEntry
}

// personEntries is how many recent entries the person page shows.
const personEntries = 20

func (p *Panel) personPage(c *gin.Context) {
	per, ok := p.personParam(c)
	if !ok {
		return
	}
	pr, _ := auth.PrincipalFrom(c)
	ctx := c.Request.Context()
	d := personData{Person: per}
	var err error
	if pr.Role.Can(auth.CardsRead) {
		if d.Cards, err = p.o.Store.ListCards(ctx, per.ID); err != nil {
			p.fail(c, err)
			return
		}
	}
	if pr.Role.Can(auth.GroupsRead) {
		if d.Groups, err = p.o.Store.ListPersonGroups(ctx, per.ID); err != nil {
			p.fail(c, err)
			return
		}
	}
	if pr.Role.Can(auth.EventsRead) {
		evs, _, err := p.o.Store.SearchEvents(ctx, admin.EventFilter{PersonID: per.ID, Limit: personEntries})
		if err != nil {
			p.fail(c, err)
			return
		}
		names := map[int64]string{}
		for _, e := range evs {
			n, ok := names[e.DoorID]
			if !ok {
				if door, err := p.o.Store.GetDoor(ctx, e.DoorID); err == nil {
					n = door.Name
				}
				names[e.DoorID] = n
			}
			d.Entries = append(d.Entries, personEntry{Event: e, DoorName: n})
		}
	}
	p.show(c, "hr_person", "person.title", d)
}

// cardStatus suspends, reactivates or revokes a card and goes back to
// its person.
func (p *Panel) cardStatus(c *gin.Context) {
	id, ok := p.idParam(c, "card")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	card, err := p.o.Store.GetCard(ctx, id)
	if err != nil {
		p.fail(c, err)
		return
	}
	st := admin.CardStatus(c.PostForm("status"))
	if !st.Valid() {
		p.errorPage(c, http.StatusBadRequest, "error.invalid")
		return
	}
	if card.Status == admin.CardRevoked && st != admin.CardRevoked {
		// Revoked is for good: a found card is enrolled again.
		p.errorPage(c, http.StatusConflict, "card.revokedforgood")
		return
	}
	if err := p.o.Store.SetCardStatus(ctx, actor(c), id, st); err != nil {
		p.fail(c, err)
		return
	}
	redirectDone(c, fmt.Sprintf("/people/%d", card.PersonID), "done.person.card."+string(st))
}

// CardStatusKey is the message key of a card status.
func CardStatusKey(s admin.CardStatus) string { return "card.status." + string(s) }
