package sdnotify

import (
	"context"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// listen binds a unixgram socket in a temp dir and points NOTIFY_SOCKET at
// it, as systemd does for a Type=notify service.
func listen(tb testing.TB) *net.UnixConn {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	tb.Setenv("NOTIFY_SOCKET", path)
	return conn
}

// next reads one datagram or fails after a timeout.
func next(tb testing.TB, conn *net.UnixConn) string {
	tb.Helper()
	buf := make([]byte, 4096)
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		tb.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil {
		tb.Fatalf("reading NOTIFY_SOCKET: %v", err)
	}
	return string(buf[:n])
}

// none asserts no datagram arrives for a short while.
func none(tb testing.TB, conn *net.UnixConn) {
	tb.Helper()
	buf := make([]byte, 4096)
	if err := conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		tb.Fatal(err)
	}
	if n, err := conn.Read(buf); err == nil {
		tb.Fatalf("unexpected datagram %q", buf[:n])
	}
}

func TestReadyStoppingStatus(t *testing.T) {
	conn := listen(t)
	for _, tt := range []struct {
		name string
		fn   func() error
		want string
	}{
		{"ready", Ready, "READY=1"},
		{"status", func() error { return Status("2 doors") }, "STATUS=2 doors"},
		{"stopping", Stopping, "STOPPING=1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.fn(); err != nil {
				t.Fatal(err)
			}
			if got := next(t, conn); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWatchdog(t *testing.T) {
	conn := listen(t)
	t.Setenv("WATCHDOG_USEC", "30000000") // WatchdogSec=30s
	t.Setenv("WATCHDOG_PID", "")

	ticks := make(chan time.Time)
	var period atomic.Int64
	var stopped atomic.Bool
	healthy := atomic.Bool{}
	healthy.Store(true)
	w := &Watchdogger{
		NewTicker: func(d time.Duration) (<-chan time.Time, func()) {
			period.Store(int64(d))
			return ticks, func() { stopped.Store(true) }
		},
		Healthy: healthy.Load,
		OnError: func(err error) { t.Errorf("OnError(%v)", err) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	if got := next(t, conn); got != "WATCHDOG=1" {
		t.Fatalf("first datagram %q, want WATCHDOG=1", got)
	}
	if got := time.Duration(period.Load()); got != 15*time.Second {
		t.Errorf("ticker period %v, want half of 30s", got)
	}
	for range 3 {
		ticks <- time.Now()
		if got := next(t, conn); got != "WATCHDOG=1" {
			t.Fatalf("datagram %q, want WATCHDOG=1", got)
		}
	}
	healthy.Store(false)
	ticks <- time.Now()
	none(t, conn)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !stopped.Load() {
		t.Error("ticker not stopped")
	}
}

func TestWatchdogOtherPID(t *testing.T) {
	listen(t)
	t.Setenv("WATCHDOG_USEC", "30000000")
	t.Setenv("WATCHDOG_PID", "1") // the watchdog is for another process
	if err := Watchdog(context.Background()); err != nil {
		t.Errorf("Watchdog = %v, want nil at once", err)
	}
}

func TestWatchdogBadEnv(t *testing.T) {
	listen(t)
	t.Setenv("WATCHDOG_USEC", "soon")
	t.Setenv("WATCHDOG_PID", "")
	if err := Watchdog(context.Background()); err == nil {
		t.Error("Watchdog accepted WATCHDOG_USEC=soon")
	}
}

// TestNoSocket: outside systemd every call is a silent no-op.
func TestNoSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "30000000") // even with a watchdog asked for
	t.Setenv("WATCHDOG_PID", "")
	if err := Ready(); err != nil {
		t.Errorf("Ready = %v", err)
	}
	if err := Stopping(); err != nil {
		t.Errorf("Stopping = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Watchdog(ctx); err != nil || ctx.Err() != nil {
		t.Errorf("Watchdog = %v (ctx %v), want nil at once", err, ctx.Err())
	}
}
