package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
)

// EncodeCursor and DecodeCursor give an event cursor its opaque URL form:
// base64url of "unixnano.id".
func EncodeCursor(c admin.EventCursor) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%d", c.Time.UnixNano(), c.ID))
}

// DecodeCursor parses the form EncodeCursor makes.
func DecodeCursor(s string) (admin.EventCursor, error) {
	bad := &admin.ValidationError{Fields: map[string]string{"cursor": "not a cursor from a previous page"}}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 48 {
		return admin.EventCursor{}, bad
	}
	ns, id, ok := strings.Cut(string(b), ".")
	if !ok {
		return admin.EventCursor{}, bad
	}
	n, err1 := strconv.ParseInt(ns, 10, 64)
	i, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || i <= 0 {
		return admin.EventCursor{}, bad
	}
	return admin.EventCursor{Time: time.Unix(0, n).UTC(), ID: i}, nil
}

// timeQuery reads an RFC 3339 time (or a YYYY-MM-DD date, midnight UTC).
func timeQuery(c *gin.Context, name string, ve *admin.ValidationError) time.Time {
	s := c.Query(name)
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t
	}
	if ve.Fields == nil {
		ve.Fields = map[string]string{}
	}
	ve.Fields[name] = "must be an RFC 3339 time such as 2026-03-01T08:00:00+01:00, or a date YYYY-MM-DD"
	return time.Time{}
}

func idQuery(c *gin.Context, name string, ve *admin.ValidationError) int64 {
	s := c.Query(name)
	if s == "" {
		return 0
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		if ve.Fields == nil {
			ve.Fields = map[string]string{}
		}
		ve.Fields[name] = "not an id"
	}
	return id
}

// eventFilter reads the entry-log query parameters.
func eventFilter(c *gin.Context) (admin.EventFilter, error) {
	var ve admin.ValidationError
	f := admin.EventFilter{
		From: timeQuery(c, "from", &ve), To: timeQuery(c, "to", &ve),
		DoorID: idQuery(c, "door_id", &ve), PersonID: idQuery(c, "person_id", &ve),
		Kind: varco.EventKind(c.Query("kind")), Reason: varco.Reason(c.Query("reason")),
	}
	if len(f.Kind) > admin.MaxShortLen || len(f.Reason) > admin.MaxShortLen {
		ve.Fields = map[string]string{"kind": "too long"}
	}
	if s := c.Query("cursor"); s != "" {
		cur, err := DecodeCursor(s)
		if err != nil {
			return f, err
		}
		f.After = &cur
	}
	if len(ve.Fields) > 0 {
		return f, &ve
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return f, &admin.ValidationError{Fields: map[string]string{"to": "must be after from"}}
	}
	var err error
	f.Limit, err = intQuery(c, "limit", 100, 1000)
	return f, err
}

func (a *API) searchEvents(c *gin.Context) {
	f, err := eventFilter(c)
	if err != nil {
		fail(c, err)
		return
	}
	evs, next, err := a.store.SearchEvents(c.Request.Context(), f)
	if err != nil {
		fail(c, err)
		return
	}
	page := eventPage{Events: evs}
	if page.Events == nil {
		page.Events = []admin.Event{}
	}
	if next != nil {
		page.Next = EncodeCursor(*next)
	}
	c.JSON(http.StatusOK, page)
}

// exportEvents streams the whole selection as CSV, a page at a time, so
// that a year of events never sits in memory.
func (a *API) exportEvents(c *gin.Context) {
	f, err := eventFilter(c)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="events.csv"`)
	if err := WriteEventsCSV(c.Request.Context(), c.Writer, a.store, f); err != nil {
		if c.Request.Context().Err() == nil { // not the client leaving
			a.log.Error("events export", "err", err)
		}
		c.Abort()
	}
}

// WriteEventsCSV writes the events f selects (all pages, newest first)
// to w as CSV with a header row, flushing after every page; f.After is
// where it starts, f.Limit is ignored. The panel's export shares it.
// Text a spreadsheet would run as a formula is quoted.
func WriteEventsCSV(ctx context.Context, w io.Writer, st admin.Store, f admin.EventFilter) error {
	doors, err := st.ListDoors(ctx, 0)
	if err != nil {
		return err
	}
	names := map[int64]string{}
	for _, d := range doors {
		names[d.ID] = d.Name
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"time", "door_id", "door", "seq", "kind", "reason", "nis", "person_id", "clock_trusted", "detail"})
	f.Limit = 1000
	for {
		evs, next, err := st.SearchEvents(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range evs {
			pid := ""
			if e.PersonID != nil {
				pid = strconv.FormatInt(*e.PersonID, 10)
			}
			cw.Write([]string{e.Time.UTC().Format(time.RFC3339Nano), strconv.FormatInt(e.DoorID, 10), csvSafe(names[e.DoorID]),
				strconv.FormatUint(e.Seq, 10), string(e.Kind), string(e.Reason), e.NIS, pid, strconv.FormatBool(e.ClockTrusted), csvSafe(e.Detail)})
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		f.After = next
	}
}

func (a *API) listAudit(c *gin.Context) {
	var ve admin.ValidationError
	f := admin.AuditFilter{Actor: c.Query("actor"), Action: c.Query("action"), Entity: c.Query("entity"), EntityID: c.Query("entity_id"),
		From: timeQuery(c, "from", &ve), To: timeQuery(c, "to", &ve), BeforeID: idQuery(c, "before", &ve)}
	if len(ve.Fields) > 0 {
		fail(c, &ve)
		return
	}
	var err error
	if f.Limit, err = intQuery(c, "limit", 100, 1000); err != nil {
		fail(c, err)
		return
	}
	es, err := a.store.ListAudit(c.Request.Context(), f)
	if err != nil {
		fail(c, err)
		return
	}
	page := auditPage{Entries: es}
	if page.Entries == nil {
		page.Entries = []admin.AuditEntry{}
	}
	if len(es) == f.Limit {
		page.Next = es[len(es)-1].ID
	}
	c.JSON(http.StatusOK, page)
}
