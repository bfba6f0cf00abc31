package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeVarco writes a shell script standing in for `varco`: it records its
// arguments in a file and answers as `varco tap --json` would, with out
// (or fails with stderr when code is not 0).
func fakeVarco(t *testing.T, dir, out string, code int) string {
	t.Helper()
	bin := filepath.Join(dir, "varco")
	script := "#!/bin/sh\necho \"$@\" >>" + filepath.Join(dir, "args") + "\n"
	if code != 0 {
		script += "echo 'varco tap: door ingresso: vpcd 127.0.0.1:35963: connection refused' >&2\nexit 1\n"
	} else {
		script += "echo '" + out + "'\n"
	}
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return bin
}

func writeManifest(t *testing.T, dir, varco string) {
	t.Helper()
	m := `{"admin": "http://127.0.0.1:8080", "varco": "` + varco + `",
	"doors": [{"name": "ingresso", "vpcd": "127.0.0.1:35963"}, {"name": "magazzino", "title": "Magazzino", "vpcd": "127.0.0.1:35964"}],
	"cards": [{"name": "anna", "file": "cards/anna.json"}, {"name": "anna-clone", "file": "cards/anna-clone.json"}]}`
	if err := os.WriteFile(filepath.Join(dir, demoManifest), []byte(m), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDemoLists(t *testing.T) {
	dir := t.TempDir()
	d := newDemo(dir)
	// Before demo.sh writes the manifest: nothing to list, a tap says why.
	if len(d.Cards()) != 0 || len(d.Doors()) != 0 {
		t.Errorf("without a manifest: cards %v doors %v", d.Cards(), d.Doors())
	}
	if _, err := d.Tap(context.Background(), "ingresso", "anna"); err == nil || !strings.Contains(err.Error(), demoManifest) {
		t.Errorf("tap without a manifest: %v", err)
	}
	writeManifest(t, dir, fakeVarco(t, dir, `{"result": "granted"}`, 0))
	if got := d.Cards(); !slices.Equal(got, []string{"anna", "anna-clone"}) {
		t.Errorf("cards %v", got)
	}
	if got := d.Doors(); !slices.Equal(got, []string{"ingresso", "Magazzino"}) {
		t.Errorf("doors %v", got)
	}
}

func TestDemoTap(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		out, want string
	}{
		{`{"door": "ingresso", "card": "anna", "result": "granted"}`, "granted"},
		{`{"door": "ingresso", "card": "anna-clone", "result": "denied", "reason": "clone_suspected"}`, "clone_suspected"},
		{`{"door": "ingresso", "card": "anna", "result": ""}`, "presented"},
		{`{"door": "ingresso", "card": "anna", "result": "presented", "detail": "read NIS 055555555555"}`, "desk"},
	} {
		dir := t.TempDir()
		writeManifest(t, dir, fakeVarco(t, dir, tt.out, 0))
		got, err := newDemo(dir).Tap(ctx, "ingresso", "anna-clone")
		if err != nil || got != tt.want {
			t.Errorf("varco tap printing %s: Tap = %q, %v; want %q", tt.out, got, err, tt.want)
		}
		args, _ := os.ReadFile(filepath.Join(dir, "args"))
		if want := "tap --demo-dir " + dir + " --door ingresso --card anna-clone --json\n"; string(args) != want {
			t.Errorf("varco ran with %q, want %q", args, want)
		}
	}

	dir := t.TempDir()
	writeManifest(t, dir, fakeVarco(t, dir, "", 1))
	d := newDemo(dir)
	if _, err := d.Tap(ctx, "ingresso", "anna"); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("failing varco tap: %v, want its message", err)
	}
	// A door or card that is not in the manifest runs nothing.
	os.Remove(filepath.Join(dir, "args"))
	for _, dc := range [][2]string{{"cantina", "anna"}, {"magazzino", "anna"}, {"ingresso", "zoe"}, {"ingresso", "--help"}} {
		if _, err := d.Tap(ctx, dc[0], dc[1]); err == nil {
			t.Errorf("Tap(%q, %q): no error", dc[0], dc[1])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "args")); err == nil {
		t.Error("varco ran for a door or card outside the demo")
	}
}
