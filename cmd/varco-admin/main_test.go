package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/varco-access/varco/reader/pcsc/pcscdtest"
)

// TestMain prepares the private pcscd of the end-to-end tests (see
// reader/pcsc/pcscdtest) before any test runs.
func TestMain(m *testing.M) { pcscdtest.Main(m) }

// mustBuild builds the binary into the test's temporary directory.
func mustBuild(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "varco-admin")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv is the test's environment without VARCO_ADMIN_ variables, plus
// extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VARCO_ADMIN_") && !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeFile(tb testing.TB, name, data string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

func TestConfigErrorsExit2(t *testing.T) {
	bin := mustBuild(t)
	unknown := writeFile(t, "unknown.toml", "listne = \"x\"\n")
	for _, tt := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"missing file", []string{"-config", "/nonexistent/varco-admin.toml"}, nil, "no such file"},
		{"unknown key", []string{"-config", unknown}, nil, unknown + ": unknown key listne"},
		{"bad env", []string{"-config", writeFile(t, "ok.toml", "")}, []string{"VARCO_ADMIN_DATABASE_DRIVER=mysql"},
			`environment VARCO_ADMIN_DATABASE_DRIVER: database.driver: "mysql": must be "sqlite" or "postgres"`},
		{"argument", []string{"serve"}, nil, `unexpected argument "serve"`},
		{"bad flag", []string{"-port", "1"}, nil, "flag provided but not defined: -port"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = cleanEnv(tt.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if got := exitCode(err); got != 2 {
				t.Errorf("exit code %d (%v), want 2", got, err)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.want)
			}
		})
	}
}

// TestServeAndStop runs the binary: it serves /healthz and the API,
// prints no password when VARCO_ADMIN_PASSWORD is given, and exits 0 on
// SIGTERM.
func TestServeAndStop(t *testing.T) {
	bin := mustBuild(t)
	addr := freeAddr(t)
	const pw = "a long enough password"
	cfg := writeFile(t, "varco-admin.toml", fmt.Sprintf("listen = %q\nmetrics_listen = \"\"\n[log]\njson = true\n", addr))
	cmd := exec.Command(bin, "-config", cfg)
	dataDir := filepath.Join(t.TempDir(), "data")
	mqttAddr := freeAddr(t)
	cmd.Env = cleanEnv("VARCO_ADMIN_DATA_DIR="+dataDir, "VARCO_ADMIN_PASSWORD="+pw, "VARCO_ADMIN_MQTT_LISTEN="+mqttAddr)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("varco-admin stderr:\n%s", stderr.String())
		}
	})

	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("exited early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("/healthz not answering after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The API is mounted: an anonymous call is refused by it, not
	// answered by the engine's 404.
	resp, err := http.Get(base + "/api/v1/people")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/people = %d %s, want 401 from the API", resp.StatusCode, body)
	}

	// The embedded broker listens where VARCO_ADMIN_MQTT_LISTEN says,
	// with TLS.
	if c, err := net.DialTimeout("tcp", mqttAddr, 5*time.Second); err != nil {
		t.Errorf("no MQTT broker on %s: %v", mqttAddr, err)
	} else {
		c.Close()
	}
	for _, f := range []string{"site.key", "mqtt/ca.crt", "mqtt/ca.key"} {
		if _, err := os.Stat(filepath.Join(dataDir, f)); err != nil {
			t.Errorf("data_dir: %v", err)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if code := exitCode(err); code != 0 {
			t.Errorf("exit code %d after SIGTERM, want 0", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit 20s after SIGTERM")
	}
	out := stderr.String()
	if strings.Contains(out, pw) || strings.Contains(out, "first start: created user") {
		t.Errorf("stderr shows the password or a generated one:\n%s", out)
	}
	if !strings.Contains(out, `"msg":"varco-admin serving"`) {
		t.Errorf("no JSON start line in:\n%s", out)
	}
	if !strings.Contains(out, `"msg":"MQTT broker listening","url":"ssl://`+mqttAddr+`"`) {
		t.Errorf("no broker line for %s in:\n%s", mqttAddr, out)
	}
}

// syncBuffer collects the child's stderr while the test reads it.
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
