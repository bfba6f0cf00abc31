package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/varco-access/varco/wire/atomicfile"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "site.key")
	if err := atomicfile.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(p, []byte("new"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "new" {
		t.Fatalf("content %q, %v", b, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only the file (no temporary left)", len(ents))
	}
	// A missing directory is an error naming the path; nothing is left.
	if err := atomicfile.WriteFile(filepath.Join(dir, "nope", "x"), []byte("x"), 0o600); err == nil {
		t.Error("write into a missing directory: no error")
	}
	// A failed rename (the target is a directory) leaves no temporary.
	os.Mkdir(filepath.Join(dir, "d"), 0o700)
	if err := atomicfile.WriteFile(filepath.Join(dir, "d"), []byte("x"), 0o600); err == nil {
		t.Error("rename over a directory: no error")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("after a failed write the directory holds %d entries, want 2", len(ents))
	}
}
