package panel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
)

// Page is what every template gets: the request's language, user and
// CSRF token, the navigation, and the page's own Data.
type Page struct {
	Lang  string
	Title string // message key of the page title
	User  auth.Principal
	CSRF  string
	Path  string
	Nav   []NavItem
	Flash string // a translated message after a form action
	Demo  bool
	// Errors are a form's problems by field (JSON field names), with
	// Errors[""] for one that is about no field.
	Errors map[string]string
	Data   any

	loc *time.Location
}

// NavItem is one link of the header.
type NavItem struct {
	Key, Href string
	Current   bool
}

// nav is the header's links, each shown to the roles that may open it.
var nav = []struct {
	key, href string
	perm      auth.Permission
}{
	{"nav.people", "/people", auth.PeopleRead},
	{"nav.enrol", "/enrol", auth.Enrol},
	{"nav.doors", "/doors", auth.DoorsRead},
	{"nav.events", "/events", auth.EventsRead},
	{"nav.groups", "/groups", auth.GroupsRead},
	{"nav.schedules", "/schedules", auth.SchedulesRead},
	{"nav.users", "/users", auth.UsersManage},
	{"nav.tokens", "/tokens", auth.TokensManage},
	{"nav.audit", "/audit", auth.AuditRead},
	{"nav.settings", "/settings", auth.SettingsManage},
}

// T translates key into the page's language.
func (pg *Page) T(key string, args ...any) string { return translate(pg.Lang, key, args...) }

// Can reports whether the user holds the permission named perm.
func (pg *Page) Can(perm string) bool { return pg.User.Role.Can(auth.Permission(perm)) }

// Time formats t in the site's time zone, day first in Italian.
func (pg *Page) Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(pg.loc)
	if pg.Lang == LangEN {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("02/01/2006 15:04:05")
}

// TimePtr is Time of a pointer, "" for nil.
func (pg *Page) TimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return pg.Time(*t)
}

// Date formats the day of t in the site's time zone.
func (pg *Page) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(pg.loc)
	if pg.Lang == LangEN {
		return t.Format("2006-01-02")
	}
	return t.Format("02/01/2006")
}

// InputTime formats t for an <input type="datetime-local"> in the site's
// zone.
func (pg *Page) InputTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(pg.loc).Format("2006-01-02T15:04")
}

// Zone is the name of the site's time zone.
func (pg *Page) Zone() string { return pg.loc.String() }

// Err is the form error of field ("" for none).
func (pg *Page) Err(field string) string { return pg.Errors[field] }

var funcs = template.FuncMap{
	"add": func(a, b int) int { return a + b },
	"seq": func(n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = i
		}
		return s
	},
	"deref": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
	"join": strings.Join,
}

// parseTemplates parses layout.html (with partials.html) as the base and
// every other template file as one page on a clone of it.
func (p *Panel) parseTemplates() error {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return fmt.Errorf("panel: templates: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	p.pages = map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return fmt.Errorf("panel: template %s: %w", f, err)
		}
		p.pages[name] = t
	}
	return nil
}

// page builds the Page of a request.
func (p *Panel) page(c *gin.Context, title string, data any) *Page {
	pr, _ := auth.PrincipalFrom(c)
	pg := &Page{Lang: langOf(c.Request), Title: title, User: pr, CSRF: p.o.API.CSRFToken(pr),
		Path: c.Request.URL.Path, Demo: p.o.Demo != nil, Data: data, loc: p.location(c.Request.Context())}
	if pr.Via == auth.ViaSession {
		for _, n := range nav {
			if pr.Role.Can(n.perm) {
				pg.Nav = append(pg.Nav, NavItem{Key: n.key, Href: n.href, Current: pg.Path == n.href || strings.HasPrefix(pg.Path, n.href+"/")})
			}
		}
		if p.o.Demo != nil {
			pg.Nav = append(pg.Nav, NavItem{Key: "nav.demo", Href: "/demo", Current: pg.Path == "/demo"})
		}
	}
	if k := c.Query("done"); strings.HasPrefix(k, "done.") {
		if _, ok := catalog[k]; ok {
			pg.Flash = pg.T(k)
		}
	}
	return pg
}

// location is the site's time zone (the first site's), or UTC.
func (p *Panel) location(ctx context.Context) *time.Location {
	sites, err := p.o.Store.ListSites(ctx)
	if err == nil && len(sites) > 0 {
		if loc, err := time.LoadLocation(sites[0].TimeZone); err == nil {
			return loc
		}
	}
	return time.UTC
}

// render executes page name with pg and writes it with status code.
func (p *Panel) render(c *gin.Context, code int, name string, pg *Page) {
	t, ok := p.pages[name]
	if !ok {
		panic("panel: no template " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", pg); err != nil {
		p.log.Error("panel: render", "page", name, "err", err)
		c.String(http.StatusInternalServerError, "internal error")
		return
	}
	c.Data(code, "text/html; charset=utf-8", buf.Bytes())
}

// show renders page name with title and data, status 200.
func (p *Panel) show(c *gin.Context, name, title string, data any) {
	p.render(c, http.StatusOK, name, p.page(c, title, data))
}

// errorPage renders the error page with the message key msg.
func (p *Panel) errorPage(c *gin.Context, code int, msg string) {
	pg := p.page(c, "error.title", msg)
	p.render(c, code, "error", pg)
	c.Abort()
}

// fail answers a failed action: a validation error re-renders nothing
// here (forms do that with formErrors); other errors map to a status
// and an error page, and are logged when they are the server's.
func (p *Panel) fail(c *gin.Context, err error) {
	var ve *admin.ValidationError
	switch {
	case errors.As(err, &ve):
		p.errorPage(c, http.StatusBadRequest, "error.invalid")
	case errors.Is(err, admin.ErrNotFound):
		p.errorPage(c, http.StatusNotFound, "error.notfound")
	case errors.Is(err, admin.ErrConflict):
		p.errorPage(c, http.StatusConflict, "error.conflict")
	default:
		p.log.Error("panel", "path", c.Request.URL.Path, "err", err)
		p.errorPage(c, http.StatusInternalServerError, "error.internal")
	}
}

// formErrors turns err into per-field messages for a form: a
// ValidationError's fields, else the error under "" (server errors are
// logged and shown as a generic message). nil for nil.
func (p *Panel) formErrors(c *gin.Context, err error) map[string]string {
	if err == nil {
		return nil
	}
	lang := langOf(c.Request)
	var ve *admin.ValidationError
	if errors.As(err, &ve) {
		out := make(map[string]string, len(ve.Fields))
		for f, m := range ve.Fields {
			out[f] = LocalizeValidation(lang, m)
		}
		return out
	}
	switch {
	case errors.Is(err, admin.ErrConflict):
		return map[string]string{"": translate(lang, "error.conflict") + " " + err.Error()}
	case errors.Is(err, admin.ErrNotFound):
		return map[string]string{"": translate(lang, "error.notfound")}
	}
	p.log.Error("panel", "path", c.Request.URL.Path, "err", err)
	return map[string]string{"": translate(lang, "error.internal")}
}

// idParam is the positive integer id of the path parameter name, or it
// answers the 404 page and reports false.
func (p *Panel) idParam(c *gin.Context, name string) (int64, bool) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		p.errorPage(c, http.StatusNotFound, "error.notfound")
		return 0, false
	}
	return id, true
}

// loadParam loads the row whose id is the path parameter name with get:
// on a bad id or a failed get it answers the error page (404 for a row
// that is not there) and reports false.
func loadParam[T any](p *Panel, c *gin.Context, name string, get func(context.Context, int64) (T, error)) (T, bool) {
	var zero T
	id, ok := p.idParam(c, name)
	if !ok {
		return zero, false
	}
	v, err := get(c.Request.Context(), id)
	if err != nil {
		p.fail(c, err)
		return zero, false
	}
	return v, true
}

// actor is who the request acts for, for the audit log.
func actor(c *gin.Context) admin.Actor {
	pr, _ := auth.PrincipalFrom(c)
	return admin.Actor{Name: pr.Username}
}

// redirectDone sends the browser to url after a form action, with the
// flash message key done (a "done.*" key of the catalog).
func redirectDone(c *gin.Context, url, done string) {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	c.Redirect(http.StatusSeeOther, url+sep+"done="+done)
}
