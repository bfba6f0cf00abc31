package clocktrust

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestRTCTrustedAtOnce(t *testing.T) {
	tr := New(Options{RTC: true, Synced: func() (bool, error) { return false, nil }})
	if !tr.Trusted() {
		t.Error("RTC board not trusted at start")
	}
}

func TestTrustWhenSynced(t *testing.T) {
	var answers = []struct {
		ok  bool
		err error
	}{{false, nil}, {false, errors.New("adjtimex: EPERM")}, {true, nil}}
	var calls, trusts atomic.Int32
	ticks := make(chan time.Time)
	tr := New(Options{
		Synced: func() (bool, error) {
			a := answers[calls.Add(1)-1]
			return a.ok, a.err
		},
		After:   func(time.Duration) <-chan time.Time { return ticks },
		OnTrust: func() { trusts.Add(1) },
	})
	if tr.Trusted() {
		t.Fatal("trusted before any check")
	}
	done := make(chan struct{})
	go func() { tr.Run(context.Background()); close(done) }()
	ticks <- time.Time{} // after the first (unsynced) check
	ticks <- time.Time{} // after the error
	<-done
	if !tr.Trusted() || calls.Load() != 3 || trusts.Load() != 1 {
		t.Errorf("trusted %v after %d checks, %d OnTrust calls", tr.Trusted(), calls.Load(), trusts.Load())
	}
	// Trust is not withdrawn.
	if !tr.Check() || calls.Load() != 3 {
		t.Error("Check asked again after trust was given")
	}
}

func TestRunStopsWithContext(t *testing.T) {
	tr := New(Options{Synced: func() (bool, error) { return false, nil }, After: func(time.Duration) <-chan time.Time { return nil }})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tr.Run(ctx) // returns, or the test times out
	if tr.Trusted() {
		t.Error("trusted without sync")
	}
}

// TestKernelSynced calls the real adjtimex: it must answer without error
// (the result depends on the machine).
func TestKernelSynced(t *testing.T) {
	if _, err := KernelSynced(); err != nil {
		t.Fatalf("adjtimex: %v", err)
	}
}
