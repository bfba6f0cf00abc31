package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/varco-access/varco/controller/store"
)

// A first start on a fresh board creates the state directory, private to
// the daemon.
func TestOpenCreatesStateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "lib", "varco-door")
	s, err := store.Open(filepath.Join(dir, "varco-door.db"), &store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir %v, want a 0700 directory", fi.Mode())
	}
	// A path under a regular file cannot be created: a clear error.
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := store.Open(filepath.Join(f, "varco-door.db"), nil); err == nil {
		t.Fatal("store under a regular file: no error")
	}
}
