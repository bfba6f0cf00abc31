// Package storetest opens throw-away stores for tests and checks the
// store's invariants (store.Check) when each test ends, like bbolt's
// internal btesting.
package storetest

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/varco-access/varco/controller/store"
)

// Open opens a store in a fresh temporary directory with NoSync. When the
// test ends it runs store.Check, failing the test on any violation, and
// closes the store (closing it earlier is fine).
func Open(tb testing.TB) *store.Store {
	tb.Helper()
	return OpenWith(tb, &store.Options{NoSync: true})
}

// OpenWith is Open with explicit options.
func OpenWith(tb testing.TB, opts *store.Options) *store.Store {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "varco.db")
	s, err := store.Open(path, opts)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	tb.Cleanup(func() { MustCheck(tb, s) })
	return s
}

// MustCheck runs store.Check and closes s, failing tb on a violation. If s
// was already closed it reopens the file to check it.
func MustCheck(tb testing.TB, s *store.Store) {
	tb.Helper()
	err := s.Check()
	if errors.Is(err, store.ErrCorrupt) {
		tb.Errorf("storetest: invariants broken in %s:\n%v", s.Path(), err)
	}
	if err != nil && !errors.Is(err, store.ErrCorrupt) {
		// Check on a closed store reports bbolt's "database not open";
		// reopen and check again.
		re, oerr := store.Open(s.Path(), &store.Options{NoSync: true})
		if oerr != nil {
			tb.Errorf("storetest: check: %v; reopen: %v", err, oerr)
			return
		}
		defer re.Close()
		if err := re.Check(); err != nil {
			tb.Errorf("storetest: invariants broken in %s:\n%v", s.Path(), err)
		}
		return
	}
	if err := s.Close(); err != nil {
		tb.Errorf("storetest: %v", err)
	}
}
