package panel

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
)

// facWeek is the order the panel shows weekdays in: Monday first, as in
// Italy (indices of admin.Schedule.Days, Sunday = 0).
var facWeek = [7]int{1, 2, 3, 4, 5, 6, 0}

// facFormatWindows is a day's windows as typed: "08:00-12:00, 14:00-18:00".
func facFormatWindows(ws []varco.Window) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = w.String()
	}
	return strings.Join(s, ", ")
}

// facParseClock reads "8:00", "08:00" or "24:00" as minutes of the day.
func facParseClock(s string) (int, bool) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(m) != 2 || len(h) == 0 || len(h) > 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || hh == 24 && mm != 0 {
		return 0, false
	}
	return hh*60 + mm, true
}

// facParseWindows reads a day's windows as typed, separated by commas or
// semicolons, and sorts them; the text that is not a window comes back
// in bad.
func facParseWindows(s string) (ws []varco.Window, bad string) {
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		a, b, ok := strings.Cut(part, "-")
		start, ok1 := facParseClock(a)
		end, ok2 := facParseClock(b)
		if !ok || !ok1 || !ok2 {
			return nil, part
		}
		ws = append(ws, varco.Window{Start: start, End: end})
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].Start < ws[j].Start })
	return ws, ""
}

// facDay is one weekday's row of the schedule form.
type facDay struct {
	Index      int // time.Weekday
	Field, Key string
	Text       string
}

// facSchedForm is the schedule form's data.
type facSchedForm struct {
	ID             int64
	Name           string
	OpenOnHolidays bool
	Days           []facDay
	Groups         []admin.Group // the groups that use it
}

func facSchedFormOf(s admin.Schedule) facSchedForm {
	f := facSchedForm{ID: s.ID, Name: s.Name, OpenOnHolidays: s.OpenOnHolidays}
	for _, d := range facWeek {
		f.Days = append(f.Days, facDay{Index: d, Field: fmt.Sprintf("days[%d]", d), Key: fmt.Sprintf("sched.day.%d", d), Text: facFormatWindows(s.Days[d])})
	}
	return f
}

// facSchedRow is one schedule in the list, with a day's summary per
// weekday (Monday first).
type facSchedRow struct {
	admin.Schedule
	Week []facDay
}

// facHoliday is a holiday with its site's name.
type facHoliday struct {
	admin.Holiday
	Site string
}

// facSchedulesData is the schedules and holidays page's.
type facSchedulesData struct {
	Schedules []facSchedRow
	Holidays  []facHoliday
	Sites     []admin.Site
	Holiday   admin.Holiday // the add form, as typed
	DayKeys   []string
}

func (p *Panel) facSchedulesPage(c *gin.Context, code int, typed admin.Holiday, errs map[string]string) {
	ctx := c.Request.Context()
	scheds, err := p.o.Store.ListSchedules(ctx)
	if err != nil {
		p.fail(c, err)
		return
	}
	hols, err := p.o.Store.ListHolidays(ctx, 0)
	if err != nil {
		p.fail(c, err)
		return
	}
	names, sites, err := p.facSiteNames(ctx)
	if err != nil {
		p.fail(c, err)
		return
	}
	d := facSchedulesData{Sites: sites, Holiday: typed}
	for _, i := range facWeek {
		d.DayKeys = append(d.DayKeys, fmt.Sprintf("sched.day.%d", i))
	}
	for _, s := range scheds {
		d.Schedules = append(d.Schedules, facSchedRow{Schedule: s, Week: facSchedFormOf(s).Days})
	}
	for _, h := range hols {
		d.Holidays = append(d.Holidays, facHoliday{Holiday: h, Site: names[h.SiteID]})
	}
	pg := p.page(c, "sched.title", d)
	pg.Errors = errs
	p.render(c, code, "fac_schedules", pg)
}

func (p *Panel) facSchedules(c *gin.Context) {
	p.facSchedulesPage(c, http.StatusOK, admin.Holiday{}, nil)
}

func (p *Panel) facSchedForm(c *gin.Context, code int, f facSchedForm, errs map[string]string) {
	title := "sched.new"
	if f.ID != 0 {
		title = "sched.schedule"
		groups, err := p.o.Store.ListGroups(c.Request.Context())
		if err != nil {
			p.fail(c, err)
			return
		}
		for _, g := range groups {
			if g.ScheduleID != nil && *g.ScheduleID == f.ID {
				f.Groups = append(f.Groups, g)
			}
		}
	}
	pg := p.page(c, title, f)
	pg.Errors = errs
	p.render(c, code, "fac_schedule", pg)
}

func (p *Panel) facScheduleNew(c *gin.Context) {
	p.facSchedForm(c, http.StatusOK, facSchedFormOf(admin.Schedule{}), nil)
}

func (p *Panel) facSchedule(c *gin.Context) {
	s, ok := loadParam(p, c, "schedule", p.o.Store.GetSchedule)
	if !ok {
		return
	}
	p.facSchedForm(c, http.StatusOK, facSchedFormOf(s), nil)
}

// facScheduleFromForm reads the schedule form: the schedule, the form as
// typed, and the problems by field (days[d] for a weekday), or nil.
func facScheduleFromForm(c *gin.Context, id int64) (admin.Schedule, facSchedForm, map[string]string) {
	s := admin.Schedule{ID: id, Name: strings.TrimSpace(c.PostForm("name")), OpenOnHolidays: c.PostForm("open_on_holidays") != ""}
	f := facSchedFormOf(s)
	errs := map[string]string{}
	for i := range f.Days {
		day := &f.Days[i]
		day.Text = c.PostForm(day.Field)
		ws, bad := facParseWindows(day.Text)
		if bad != "" {
			errs[day.Field] = translate(langOf(c.Request), "sched.bad_window", bad)
			continue
		}
		s.Days[day.Index] = ws
	}
	if len(errs) == 0 {
		errs = nil
	}
	return s, f, errs
}

// facDayErrors folds the store's per-window problems ("days[1][0]") into
// their day's field ("days[1]"), which the form shows.
func facDayErrors(errs map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range errs {
		if strings.HasPrefix(k, "days[") {
			if i := strings.IndexByte(k, ']'); i > 0 {
				k = k[:i+1]
			}
		}
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}

func (p *Panel) facScheduleSave(c *gin.Context, id int64) {
	s, f, errs := facScheduleFromForm(c, id)
	if errs == nil {
		// Validation first so that every field's problem shows at once.
		err := s.Validate()
		if err == nil {
			if id == 0 {
				err = p.o.Store.CreateSchedule(c.Request.Context(), actor(c), &s)
			} else {
				err = p.o.Store.UpdateSchedule(c.Request.Context(), actor(c), &s)
			}
		}
		if err == nil {
			done := "done.sched.saved"
			if id == 0 {
				done = "done.sched.created"
			}
			redirectDone(c, "/schedules/"+strconv.FormatInt(s.ID, 10), done)
			return
		}
		var ve *admin.ValidationError
		if !errors.As(err, &ve) && !errors.Is(err, admin.ErrConflict) {
			p.fail(c, err)
			return
		}
		errs = facDayErrors(p.formErrors(c, err))
	}
	code := http.StatusBadRequest
	p.facSchedForm(c, code, f, errs)
}

func (p *Panel) facScheduleCreate(c *gin.Context) { p.facScheduleSave(c, 0) }

func (p *Panel) facScheduleUpdate(c *gin.Context) {
	row, ok := loadParam(p, c, "schedule", p.o.Store.GetSchedule)
	if !ok {
		return
	}
	id := row.ID
	p.facScheduleSave(c, id)
}

func (p *Panel) facScheduleDelete(c *gin.Context) {
	s, ok := loadParam(p, c, "schedule", p.o.Store.GetSchedule)
	if !ok {
		return
	}
	id := s.ID
	if err := p.o.Store.DeleteSchedule(c.Request.Context(), actor(c), id); err != nil {
		if errors.Is(err, admin.ErrConflict) {
			p.facSchedForm(c, http.StatusConflict, facSchedFormOf(s), map[string]string{"": translate(langOf(c.Request), "sched.in_use")})
			return
		}
		p.fail(c, err)
		return
	}
	redirectDone(c, "/schedules", "done.sched.deleted")
}

func (p *Panel) facHolidayCreate(c *gin.Context) {
	h := admin.Holiday{Date: strings.TrimSpace(c.PostForm("date")), Name: strings.TrimSpace(c.PostForm("name"))}
	h.SiteID, _ = strconv.ParseInt(c.PostForm("site_id"), 10, 64)
	if err := p.o.Store.CreateHoliday(c.Request.Context(), actor(c), &h); err != nil {
		p.facFormFail(c, err, func(code int, errs map[string]string) { p.facSchedulesPage(c, code, h, errs) })
		return
	}
	redirectDone(c, "/schedules", "done.hol.created")
}

func (p *Panel) facHolidayDelete(c *gin.Context) {
	id, ok := p.facID(c)
	if !ok {
		return
	}
	if err := p.o.Store.DeleteHoliday(c.Request.Context(), actor(c), id); err != nil {
		p.fail(c, err)
		return
	}
	redirectDone(c, "/schedules", "done.hol.deleted")
}
