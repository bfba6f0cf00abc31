// Package pgtest runs a throwaway PostgreSQL server for tests: initdb into
// a temp dir, pg_ctl start on a free loopback port (its unix socket in the
// temp dir too), one fresh database per test, pg_ctl stop -m fast at the
// end. It uses Debian's server binaries (apt-get install -y postgresql);
// without them tests skip, except under CI=true where they fail.
//
// PostgreSQL refuses to run as root: when the tests run as root, the server
// runs as the "postgres" user (or "nobody") through runuser, and the temp
// dir is handed to that user.
//
// The server trades durability for speed (fsync=off): a crash of the
// machine loses the test data, which is all it holds. A watchdog stops it
// and removes its files if the test binary dies without reaching Stop
// (killed by its timeout, a signal, or a closed stdout pipe).
//
// Use:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		dsn := pgtest.Start(t) // a new, empty database
//		...
//	}
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// InstallHint is the command that provides the server binaries.
const InstallHint = "apt-get install -y postgresql"

// ErrNoBinaries is returned when initdb and pg_ctl cannot be found.
var ErrNoBinaries = errors.New("pgtest: PostgreSQL server binaries (initdb, pg_ctl) not found; install them with: " + InstallHint)

// Server is a running throwaway PostgreSQL server.
type Server struct {
	dir   string // temp dir: data/, the socket, the log
	bin   string // directory holding initdb and pg_ctl
	port  int
	runAs string // user the server runs as when we are root; "" otherwise
	// watchdog stops the server if this process dies without Stop.
	watchdog *os.Process
	admin    *sql.DB
	nextDB   atomic.Int64
}

// FindBinaries returns the directory holding initdb and pg_ctl: the newest
// /usr/lib/postgresql/*/bin, else the one on PATH.
func FindBinaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if d := filepath.Dir(p); isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// StartServer initialises and starts a server. Stop it with Stop.
func StartServer() (*Server, error) {
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		s.runAs = "nobody"
		if _, err := user.Lookup("postgres"); err == nil {
			s.runAs = "postgres"
		}
	}
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if s.runAs != "" {
		u, err := user.Lookup(s.runAs)
		if err != nil {
			s.cleanup()
			return nil, fmt.Errorf("pgtest: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(s.dir, uid, gid); err != nil {
			s.cleanup()
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	data := filepath.Join(s.dir, "data")
	if out, err := s.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	// A free port can be taken between our probe and the server's bind:
	// try a few.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			s.cleanup()
			return nil, err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", s.port, s.dir)
		out, err := s.run("pg_ctl", "-D", data, "-l", filepath.Join(s.dir, "log"), "-w", "-t", "60", "-o", opts, "start")
		if err == nil {
			break
		}
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
			s.cleanup()
			return nil, fmt.Errorf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, log)
		}
	}
	s.watch()
	if s.admin, err = sql.Open("pgx", s.DSN("postgres")); err == nil {
		err = s.admin.Ping()
	}
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("pgtest: connect: %w", err)
	}
	s.admin.SetMaxOpenConns(2)
	return s, nil
}

// watch starts a watchdog, in a session of its own so a ^C to the test's
// process group does not take it along, that stops the server and removes
// its files once this process is gone: a test binary killed by its
// timeout or a signal never reaches Stop, and would leave a postmaster
// behind.
func (s *Server) watch() {
	stop := filepath.Join(s.bin, "pg_ctl") + " -D " + filepath.Join(s.dir, "data") + " -m immediate -w stop"
	if s.runAs != "" {
		stop = "runuser -u " + s.runAs + " -- " + stop
	}
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done; %s >/dev/null 2>&1; rm -rf %s", os.Getpid(), stop, s.dir)
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err == nil {
		s.watchdog = cmd.Process
		go cmd.Wait()
	}
}

// run runs one of the server binaries, as the server's user when root.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DSN is the connection string of database name on the server.
func (s *Server) DSN(name string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable", s.port, name)
}

// CreateDatabase creates a new empty database t_<n> and returns its DSN.
func (s *Server) CreateDatabase(ctx context.Context) (name, dsn string, err error) {
	name = fmt.Sprintf("t_%d", s.nextDB.Add(1))
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", "", fmt.Errorf("pgtest: %w", err)
	}
	return name, s.DSN(name), nil
}

// DropDatabase drops a database, closing its leftover connections.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	if _, err := s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// Stop stops the server (pg_ctl stop -m fast) and removes its files.
func (s *Server) Stop() error {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.watchdog != nil {
		s.watchdog.Kill()
	}
	out, err := s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "fast", "-w", "stop")
	if err != nil {
		err = fmt.Errorf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
	s.cleanup()
	return err
}

func (s *Server) cleanup() { os.RemoveAll(s.dir) }

var (
	mu       sync.Mutex
	shared   *Server
	startErr error
	mainRan  bool
)

// Main runs the tests and then stops the server Start started. Call it from
// TestMain.
func Main(m *testing.M) {
	mu.Lock()
	mainRan = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
		shared = nil
	}
	mu.Unlock()
	os.Exit(code)
}

// Start returns the DSN of a new, empty database on the package's shared
// server, starting the server on first use; the database is dropped when
// tb ends. Without the server binaries it skips tb, or fails it when the
// environment says CI=true.
func Start(tb testing.TB) string {
	tb.Helper()
	s := shared0(tb)
	ctx := context.Background()
	name, dsn, err := s.CreateDatabase(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.DropDatabase(ctx, name); err != nil {
			tb.Error(err)
		}
	})
	return dsn
}

// Shared returns the package's shared server, starting it on first use,
// skipping or failing tb like Start.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	return shared0(tb)
}

func shared0(tb testing.TB) *Server {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !mainRan {
		tb.Fatal("pgtest: call pgtest.Main(m) from TestMain, so the server is stopped at the end")
	}
	if shared == nil && startErr == nil {
		t0 := time.Now()
		shared, startErr = StartServer()
		if startErr == nil {
			tb.Logf("pgtest: PostgreSQL (%s) on 127.0.0.1:%d, started in %v", shared.bin, shared.port, time.Since(t0).Round(time.Millisecond))
		}
	}
	if startErr != nil {
		unavailable(tb, startErr)
	}
	return shared
}

// unavailable ends tb when the server could not start: a skip when the
// binaries are missing on a developer's machine, a failure under CI=true
// (CI must never silently skip the PostgreSQL tests) or on any other error.
func unavailable(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrNoBinaries) && os.Getenv("CI") != "true" {
		tb.Skip(err)
	}
	tb.Fatal(err)
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Dir is the server's temp dir (data directory, socket, log).
func (s *Server) Dir() string { return s.dir }

// Log returns the server's log so far, for diagnosing a failure.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	return strings.TrimSpace(string(b))
}
