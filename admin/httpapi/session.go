package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
)

type (
	loginBody struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	meResp struct {
		UserID      int64             `json:"user_id"`
		Username    string            `json:"username"`
		Role        auth.Role         `json:"role"`
		Via         string            `json:"via"`
		Permissions []auth.Permission `json:"permissions"`
		// CSRFToken goes in X-CSRF-Token on every write of the session.
		CSRFToken string `json:"csrf_token,omitempty"`
	}
	passwordBody struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
)

// resolver looks sessions and tokens up in the store.
type resolver struct{ a *API }

var _ auth.Resolver = resolver{}

func (r resolver) SessionPrincipal(ctx context.Context, hash string) (auth.Principal, error) {
	s, err := r.a.store.GetSession(ctx, hash, r.a.opt.Now())
	if errors.Is(err, admin.ErrNotFound) {
		return auth.Principal{}, auth.ErrUnauthenticated
	} else if err != nil {
		return auth.Principal{}, err
	}
	u, err := r.a.store.GetUser(ctx, s.UserID)
	if errors.Is(err, admin.ErrNotFound) || err == nil && u.Disabled {
		return auth.Principal{}, auth.ErrUnauthenticated
	} else if err != nil {
		return auth.Principal{}, err
	}
	role, err := auth.ParseRole(u.Role)
	if err != nil {
		return auth.Principal{}, err
	}
	return auth.Principal{UserID: u.ID, Username: u.Username, Role: role}, nil
}

func (r resolver) TokenPrincipal(ctx context.Context, hash string) (auth.Principal, error) {
	t, err := r.a.store.GetAPITokenByHash(ctx, hash)
	if errors.Is(err, admin.ErrNotFound) {
		return auth.Principal{}, auth.ErrUnauthenticated
	} else if err != nil {
		return auth.Principal{}, err
	}
	now := r.a.opt.Now()
	if t.RevokedAt != nil || t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	u, err := r.a.store.GetUser(ctx, t.UserID)
	if errors.Is(err, admin.ErrNotFound) || err == nil && u.Disabled {
		// A token dies with its creator's account.
		return auth.Principal{}, auth.ErrUnauthenticated
	} else if err != nil {
		return auth.Principal{}, err
	}
	role, err := auth.ParseRole(t.Role)
	if err != nil {
		return auth.Principal{}, err
	}
	// Record use at most once a minute: it is a write per request.
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		if err := r.a.store.TouchAPIToken(ctx, t.ID, now); err != nil {
			r.a.log.Warn("api token: record use", "token", t.ID, "err", err)
		}
	}
	return auth.Principal{UserID: t.UserID, Username: t.Name, Role: role, TokenID: t.ID}, nil
}

func (a *API) login(c *gin.Context) {
	// A cross-site form must not log the browser into our site (login
	// CSRF): there is no session yet to bind a token to.
	if !auth.SameOrigin(c.Request) {
		fail(c, fmt.Errorf("%w: cross-origin login", auth.ErrCSRF))
		return
	}
	var b loginBody
	if err := bindJSON(c, &b); err != nil {
		fail(c, err)
		return
	}
	p, retry, err := a.Login(c, b.Username, b.Password)
	if retry > 0 {
		secs := int(retry.Seconds() + 0.999)
		c.Header("Retry-After", fmt.Sprint(secs))
		c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{"error": auth.ErrRateLimited.Error(), "retry_after_seconds": secs})
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, a.meOf(p))
}

// Login checks a username and password under the login limiter and, when
// they match an enabled user, opens a session and sets its cookie on c.
// It is the one login of the API and the panel. A throttled attempt
// returns the wait before the next (and auth.ErrRateLimited); a wrong
// username or password returns auth.ErrBadPassword, in the same time
// either way. The caller checks the request's origin first.
func (a *API) Login(c *gin.Context, username, password string) (auth.Principal, time.Duration, error) {
	keys := []string{"user:" + username, "ip:" + c.ClientIP()}
	for _, k := range keys {
		if ok, retry := a.opt.Limiter.Allow(k); !ok {
			return auth.Principal{}, retry, auth.ErrRateLimited
		}
	}
	u, err := a.store.GetUserByUsername(c.Request.Context(), username)
	hash := u.PasswordHash
	if err != nil {
		if !errors.Is(err, admin.ErrNotFound) {
			return auth.Principal{}, 0, err
		}
		hash = a.dummyHash
	}
	ok, rehash, verr := auth.VerifyPassword(hash, password)
	if err != nil || verr != nil || !ok || u.Disabled {
		if verr != nil && err == nil {
			a.log.Error("login: stored password hash unusable", "user", u.Username, "err", verr)
		}
		for _, k := range keys {
			a.opt.Limiter.Failure(k)
		}
		return auth.Principal{}, 0, auth.ErrBadPassword
	}
	// Only the username's failures are forgiven: clearing the address's
	// too would let anyone with one account reset a guessing run.
	a.opt.Limiter.Success(keys[0])
	act := admin.Actor{Name: u.Username}
	if rehash {
		if h, err := a.opt.Password.Hash(password); err == nil {
			if err := a.store.SetUserPassword(c.Request.Context(), act, u.ID, h); err != nil {
				a.log.Warn("login: rehash password", "user", u.Username, "err", err)
			}
		}
	}
	plain, idHash, err := auth.NewSecret("")
	if err != nil {
		return auth.Principal{}, 0, err
	}
	now := a.opt.Now()
	if err := a.store.CreateSession(c.Request.Context(), act, admin.Session{IDHash: idHash, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(a.opt.SessionTTL)}); err != nil {
		return auth.Principal{}, 0, err
	}
	auth.SetSessionCookie(c, SessionCookie, plain, a.opt.SessionTTL, a.opt.Secure)
	role, _ := auth.ParseRole(u.Role)
	return auth.Principal{UserID: u.ID, Username: u.Username, Role: role, Via: auth.ViaSession, SessionID: plain}, 0, nil
}

// Logout ends the session of c's principal and clears its cookie.
func (a *API) Logout(c *gin.Context) error {
	p, _ := auth.PrincipalFrom(c)
	if p.Via != auth.ViaSession {
		return &badRequest{"logout ends a browser session; revoke an API token with DELETE /tokens/{id}"}
	}
	if err := a.store.DeleteSession(c.Request.Context(), actor(c), auth.HashSecret(p.SessionID)); err != nil && !errors.Is(err, admin.ErrNotFound) {
		return err
	}
	auth.ClearSessionCookie(c, SessionCookie, a.opt.Secure)
	return nil
}

// Resolver is the API's lookup of sessions and tokens, for
// auth.Authenticate in front of other handlers (the panel).
func (a *API) Resolver() auth.Resolver { return resolver{a} }

// CSRFToken is the CSRF token of a session principal ("" for a token).
func (a *API) CSRFToken(p auth.Principal) string {
	if p.Via != auth.ViaSession {
		return ""
	}
	return a.csrf.Token(p.SessionID)
}

// CSRF is the API's CSRF token maker, for auth.CSRFProtect.
func (a *API) CSRF() *auth.CSRF { return a.csrf }

func (a *API) meOf(p auth.Principal) meResp {
	r := meResp{UserID: p.UserID, Username: p.Username, Role: p.Role, Via: p.Via, Permissions: []auth.Permission{}}
	for _, perm := range auth.Permissions() {
		if p.Role.Can(perm) {
			r.Permissions = append(r.Permissions, perm)
		}
	}
	if p.Via == auth.ViaSession {
		r.CSRFToken = a.csrf.Token(p.SessionID)
	}
	return r
}

func (a *API) me(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	c.JSON(http.StatusOK, a.meOf(p))
}

func (a *API) logout(c *gin.Context) {
	if err := a.Logout(c); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *API) changePassword(c *gin.Context) {
	var b passwordBody
	if err := bindJSON(c, &b); err != nil {
		fail(c, err)
		return
	}
	if err := a.ChangePassword(c, b.Current, b.New); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
