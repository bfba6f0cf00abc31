package server

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/config"
	"github.com/varco-access/varco/admin/sqlstore"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/wire"
)

// ShutdownTimeout bounds the graceful shutdown: requests still running
// after it are cut off.
const ShutdownTimeout = 10 * time.Second

// HousekeepingInterval is how often retention and session expiry run
// (and once at start).
const HousekeepingInterval = time.Hour

// SystemActor is the audit actor of the server's own writes: the first
// admin user, retention purges.
var SystemActor = admin.Actor{Name: "system"}

// Errors returned by Run.
var (
	// ErrStarted is returned when Run is called a second time, or after
	// Close.
	ErrStarted = errors.New("server: already started or closed")
)

// Deps is what Options.RegisterAPI gets to build the API (and later the
// panel) with.
type Deps struct {
	// Stopping is closed when the server starts shutting down:
	// long-lived responses (the panel's server-sent events) end on it.
	Stopping <-chan struct{}
	// Store is open for the whole life of the handlers; Main closes it
	// after the last request.
	Store admin.Store
	// CSRFKey is the 32-byte site secret (DataDir/site.secret), for
	// auth.NewCSRF.
	CSRFKey []byte
	// Secure is true when serving HTTPS: cookies must be Secure.
	Secure bool
	// CSCADir is the directory of CSCA certificates for enrolment
	// (config.Config.CSCAPath).
	CSCADir string
	// CSCAs are the certificates of CSCADir, loaded once at start and
	// given to the syncer too (enrolment stations): nil when the
	// directory is missing or holds none, and then every card is refused
	// with a reason that says so (a warning is logged at start).
	CSCAs []*x509.Certificate
	// SessionTTL is how long a login lasts (session_ttl).
	SessionTTL time.Duration
	// Password is the argon2id cost of new password hashes
	// (auth.DefaultParams unless a test set Options.Password).
	Password *auth.Params
	// Log is the server's logger.
	Log *slog.Logger
	// Now is the server's clock.
	Now func() time.Time
	// Config is the whole configuration, for settings not listed above
	// (demo, public_url).
	Config config.Config
	// Sync is the door sync (httpapi.Options.Sync), or nil when it is
	// disabled (mqtt.embedded false and no mqtt.broker). Mind the nil:
	// a nil *syncer.Syncer in an interface is not a nil interface.
	Sync *syncer.Syncer
}

// Options tune a Main. A nil *Options, or a zero field, means the default
// the field documents.
type Options struct {
	// RegisterAPI mounts the API on the engine. It runs once per Run,
	// after the middleware (metrics, request log, recovery) and /healthz
	// are installed, so its routes get them. An error stops Run. Nil
	// serves /healthz only.
	RegisterAPI func(r *gin.Engine, d Deps) error
	// Store, when set, is used instead of opening config.Database; Main
	// still closes it at shutdown.
	Store admin.Store
	// Now is the clock of the store, the API and the housekeeping. Nil
	// means time.Now.
	Now func() time.Time
	// NewTicker returns the channel that paces the housekeeping and the
	// watchdog, and a function that stops it. Nil means time.NewTicker;
	// tests pass a channel they send on by hand.
	NewTicker func(d time.Duration) (<-chan time.Time, func())
	// LookupEnv reads config.EnvPassword at the first start. Nil means
	// os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// Stderr receives the one line with a generated first password. Nil
	// means os.Stderr.
	Stderr io.Writer
	// Password is the argon2id cost of the first user's hash and of
	// Deps.Password. Nil means auth.DefaultParams.
	Password *auth.Params
	// Version is reported by varco_admin_build_info. Empty means the main
	// module's version from the build information.
	Version string
}

// Main is one run of the admin server. Create it with New, start it with
// Run; it is not reusable after Run returns.
type Main struct {
	cfg config.Config
	log *slog.Logger
	opt Options

	ready chan struct{} // closed once listening
	done  chan struct{} // closed when Run returns

	mu         sync.Mutex
	started    bool
	cancel     context.CancelFunc
	runErr     error
	url        string
	metricsURL string
	brokerURL  string
	sitePub    ed25519.PublicKey
}

// New returns a Main for cfg, which should have passed Validate. A nil
// log discards; a nil opts means the defaults.
func New(cfg config.Config, log *slog.Logger, opts *Options) *Main {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewTicker == nil {
		o.NewTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Password == nil {
		o.Password = &auth.DefaultParams
	}
	if o.Version == "" {
		o.Version = moduleVersion()
	}
	return &Main{cfg: cfg, log: log, opt: o, ready: make(chan struct{}), done: make(chan struct{})}
}

// Ready is closed once the server listens: URL and MetricsURL are then
// valid. It is never closed if Run fails before listening, so wait on it
// together with Run's result.
func (m *Main) Ready() <-chan struct{} { return m.ready }

// URL is the base URL of the panel and API, with a trailing slash, such
// as "http://127.0.0.1:8080/"; empty until Ready. An unspecified listen
// host (":8080", "0.0.0.0:8080") is given as loopback so the URL can be
// dialled.
func (m *Main) URL() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.url
}

// MetricsURL is the URL of the Prometheus endpoint, such as
// "http://127.0.0.1:9466/metrics"; empty until Ready or when metrics are
// off.
func (m *Main) MetricsURL() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.metricsURL
}

// BrokerURL is the MQTT broker the admin is connected to: the embedded
// one ("ssl://127.0.0.1:8883", with an unspecified listen host given as
// loopback) or mqtt.broker. Empty until Ready, or when the sync is
// disabled.
func (m *Main) BrokerURL() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.brokerURL
}

// SitePublicKey is the public half of the site's signing key, which the
// doors pin; nil until Ready.
func (m *Main) SitePublicKey() ed25519.PublicKey {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sitePub
}

// Close stops a running Run as if its context had ended, waits for it
// and returns what it returned. Before Run it only prevents Run from
// starting. It may be called more than once.
func (m *Main) Close() error {
	m.mu.Lock()
	if !m.started {
		m.started = true
		m.mu.Unlock()
		return nil
	}
	cancel := m.cancel
	m.mu.Unlock()
	if cancel == nil { // closed before Run
		return nil
	}
	cancel()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runErr
}

// Run opens the data directory and the store, creates the first admin
// user if there is none, listens, and serves until ctx ends or a listener
// fails; then it shuts down (within ShutdownTimeout) and closes the
// store. It returns nil after a shutdown asked for by ctx or Close.
func (m *Main) Run(ctx context.Context) (err error) {
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return ErrStarted
	}
	m.started = true
	ctx, m.cancel = context.WithCancel(ctx)
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.runErr = err
		m.mu.Unlock()
		m.cancel()
		close(m.done)
	}()
	return m.run(ctx)
}

func (m *Main) run(ctx context.Context) error {
	cfg, log := m.cfg, m.log

	if err := m.makeDataDir(); err != nil {
		return err
	}
	secret, err := loadOrCreateSecret(secretPath(cfg.DataDir), log)
	if err != nil {
		return err
	}

	siteKey, err := loadOrCreateSiteKey(cfg.SiteKeyPath(), log)
	if err != nil {
		return err
	}
	sitePub := siteKey.Public().(ed25519.PublicKey)
	log.Info("site signing key", "path", cfg.SiteKeyPath(), "site_public_key", wire.EncodePublicKey(sitePub))

	store, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	// From here every return goes through shutdown or closes the store.
	closeStore := func(err error) error {
		if cerr := store.Close(); cerr != nil {
			log.Error("closing the store", "err", cerr)
			if err == nil {
				err = fmt.Errorf("server: close store: %w", cerr)
			}
		}
		return err
	}
	if err := m.ensureAdmin(ctx, store); err != nil {
		return closeStore(err)
	}

	cscas := loadCSCAs(cfg.CSCAPath(), log)
	link, err := m.startSync(ctx, store, siteKey, cscas)
	if err != nil {
		return closeStore(err)
	}
	// From here the link stops before the store closes: the syncer, its
	// transport and the broker, in that order.
	closeStoreOnly := closeStore
	closeStore = func(err error) error {
		lctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if lerr := link.close(lctx); lerr != nil {
			log.Error("closing the MQTT link", "err", lerr)
		}
		return closeStoreOnly(err)
	}
	var doorSync *syncer.Syncer
	var brokerURL string
	if link != nil {
		doorSync, brokerURL = link.syncer, link.brokerURL
	}

	met := newMetrics(m.opt.Version)
	stopping := make(chan struct{})
	deps := Deps{
		Stopping:   stopping,
		Store:      store,
		CSRFKey:    secret,
		Secure:     cfg.TLS.Enabled(),
		CSCADir:    cfg.CSCAPath(),
		CSCAs:      cscas,
		SessionTTL: cfg.SessionTTL.Duration,
		Password:   m.opt.Password,
		Log:        log,
		Now:        m.opt.Now,
		Config:     cfg,
		Sync:       doorSync,
	}
	engine, err := m.engine(store, met, deps)
	if err != nil {
		return closeStore(err)
	}

	var tlsConfig *tls.Config
	if cfg.TLS.Enabled() {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
		if err != nil {
			return closeStore(fmt.Errorf("server: tls: %w", err))
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return closeStore(fmt.Errorf("server: listen: %w", err))
	}
	var mln net.Listener
	if cfg.MetricsListen != "" {
		if mln, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			ln.Close()
			return closeStore(fmt.Errorf("server: metrics_listen: %w", err))
		}
	}

	errorLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	srv := &http.Server{
		Handler:           engine,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errorLog,
	}
	// Streams (server-sent events) end when shutdown starts, so that it
	// does not wait for them until its timeout.
	srv.RegisterOnShutdown(func() { close(stopping) })
	serveErr := make(chan error, 2)
	go func() {
		var err error
		if tlsConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			serveErr <- fmt.Errorf("server: serve: %w", err)
		}
	}()
	var msrv *http.Server
	if mln != nil {
		msrv = &http.Server{Handler: met.handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errorLog}
		go func() {
			if err := msrv.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("server: serve metrics: %w", err)
			}
		}()
	}

	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	m.mu.Lock()
	m.url = dialURL(scheme, ln.Addr()) + "/"
	m.brokerURL, m.sitePub = brokerURL, sitePub
	if mln != nil {
		m.metricsURL = dialURL("http", mln.Addr()) + "/metrics"
	}
	url, metricsURL := m.url, m.metricsURL
	m.mu.Unlock()
	close(m.ready)

	attrs := []any{"url", url, "data_dir", cfg.DataDir, "tls", tlsConfig != nil}
	if cfg.PublicURL != "" {
		attrs = append(attrs, "public_url", cfg.PublicURL)
	}
	if metricsURL != "" {
		attrs = append(attrs, "metrics", metricsURL)
	}
	if cfg.Demo {
		attrs = append(attrs, "demo", true)
	}
	log.Info("varco-admin serving", attrs...)
	notify(log, "READY=1\nSTATUS=serving "+url)

	var bg sync.WaitGroup
	bgCtx, stopBG := context.WithCancel(context.Background())
	bg.Go(func() { m.housekeeping(bgCtx, store, met) })
	bg.Go(func() { m.watchdog(bgCtx) })

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-serveErr:
		log.Error("listener failed, shutting down", "err", runErr)
	}
	notify(log, "STOPPING=1")

	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var shutErr, mshutErr error
	wg.Go(func() { shutErr = shutdown(sctx, srv) })
	if msrv != nil {
		wg.Go(func() { mshutErr = shutdown(sctx, msrv) })
	}
	wg.Wait()
	stopBG()
	bg.Wait()
	// The door sync after the API (a command may still be going out),
	// within the same deadline; closeStore finds it closed and logs the
	// error, if any.
	link.close(sctx)
	if runErr == nil {
		runErr = errors.Join(shutErr, mshutErr)
	}
	runErr = closeStore(runErr)
	if runErr == nil {
		log.Info("stopped")
	}
	return runErr
}

// shutdown stops srv gracefully, or forcibly once ctx ends.
func shutdown(ctx context.Context, srv *http.Server) error {
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}

// makeDataDir creates the data directory (0700) if missing and warns when
// an existing one is open to others.
func (m *Main) makeDataDir() error {
	dir := m.cfg.DataDir
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("server: data_dir: %w", err)
		}
		m.log.Info("created the data directory", "data_dir", dir)
		return nil
	case err != nil:
		return fmt.Errorf("server: data_dir: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("server: data_dir: %s is not a directory", dir)
	case fi.Mode().Perm()&0o077 != 0:
		m.log.Warn("the data directory is accessible to other users: chmod 700 it", "data_dir", dir, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	return nil
}

// openStore opens the configured store, or takes Options.Store.
func (m *Main) openStore(ctx context.Context) (admin.Store, error) {
	if m.opt.Store != nil {
		m.log.Info("store given by the caller")
		return m.opt.Store, nil
	}
	db := m.cfg.Database
	so := &sqlstore.Options{Now: m.opt.Now}
	switch db.Driver {
	case config.DriverSQLite:
		path := m.cfg.SQLitePath()
		s, err := sqlstore.OpenSQLite(path, so)
		if err != nil {
			return nil, fmt.Errorf("server: store: %w", err)
		}
		m.log.Info("store opened", "driver", db.Driver, "path", path)
		return s, nil
	case config.DriverPostgres:
		s, err := sqlstore.OpenPostgres(ctx, db.DSN, so)
		if err != nil {
			// pgx errors name host, user and database, never the password.
			return nil, fmt.Errorf("server: store: %w", err)
		}
		m.log.Info("store opened", "driver", db.Driver, "database", describePostgres(db.DSN))
		return s, nil
	}
	return nil, fmt.Errorf("server: database.driver %q: must be %q or %q", db.Driver, config.DriverSQLite, config.DriverPostgres)
}

// dialURL is scheme://host:port of addr, with an unspecified host (every
// interface) replaced by loopback.
func dialURL(scheme string, addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.To4() == nil {
			host = "::1"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// loadCSCAs reads the CSCA certificates cards are verified against at
// enrolment. Without them the server still runs: enrolment refuses every
// card, saying why, until they are installed (and varco-admin restarted).
func loadCSCAs(dir string, log *slog.Logger) []*x509.Certificate {
	cscas, err := reader.LoadCSCAs(dir)
	if err != nil {
		log.Warn("enrolment disabled until CSCA certificates are installed", "csca_dir", dir, "err", err)
		return nil
	}
	log.Info("CSCA certificates loaded", "csca_dir", dir, "count", len(cscas))
	return cscas
}
