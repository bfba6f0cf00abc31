package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/config"
	"github.com/varco-access/varco/admin/sqlstore"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testConfig listens on free loopback ports (HTTP, metrics, the embedded
// MQTT broker) with a data directory that does not exist yet.
func testConfig(tb testing.TB) config.Config {
	tb.Helper()
	c := config.DefaultConfig()
	c.DataDir = filepath.Join(tb.TempDir(), "data")
	c.Listen = "127.0.0.1:0"
	c.MetricsListen = "127.0.0.1:0"
	c.MQTT.Listen = "127.0.0.1:0"
	return c
}

// testLogger logs to the test output and to buf.
func testLogger(tb testing.TB, buf io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.MultiWriter(tb.Output(), buf), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// noEnv is a LookupEnv with nothing set.
func noEnv(string) (string, bool) { return "", false }

// envWith is a LookupEnv holding only VARCO_ADMIN_PASSWORD.
func envWith(pw string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if k == config.EnvPassword {
			return pw, true
		}
		return "", false
	}
}

// testOptions has cheap password hashing, no environment and stderr into
// buf.
func testOptions(stderr io.Writer) *Options {
	return &Options{Password: &auth.TestParams, LookupEnv: noEnv, Stderr: stderr}
}

// mustStart runs m until the test ends and waits until it listens. The
// cleanup checks that Run returned nil.
func mustStart(tb testing.TB, m *Main) {
	tb.Helper()
	errc := make(chan error, 1)
	go func() { errc <- m.Run(context.Background()) }()
	select {
	case <-m.Ready():
	case err := <-errc:
		tb.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		tb.Fatal("not ready after 30s")
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
}

// mustOpenStore opens the SQLite store of cfg, closed at cleanup unless
// handed to a Main.
func mustOpenStore(tb testing.TB, cfg config.Config, now func() time.Time) *sqlstore.DB {
	tb.Helper()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		tb.Fatal(err)
	}
	db, err := sqlstore.OpenSQLite(cfg.SQLitePath(), &sqlstore.Options{Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

// get fetches url and returns the status and body.
func get(tb testing.TB, c *http.Client, url string) (int, string) {
	tb.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

var passwordLine = regexp.MustCompile(`^first start: created user "admin" with password ([A-Z2-7]{26}) — change it after logging in\n$`)

func TestFirstStartEnvPassword(t *testing.T) {
	cfg := testConfig(t)
	const pw = "correct horse battery staple"
	var logs, stderr syncBuffer
	opts := testOptions(&stderr)
	opts.LookupEnv = envWith(pw)
	opts.Password = nil // the real argon2id cost, as in production
	m := New(cfg, testLogger(t, &logs), opts)
	mustStart(t, m)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	db := mustOpenStore(t, cfg, nil)
	defer db.Close()
	u, err := db.GetUserByUsername(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != admin.RoleAdmin || u.Disabled {
		t.Errorf("user = %+v, want an enabled admin", u)
	}
	ok, rehash, err := auth.VerifyPassword(u.PasswordHash, pw)
	if !ok || rehash || err != nil {
		t.Errorf("VerifyPassword = %v, %v, %v; want the env password under DefaultParams", ok, rehash, err)
	}
	if stderr.String() != "" {
		t.Errorf("stderr = %q, want nothing when the password came from the environment", stderr.String())
	}
	if strings.Contains(logs.String(), pw) {
		t.Error("the password is in the log")
	}
	if !strings.Contains(logs.String(), "password_from="+config.EnvPassword) {
		t.Errorf("log does not say where the password came from:\n%s", logs.String())
	}
}

func TestFirstStartGeneratedPasswordOnce(t *testing.T) {
	cfg := testConfig(t)
	var logs, stderr syncBuffer
	m := New(cfg, testLogger(t, &logs), testOptions(&stderr))
	mustStart(t, m)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	sm := passwordLine.FindStringSubmatch(stderr.String())
	if sm == nil {
		t.Fatalf("stderr = %q, want exactly the one password line", stderr.String())
	}
	pw := sm[1]
	if strings.Contains(logs.String(), pw) {
		t.Error("the generated password is in the log")
	}

	// Second start on the same data dir, now with VARCO_ADMIN_PASSWORD
	// set: nothing printed, nothing changed.
	var logs2, stderr2 syncBuffer
	opts := testOptions(&stderr2)
	opts.LookupEnv = envWith("another strong password")
	m2 := New(cfg, testLogger(t, &logs2), opts)
	mustStart(t, m2)
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	if stderr2.String() != "" {
		t.Errorf("second start printed %q", stderr2.String())
	}
	if !strings.Contains(logs2.String(), config.EnvPassword+" is ignored") {
		t.Errorf("no warning that %s is ignored:\n%s", config.EnvPassword, logs2.String())
	}

	db := mustOpenStore(t, cfg, nil)
	defer db.Close()
	users, err := db.ListUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Username != "admin" {
		t.Fatalf("users = %+v, want the one admin", users)
	}
	if ok, _, err := auth.VerifyPassword(users[0].PasswordHash, pw); !ok || err != nil {
		t.Errorf("the printed password does not verify: %v %v", ok, err)
	}
	audit, err := db.ListAudit(context.Background(), admin.AuditFilter{Entity: "user"})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 || audit[0].Actor != "system" || audit[0].Action != admin.ActionCreate {
		t.Errorf("audit = %+v, want one create by system", audit)
	}
}

func TestFirstStartWeakEnvPassword(t *testing.T) {
	for _, pw := range []string{"short", "aaaaaaaaaaaaaaaa"} {
		t.Run(pw, func(t *testing.T) {
			cfg := testConfig(t)
			opts := testOptions(io.Discard)
			opts.LookupEnv = envWith(pw)
			m := New(cfg, testLogger(t, io.Discard), opts)
			err := m.Run(context.Background())
			if !errors.Is(err, auth.ErrWeakPassword) || !strings.Contains(err.Error(), config.EnvPassword) {
				t.Fatalf("Run = %v, want a weak password error naming %s", err, config.EnvPassword)
			}
			select {
			case <-m.Ready():
				t.Error("Ready closed although Run failed")
			default:
			}
			db := mustOpenStore(t, cfg, nil) // also proves Run closed it
			defer db.Close()
			if users, err := db.ListUsers(context.Background()); err != nil || len(users) != 0 {
				t.Errorf("users = %v, %v; want none", users, err)
			}
		})
	}
}

// TestEmptyEnvPasswordGenerates: VARCO_ADMIN_PASSWORD= (set, empty) is
// taken as unset, as systemd's Environment=NAME= means.
func TestEmptyEnvPasswordGenerates(t *testing.T) {
	var stderr syncBuffer
	opts := testOptions(&stderr)
	opts.LookupEnv = envWith("")
	m := New(testConfig(t), testLogger(t, io.Discard), opts)
	mustStart(t, m)
	if !passwordLine.MatchString(stderr.String()) {
		t.Errorf("stderr = %q, want a generated password", stderr.String())
	}
}

func TestDataDirAndSecret(t *testing.T) {
	cfg := testConfig(t)
	m := New(cfg, testLogger(t, io.Discard), testOptions(io.Discard))
	mustStart(t, m)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("data_dir mode %04o, want 0700", got)
	}
	path := filepath.Join(cfg.DataDir, "site.secret")
	fi, err = os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("site.secret mode %04o, want 0600", got)
	}
	secret, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 32 || bytes.Equal(secret, make([]byte, 32)) {
		t.Errorf("site.secret = %x, want 32 random bytes", secret)
	}
	entries, _ := os.ReadDir(cfg.DataDir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}

	// A restart keeps the secret and hands it to the API.
	var got []byte
	opts := testOptions(io.Discard)
	opts.RegisterAPI = func(_ *gin.Engine, d Deps) error { got = d.CSRFKey; return nil }
	m2 := New(cfg, testLogger(t, io.Discard), opts)
	mustStart(t, m2)
	if !bytes.Equal(got, secret) {
		t.Errorf("second start CSRFKey = %x, want the stored %x", got, secret)
	}
}

func TestBadSecretRefused(t *testing.T) {
	cfg := testConfig(t)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.DataDir, "site.secret")
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := New(cfg, testLogger(t, io.Discard), testOptions(io.Discard)).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "site.secret: 5 bytes, want 32") {
		t.Fatalf("Run = %v, want a size error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "short" {
		t.Errorf("the bad secret was replaced with %x", b)
	}
}

func TestDataDirIsAFile(t *testing.T) {
	cfg := testConfig(t)
	if err := os.WriteFile(cfg.DataDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := New(cfg, testLogger(t, io.Discard), testOptions(io.Discard)).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Fatalf("Run = %v", err)
	}
}

func TestHealthz(t *testing.T) {
	m := New(testConfig(t), testLogger(t, io.Discard), testOptions(io.Discard))
	mustStart(t, m)
	code, body := get(t, nil, m.URL()+"healthz")
	if code != http.StatusOK || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Errorf("GET /healthz = %d %s", code, body)
	}
	code, body = get(t, nil, m.URL()+"no/such/page")
	if code != http.StatusNotFound || strings.TrimSpace(body) != `{"error":"not found"}` {
		t.Errorf("GET /no/such/page = %d %s, want a JSON 404", code, body)
	}
}

// failingStore fails its reads once broken is set.
type failingStore struct {
	admin.Store
	mu     sync.Mutex
	broken bool
}

func (s *failingStore) ListSites(ctx context.Context) ([]admin.Site, error) {
	s.mu.Lock()
	broken := s.broken
	s.mu.Unlock()
	if broken {
		return nil, errors.New("disk on fire")
	}
	return s.Store.ListSites(ctx)
}

func TestHealthzStoreDown(t *testing.T) {
	cfg := testConfig(t)
	fs := &failingStore{Store: mustOpenStore(t, cfg, nil)}
	opts := testOptions(io.Discard)
	opts.Store = fs
	var logs syncBuffer
	m := New(cfg, testLogger(t, &logs), opts)
	mustStart(t, m)
	fs.mu.Lock()
	fs.broken = true
	fs.mu.Unlock()
	code, body := get(t, nil, m.URL()+"healthz")
	if code != http.StatusServiceUnavailable || strings.TrimSpace(body) != `{"status":"unavailable"}` {
		t.Errorf("GET /healthz = %d %s, want 503", code, body)
	}
	if strings.Contains(body, "fire") {
		t.Error("the store error leaked to the caller")
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Error("the store error is not logged")
	}
}

func TestMetrics(t *testing.T) {
	opts := testOptions(io.Discard)
	opts.Version = "v1.2.3"
	opts.RegisterAPI = func(r *gin.Engine, _ Deps) error {
		r.GET("/api/v1/people/:id", func(c *gin.Context) { c.JSON(200, gin.H{"id": c.Param("id")}) })
		return nil
	}
	m := New(testConfig(t), testLogger(t, io.Discard), opts)
	mustStart(t, m)
	get(t, nil, m.URL()+"healthz")
	get(t, nil, m.URL()+"api/v1/people/1")
	get(t, nil, m.URL()+"api/v1/people/2")
	get(t, nil, m.URL()+"random-scan-1")
	get(t, nil, m.URL()+"random-scan-2")

	if !strings.HasPrefix(m.MetricsURL(), "http://127.0.0.1:") || !strings.HasSuffix(m.MetricsURL(), "/metrics") {
		t.Fatalf("MetricsURL = %q", m.MetricsURL())
	}
	code, body := get(t, nil, m.MetricsURL())
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, want := range []string{
		`varco_admin_http_requests_total{code="200",method="GET",route="/healthz"} 1`,
		`varco_admin_http_requests_total{code="200",method="GET",route="/api/v1/people/:id"} 2`,
		`varco_admin_http_requests_total{code="404",method="GET",route="unmatched"} 2`,
		`varco_admin_http_request_duration_seconds_count{route="/api/v1/people/:id"} 2`,
		`varco_admin_build_info{goversion="go`,
		`version="v1.2.3"} 1`,
		`varco_admin_events_purged_total 0`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The panel port does not serve metrics.
	if code, _ := get(t, nil, m.URL()+"metrics"); code != http.StatusNotFound {
		t.Errorf("GET %smetrics = %d, want 404", m.URL(), code)
	}
}

func TestMetricsDisabled(t *testing.T) {
	cfg := testConfig(t)
	cfg.MetricsListen = ""
	m := New(cfg, testLogger(t, io.Discard), testOptions(io.Discard))
	mustStart(t, m)
	if m.MetricsURL() != "" {
		t.Errorf("MetricsURL = %q, want empty", m.MetricsURL())
	}
}

func TestRecoveryJSON(t *testing.T) {
	opts := testOptions(io.Discard)
	opts.RegisterAPI = func(r *gin.Engine, _ Deps) error {
		r.GET("/boom", func(*gin.Context) { panic("kaboom") })
		return nil
	}
	var logs syncBuffer
	m := New(testConfig(t), testLogger(t, &logs), opts)
	mustStart(t, m)
	code, body := get(t, nil, m.URL()+"boom")
	if code != http.StatusInternalServerError || strings.TrimSpace(body) != `{"error":"internal error"}` {
		t.Errorf("GET /boom = %d %s, want a JSON 500", code, body)
	}
	if !strings.Contains(logs.String(), "kaboom") {
		t.Error("the panic is not logged")
	}
	if code, _ := get(t, nil, m.URL()+"healthz"); code != http.StatusOK {
		t.Errorf("after a panic /healthz = %d", code)
	}
	code, body = get(t, nil, m.MetricsURL())
	if code != 200 || !strings.Contains(body, `varco_admin_http_requests_total{code="500",method="GET",route="/boom"} 1`) {
		t.Errorf("the 500 is not counted")
	}
}

// TestDepsCSCAs: the CSCA certificates of csca_dir are loaded once, for
// the API and the syncer alike.
func TestDepsCSCAs(t *testing.T) {
	cfg := testConfig(t)
	cfg.CSCADir = t.TempDir()
	der, err := os.ReadFile("../../testdata/pki/trusted/csca.der")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.CSCADir, "csca.der"), der, 0o644); err != nil {
		t.Fatal(err)
	}
	var got Deps
	opts := testOptions(io.Discard)
	opts.RegisterAPI = func(r *gin.Engine, d Deps) error { got = d; return nil }
	m := New(cfg, testLogger(t, io.Discard), opts)
	mustStart(t, m)
	if len(got.CSCAs) != 1 || got.CSCADir != cfg.CSCADir || got.Sync == nil {
		t.Errorf("Deps: CSCAs %d from %s, sync %v", len(got.CSCAs), got.CSCADir, got.Sync != nil)
	}
}

func TestRegisterAPIDeps(t *testing.T) {
	cfg := testConfig(t)
	cfg.SessionTTL = config.D(3 * time.Hour)
	cfg.Demo = true
	now := func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }
	var got Deps
	opts := testOptions(io.Discard)
	opts.Now = now
	opts.RegisterAPI = func(r *gin.Engine, d Deps) error {
		got = d
		r.GET("/api/v1/ping", func(c *gin.Context) { c.String(200, "pong") })
		return nil
	}
	m := New(cfg, testLogger(t, io.Discard), opts)
	mustStart(t, m)
	if got.Store == nil || got.Log == nil || got.Now == nil || got.Password != &auth.TestParams {
		t.Fatalf("Deps = %+v: missing fields", got)
	}
	if len(got.CSRFKey) != 32 || got.Secure || got.SessionTTL != 3*time.Hour ||
		got.CSCADir != filepath.Join(cfg.DataDir, "csca") || !got.Config.Demo || !got.Now().Equal(now()) {
		t.Errorf("Deps = %+v", got)
	}
	if got.CSCAs != nil {
		t.Errorf("Deps.CSCAs = %d certificates from a missing csca_dir", len(got.CSCAs))
	}
	if _, err := got.Store.ListUsers(context.Background()); err != nil {
		t.Errorf("Deps.Store is not usable: %v", err)
	}
	if code, body := get(t, nil, m.URL()+"api/v1/ping"); code != 200 || body != "pong" {
		t.Errorf("API route = %d %q", code, body)
	}
}

func TestRegisterAPIError(t *testing.T) {
	cfg := testConfig(t)
	opts := testOptions(io.Discard)
	opts.RegisterAPI = func(*gin.Engine, Deps) error { return errors.New("no CSCA") }
	err := New(cfg, testLogger(t, io.Discard), opts).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "register API: no CSCA") {
		t.Fatalf("Run = %v", err)
	}
	// The store was closed: it opens again.
	mustOpenStore(t, cfg, nil).Close()
}

func TestStartLog(t *testing.T) {
	cfg := testConfig(t)
	cfg.PublicURL = "https://varco.example.it/"
	var logs syncBuffer
	m := New(cfg, testLogger(t, &logs), testOptions(io.Discard))
	mustStart(t, m)
	for _, want := range []string{
		`msg="varco-admin serving" url=` + m.URL(),
		"data_dir=" + cfg.DataDir,
		"public_url=https://varco.example.it/",
		`msg="store opened" driver=sqlite path=` + cfg.SQLitePath(),
	} {
		// The serving line follows the readiness mustStart waits for.
		for deadline := time.Now().Add(2 * time.Second); !strings.Contains(logs.String(), want); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("log lacks %q", want)
				break
			}
		}
	}
}

func TestURLForUnspecifiedHost(t *testing.T) {
	cfg := testConfig(t)
	cfg.Listen = ":0"
	m := New(cfg, testLogger(t, io.Discard), testOptions(io.Discard))
	mustStart(t, m)
	if u := m.URL(); !strings.HasPrefix(u, "http://127.0.0.1:") && !strings.HasPrefix(u, "http://[::1]:") {
		t.Fatalf("URL = %q, want loopback", u)
	}
	if code, _ := get(t, nil, m.URL()+"healthz"); code != http.StatusOK {
		t.Errorf("healthz = %d", code)
	}
}

func TestListenFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(t)
	cfg.Listen = ln.Addr().String()
	err = New(cfg, testLogger(t, io.Discard), testOptions(io.Discard)).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "server: listen:") {
		t.Fatalf("Run = %v, want a listen error", err)
	}
	mustOpenStore(t, cfg, nil).Close() // the store was closed
}

func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	opts := testOptions(io.Discard)
	opts.RegisterAPI = func(r *gin.Engine, _ Deps) error {
		r.GET("/slow", func(c *gin.Context) {
			close(entered)
			<-release
			c.String(200, "done")
		})
		return nil
	}
	m := New(testConfig(t), testLogger(t, io.Discard), opts)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx) }()
	<-m.Ready()
	addr := strings.TrimSuffix(strings.TrimPrefix(m.URL(), "http://"), "/")

	type result struct {
		code int
		body string
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := http.Get(m.URL() + "slow")
		if err != nil {
			resc <- result{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		resc <- result{resp.StatusCode, string(b)}
	}()
	<-entered
	cancel()
	select {
	case err := <-errc:
		t.Fatalf("Run returned %v with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if r := <-resc; r.code != 200 || r.body != "done" {
		t.Errorf("in-flight request = %d %q, want it to finish", r.code, r.body)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(ShutdownTimeout + 5*time.Second):
		t.Fatal("Run did not return")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Run returned", addr)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close after Run = %v", err)
	}
	if err := m.Run(context.Background()); !errors.Is(err, ErrStarted) {
		t.Errorf("second Run = %v, want ErrStarted", err)
	}
}

func TestCloseBeforeRun(t *testing.T) {
	m := New(testConfig(t), nil, testOptions(io.Discard))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); !errors.Is(err, ErrStarted) {
		t.Errorf("Run after Close = %v, want ErrStarted", err)
	}
}

func TestDescribePostgres(t *testing.T) {
	for _, tt := range []struct{ dsn, want string }{
		{"postgres://varco:s3cret@db.example.it:5432/varco?sslmode=verify-full&password=s3cret", "postgres://varco@db.example.it:5432/varco"},
		{"postgresql://db/varco", "postgresql://db/varco"},
		{"host=db port=5432 dbname=varco user=varco password=s3cret sslmode=require", "host=db port=5432 dbname=varco user=varco"},
		{"host=db password='s3cret host=evil' dbname=varco", "host=db dbname=varco"},
		{`password='it\'s s3cret' user=u`, "user=u"},
		{"password='s3cret", "(unparsable connection string)"},
		{"sslmode=disable", "(from the PG* environment)"},
		{"postgres://%zz", "(unparsable URL)"},
	} {
		t.Run(tt.dsn, func(t *testing.T) {
			got := describePostgres(tt.dsn)
			if got != tt.want {
				t.Errorf("= %q, want %q", got, tt.want)
			}
			if strings.Contains(got, "s3cret") {
				t.Errorf("%q leaks the password", got)
			}
		})
	}
}

// TestHealthzJSONShape pins the exact body: monitoring parses it.
func TestHealthzJSONShape(t *testing.T) {
	m := New(testConfig(t), testLogger(t, io.Discard), testOptions(io.Discard))
	mustStart(t, m)
	resp, err := http.Get(m.URL() + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || len(v) != 1 || v["status"] != "ok" {
		t.Errorf("body = %v, %v", v, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
}
