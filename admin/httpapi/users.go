package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
)

type (
	// userBody creates a user (with a password) or changes one (without:
	// passwords are set with PUT /users/{id}/password).
	userBody struct {
		Username string `json:"username"`
		Password string `json:"password,omitempty"`
		Role     string `json:"role"`
		Disabled bool   `json:"disabled"`
	}
	setPasswordBody struct {
		Password string `json:"password"`
	}
	tokenBody struct {
		Name      string     `json:"name"`
		Role      string     `json:"role"`
		ExpiresAt *time.Time `json:"expires_at,omitempty"`
	}
	tokenResp struct {
		admin.APIToken
		// Token is the bearer token: shown once, never stored.
		Token string `json:"token"`
	}
)

func (a *API) createUser(c *gin.Context) {
	var b userBody
	if err := bindJSON(c, &b); err != nil {
		fail(c, err)
		return
	}
	u := admin.User{Username: b.Username, Role: b.Role, Disabled: b.Disabled}
	if err := a.CreateUser(c, &u, b.Password); err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, u)
}

func (a *API) getUser(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	u, err := a.store.GetUser(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, u)
}

// self reports whether id is the caller's own account.
func self(c *gin.Context, id int64) bool {
	p, _ := auth.PrincipalFrom(c)
	return p.Via == auth.ViaSession && p.UserID == id
}

func (a *API) updateUser(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var b userBody
	if err := bindJSON(c, &b); err != nil {
		fail(c, err)
		return
	}
	if b.Password != "" {
		fail(c, &admin.ValidationError{Fields: map[string]string{"password": "set passwords with PUT /users/{id}/password"}})
		return
	}
	u, err := a.store.GetUser(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	u.Username, u.Role, u.Disabled = b.Username, b.Role, b.Disabled
	if err := a.UpdateUser(c, &u); err != nil {
		fail(c, err)
		return
	}
	a.getUser(c)
}

func (a *API) setUserPassword(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var b setPasswordBody
	if err := bindJSON(c, &b); err != nil {
		fail(c, err)
		return
	}
	if _, err := a.store.GetUser(c.Request.Context(), id); err != nil {
		fail(c, err)
		return
	}
	if err := a.SetPassword(c, id, b.Password, "password"); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *API) deleteUser(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	if err := a.DeleteUser(c, id); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *API) createToken(c *gin.Context) {
	var b tokenBody
	if err := bindJSON(c, &b); err != nil {
		fail(c, err)
		return
	}
	t, plain, err := a.CreateToken(c, b.Name, b.Role, b.ExpiresAt)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, tokenResp{APIToken: t, Token: plain})
}

func (a *API) revokeToken(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	if err := a.RevokeToken(c, id); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
