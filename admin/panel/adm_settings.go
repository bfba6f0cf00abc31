package panel

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
)

// admSettingsData is the settings page's: the sites (one of them as
// submitted after an error, ErrSite) and the server's settings, which
// the page shows read-only.
type admSettingsData struct {
	Sites    []admin.Site
	ErrSite  int64
	Server   Settings
	Retained string // the retention in words
}

// admRetention says how long events are kept, in days when whole.
func admRetention(lang string, d time.Duration) string {
	switch {
	case d <= 0:
		return translate(lang, "settings.forever")
	case d%(24*time.Hour) == 0:
		return translate(lang, "settings.days", int(d/(24*time.Hour)))
	}
	return d.String()
}

func (p *Panel) settingsData(c *gin.Context) (admSettingsData, error) {
	sites, err := p.o.Store.ListSites(c.Request.Context())
	return admSettingsData{Sites: sites, Server: p.o.Settings, Retained: admRetention(langOf(c.Request), p.o.Settings.Retention)}, err
}

func (p *Panel) settings(c *gin.Context) {
	d, err := p.settingsData(c)
	if err != nil {
		p.fail(c, err)
		return
	}
	p.show(c, "adm_settings", "settings.title", d)
}

// siteUpdate changes a site's name and time zone; the store validates
// the zone (an error on "time_zone").
func (p *Panel) siteUpdate(c *gin.Context) {
	id, ok := p.idParam(c, "site")
	if !ok {
		return
	}
	s, err := p.o.Store.GetSite(c.Request.Context(), id)
	if err != nil {
		p.fail(c, err)
		return
	}
	s.Name, s.TimeZone = strings.TrimSpace(c.PostForm("name")), strings.TrimSpace(c.PostForm("time_zone"))
	if err := p.o.Store.UpdateSite(c.Request.Context(), actor(c), &s); err != nil {
		d, lerr := p.settingsData(c)
		if lerr != nil {
			p.fail(c, lerr)
			return
		}
		for i := range d.Sites {
			if d.Sites[i].ID == s.ID {
				d.Sites[i] = s
			}
		}
		d.ErrSite = s.ID
		pg := p.page(c, "settings.title", d)
		pg.Errors = p.formErrors(c, err)
		p.render(c, http.StatusBadRequest, "adm_settings", pg)
		return
	}
	redirectDone(c, "/settings", "done.site.saved")
}
