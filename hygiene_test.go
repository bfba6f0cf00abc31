package varco_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/varco-access/varco"

// goPackages returns the directories of the module holding Go files, each
// with the parsed non-test files' package docs and imports.
func goPackages(t *testing.T) map[string]struct {
	doc     bool
	imports []string
} {
	t.Helper()
	out := map[string]struct {
		doc     bool
		imports []string
	}{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		p := out[dir]
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			p.doc = true
		}
		for _, im := range f.Imports {
			s, _ := strconv.Unquote(im.Path.Value)
			p.imports = append(p.imports, s)
		}
		out[dir] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPackageDocs: every package says what it is for (STYLE.md habit 8).
func TestPackageDocs(t *testing.T) {
	for dir, p := range goPackages(t) {
		if !p.doc {
			t.Errorf("package %s has no package doc comment", dir)
		}
	}
}

// TestRooms: the door controller and the admin server never import each
// other; what they share lives at the module root (ARCHITECTURE.md section 3).
func TestRooms(t *testing.T) {
	rooms := map[string]string{"controller": "admin", "admin": "controller"}
	for dir, p := range goPackages(t) {
		top := strings.Split(filepath.ToSlash(dir), "/")[0]
		other, ok := rooms[top]
		if !ok {
			continue
		}
		for _, im := range p.imports {
			if im == module+"/"+other || strings.HasPrefix(im, module+"/"+other+"/") {
				t.Errorf("%s imports %s: %s and %s must not import each other", dir, im, top, other)
			}
		}
	}
}

// TestTopLevel: the top level holds only the rooms of ARCHITECTURE.md
// section 3 (plus docs and the shared root package).
func TestTopLevel(t *testing.T) {
	allowed := map[string]bool{
		"reader": true, "controller": true, "admin": true, "firmware-config": true,
		"systemd": true, "testdata": true, "cmd": true, "docs": true, "bin": true,
		"wire": true,
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && !allowed[e.Name()] {
			t.Errorf("unexpected top-level directory %q (see ARCHITECTURE.md section 3)", e.Name())
		}
	}
}
