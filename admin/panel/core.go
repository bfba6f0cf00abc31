package panel

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/syncer"
)

// loginData is the login page's.
type loginData struct {
	Next, Username string
	Expired        bool
}

func (p *Panel) loginPage(c *gin.Context) {
	if pr, ok := auth.PrincipalFrom(c); ok && pr.Via == auth.ViaSession {
		c.Redirect(http.StatusSeeOther, safeNext(c.Query("next")))
		return
	}
	p.show(c, "login", "login.title", loginData{Next: safeNext(c.Query("next")), Expired: c.Query("expired") == "1"})
}

func (p *Panel) loginPost(c *gin.Context) {
	d := loginData{Next: safeNext(c.PostForm("next")), Username: c.PostForm("username")}
	pg := p.page(c, "login.title", &d)
	if !auth.SameOrigin(c.Request) {
		p.errorPage(c, http.StatusForbidden, "error.forbidden")
		return
	}
	_, retry, err := p.o.API.Login(c, d.Username, c.PostForm("password"))
	switch {
	case retry > 0:
		c.Header("Retry-After", fmt.Sprint(int(retry.Seconds()+0.999)))
		pg.Errors = map[string]string{"": pg.T("login.throttled", int(retry.Minutes()+0.999))}
		p.render(c, http.StatusTooManyRequests, "login", pg)
	case errors.Is(err, auth.ErrBadPassword):
		pg.Errors = map[string]string{"": pg.T("login.bad")}
		p.render(c, http.StatusUnauthorized, "login", pg)
	case err != nil:
		p.fail(c, err)
	default:
		c.Redirect(http.StatusSeeOther, d.Next)
	}
}

func (p *Panel) logout(c *gin.Context) {
	if err := p.o.API.Logout(c); err != nil {
		p.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/login")
}

// setLang sets the language cookie and goes back to the page (the
// header's IT / EN links). It changes nothing else, so a plain link is
// enough.
func (p *Panel) setLang(c *gin.Context) {
	lang := c.Param("lang")
	if lang != LangIT && lang != LangEN {
		p.errorPage(c, http.StatusNotFound, "error.notfound")
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: LangCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: p.o.Secure, SameSite: http.SameSiteLaxMode})
	c.Redirect(http.StatusSeeOther, safeNext(c.Query("next")))
}

// home sends each role to its first page: HR to people, the others to
// the doors.
func (p *Panel) home(c *gin.Context) {
	pr, _ := auth.PrincipalFrom(c)
	if pr.Role == auth.RoleHR {
		c.Redirect(http.StatusSeeOther, "/people")
		return
	}
	c.Redirect(http.StatusSeeOther, "/doors")
}

// liveDoor is a door's status on /live ("door" events).
type liveDoor struct {
	Door      string `json:"door"` // controller id
	Online    bool   `json:"online"`
	Rev       uint64 `json:"rev"`
	Outbox    int    `json:"outbox"`
	State     string `json:"state"`
	StateText string `json:"state_text"`
	Mode      string `json:"mode"`
	ModeText  string `json:"mode_text"`
	Seen      string `json:"seen"`
}

// liveEntry is an event on /live ("entry" events): texts in the page's
// language, times in the site's zone.
type liveEntry struct {
	Time       string `json:"time"`
	Door       string `json:"door"` // controller id
	DoorName   string `json:"door_name"`
	Kind       string `json:"kind"`
	KindText   string `json:"kind_text"`
	Reason     string `json:"reason,omitempty"`
	ReasonText string `json:"reason_text,omitempty"`
	NIS        string `json:"nis,omitempty"`
	Person     string `json:"person,omitempty"`
	PersonID   int64  `json:"person_id,omitempty"`
}

// livePing is how often /live sends a comment to keep proxies from
// closing an idle stream.
const livePing = 15 * time.Second

// live streams door status ("door") and, for roles that may read the
// entry log, door events ("entry") as server-sent events, until the
// client goes away.
func (p *Panel) live(c *gin.Context) {
	if p.o.Sync == nil {
		c.Status(http.StatusNoContent) // EventSource stops retrying on 204
		return
	}
	pr, _ := auth.PrincipalFrom(c)
	entries := pr.Role.Can(auth.EventsRead)
	pg := p.page(c, "", nil)
	ch, stop := p.o.Sync.Watch()
	defer stop()
	c.Header("Content-Type", "text/event-stream")
	c.Header("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	w := c.Writer
	send := func(event string, v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		w.Flush()
		return true
	}
	fmt.Fprint(w, ": varco live\n\n")
	w.Flush()
	names := map[string]string{}
	ping := time.NewTicker(livePing)
	defer ping.Stop()
	ctx := c.Request.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.o.Stopping: // nil: never
			return
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			w.Flush()
		case u, ok := <-ch:
			if !ok {
				return
			}
			if u.Status != nil && !send("door", p.liveDoor(pg, u.Door, *u.Status)) {
				return
			}
			if !entries {
				continue
			}
			for _, e := range u.Events {
				if !send("entry", p.liveEntry(c, pg, names, u.Door, e)) {
					return
				}
			}
		}
	}
}

func (p *Panel) liveDoor(pg *Page, door string, st syncer.DoorStatus) liveDoor {
	return liveDoor{Door: door, Online: st.Online, Rev: st.Rev, Outbox: st.OutboxLen, State: st.DoorState,
		StateText: pg.T(stateKey(st.Online, st.DoorState)), Mode: string(st.Mode), ModeText: pg.T(modeKey(string(st.Mode))), Seen: pg.Time(st.Seen)}
}

func (p *Panel) liveEntry(c *gin.Context, pg *Page, names map[string]string, door string, e admin.Event) liveEntry {
	le := liveEntry{Time: pg.Time(e.Time), Door: door, Kind: string(e.Kind), KindText: pg.T(KindKey(string(e.Kind))),
		Reason: string(e.Reason), NIS: e.NIS}
	if e.Reason != "" {
		le.ReasonText = pg.T(ReasonKey(string(e.Reason)))
	}
	if n, ok := names[door]; ok {
		le.DoorName = n
	} else if d, err := p.o.Store.GetDoorByControllerID(c.Request.Context(), door); err == nil {
		names[door], le.DoorName = d.Name, d.Name
	}
	if e.NIS != "" {
		if card, err := p.o.Store.GetCardByNIS(c.Request.Context(), e.NIS); err == nil {
			if per, err := p.o.Store.GetPerson(c.Request.Context(), card.PersonID); err == nil {
				le.Person, le.PersonID = per.DisplayName(), per.ID
			}
		}
	}
	return le
}

// KindKey is the message key of an event kind ("kind.granted").
func KindKey(kind string) string { return "kind." + strings.ToLower(kind) }

// ReasonKey is the message key of a denial reason, in plain words.
func ReasonKey(reason string) string { return "reason." + strings.ToLower(reason) }

// stateKey is the message key of a door's state as its status says.
func stateKey(online bool, state string) string {
	if !online {
		return "door.offline"
	}
	if state == "" {
		return "door.state.unknown"
	}
	return "door.state." + state
}

// modeKey is the message key of a door mode.
func modeKey(mode string) string {
	if mode == "" {
		return "mode.normal"
	}
	return "mode." + mode
}
