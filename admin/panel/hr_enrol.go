package panel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/wire"
)

// Enrolment from the panel: HR picks the person and the station, the
// syncer sends the station a challenge (StartEnrol), and the session
// page shows "tap the card now" until the result comes (a script long-
// polls /enrol/:session/result; without it, a reload button).
//
// Replacing a renewed card: the session verifies the new card without
// storing it (person 0), and once it is verified HR confirms, which
// stores it with Store.ReplaceCard (the old card is revoked, pointing to
// the new one). The panel remembers which sessions it started for whom
// and which card each replaces: the card stored is always the one the
// syncer verified, never one sent by the browser.

// enrolLongPoll is how long /enrol/:session/result?wait=1 waits for a
// result: under the usual 30 s proxy and browser timeouts.
const enrolLongPoll = 25 * time.Second

// maxPanelEnrols bounds the sessions the panel remembers.
const maxPanelEnrols = syncer.MaxEnrolSessions

// panelEnrol is an enrolment session started from the panel.
type panelEnrol struct {
	ID       string
	UserID   int64
	PersonID int64
	Replace  int64 // the card the new one replaces; 0 for a plain enrolment
	Station  string
	At       time.Time
	Replaced int64 // the new card's id once stored by the replacement
}

// enrolData is the enrolment form's.
type enrolData struct {
	Available bool
	Q         string
	Matches   []admin.Person
	Person    *admin.Person
	Replace   *admin.Card
	Station   string
	Stations  []string
}

// enrolForm reads person and replace (from the query or the form) and
// loads them; field errors for what does not exist.
func (p *Panel) enrolForm(c *gin.Context, personS, replaceS string) (enrolData, map[string]string, error) {
	ctx := c.Request.Context()
	d := enrolData{Available: p.o.Enrol != nil}
	errs := map[string]string{}
	lang := langOf(c.Request)
	if personS != "" {
		id, err := strconv.ParseInt(personS, 10, 64)
		per, gerr := p.o.Store.GetPerson(ctx, id)
		switch {
		case err != nil || id <= 0 || errors.Is(gerr, admin.ErrNotFound):
			errs["person"] = translate(lang, "enrol.noperson")
		case gerr != nil:
			return d, nil, gerr
		default:
			d.Person = &per
		}
	}
	if replaceS != "" {
		id, err := strconv.ParseInt(replaceS, 10, 64)
		card, gerr := p.o.Store.GetCard(ctx, id)
		switch {
		case err != nil || id <= 0 || errors.Is(gerr, admin.ErrNotFound):
			errs["replace"] = translate(lang, "enrol.nocard")
		case gerr != nil:
			return d, nil, gerr
		case d.Person == nil || card.PersonID != d.Person.ID:
			errs["replace"] = translate(lang, "enrol.notperson")
		case card.ReplacedBy != nil:
			errs["replace"] = translate(lang, "enrol.alreadyreplaced")
		default:
			d.Replace = &card
		}
	}
	seen := map[string]bool{}
	pr, _ := auth.PrincipalFrom(c)
	s := p.hr()
	s.mu.Lock()
	var last *panelEnrol
	for _, e := range s.enrols {
		if !seen[e.Station] {
			seen[e.Station] = true
			d.Stations = append(d.Stations, e.Station)
		}
		if e.UserID == pr.UserID && (last == nil || e.At.After(last.At)) {
			last = e
		}
	}
	s.mu.Unlock()
	if last != nil {
		d.Station = last.Station
	}
	// Doors are not offered: a varco-door does not enrol. The admin keeps
	// no list of provisioned stations, so the suggestions are the ones
	// used since it started.
	sort.Strings(d.Stations)
	if len(errs) == 0 {
		errs = nil
	}
	return d, errs, nil
}

func (p *Panel) enrolPage(c *gin.Context) {
	d, errs, err := p.enrolForm(c, c.Query("person"), c.Query("replace"))
	if err != nil {
		p.fail(c, err)
		return
	}
	d.Q = strings.TrimSpace(c.Query("q"))
	if d.Q != "" {
		if d.Matches, err = p.o.Store.ListPeople(c.Request.Context(), admin.PersonFilter{Search: d.Q, Limit: 20}); err != nil {
			p.fail(c, err)
			return
		}
	}
	pg := p.page(c, "enrol.title", d)
	pg.Errors = errs
	p.render(c, http.StatusOK, "hr_enrol", pg)
}

// enrolStart opens a session at the chosen station and goes to its page.
func (p *Panel) enrolStart(c *gin.Context) {
	if p.o.Enrol == nil {
		p.errorPage(c, http.StatusServiceUnavailable, "enrol.unavailable")
		return
	}
	d, errs, err := p.enrolForm(c, c.PostForm("person"), c.PostForm("replace"))
	if err != nil {
		p.fail(c, err)
		return
	}
	lang := langOf(c.Request)
	d.Station = strings.TrimSpace(c.PostForm("station"))
	if errs == nil {
		errs = map[string]string{}
	}
	if d.Person == nil && errs["person"] == "" {
		errs["person"] = translate(lang, "enrol.pickperson")
	}
	if !wire.ValidID(d.Station) {
		errs["station"] = translate(lang, "enrol.badstation", wire.MaxIDLength)
	}
	var sess syncer.EnrolSession
	if len(errs) == 0 {
		pr, _ := auth.PrincipalFrom(c)
		personID := d.Person.ID
		if d.Replace != nil {
			personID = 0 // verify only: the replacement stores it
		}
		sess, err = p.o.Enrol.StartEnrol(c.Request.Context(), d.Station, personID, pr.Username)
		switch {
		case errors.Is(err, syncer.ErrEnrolBusy):
			errs[""] = translate(lang, "enrol.busy")
		case err != nil:
			p.log.Warn("panel: enrol", "station", d.Station, "err", err)
			errs["station"] = translate(lang, "enrol.startfailed", d.Station)
		default:
			e := &panelEnrol{ID: sess.ID, UserID: pr.UserID, PersonID: d.Person.ID, Station: d.Station, At: p.o.Now()}
			if d.Replace != nil {
				e.Replace = d.Replace.ID
			}
			p.rememberEnrol(e)
		}
	}
	if len(errs) > 0 {
		pg := p.page(c, "enrol.title", d)
		pg.Errors = errs
		p.render(c, http.StatusBadRequest, "hr_enrol", pg)
		return
	}
	c.Redirect(http.StatusSeeOther, "/enrol/"+sess.ID)
}

// rememberEnrol keeps e, forgetting the oldest past the bound and those
// the syncer has forgotten too.
func (p *Panel) rememberEnrol(e *panelEnrol) {
	s := p.hr()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, o := range s.enrols {
		if e.At.Sub(o.At) > syncer.EnrolKeep+syncer.DefaultEnrolTTL {
			delete(s.enrols, k)
		}
	}
	for len(s.enrols) >= maxPanelEnrols {
		var oldest *panelEnrol
		for _, o := range s.enrols {
			if oldest == nil || o.At.Before(oldest.At) {
				oldest = o
			}
		}
		delete(s.enrols, oldest.ID)
	}
	s.enrols[e.ID] = e
}

// enrolOf returns the panel's record of session id for this user (a
// copy), and whether another user started it.
func (p *Panel) enrolOf(c *gin.Context, id string) (panelEnrol, bool, bool) {
	pr, _ := auth.PrincipalFrom(c)
	s := p.hr()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.enrols[id]
	if !ok {
		return panelEnrol{}, false, false
	}
	if e.UserID != pr.UserID {
		return panelEnrol{}, false, true
	}
	return *e, true, false
}

// enrolView is a session as the page and the script show it, texts in
// the page's language.
type enrolView struct {
	ID         string `json:"id"`
	Known      bool   `json:"known"`
	State      string `json:"state"`
	StateText  string `json:"state_text"`
	Station    string `json:"station"`
	Expires    string `json:"expires,omitempty"`
	NIS        string `json:"nis,omitempty"`
	Generation string `json:"generation,omitempty"`
	Signer     string `json:"signer,omitempty"`
	Check      string `json:"verification,omitempty"`
	// Reason is why, in plain words; Detail the server's own wording.
	Reason     string `json:"reason,omitempty"`
	Detail     string `json:"detail,omitempty"`
	CardID     int64  `json:"card_id,omitempty"`
	PersonID   int64  `json:"person_id,omitempty"`
	PersonName string `json:"person_name,omitempty"`
	// Replace is the card being replaced; ReplacePending is true when
	// the new card is verified and waits for HR to confirm.
	Replace        int64 `json:"replace,omitempty"`
	ReplacePending bool  `json:"replace_pending"`
	Replaced       int64 `json:"replaced,omitempty"`
}

// view describes session id, waiting up to wait for a result.
func (p *Panel) enrolView(c *gin.Context, pg *Page, id string, wait time.Duration) enrolView {
	v := enrolView{ID: id, State: "unknown"}
	pe, mine, others := p.enrolOf(c, id)
	if others || !wire.ValidID(id) || p.o.Enrol == nil {
		v.StateText = pg.T("enrol.state.unknown")
		return v
	}
	var s syncer.EnrolSession
	var ok bool
	if wait > 0 {
		ctx, cancel := context.WithTimeout(c.Request.Context(), wait)
		s, ok = p.o.Enrol.WaitEnrol(ctx, id)
		cancel()
	} else {
		s, ok = p.o.Enrol.EnrolResult(id)
	}
	if !ok {
		v.StateText = pg.T("enrol.state.unknown")
		return v
	}
	v.Known, v.State, v.Station, v.NIS = true, string(s.State), s.Station, s.NIS
	v.StateText = pg.T("enrol.state." + string(s.State))
	if s.State == syncer.EnrolWaiting {
		v.Expires = pg.Time(s.ExpiresAt)
	}
	v.PersonID = s.PersonID
	if mine {
		v.PersonID, v.Replace, v.Replaced = pe.PersonID, pe.Replace, pe.Replaced
	}
	if v.PersonID != 0 {
		if per, err := p.o.Store.GetPerson(c.Request.Context(), v.PersonID); err == nil {
			v.PersonName = per.DisplayName()
		}
	}
	if s.Card != nil {
		v.Generation, v.Signer, v.Check, v.CardID = s.Card.SODGeneration, s.Card.DSSubject, s.Card.Verification, s.Card.ID
	}
	if s.State != syncer.EnrolWaiting && s.State != syncer.EnrolVerified {
		v.Reason, v.Detail = pg.T(RefusalKey(s.State, s.Reason)), s.Reason
	}
	v.ReplacePending = s.State == syncer.EnrolVerified && v.Replace != 0 && v.Replaced == 0 && s.Card != nil
	return v
}

// sessionData is the session page's.
type sessionData struct {
	Available bool
	V         enrolView
}

func (p *Panel) enrolSession(c *gin.Context) {
	pg := p.page(c, "enrol.title", nil)
	d := sessionData{Available: p.o.Enrol != nil}
	d.V = p.enrolView(c, pg, c.Param("session"), 0)
	pg.Data = d
	p.render(c, http.StatusOK, "hr_enrol_session", pg)
}

// enrolResultJSON is the session for the page's script; ?wait=1 long-
// polls until it is no longer waiting.
func (p *Panel) enrolResultJSON(c *gin.Context) {
	pg := p.page(c, "", nil)
	var wait time.Duration
	if c.Query("wait") != "" {
		wait = enrolLongPoll
	}
	c.JSON(http.StatusOK, p.enrolView(c, pg, c.Param("session"), wait))
}

// enrolReplace stores a replace session's verified card in place of the
// old one.
func (p *Panel) enrolReplace(c *gin.Context) {
	id := c.Param("session")
	pe, mine, _ := p.enrolOf(c, id)
	if !mine || pe.Replace == 0 || p.o.Enrol == nil {
		p.errorPage(c, http.StatusNotFound, "error.notfound")
		return
	}
	s, ok := p.o.Enrol.EnrolResult(id)
	if !ok || s.State != syncer.EnrolVerified || s.Card == nil {
		p.errorPage(c, http.StatusConflict, "enrol.notverified")
		return
	}
	if pe.Replaced != 0 {
		redirectDone(c, fmt.Sprintf("/people/%d", pe.PersonID), "done.person.card.replaced")
		return
	}
	card := *s.Card
	card.ID, card.PersonID, card.KeyHash, card.ReplacedBy = 0, 0, "", nil
	card.Status = admin.CardActive
	err := p.o.Store.ReplaceCard(c.Request.Context(), actor(c), pe.Replace, &card)
	if err != nil {
		pg := p.page(c, "enrol.title", nil)
		d := sessionData{Available: true, V: p.enrolView(c, pg, id, 0)}
		pg.Data = d
		if errors.Is(err, admin.ErrConflict) {
			pg.Errors = map[string]string{"": pg.T("enrol.replaceconflict") + " " + err.Error()}
		} else {
			pg.Errors = p.formErrors(c, err)
		}
		p.render(c, http.StatusConflict, "hr_enrol_session", pg)
		return
	}
	st := p.hr()
	st.mu.Lock()
	if e, ok := st.enrols[id]; ok {
		e.Replaced = card.ID
	}
	st.mu.Unlock()
	redirectDone(c, fmt.Sprintf("/people/%d", pe.PersonID), "done.person.card.replaced")
}

// refusals maps the start of the syncer's and admin.VerifyCard's reasons
// (admin/enrol.go, admin/syncer/enroll.go) to plain words in the
// catalog. TestRefusalKeys keeps the list in step with those texts.
var refusals = []struct{ prefix, key string }{
	{"no CSCA certificates are configured", "enrol.why.nocsca"},
	{"the NIS read is not 12 digits", "enrol.why.badnis"},
	{"the card's public key file", "enrol.why.keyfile"},
	{"no EF.SOD was read", "enrol.why.nosod"},
	{"the card was not issued under a trusted CSCA", "enrol.why.csca"},
	{"a certificate in the card's chain is expired", "enrol.why.certexpired"},
	{"the NIS read does not match", "enrol.why.nis"},
	{"the public key read does not match", "enrol.why.key"},
	{"EF.SOD does not verify", "enrol.why.sod"},
	{"the card did not sign the challenge", "enrol.why.clone"},
	{"the card is genuine but already enrolled", "enrol.why.already"},
	{"the card is genuine but person", "enrol.why.noperson"},
	{"the card is genuine but could not be stored", "enrol.why.store"},
	{"the station could not read a card", "enrol.why.noread"},
	{"no answer from station", "enrol.why.timeout"},
	{"replaced by a newer enrolment session", "enrol.why.replaced"},
}

// RefusalKey is the message key saying in plain words why a session in
// state ended without a card: its reason's, else the state's.
func RefusalKey(state syncer.EnrolState, reason string) string {
	for _, r := range refusals {
		if strings.HasPrefix(reason, r.prefix) {
			return r.key
		}
	}
	switch state {
	case syncer.EnrolExpired:
		return "enrol.why.timeout"
	case syncer.EnrolRefused:
		return "enrol.why.refused"
	}
	return "enrol.why.error"
}
