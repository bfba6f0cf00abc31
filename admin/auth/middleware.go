package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// How a principal authenticated (Principal.Via).
const (
	ViaSession = "session" // a session cookie: CSRF-protected
	ViaToken   = "token"   // an Authorization: Bearer API token
)

// Principal is who a request acts for.
type Principal struct {
	UserID   int64
	Username string
	// Role is the user's role for a session and the token's role for a
	// token.
	Role Role
	// Via is ViaSession or ViaToken; Authenticate sets it.
	Via string
	// SessionID is the plain session id (the cookie's value), set by
	// Authenticate for sessions only, to compute the CSRF token. Never log
	// it or send it anywhere but the cookie.
	SessionID string
	// TokenID is the API token's id, for tokens only.
	TokenID int64
}

// Resolver looks up the principal of a session or token by the
// HashSecret of its plain value. The server implements it over its store;
// authtest.Resolver is a fake. Both methods return an error wrapping
// ErrUnauthenticated when the hash is unknown, expired or revoked; any
// other error is a failure of the lookup itself.
type Resolver interface {
	SessionPrincipal(ctx context.Context, sessionIDHash string) (Principal, error)
	TokenPrincipal(ctx context.Context, tokenHash string) (Principal, error)
}

// principalKey is the gin context key of the Principal.
type principalKey struct{}

// PrincipalFrom returns the principal Authenticate stored in c, if any.
func PrincipalFrom(c *gin.Context) (Principal, bool) {
	v, ok := c.Get(principalKey{})
	if !ok {
		return Principal{}, false
	}
	p, ok := v.(Principal)
	return p, ok
}

// SetPrincipal stores p in c as Authenticate does. It is for tests of
// handlers and for a login handler that wants the new principal visible
// to the rest of its request.
func SetPrincipal(c *gin.Context, p Principal) { c.Set(principalKey{}, p) }

// Authenticate returns middleware that finds the request's principal:
//
//   - With an Authorization header, it must be "Bearer <token>" with a
//     well-formed API token that res resolves; otherwise the request is
//     answered 401 at once (malformed header, unknown or revoked token).
//     The session cookie is then not looked at.
//   - Otherwise, with a session cookie named cookieName that res
//     resolves, the request acts for that session. An unknown, expired or
//     junk cookie is ignored, so that the login page still works.
//   - Otherwise the request goes on anonymous: Require turns it away.
//
// A Resolver error other than ErrUnauthenticated is attached with c.Error
// and answered 500.
func Authenticate(res Resolver, cookieName string) gin.HandlerFunc {
	if res == nil {
		panic("auth: Authenticate with a nil Resolver")
	}
	return func(c *gin.Context) {
		if hdr := c.Request.Header.Values("Authorization"); len(hdr) > 0 {
			tok, ok := parseBearer(hdr)
			if !ok {
				abortUnauthorized(c, `Bearer error="invalid_request"`, "malformed Authorization header: want Bearer <token>")
				return
			}
			if !wellFormedSecret(tok, TokenPrefix) {
				abortUnauthorized(c, `Bearer error="invalid_token"`, "invalid or revoked token")
				return
			}
			p, err := res.TokenPrincipal(c.Request.Context(), HashSecret(tok))
			switch {
			case errors.Is(err, ErrUnauthenticated):
				abortUnauthorized(c, `Bearer error="invalid_token"`, "invalid or revoked token")
				return
			case err != nil:
				abortInternal(c, fmt.Errorf("auth: resolve token: %w", err))
				return
			}
			p.Via, p.SessionID = ViaToken, ""
			SetPrincipal(c, p)
			c.Next()
			return
		}
		if ck, err := c.Request.Cookie(cookieName); err == nil && wellFormedSecret(ck.Value, "") {
			p, err := res.SessionPrincipal(c.Request.Context(), HashSecret(ck.Value))
			switch {
			case err == nil:
				p.Via, p.SessionID, p.TokenID = ViaSession, ck.Value, 0
				SetPrincipal(c, p)
			case !errors.Is(err, ErrUnauthenticated):
				abortInternal(c, fmt.Errorf("auth: resolve session: %w", err))
				return
			}
		}
		c.Next()
	}
}

// parseBearer extracts the token from Authorization header values of the
// form "Bearer <token>" (RFC 6750 section 2.1; the scheme is
// case-insensitive, RFC 9110 section 11.1). More than one header is
// malformed.
func parseBearer(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, rest, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok := strings.TrimLeft(rest, " ")
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

// Require returns middleware that lets a request on only if its principal
// holds p: 401 with WWW-Authenticate: Bearer when there is no principal,
// 403 naming the role and permission when the role lacks p. It panics if
// p is not a known Permission, so that a typo fails at route setup rather
// than locking everyone (admins included) out of a route.
func Require(p Permission) gin.HandlerFunc {
	if !p.Valid() {
		panic(fmt.Sprintf("auth: Require(%q): unknown permission", string(p)))
	}
	return func(c *gin.Context) {
		pr, ok := PrincipalFrom(c)
		if !ok {
			abortUnauthorized(c, "Bearer", "authentication required")
			return
		}
		if !pr.Role.Can(p) {
			_ = c.Error(fmt.Errorf("%w: %s (role %s) lacks %s", ErrForbidden, pr.Username, pr.Role, p))
			c.AbortWithStatusJSON(http.StatusForbidden, gin.H{
				"error": fmt.Sprintf("forbidden: role %s lacks permission %s", pr.Role, p),
			})
			return
		}
		c.Next()
	}
}

// CSRFProtect returns middleware that requires a valid CSRF token on
// every unsafe request (any method but GET, HEAD, OPTIONS and TRACE)
// authenticated by a session cookie: in the X-CSRF-Token header, or else
// in the csrf_token form field. It must run after Authenticate. Requests
// authenticated by a bearer token pass, since a browser never attaches one
// on its own; anonymous requests pass, and the routes they may reach
// (login) must use SameOrigin instead.
//
// Reading the form field parses a form body, up to gin's
// MaxMultipartMemory for multipart bodies.
func CSRFProtect(cs *CSRF) gin.HandlerFunc {
	if cs == nil {
		panic("auth: CSRFProtect with a nil CSRF")
	}
	return func(c *gin.Context) {
		switch c.Request.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			c.Next()
			return
		}
		p, ok := PrincipalFrom(c)
		if !ok || p.Via != ViaSession {
			c.Next()
			return
		}
		tok := c.GetHeader(CSRFHeader)
		if tok == "" {
			tok = c.PostForm(CSRFFormField)
		}
		if !cs.Valid(p.SessionID, tok) {
			_ = c.Error(ErrCSRF)
			c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "missing or invalid CSRF token"})
			return
		}
		c.Next()
	}
}

// SetSessionCookie sets the session cookie: HttpOnly (no script can read
// it), SameSite=Lax (not sent on cross-site POSTs, still sent when
// following a link in), Path=/, and Secure when secure is true, which the
// server must set whenever it is reached over TLS (also behind a proxy).
// With TLS, a name starting "__Host-" additionally stops sibling
// subdomains from planting a cookie of the same name. maxAge <= 0 makes a
// cookie that lasts until the browser closes; otherwise it is rounded up
// to whole seconds.
func SetSessionCookie(c *gin.Context, name, value string, maxAge time.Duration, secure bool) {
	ck := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		Secure:   secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge > 0 {
		ck.MaxAge = int(math.Ceil(maxAge.Seconds()))
	}
	http.SetCookie(c.Writer, ck)
}

// ClearSessionCookie tells the browser to delete the session cookie (at
// logout), with the attributes SetSessionCookie used.
func ClearSessionCookie(c *gin.Context, name string, secure bool) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     name,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Secure:   secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

func abortUnauthorized(c *gin.Context, challenge, msg string) {
	_ = c.Error(ErrUnauthenticated)
	c.Header("WWW-Authenticate", challenge)
	c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": msg})
}

func abortInternal(c *gin.Context, err error) {
	_ = c.Error(err)
	c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
}
