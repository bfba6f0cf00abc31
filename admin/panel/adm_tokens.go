package panel

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
)

// admTokenRow is one API token with its creator's name and state.
type admTokenRow struct {
	admin.APIToken
	Creator string
	Expired bool
}

// admTokenData is the tokens page's: the list, the roles a new token
// may have (no higher than the signed-in user's) and the form as
// submitted after an error.
type admTokenData struct {
	Tokens  []admTokenRow
	Roles   []auth.Role
	Name    string
	Role    string
	Expires string
}

// admTokenCreated is the page that shows a new token once.
type admTokenCreated struct {
	Token admin.APIToken
	Plain string
}

// tokenData lists the tokens, newest first as the store gives them.
func (p *Panel) tokenData(c *gin.Context) (admTokenData, error) {
	ctx := c.Request.Context()
	toks, err := p.o.Store.ListAPITokens(ctx)
	if err != nil {
		return admTokenData{}, err
	}
	users, err := p.o.Store.ListUsers(ctx)
	if err != nil {
		return admTokenData{}, err
	}
	names := map[int64]string{}
	for _, u := range users {
		names[u.ID] = u.Username
	}
	now := p.o.Now()
	d := admTokenData{Role: admin.RoleViewer}
	for _, t := range toks {
		d.Tokens = append(d.Tokens, admTokenRow{APIToken: t, Creator: names[t.UserID], Expired: t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)})
	}
	pr, _ := auth.PrincipalFrom(c)
	for _, r := range auth.Roles() {
		if admRoleWithin(r, pr.Role) {
			d.Roles = append(d.Roles, r)
		}
	}
	return d, nil
}

// admRoleWithin reports whether every permission of r is one of
// within's (the rule httpapi.CreateToken enforces).
func admRoleWithin(r, within auth.Role) bool {
	for _, perm := range auth.Permissions() {
		if r.Can(perm) && !within.Can(perm) {
			return false
		}
	}
	return true
}

func (p *Panel) tokenList(c *gin.Context) {
	d, err := p.tokenData(c)
	if err != nil {
		p.fail(c, err)
		return
	}
	p.show(c, "adm_tokens", "tokens.title", d)
}

// tokenCreate makes a token and shows it once; the expiry is read in
// the site's time zone.
func (p *Panel) tokenCreate(c *gin.Context) {
	name, role, exp := strings.TrimSpace(c.PostForm("name")), c.PostForm("role"), strings.TrimSpace(c.PostForm("expires_at"))
	lang := langOf(c.Request)
	var expires *time.Time
	var err error
	if exp != "" {
		t, perr := time.ParseInLocation("2006-01-02T15:04", exp, p.location(c.Request.Context()))
		if perr != nil {
			err = &admin.ValidationError{Fields: map[string]string{"expires_at": translate(lang, "tokens.badexpiry")}}
		} else if !t.After(p.o.Now()) {
			err = &admin.ValidationError{Fields: map[string]string{"expires_at": translate(lang, "tokens.pastexpiry")}}
		} else {
			expires = &t
		}
	}
	var tok admin.APIToken
	var plain string
	if err == nil {
		tok, plain, err = p.o.API.CreateToken(c, name, role, expires)
	}
	if err != nil {
		d, lerr := p.tokenData(c)
		if lerr != nil {
			p.fail(c, lerr)
			return
		}
		d.Name, d.Role, d.Expires = name, role, exp
		pg := p.page(c, "tokens.title", d)
		pg.Errors = p.formErrors(c, err)
		p.render(c, http.StatusBadRequest, "adm_tokens", pg)
		return
	}
	p.render(c, http.StatusCreated, "adm_token_created", p.page(c, "tokens.created", admTokenCreated{Token: tok, Plain: plain}))
}

func (p *Panel) tokenRevoke(c *gin.Context) {
	id, ok := p.idParam(c, "id")
	if !ok {
		return
	}
	if err := p.o.API.RevokeToken(c, id); err != nil {
		p.fail(c, err)
		return
	}
	redirectDone(c, "/tokens", "done.token.revoked")
}
