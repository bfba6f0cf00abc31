package panel

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/httpapi"
)

// facEventsPageSize is how many events the entry log shows per page.
const facEventsPageSize = 50

// facEventQuery is the entry log's filter form as typed.
type facEventQuery struct {
	From, To, Door, Person, Result, Reason, Kind string
}

// values is the query string of q (empty fields left out).
func (q facEventQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"from": q.From, "to": q.To, "door": q.Door, "person": q.Person,
		"result": q.Result, "reason": q.Reason, "kind": q.Kind} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// facKinds and facReasons are the choices of the filter's selects.
var (
	facKinds = []varco.EventKind{varco.EventGranted, varco.EventDenied, varco.EventForced, varco.EventHeldOpen,
		varco.EventClosed, varco.EventREX, varco.EventMode, varco.EventReader, varco.EventSync, varco.EventClock,
		varco.EventDropped, varco.EventController}
	facReasons = []varco.Reason{varco.ReasonUnknown, varco.ReasonCloneSuspected, varco.ReasonExpired,
		varco.ReasonNotYetValid, varco.ReasonOutsideSchedule, varco.ReasonHoliday, varco.ReasonLockdown,
		varco.ReasonRevoked, varco.ReasonClockUntrusted, varco.ReasonAllowlistStale, varco.ReasonReadError}
)

// facLocalTime parses a datetime-local value in loc.
func facLocalTime(s string, loc *time.Location) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// facEventFilter reads the filter form of the entry log (and of its
// export). Problems come back by field, translated; matches is the
// people a person search found when it did not find exactly one.
func (p *Panel) facEventFilter(c *gin.Context, loc *time.Location) (f admin.EventFilter, q facEventQuery, matches []admin.Person, errs map[string]string) {
	ctx := c.Request.Context()
	lang := langOf(c.Request)
	q = facEventQuery{From: c.Query("from"), To: c.Query("to"), Door: c.Query("door"), Person: strings.TrimSpace(c.Query("person")),
		Result: c.Query("result"), Reason: c.Query("reason"), Kind: c.Query("kind")}
	errs = map[string]string{}
	bad := func(field, key string, args ...any) { errs[field] = translate(lang, key, args...) }
	if q.From != "" {
		if t, ok := facLocalTime(q.From, loc); ok {
			f.From = t
		} else {
			bad("from", "events.bad_time")
		}
	}
	if q.To != "" {
		if t, ok := facLocalTime(q.To, loc); ok {
			f.To = t
		} else {
			bad("to", "events.bad_time")
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		bad("to", "events.to_before_from")
	}
	if q.Door != "" {
		id, err := strconv.ParseInt(q.Door, 10, 64)
		if err != nil || id <= 0 {
			bad("door", "events.bad_door")
		}
		f.DoorID = id
	}
	if q.Person != "" {
		if id, err := strconv.ParseInt(q.Person, 10, 64); err == nil && id > 0 {
			f.PersonID = id
		} else {
			ps, err := p.o.Store.ListPeople(ctx, admin.PersonFilter{Search: q.Person, Limit: 20})
			switch {
			case err != nil:
				p.log.Error("panel: person search", "err", err)
				bad("person", "error.internal")
			case len(ps) == 1:
				f.PersonID = ps[0].ID
			case len(ps) == 0:
				bad("person", "events.person_none")
			default:
				bad("person", "events.person_many")
				matches = ps
			}
		}
	}
	if q.Kind != "" && !facKnownKind(q.Kind) {
		bad("kind", "events.bad_kind")
	}
	f.Kind = varco.EventKind(q.Kind)
	switch q.Result {
	case "":
	case string(varco.EventGranted), string(varco.EventDenied):
		if q.Kind != "" && q.Kind != q.Result {
			bad("result", "events.result_kind")
		}
		f.Kind = varco.EventKind(q.Result)
	default:
		bad("result", "events.bad_result")
	}
	if q.Reason != "" && !facKnownReason(q.Reason) {
		bad("reason", "events.bad_reason")
	}
	f.Reason = varco.Reason(q.Reason)
	if s := c.Query("cursor"); s != "" {
		cur, err := httpapi.DecodeCursor(s)
		if err != nil {
			bad("", "events.bad_cursor")
		} else {
			f.After = &cur
		}
	}
	if len(errs) == 0 {
		errs = nil
	}
	return f, q, matches, errs
}

func facKnownKind(s string) bool {
	for _, k := range facKinds {
		if string(k) == s {
			return true
		}
	}
	return false
}

func facKnownReason(s string) bool {
	for _, r := range facReasons {
		if string(r) == s {
			return true
		}
	}
	return false
}

// facEventsData is the entry log's.
type facEventsData struct {
	Q        facEventQuery
	Doors    []admin.Door
	Kinds    []varco.EventKind
	Reasons  []varco.Reason
	Matches  []admin.Person
	Person   string // the name of the person filtered on
	Events   []facEvent
	Next     string // URL of the next page, "" on the last
	Paged    bool   // this is not the first page
	Export   string // URL of the CSV export of the same filter
	Searched bool
}

func (p *Panel) facEventsPage(c *gin.Context) {
	ctx := c.Request.Context()
	loc := p.location(ctx)
	f, q, matches, errs := p.facEventFilter(c, loc)
	doors, err := p.o.Store.ListDoors(ctx, 0)
	if err != nil {
		p.fail(c, err)
		return
	}
	d := facEventsData{Q: q, Doors: doors, Kinds: facKinds, Reasons: facReasons, Matches: matches, Paged: f.After != nil}
	qs := q.values().Encode()
	d.Export = "/events.csv"
	if qs != "" {
		d.Export += "?" + qs
	}
	code := http.StatusOK
	for k := range errs {
		if k != "person" { // a search that finds nobody, or several, is no bad input
			code = http.StatusBadRequest
		}
	}
	if errs == nil {
		f.Limit = facEventsPageSize
		evs, next, err := p.o.Store.SearchEvents(ctx, f)
		if err != nil {
			p.fail(c, err)
			return
		}
		n, err := p.facNamer(ctx)
		if err != nil {
			p.fail(c, err)
			return
		}
		d.Events, d.Searched = n.events(evs), true
		if next != nil {
			v := q.values()
			v.Set("cursor", httpapi.EncodeCursor(*next))
			d.Next = "/events?" + v.Encode()
		}
		if f.PersonID != 0 {
			d.Person = n.person(f.PersonID)
		}
	}
	pg := p.page(c, "events.title", d)
	pg.Errors = errs
	p.render(c, code, "fac_events", pg)
}

// facEventsCSV exports what the entry log's filter selects, every page,
// as the API's CSV (httpapi.WriteEventsCSV).
func (p *Panel) facEventsCSV(c *gin.Context) {
	ctx := c.Request.Context()
	f, _, _, errs := p.facEventFilter(c, p.location(ctx))
	if errs != nil {
		p.errorPage(c, http.StatusBadRequest, "error.invalid")
		return
	}
	f.After = nil
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="varco-events.csv"`)
	if err := httpapi.WriteEventsCSV(ctx, c.Writer, p.o.Store, f); err != nil {
		if ctx.Err() == nil {
			p.log.Error("panel: events export", "err", err)
		}
		c.Abort()
	}
}

// facStatDays is how many days the statistics page covers.
const facStatDays = 14

// facStatDoor is one door's daily counts, oldest day first.
type facStatDoor struct {
	Door    admin.Door
	Granted [facStatDays]int
	Denied  [facStatDays]int
	Bars    []facBar
	Total   [2]int // granted, denied
}

// facBar is one day's bars in the chart (SVG coordinates).
type facBar struct {
	X, XD, YG, HG, YD, HD int
	Day                   time.Time
	Granted, Denied       int
}

// facStatsData is the statistics page's.
type facStatsData struct {
	Days  []time.Time
	Doors []facStatDoor
	Max   int
	Width int
}

// facChart geometry: each day is facBarStep wide in a chart facChartH high.
const (
	facBarStep = 24
	facBarW    = 10
	facChartH  = 100
)

// facStats counts granted and denied entries per door and day over the
// last facStatDays days of the site's calendar.
func (p *Panel) facStats(c *gin.Context) {
	ctx := c.Request.Context()
	loc := p.location(ctx)
	d, err := p.facStatsData(ctx, loc, p.o.Now())
	if err != nil {
		p.fail(c, err)
		return
	}
	p.show(c, "fac_stats", "stats.title", d)
}

func (p *Panel) facStatsData(ctx context.Context, loc *time.Location, now time.Time) (facStatsData, error) {
	n := now.In(loc)
	first := time.Date(n.Year(), n.Month(), n.Day()-(facStatDays-1), 0, 0, 0, 0, loc)
	d := facStatsData{Width: facStatDays * facBarStep}
	index := map[string]int{}
	for i := range facStatDays {
		day := time.Date(first.Year(), first.Month(), first.Day()+i, 0, 0, 0, 0, loc)
		d.Days = append(d.Days, day)
		index[day.Format(time.DateOnly)] = i
	}
	doors, err := p.o.Store.ListDoors(ctx, 0)
	if err != nil {
		return d, err
	}
	byID := map[int64]*facStatDoor{}
	d.Doors = make([]facStatDoor, len(doors))
	for i, door := range doors {
		d.Doors[i].Door = door
		byID[door.ID] = &d.Doors[i]
	}
	end := time.Date(first.Year(), first.Month(), first.Day()+facStatDays, 0, 0, 0, 0, loc)
	for _, kind := range []varco.EventKind{varco.EventGranted, varco.EventDenied} {
		f := admin.EventFilter{From: first, To: end, Kind: kind, Limit: 10000}
		for {
			evs, next, err := p.o.Store.SearchEvents(ctx, f)
			if err != nil {
				return d, err
			}
			for _, e := range evs {
				sd, ok := byID[e.DoorID]
				i, okDay := index[e.Time.In(loc).Format(time.DateOnly)]
				if !ok || !okDay {
					continue
				}
				if kind == varco.EventGranted {
					sd.Granted[i]++
					sd.Total[0]++
				} else {
					sd.Denied[i]++
					sd.Total[1]++
				}
			}
			if next == nil {
				break
			}
			f.After = next
		}
	}
	for _, sd := range d.Doors {
		for i := range facStatDays {
			d.Max = max(d.Max, sd.Granted[i], sd.Denied[i])
		}
	}
	scale := func(v int) int {
		if d.Max == 0 || v == 0 {
			return 0
		}
		return max(1, v*facChartH/d.Max)
	}
	for j := range d.Doors {
		sd := &d.Doors[j]
		for i := range facStatDays {
			hg, hd := scale(sd.Granted[i]), scale(sd.Denied[i])
			sd.Bars = append(sd.Bars, facBar{X: i*facBarStep + 1, XD: i*facBarStep + 1 + facBarW, YG: facChartH - hg, HG: hg,
				YD: facChartH - hd, HD: hd, Day: d.Days[i], Granted: sd.Granted[i], Denied: sd.Denied[i]})
		}
	}
	return d, nil
}

// Encode is the query string of the filter as typed (links to the
// first page).
func (q facEventQuery) Encode() string { return q.values().Encode() }
