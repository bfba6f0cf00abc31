package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
)

// healthTimeout bounds the store check of /healthz.
const healthTimeout = 2 * time.Second

// engine builds the gin engine: middleware (outermost first: metrics,
// request log, recovery, so both see the 500 of a recovered panic),
// /healthz, a JSON 404, then the API.
func (m *Main) engine(store admin.Store, met *metrics, deps Deps) (*gin.Engine, error) {
	// gin's mode is process-wide (an atomic); debug mode only adds route
	// dumps and warnings to stderr.
	if m.cfg.Log.Level == "debug" {
		gin.SetMode(gin.DebugMode)
	} else {
		gin.SetMode(gin.ReleaseMode)
	}
	e := gin.New()
	// No proxy is trusted: ClientIP is the peer address, not a header a
	// client can forge.
	if err := e.SetTrustedProxies(nil); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	e.Use(met.middleware, requestLog(m.log), recovery(m.log))
	e.GET("/healthz", healthz(store, m.log))
	e.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "not found"})
	})
	if m.opt.RegisterAPI != nil {
		if err := m.opt.RegisterAPI(e, deps); err != nil {
			return nil, fmt.Errorf("server: register API: %w", err)
		}
	}
	return e, nil
}

// pinger is a store that can check its connection cheaply.
type pinger interface {
	Ping(ctx context.Context) error
}

// ping checks the store: Ping when it has one, else a small read (the
// sites table always holds the default site).
func ping(ctx context.Context, store admin.Store) error {
	if p, ok := store.(pinger); ok {
		return p.Ping(ctx)
	}
	_, err := store.ListSites(ctx)
	return err
}

// healthz answers 200 when the store answers, 503 otherwise. The reason
// goes to the log, not to the anonymous caller.
func healthz(store admin.Store, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), healthTimeout)
		defer cancel()
		c.Header("Cache-Control", "no-store")
		if err := ping(ctx, store); err != nil {
			log.Warn("health check: store unavailable", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	}
}

// requestLog logs one line per request: at error for 5xx, debug for
// /healthz (probes every few seconds), info otherwise. The query string is
// left out: it may carry search terms about people.
func requestLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case c.FullPath() == "/healthz":
			level = slog.LevelDebug
		}
		if !log.Enabled(c.Request.Context(), level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", c.Request.Method),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("client", c.ClientIP()),
			slog.Int("bytes", c.Writer.Size()),
		}
		if route := c.FullPath(); route != "" {
			attrs = append(attrs, slog.String("route", route))
		}
		if len(c.Errors) > 0 {
			attrs = append(attrs, slog.String("err", strings.Join(c.Errors.Errors(), "; ")))
		}
		log.LogAttrs(c.Request.Context(), level, "http request", attrs...)
	}
}

// recovery turns a handler panic into a JSON 500 and an error log line
// with the panic value; the connection stays usable.
func recovery(log *slog.Logger) gin.HandlerFunc {
	// gin's own dump is discarded: the log line replaces it.
	return gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, v any) {
		log.Error("handler panic", "method", c.Request.Method, "path", c.Request.URL.Path,
			"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
	})
}
