package pgtest

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
)

// fakeTB records whether a test was skipped or failed.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper()          {}
func (f *fakeTB) Skip(args ...any) { f.skipped = true; runtime.Goexit() }
func (f *fakeTB) Fatal(args ...any) {
	f.failed = true
	runtime.Goexit()
}

func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ci         string
		err        error
		skip, fail bool
	}{
		{"no binaries", "", ErrNoBinaries, true, false},
		{"no binaries in CI", "true", ErrNoBinaries, false, true},
		{"no binaries CI=false", "false", ErrNoBinaries, true, false},
		{"start failed", "", fmt.Errorf("pgtest: pg_ctl start: %w", errors.New("boom")), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			f := &fakeTB{TB: t}
			done := make(chan struct{})
			go func() { defer close(done); unavailable(f, tc.err) }()
			<-done
			if f.skipped != tc.skip || f.failed != tc.fail {
				t.Errorf("skipped %v failed %v, want %v %v", f.skipped, f.failed, tc.skip, tc.fail)
			}
		})
	}
}
