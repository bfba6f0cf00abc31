package panel

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/httpapi"
	"github.com/varco-access/varco/admin/syncer"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Sync is what the panel needs from the door sync (syncer.Syncer).
type Sync interface {
	httpapi.DoorSync
	// Watch streams door status and stored events (live views).
	Watch() (<-chan syncer.Update, func())
}

// Options configure the panel. API and Store are required.
type Options struct {
	// API provides login, sessions and CSRF tokens: the panel and the
	// API share them, so one login serves both.
	API   *httpapi.API
	Store admin.Store
	// Sync connects the panel to the doors; nil when sync is off (door
	// commands then say so, live views show stored state only).
	Sync Sync
	// Enrol runs enrolment sessions with the stations; nil: enrolment
	// says it is unavailable.
	Enrol httpapi.Enroller
	// Secure marks the language cookie Secure (HTTPS).
	Secure bool
	// Settings are the server settings shown on the settings page.
	Settings Settings
	// Demo enables the demo page, which taps virtual cards at the demo
	// doors (nil: no demo page, 404).
	Demo Demo
	// Stopping, when closed, ends the live streams (server shutdown).
	Stopping <-chan struct{}
	Log      *slog.Logger
	Now      func() time.Time
}

// Settings are the server-wide settings an administrator sees.
type Settings struct {
	CSCADir   string
	CSCAs     int // certificates loaded from CSCADir
	Retention time.Duration
	Database  string // "sqlite" or "postgres"
	Broker    string // where doors connect ("embedded ..." or a URL)
	Version   string
}

// Demo taps virtual cards at doors for the demo page (see cmd/varco-admin
// and `varco tap`).
type Demo interface {
	// Cards and Doors name what can be tapped where.
	Cards() []string
	Doors() []string
	// Tap presents card at door and returns what the door decided.
	Tap(ctx context.Context, door, card string) (string, error)
}

// Panel is the set of panel handlers.
type Panel struct {
	o      Options
	log    *slog.Logger
	pages  map[string]*template.Template
	routes []route
}

// route is one page or form action.
type route struct {
	method, path string
	// perm is what it needs; "" with public false means any signed-in
	// user; public routes (login) need nobody.
	perm    auth.Permission
	public  bool
	handler gin.HandlerFunc
}

// New parses the templates and builds the route table.
func New(o Options) (*Panel, error) {
	if o.API == nil || o.Store == nil {
		return nil, errors.New("panel: Options.API and Options.Store are required")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Panel{o: o, log: o.Log}
	if err := p.parseTemplates(); err != nil {
		return nil, err
	}
	p.routes = p.table()
	return p, nil
}

// table is every route of the panel, by area.
func (p *Panel) table() []route {
	rs := p.coreRoutes()
	rs = append(rs, p.hrRoutes()...)
	rs = append(rs, p.facilitiesRoutes()...)
	rs = append(rs, p.adminRoutes()...)
	if p.o.Demo != nil {
		rs = append(rs, p.demoRoutes()...)
	}
	return rs
}

// coreRoutes: sign-in, language, home, live stream.
func (p *Panel) coreRoutes() []route {
	return []route{
		{method: "GET", path: "/login", public: true, handler: p.loginPage},
		{method: "POST", path: "/login", public: true, handler: p.loginPost},
		{method: "POST", path: "/logout", handler: p.logout},
		{method: "GET", path: "/lang/:lang", public: true, handler: p.setLang},
		{method: "GET", path: "/", handler: p.home},
		{method: "GET", path: "/live", perm: auth.DoorsRead, handler: p.live},
	}
}

// Register mounts the panel on e: static files under /static/, the
// pages at the root. The API's NoRoute (JSON 404 under /api/v1) is kept
// for API paths; other unknown paths get the panel's 404 page.
func (p *Panel) Register(e *gin.Engine, api *httpapi.API) {
	sub, _ := fs.Sub(staticFS, "static")
	static := http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	e.GET("/static/*file", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.Header("X-Content-Type-Options", "nosniff")
		static.ServeHTTP(c.Writer, c.Request)
	})
	g := e.Group("/")
	g.Use(securityHeaders, boundBody, auth.Authenticate(p.o.API.Resolver(), httpapi.SessionCookie), p.csrf(), p.notifySync)
	for _, rt := range p.routes {
		g.Handle(rt.method, rt.path, p.guard(rt), rt.handler)
	}
	authn := auth.Authenticate(p.o.API.Resolver(), httpapi.SessionCookie)
	e.NoRoute(func(c *gin.Context) {
		if strings.HasPrefix(c.Request.URL.Path, httpapi.Prefix+"/") {
			api.NoRoute(c)
			c.Abort()
			return
		}
		securityHeaders(c)
	}, authn, func(c *gin.Context) {
		p.errorPage(c, http.StatusNotFound, "error.notfound")
	})
}

// Routes lists "METHOD path perm" of every route, for tests and docs.
func (p *Panel) Routes() []string {
	out := make([]string, 0, len(p.routes))
	for _, r := range p.routes {
		perm := string(r.perm)
		switch {
		case r.public:
			perm = "public"
		case perm == "":
			perm = "signed-in"
		}
		out = append(out, r.method+" "+r.path+" "+perm)
	}
	sort.Strings(out)
	return out
}

// securityHeaders: no caching of personal data, no framing, no sniffing,
// and a content security policy that allows only the panel's own files.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
}

// maxFormBody bounds a form post: the largest is a CSV upload.
const maxFormBody = httpapi.MaxCSVBody + 1<<20

// boundBody limits every request body before anything (the CSRF check
// parses forms) reads it: a larger one fails to parse and is refused.
func boundBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBody)
	}
}

// csrf is auth.CSRFProtect with an HTML answer.
func (p *Panel) csrf() gin.HandlerFunc {
	check := auth.CSRFProtect(p.o.API.CSRF())
	return func(c *gin.Context) {
		check(c)
		if c.IsAborted() {
			c.Writer.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
	}
}

// notifySync tells the syncer after every successful form action.
func (p *Panel) notifySync(c *gin.Context) {
	c.Next()
	if p.o.Sync != nil && c.Request.Method == http.MethodPost && c.Writer.Status() < 400 {
		p.o.Sync.Changed()
	}
}

// guard enforces a route's permission: anonymous visitors go to the
// login page (with where they were going), a role without the
// permission gets a 403 page.
func (p *Panel) guard(rt route) gin.HandlerFunc {
	if rt.perm != "" && !rt.perm.Valid() {
		panic(fmt.Sprintf("panel: route %s %s: unknown permission %q", rt.method, rt.path, rt.perm))
	}
	return func(c *gin.Context) {
		if rt.public {
			return
		}
		pr, ok := auth.PrincipalFrom(c)
		if !ok || pr.Via != auth.ViaSession {
			if c.Request.Method != http.MethodGet {
				c.Abort()
				p.errorPage(c, http.StatusUnauthorized, "error.signin")
				return
			}
			q := url.Values{"next": {c.Request.URL.RequestURI()}}
			if _, err := c.Request.Cookie(httpapi.SessionCookie); err == nil {
				q.Set("expired", "1")
			}
			c.Redirect(http.StatusSeeOther, "/login?"+q.Encode())
			c.Abort()
			return
		}
		if rt.perm != "" && !pr.Role.Can(rt.perm) {
			c.Abort()
			p.errorPage(c, http.StatusForbidden, "error.forbidden")
			return
		}
	}
}

// safeNext keeps a post-login redirect on this site.
func safeNext(s string) string {
	if s == "" || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
		return "/"
	}
	u, err := url.Parse(s)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return path.Clean(u.Path) + map[bool]string{true: "?" + u.RawQuery, false: ""}[u.RawQuery != ""]
}
