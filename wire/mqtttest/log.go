package mqtttest

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// tailLines is how much of a broker's log a failed test shows.
const tailLines = 60

// logBuffer collects a broker's log in memory, to show its end when a
// test fails (never through tb.Log while the broker runs: its goroutines
// may log after the test has ended).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) dumpOnFailure(tb testing.TB, what string) {
	if tb.Failed() {
		tb.Logf("last lines of the %s log:\n%s", what, tail(l.String(), tailLines))
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
