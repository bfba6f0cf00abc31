package panel

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
)

// admAuditPage is how many audit entries a page shows.
const admAuditPage = 50

// admAuditActions are the actions the filter offers (admin.Action*).
var admAuditActions = []string{admin.ActionCreate, admin.ActionUpdate, admin.ActionDelete, admin.ActionImport,
	admin.ActionLogin, admin.ActionLogout, admin.ActionRevoke, admin.ActionPurge,
	"add_people", "remove_people", "add_doors", "remove_doors"} // group membership (sqlstore)

// admAuditEntities are the entities audit entries name (admin.AuditEntry).
var admAuditEntities = []string{"site", "person", "card", "schedule", "holiday", "door", "group", "user", "session", "api_token", "event"}

// admAuditRow is an audit entry with its before and after indented for
// reading ("" when absent).
type admAuditRow struct {
	admin.AuditEntry
	BeforeText, AfterText string
	// ActionKey is the message key of the action, "" for an action
	// without one (shown as stored).
	ActionKey string
}

// admActionKey is the message key of an audit action, "" if none.
func admActionKey(action string) string {
	k := "audit.action." + action
	if _, ok := catalog[k]; !ok {
		return ""
	}
	return k
}

// admAuditData is the audit page's: the filter as typed, the entries
// and the links to the next and first pages ("" for none).
type admAuditData struct {
	Actor, Action, Entity, EntityID, From, To string
	Actions, Entities                         []string
	Entries                                   []admAuditRow
	Next, First                               string
}

// admIndent lays JSON out over several lines.
func admIndent(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// auditList shows the audit log newest first, filtered by actor,
// action, entity and days (in the site's time zone), a page at a time
// (keyset on the entry id, as the store pages).
func (p *Panel) auditList(c *gin.Context) {
	d := admAuditData{Actor: strings.TrimSpace(c.Query("actor")), Action: c.Query("action"), Entity: strings.TrimSpace(c.Query("entity")),
		EntityID: strings.TrimSpace(c.Query("entity_id")), From: c.Query("from"), To: c.Query("to"), Actions: admAuditActions, Entities: admAuditEntities}
	f := admin.AuditFilter{Actor: d.Actor, Action: d.Action, Entity: d.Entity, EntityID: d.EntityID, Limit: admAuditPage}
	loc := p.location(c.Request.Context())
	errs := map[string]string{}
	lang := langOf(c.Request)
	if d.From != "" {
		t, err := time.ParseInLocation("2006-01-02", d.From, loc)
		if err != nil {
			errs["from"] = translate(lang, "audit.baddate")
		}
		f.From = t
	}
	if d.To != "" {
		t, err := time.ParseInLocation("2006-01-02", d.To, loc)
		if err != nil {
			errs["to"] = translate(lang, "audit.baddate")
		}
		f.To = t.AddDate(0, 0, 1) // the whole day
	}
	if s := c.Query("before"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			errs["before"] = translate(lang, "error.invalid")
		}
		f.BeforeID = id
	}
	if len(errs) > 0 {
		pg := p.page(c, "audit.title", d)
		pg.Errors = errs
		p.render(c, http.StatusBadRequest, "adm_audit", pg)
		return
	}
	es, err := p.o.Store.ListAudit(c.Request.Context(), f)
	if err != nil {
		pg := p.page(c, "audit.title", d)
		pg.Errors = p.formErrors(c, err)
		p.render(c, http.StatusBadRequest, "adm_audit", pg)
		return
	}
	for _, e := range es {
		d.Entries = append(d.Entries, admAuditRow{AuditEntry: e, BeforeText: admIndent(e.Before), AfterText: admIndent(e.After), ActionKey: admActionKey(e.Action)})
	}
	q := url.Values{}
	for k, v := range map[string]string{"actor": d.Actor, "action": d.Action, "entity": d.Entity, "entity_id": d.EntityID, "from": d.From, "to": d.To} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.BeforeID != 0 {
		d.First = "/audit?" + q.Encode()
	}
	if len(es) == f.Limit {
		q.Set("before", strconv.FormatInt(es[len(es)-1].ID, 10))
		d.Next = "/audit?" + q.Encode()
	}
	p.show(c, "adm_audit", "audit.title", d)
}
