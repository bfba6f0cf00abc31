package httpapi

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
)

// The account operations below are shared by the API's handlers and the
// web panel, so that both check the same rules (password policy, the
// argon2id cost, no self-demotion, token roles) and audit the same way.
// Each acts for the principal of c.

// CreateUser validates u, checks password against the policy (an error
// on the field "password"), hashes it and stores the user.
func (a *API) CreateUser(c *gin.Context, u *admin.User, password string) error {
	if err := u.Validate(); err != nil {
		return err
	}
	if err := auth.CheckPasswordPolicy(password); err != nil {
		return &admin.ValidationError{Fields: map[string]string{"password": err.Error()}}
	}
	h, err := a.opt.Password.Hash(password)
	if err != nil {
		return err
	}
	u.PasswordHash = h
	return a.store.CreateUser(c.Request.Context(), actor(c), u)
}

// UpdateUser stores u's username, role and disabled flag. It returns
// ErrSelf when the caller would disable or demote their own account.
func (a *API) UpdateUser(c *gin.Context, u *admin.User) error {
	if self(c, u.ID) && (u.Disabled || u.Role != admin.RoleAdmin) {
		return ErrSelf
	}
	return a.store.UpdateUser(c.Request.Context(), actor(c), u)
}

// DeleteUser deletes the user id; ErrSelf for the caller's own account.
func (a *API) DeleteUser(c *gin.Context, id int64) error {
	if self(c, id) {
		return ErrSelf
	}
	return a.store.DeleteUser(c.Request.Context(), actor(c), id)
}

// SetPassword checks pw against the policy (an error on field), stores
// its hash for user id and ends that user's sessions (the caller's too
// when id is theirs).
func (a *API) SetPassword(c *gin.Context, id int64, pw, field string) error {
	if err := auth.CheckPasswordPolicy(pw); err != nil {
		return &admin.ValidationError{Fields: map[string]string{field: err.Error()}}
	}
	h, err := a.opt.Password.Hash(pw)
	if err != nil {
		return err
	}
	if err := a.store.SetUserPassword(c.Request.Context(), actor(c), id, h); err != nil {
		return err
	}
	_, err = a.store.DeleteUserSessions(c.Request.Context(), actor(c), id)
	return err
}

// ChangePassword changes the signed-in caller's own password after
// checking the current one (an error on the field "current"; the new one
// is checked as field "new"). It ends every session of the user,
// including the caller's.
func (a *API) ChangePassword(c *gin.Context, current, next string) error {
	p, _ := auth.PrincipalFrom(c)
	if p.Via != auth.ViaSession {
		return &badRequest{"an API token cannot change a password"}
	}
	u, err := a.store.GetUser(c.Request.Context(), p.UserID)
	if err != nil {
		return err
	}
	if ok, _, err := auth.VerifyPassword(u.PasswordHash, current); err != nil || !ok {
		return &admin.ValidationError{Fields: map[string]string{"current": "wrong password"}}
	}
	return a.SetPassword(c, u.ID, next, "new")
}

// CreateToken makes an API token for the caller, with role no higher
// than the caller's own (every permission of role must be one of the
// caller's; else an error on the field "role"). It returns the stored
// token and the plain bearer token, which is shown once and never stored.
func (a *API) CreateToken(c *gin.Context, name, role string, expires *time.Time) (admin.APIToken, string, error) {
	p, _ := auth.PrincipalFrom(c)
	if r, err := auth.ParseRole(role); err == nil {
		for _, perm := range auth.Permissions() {
			if r.Can(perm) && !p.Role.Can(perm) {
				return admin.APIToken{}, "", &admin.ValidationError{Fields: map[string]string{"role": "must not be above your own role (" + string(p.Role) + ")"}}
			}
		}
	}
	plain, hash, err := auth.NewSecret(auth.TokenPrefix)
	if err != nil {
		return admin.APIToken{}, "", err
	}
	t := admin.APIToken{Name: name, UserID: p.UserID, Role: role, Hash: hash, CreatedAt: a.opt.Now().UTC(), ExpiresAt: expires}
	if err := a.store.CreateAPIToken(c.Request.Context(), actor(c), &t); err != nil {
		return admin.APIToken{}, "", err
	}
	return t, plain, nil
}

// RevokeToken revokes the API token id now.
func (a *API) RevokeToken(c *gin.Context, id int64) error {
	return a.store.RevokeAPIToken(c.Request.Context(), actor(c), id, a.opt.Now().UTC())
}
