package panel

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/httpapi"
)

// admUserData is the data of the user pages: the user (as stored, or as
// submitted after an error), the roles to choose from, and whether it is
// the signed-in administrator's own account.
type admUserData struct {
	User   admin.User
	Roles  []auth.Role
	Self   bool
	Policy admPolicy
}

// admPolicy is the password policy, for the forms' help text.
type admPolicy struct{ Min, Max int }

var admPasswordPolicy = admPolicy{Min: auth.MinPasswordRunes, Max: auth.MaxPasswordBytes}

// admAccountData is the account page's.
type admAccountData struct {
	User   admin.User
	Policy admPolicy
}

// admSelf reports whether id is the signed-in user's own account.
func admSelf(c *gin.Context, id int64) bool {
	pr, _ := auth.PrincipalFrom(c)
	return pr.UserID == id
}

// accountErrors is formErrors for the user and password forms, with the
// shared account rules (httpapi) worded in the page's language: the
// password policy, a wrong current password, a taken username and an
// administrator acting on their own account.
func (p *Panel) accountErrors(c *gin.Context, err error) map[string]string {
	lang := langOf(c.Request)
	if errors.Is(err, httpapi.ErrSelf) {
		return map[string]string{"": translate(lang, "users.self")}
	}
	errs := p.formErrors(c, err)
	for _, f := range []string{"password", "new"} {
		if _, ok := errs[f]; ok {
			errs[f] = translate(lang, "users.weak", auth.MinPasswordRunes, auth.MaxPasswordBytes)
		}
	}
	if _, ok := errs["current"]; ok {
		errs["current"] = translate(lang, "users.wrongcurrent")
	}
	return errs
}

func (p *Panel) userList(c *gin.Context) {
	users, err := p.o.Store.ListUsers(c.Request.Context())
	if err != nil {
		p.fail(c, err)
		return
	}
	p.show(c, "adm_users", "users.title", users)
}

func (p *Panel) userNew(c *gin.Context) {
	p.show(c, "adm_user_new", "users.new", admUserData{User: admin.User{Role: admin.RoleViewer}, Roles: auth.Roles(), Policy: admPasswordPolicy})
}

func (p *Panel) userCreate(c *gin.Context) {
	u := admin.User{Username: strings.TrimSpace(c.PostForm("username")), Role: c.PostForm("role")}
	err := p.o.API.CreateUser(c, &u, c.PostForm("password"))
	if err == nil {
		redirectDone(c, "/users", "done.user.created")
		return
	}
	pg := p.page(c, "users.new", admUserData{User: u, Roles: auth.Roles(), Policy: admPasswordPolicy})
	if errors.Is(err, admin.ErrConflict) {
		pg.Errors = map[string]string{"username": pg.T("users.taken")}
	} else {
		pg.Errors = p.accountErrors(c, err)
	}
	p.render(c, http.StatusBadRequest, "adm_user_new", pg)
}

func (p *Panel) userEdit(c *gin.Context) {
	u, ok := loadParam(p, c, "user", p.o.Store.GetUser)
	if !ok {
		return
	}
	id := u.ID
	p.show(c, "adm_user_edit", "users.edit", admUserData{User: u, Roles: auth.Roles(), Self: admSelf(c, id), Policy: admPasswordPolicy})
}

// userEditError re-renders the edit page of u with err.
func (p *Panel) userEditError(c *gin.Context, u admin.User, err error) {
	pg := p.page(c, "users.edit", admUserData{User: u, Roles: auth.Roles(), Self: admSelf(c, u.ID), Policy: admPasswordPolicy})
	pg.Errors = p.accountErrors(c, err)
	code := http.StatusBadRequest
	if errors.Is(err, admin.ErrConflict) {
		code = http.StatusConflict
	}
	p.render(c, code, "adm_user_edit", pg)
}

func (p *Panel) userUpdate(c *gin.Context) {
	u, ok := loadParam(p, c, "user", p.o.Store.GetUser)
	if !ok {
		return
	}
	u.Role, u.Disabled = c.PostForm("role"), c.PostForm("disabled") != ""
	if err := p.o.API.UpdateUser(c, &u); err != nil {
		p.userEditError(c, u, err)
		return
	}
	redirectDone(c, "/users", "done.user.saved")
}

func (p *Panel) userPassword(c *gin.Context) {
	u, ok := loadParam(p, c, "user", p.o.Store.GetUser)
	if !ok {
		return
	}
	id := u.ID
	if err := p.o.API.SetPassword(c, id, c.PostForm("password"), "password"); err != nil {
		p.userEditError(c, u, err)
		return
	}
	redirectDone(c, "/users/"+strconv.FormatInt(id, 10)+"/edit", "done.user.password")
}

func (p *Panel) userDelete(c *gin.Context) {
	u, ok := loadParam(p, c, "user", p.o.Store.GetUser)
	if !ok {
		return
	}
	id := u.ID
	if err := p.o.API.DeleteUser(c, id); err != nil {
		p.userEditError(c, u, err)
		return
	}
	redirectDone(c, "/users", "done.user.deleted")
}

// account is every signed-in user's own page: who they are and a form
// to change their password.
func (p *Panel) account(c *gin.Context) {
	pr, _ := auth.PrincipalFrom(c)
	u, err := p.o.Store.GetUser(c.Request.Context(), pr.UserID)
	if err != nil {
		p.fail(c, err)
		return
	}
	p.show(c, "adm_account", "users.account", admAccountData{User: u, Policy: admPasswordPolicy})
}

// accountPassword changes the user's own password. Like the API it ends
// every session of the user, this one too: they sign in again with the
// new password.
func (p *Panel) accountPassword(c *gin.Context) {
	if err := p.o.API.ChangePassword(c, c.PostForm("current"), c.PostForm("new")); err != nil {
		pr, _ := auth.PrincipalFrom(c)
		u, gerr := p.o.Store.GetUser(c.Request.Context(), pr.UserID)
		if gerr != nil {
			p.fail(c, gerr)
			return
		}
		pg := p.page(c, "users.account", admAccountData{User: u, Policy: admPasswordPolicy})
		pg.Errors = p.accountErrors(c, err)
		p.render(c, http.StatusBadRequest, "adm_account", pg)
		return
	}
	auth.ClearSessionCookie(c, httpapi.SessionCookie, p.o.Secure)
	redirectDone(c, "/login", "done.account.password")
}
