package panel

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/gin-gonic/gin"
)

// demoRoutes is the demo page (Options.Demo set, `make run`): any
// signed-in user may tap the demo's virtual cards at its doors.
func (p *Panel) demoRoutes() []route {
	return []route{
		{method: "GET", path: "/demo", handler: p.demoPage},
		{method: "POST", path: "/demo/tap", handler: p.demoTap},
	}
}

// demoData is the demo page's.
type demoData struct {
	Cards, Doors []string
	// Last is the tap just made (after the redirect), if any.
	Last *demoResult
}

// demoResult is a tap and the door's decision as a message key.
type demoResult struct {
	Card, Door string
	Key        string // "kind.granted", "reason.unknown", "demo.presented"
	Granted    bool
}

// resultKey is the message key of what Demo.Tap returned: "granted", a
// deny reason, "desk" (read at the enrolment desk), anything else
// "presented".
func resultKey(r string) string {
	if r == "granted" {
		return KindKey(r)
	}
	if r == "desk" {
		return "demo.desk"
	}
	if k := ReasonKey(r); r != "" {
		if _, ok := catalog[k]; ok {
			return k
		}
	}
	return "demo.presented"
}

func (p *Panel) demoPage(c *gin.Context) {
	d := demoData{Cards: p.o.Demo.Cards(), Doors: p.o.Demo.Doors()}
	// The result comes back in the query string of the redirect: shown
	// only for a card and a door of the demo, as a catalog message.
	if card, door := c.Query("card"), c.Query("door"); slices.Contains(d.Cards, card) && slices.Contains(d.Doors, door) {
		r := c.Query("result")
		d.Last = &demoResult{Card: card, Door: door, Key: resultKey(r), Granted: r == "granted"}
	}
	p.show(c, "demo", "demo.title", d)
}

func (p *Panel) demoTap(c *gin.Context) {
	card, door := c.PostForm("card"), c.PostForm("door")
	d := demoData{Cards: p.o.Demo.Cards(), Doors: p.o.Demo.Doors()}
	pg := p.page(c, "demo.title", &d)
	if !slices.Contains(d.Cards, card) || !slices.Contains(d.Doors, door) {
		pg.Errors = map[string]string{"": pg.T("demo.unknown")}
		p.render(c, http.StatusBadRequest, "demo", pg)
		return
	}
	res, err := p.o.Demo.Tap(c.Request.Context(), door, card)
	if err != nil {
		p.log.Warn("panel: demo tap", "door", door, "card", card, "err", err)
		pg.Errors = map[string]string{"": pg.T("demo.failed", err.Error())}
		p.render(c, http.StatusBadGateway, "demo", pg)
		return
	}
	q := url.Values{"card": {card}, "door": {door}, "result": {res}}
	redirectDone(c, "/demo?"+q.Encode(), "done.demo.tap")
}
