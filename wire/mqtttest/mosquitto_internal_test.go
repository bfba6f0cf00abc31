package mqtttest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/varco-access/varco/wire/sitepki"
)

// fakeTB records what StartMosquitto does with its testing.TB. Fatalf
// and Skipf stop the caller, as the real ones do, by panicking.
type fakeTB struct {
	testing.TB
	failed bool
	logs   []string
}

type stopped string

func (f *fakeTB) Fatalf(format string, args ...any) {
	panic(stopped("fatal: " + fmt.Sprintf(format, args...)))
}
func (f *fakeTB) Skipf(format string, args ...any) {
	panic(stopped("skip: " + fmt.Sprintf(format, args...)))
}
func (f *fakeTB) Failed() bool { return f.failed }
func (f *fakeTB) Logf(format string, args ...any) {
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

func run(tb testing.TB, f func()) (outcome string) {
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(stopped)
			if !ok {
				panic(r)
			}
			outcome = string(s)
		}
	}()
	f()
	return "ran"
}

// TestMissingMosquitto: without the binary a test skips, but under
// CI=true it fails: CI must never pass by skipping the real broker.
func TestMissingMosquitto(t *testing.T) {
	old := debianMosquitto
	t.Cleanup(func() { debianMosquitto = old })
	debianMosquitto = "/nonexistent/mosquitto"
	t.Setenv("PATH", t.TempDir())

	t.Setenv("CI", "")
	got := run(t, func() { StartMosquitto(&fakeTB{TB: t}, "S") })
	if !strings.HasPrefix(got, "skip: ") || !strings.Contains(got, MosquittoInstallHint) {
		t.Errorf("without CI: %q, want a skip naming %q", got, MosquittoInstallHint)
	}
	t.Setenv("CI", "true")
	got = run(t, func() { StartMosquitto(&fakeTB{TB: t}, "S") })
	if !strings.HasPrefix(got, "fatal: ") || !strings.Contains(got, MosquittoInstallHint) {
		t.Errorf("with CI=true: %q, want a failure naming %q", got, MosquittoInstallHint)
	}
}

// TestMosquittoLogOnFailure: a failed test shows the end of mosquitto's
// log, and the broker is stopped.
func TestMosquittoLogOnFailure(t *testing.T) {
	if _, err := FindMosquitto(); err != nil {
		StartMosquitto(t, "S") // skips, or fails under CI=true
	}
	fake := &fakeTB{TB: t}
	var m *Mosquitto
	// Cleanups run last-in first-out: this one runs after StartMosquitto's.
	t.Cleanup(func() {
		joined := strings.Join(fake.logs, "\n")
		if !strings.Contains(joined, "mosquitto version") || !strings.Contains(joined, "mosquitto.log") {
			t.Errorf("no log shown for a failed test: %q", joined)
		}
		select {
		case <-m.done:
		default:
			t.Error("mosquitto still running after cleanup")
		}
	})
	if got := run(t, func() { m = StartMosquitto(fake, "S") }); got != "ran" {
		t.Fatal(got)
	}
	// A handshake with an identity's certificate works.
	c := Connect(t, ClientOptions(m, sitepki.AdminIdentity))
	c.Disconnect(100)
	fake.failed = true
}
