package httpapi

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/wire"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1"

// SessionCookie is the name of the session cookie.
const SessionCookie = "varco_session"

// Body size limits: JSON requests, and CSV imports.
const (
	MaxJSONBody = 1 << 20
	MaxCSVBody  = 32 << 20
)

// Options configure the API. Store and CSRFKey are required; a nil or
// zero field otherwise takes the default its comment gives.
type Options struct {
	Store admin.Store
	// CSRFKey is the site secret the CSRF tokens are derived from
	// (auth.CSRFKeySize bytes).
	CSRFKey []byte
	// Secure marks cookies Secure: set it when serving over TLS.
	Secure bool
	// CSCAs are the trust anchors cards are verified against at
	// enrolment; with none, enrolment is refused with a clear error.
	CSCAs []*x509.Certificate
	// SessionTTL is how long a login lasts. Default 12 hours.
	SessionTTL time.Duration
	// Limiter throttles logins by username and by client address.
	// Default auth.NewLimiter(nil).
	Limiter *auth.Limiter
	// Password is the argon2id cost of new password hashes. Default
	// auth.DefaultParams; tests use auth.TestParams.
	Password *auth.Params
	// Sync connects the API to the doors (package syncer): it is told of
	// every successful write, sends door commands and reports door
	// status. Nil: no doors are connected (commands answer 503).
	Sync DoorSync
	// Enrol runs enrolment sessions with the stations (syncer.Syncer).
	// Nil: the /enrol routes answer 503.
	Enrol Enroller
	// Log receives server errors. Default slog.Default().
	Log *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// DoorSync is what the API needs from the sync side (syncer.Syncer
// implements it).
type DoorSync interface {
	// Changed says door views may have moved. It must not block.
	Changed()
	// Status is the last status of a door by controller id.
	Status(controllerID string) (syncer.DoorStatus, bool)
	// Command sends a signed command to a door.
	Command(ctx context.Context, controllerID string, action wire.Action, by string) (wire.Cmd, error)
}

// API is the /api/v1 handler set.
type API struct {
	opt    Options
	store  admin.Store
	csrf   *auth.CSRF
	log    *slog.Logger
	routes []Route
	// dummyHash is verified against when a login names an unknown user,
	// so that the answer takes as long as for a known one.
	dummyHash string
}

// New checks o and returns the API.
func New(o Options) (*API, error) {
	if o.Store == nil {
		return nil, errors.New("httpapi: Options.Store is required")
	}
	cs, err := auth.NewCSRF(o.CSRFKey)
	if err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.Limiter == nil {
		o.Limiter = auth.NewLimiter(nil)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Password == nil {
		o.Password = &auth.DefaultParams
	}
	a := &API{opt: o, store: o.Store, csrf: cs, log: o.Log}
	if a.dummyHash, err = o.Password.Hash("not a real password, only for timing"); err != nil {
		return nil, err
	}
	a.routes = a.table()
	return a, nil
}

// Register mounts the API under Prefix on r.
func (a *API) Register(r gin.IRouter) {
	g := r.Group(Prefix)
	g.Use(noStore, auth.Authenticate(resolver{a}, SessionCookie), auth.CSRFProtect(a.csrf), a.notifySync)
	for _, rt := range a.routes {
		hs := []gin.HandlerFunc{}
		switch {
		case rt.Perm != "":
			hs = append(hs, auth.Require(rt.Perm))
		case rt.Auth:
			hs = append(hs, requireAny)
		}
		hs = append(hs, rt.handler)
		g.Handle(rt.Method, rt.Path, hs...)
	}
	doc := a.OpenAPI()
	g.GET("/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", doc) })
	if e, ok := r.(*gin.Engine); ok {
		e.NoRoute(a.NoRoute)
	}
}

// NoRoute answers an unknown path under Prefix with the API's JSON 404;
// Register installs it when given the engine itself. A server that
// mounts other handlers can call it from its own NoRoute.
func (a *API) NoRoute(c *gin.Context) {
	if strings.HasPrefix(c.Request.URL.Path, Prefix+"/") {
		fail(c, errNoRoute)
	}
}

// Routes returns the route table (for the panel's tests and the docs).
func (a *API) Routes() []Route { return append([]Route(nil), a.routes...) }

// notifySync tells the sync side after every successful write, so that
// doors get the change at once (the syncer coalesces bursts).
func (a *API) notifySync(c *gin.Context) {
	c.Next()
	if a.opt.Sync != nil && c.Request.Method != http.MethodGet && c.Writer.Status() < 400 {
		a.opt.Sync.Changed()
	}
}

// noStore keeps API answers (personal data) out of caches.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("X-Content-Type-Options", "nosniff")
}

// requireAny lets any authenticated principal through.
func requireAny(c *gin.Context) {
	if _, ok := auth.PrincipalFrom(c); !ok {
		c.Header("WWW-Authenticate", "Bearer")
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "authentication required"})
	}
}

// actor is who the request acts for, for the audit log.
func actor(c *gin.Context) admin.Actor {
	p, _ := auth.PrincipalFrom(c)
	if p.Via == auth.ViaToken {
		return admin.Actor{Name: "token:" + p.Username}
	}
	return admin.Actor{Name: p.Username}
}

// ErrSelf is returned (wrapping admin.ErrConflict) when an
// administrator tries to delete, disable or demote their own account.
var ErrSelf = fmt.Errorf("%w: you cannot delete or disable your own account", admin.ErrConflict)

// Errors the handlers return, mapped by fail.
var (
	errNoRoute  = errors.New("no such API route")
	errTooLarge = errors.New("request body too large")
	errNoSync   = errors.New("no doors are connected to this server (MQTT sync is off)")
)

// badRequest is a 400 that is not about one field.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

// fail answers err with its status and the error body. It is the only
// place that maps errors to statuses.
func fail(c *gin.Context, err error) {
	var ve *admin.ValidationError
	var br *badRequest
	var rf *admin.Refusal
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ve):
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid input", "fields": ve.Fields})
	case errors.As(err, &br):
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": br.msg})
	case errors.As(err, &mbe), errors.Is(err, errTooLarge):
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": "request body too large"})
	case errors.As(err, &rf):
		c.AbortWithStatusJSON(http.StatusUnprocessableEntity, gin.H{"error": rf.Error(), "reason": rf.Reason})
	case errors.Is(err, errNoSync), errors.Is(err, errNoEnrol):
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": err.Error()})
	case errors.Is(err, syncer.ErrNotConnected):
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "the server is not connected to the MQTT broker at the moment: try again shortly"})
	case errors.Is(err, syncer.ErrEnrolBusy):
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "too many enrolment sessions are waiting for their stations: try again in a minute"})
	case errors.Is(err, errNoRoute):
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "no such API route: " + c.Request.Method + " " + c.Request.URL.Path})
	case errors.Is(err, admin.ErrNotFound):
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "not found"})
	case errors.Is(err, admin.ErrConflict):
		msg := "conflict: " + strings.TrimPrefix(err.Error(), "admin: conflict: ")
		if errors.Is(err, ErrSelf) {
			msg = ErrSelf.Error()
		}
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": msg})
	case errors.Is(err, auth.ErrBadPassword), errors.Is(err, auth.ErrUnauthenticated):
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": err.Error()})
	case errors.Is(err, auth.ErrWeakPassword):
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid input", "fields": gin.H{"password": err.Error()}})
	case errors.Is(err, auth.ErrForbidden), errors.Is(err, auth.ErrCSRF):
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": err.Error()})
	default:
		slog.Default().Error("api: internal error", "method", c.Request.Method, "path", c.FullPath(), "err", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal server error"})
	}
}

// bindJSON decodes the request body into v: one JSON object of at most
// MaxJSONBody bytes, no unknown fields, types as declared. Errors name
// the field.
func bindJSON(c *gin.Context, v any) error {
	if ct := c.ContentType(); ct != "application/json" {
		return &badRequest{fmt.Sprintf("Content-Type must be application/json, not %q", ct)}
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, MaxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return &badRequest{"malformed JSON: data after the object"}
	}
	return nil
}

// jsonError turns a decoding error into a 400 naming the field, or the
// 413 of an oversized body.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.As(err, &te):
		f := te.Field
		if f == "" {
			f = "body"
		}
		return &admin.ValidationError{Fields: map[string]string{f: fmt.Sprintf("must be %s, not %s", jsonType(te.Type.Kind().String()), te.Value)}}
	case errors.As(err, &se):
		return &badRequest{fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, err)}
	case errors.Is(err, io.EOF):
		return &badRequest{"empty body: a JSON object is required"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &badRequest{"malformed JSON: unexpected end of input"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &admin.ValidationError{Fields: map[string]string{f: "unknown field"}}
	}
	return &badRequest{"malformed JSON: " + err.Error()}
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int64", "int32", "uint64", "uint32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return kind
}

// idParam parses the :name path parameter as a positive id.
func idParam(c *gin.Context, name string) (int64, error) {
	s := c.Param(name)
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, &admin.ValidationError{Fields: map[string]string{name: fmt.Sprintf("%q is not an id", clip(s))}}
	}
	return id, nil
}

// clip bounds user input echoed in messages.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
