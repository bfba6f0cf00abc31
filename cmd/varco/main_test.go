package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/reader/virtcie"
)

// runCLI runs the command line args in-process and returns its exit code,
// stdout and stderr.
func runCLI(tb testing.TB, ctx context.Context, args ...string) (int, string, string) {
	tb.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

const pkiDir = "../../testdata/pki"

func TestUsage(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"no arguments", nil, exitUsage, "varco card new", ""},
		{"help", []string{"-h"}, exitOK, "varco cie verify-sod", ""},
		{"unknown command", []string{"door", "open"}, exitUsage, "", `unknown command "door open"`},
		{"group without command", []string{"card"}, exitUsage, "", `unknown command "card"`},
		{"card new -h", []string{"card", "new", "-h"}, exitOK, "", "-negative"},
		{"card serve -h", []string{"card", "serve", "-h"}, exitOK, "", "-vpcd"},
		{"card pki -h", []string{"card", "pki", "-h"}, exitOK, "", "-out"},
		{"cie read -h", []string{"cie", "read", "-h"}, exitOK, "", "-full"},
		{"cie verify-sod -h", []string{"cie", "verify-sod", "-h"}, exitOK, "", "-pubkey"},
		{"unknown flag", []string{"card", "new", "--colour", "red"}, exitUsage, "", "flag provided but not defined: -colour"},
		{"card new without -out", []string{"card", "new", "--nis", "123456789012"}, exitUsage, "", "-out FILE is required"},
		{"bad NIS", []string{"card", "new", "--nis", "12345", "-out", "x.json"}, exitUsage, "", `--nis "12345": reader: NIS is not 12 ASCII digits`},
		{"bad generation", []string{"card", "new", "--nis", "123456789012", "--gen", "2019", "-out", "x.json"}, exitUsage, "", `--gen "2019": want 2016 or 2022`},
		{"bad quirk", []string{"card", "new", "--nis", "123456789012", "--quirks", "ias-6a82,fast", "-out", "x.json"}, exitUsage, "", `fast`},
		{"bad negative", []string{"card", "new", "--nis", "123456789012", "--negative", "evil", "-out", "x.json"}, exitUsage, "", `evil`},
		{"clone-of without clone", []string{"card", "new", "--clone-of", "a.json", "-out", "x.json"}, exitUsage, "", "--clone-of needs --negative clone"},
		{"read --full without --csca", []string{"cie", "read", "--full"}, exitUsage, "", "--full needs --csca"},
		{"verify-sod without file", []string{"cie", "verify-sod", "--csca", "x"}, exitUsage, "", "one EF.SOD file"},
		{"verify-sod bad date", []string{"cie", "verify-sod", "--csca", "x", "--at", "tomorrow", "f"}, exitUsage, "", `--at "tomorrow"`},
		{"serve missing card file", []string{"card", "serve", "--card", "/nonexistent/card.json"}, exitFail, "", "/nonexistent/card.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, ctx, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			if !strings.Contains(out, tt.inStdout) {
				t.Errorf("stdout %q does not contain %q", out, tt.inStdout)
			}
			if !strings.Contains(errs, tt.inStderr) {
				t.Errorf("stderr %q does not contain %q", errs, tt.inStderr)
			}
		})
	}
}

func TestVerifySODReal(t *testing.T) {
	ctx := context.Background()
	const sod = "../../testdata/cie-real/ef-sod-2022.bin"
	const csca = "../../testdata/cie-real/csca"

	code, out, errs := runCLI(t, ctx, "cie", "verify-sod", "--csca", csca, "--at", "2026-01-01", "--json", sod)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep sodReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if !rep.Valid || rep.Generation != "2022" || rep.DSSerial != "4EE4231D2FCC5A3C" || !strings.Contains(rep.CSCASubject, "Italian Country Signer CA") {
		t.Errorf("report = %+v", rep)
	}

	code, out, _ = runCLI(t, ctx, "cie", "verify-sod", "--csca", csca, "--at", "2026-01-01", sod)
	if code != exitOK || !strings.Contains(out, "valid, generation 2022") {
		t.Errorf("text output (exit %d):\n%s", code, out)
	}

	failures := []struct {
		name  string
		args  []string
		check string
	}{
		{"test CSCA only", []string{"--csca", pkiDir + "/trusted"}, "unknown CSCA"},
		{"after the DS expired", []string{"--csca", csca, "--at", "2034-06-01"}, "expired DS"},
		{"NIS not covered", []string{"--csca", csca, "--nis", "123456789012"}, "NIS hash mismatch"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			args := append(append([]string{"cie", "verify-sod", "--json"}, f.args...), sod)
			code, out, errs := runCLI(t, ctx, args...)
			if code != exitFail {
				t.Fatalf("exit %d, want %d", code, exitFail)
			}
			var rep sodReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Valid || rep.FailedCheck != f.check || !strings.Contains(errs, f.check) {
				t.Errorf("failed_check %q (stderr %q), want %q", rep.FailedCheck, errs, f.check)
			}
		})
	}
}

func TestCardPKIAndNew(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	if code, _, errs := runCLI(t, ctx, "card", "pki", "-out", pki); code != exitOK {
		t.Fatalf("card pki: %s", errs)
	}
	card := filepath.Join(dir, "card.json")
	code, out, errs := runCLI(t, ctx, "card", "new", "--nis", "000000000042", "--gen", "2016", "--pki", pki, "--quirks", "padded-key", "--json", "-out", card)
	if code != exitOK {
		t.Fatalf("card new: %s", errs)
	}
	var id map[string]string
	if err := json.Unmarshal([]byte(out), &id); err != nil {
		t.Fatalf("card new --json: %v\n%s", err, out)
	}
	if id["nis"] != "000000000042" || id["generation"] != "2016" || id["negative"] != "genuine" || id["quirks"] != "padded-key" || len(id["key_sha256"]) != 64 {
		t.Errorf("card new --json = %v", id)
	}
	fi, err := os.Stat(card)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("card file mode %v: it holds a private key, want 0600", fi.Mode().Perm())
	}
	// The SOD of the new card verifies against the new PKI's trusted set only.
	var cf struct {
		SOD []byte `json:"sod"`
	}
	b, _ := os.ReadFile(card)
	if err := json.Unmarshal(b, &cf); err != nil || len(cf.SOD) == 0 {
		t.Fatalf("card file has no sod field: %v", err)
	}
	sod := filepath.Join(dir, "sod.bin")
	os.WriteFile(sod, cf.SOD, 0o644)
	if code, _, errs := runCLI(t, ctx, "cie", "verify-sod", "--csca", filepath.Join(pki, "trusted"), "--nis", "000000000042", sod); code != exitOK {
		t.Errorf("new card's SOD against its PKI: %s", errs)
	}
	if code, _, _ := runCLI(t, ctx, "cie", "verify-sod", "--csca", pkiDir+"/trusted", sod); code != exitFail {
		t.Errorf("new card's SOD verified against another PKI")
	}
}

func TestCardAllowlist(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var cards []string
	for _, nis := range []string{"000000000101", "000000000102"} {
		p := filepath.Join(dir, "p"+nis[9:]+".json")
		if code, _, errs := runCLI(t, ctx, "card", "new", "--nis", nis, "--pki", pkiDir, "-out", p); code != exitOK {
			t.Fatalf("card new: %s", errs)
		}
		cards = append(cards, p)
	}
	out := filepath.Join(dir, "allow.json")
	code, stdout, errs := runCLI(t, ctx, append([]string{"card", "allowlist", "--door", "d1", "--rev", "7", "-out", out}, cards...)...)
	if code != exitOK {
		t.Fatalf("card allowlist: %s", errs)
	}
	if !strings.Contains(stdout, "door d1, rev 7, 2 grants") {
		t.Errorf("stdout %q", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var snap store.Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Door != "d1" || snap.Rev != 7 || len(snap.Grants) != 2 {
		t.Fatalf("snapshot %+v", snap)
	}
	for i, g := range snap.Grants {
		c, err := virtcie.Load(cards[i])
		if err != nil {
			t.Fatal(err)
		}
		if g.NIS != c.NIS() || !bytes.Equal(g.PublicKey, c.KeyFileTLV()) || g.Flags != varco.FlagAlways || g.PersonID != "p"+c.NIS()[9:] {
			t.Errorf("grant %d = %+v, card NIS %s", i, g, c.NIS())
		}
	}
	for _, args := range [][]string{
		{"card", "allowlist", "--door", "d1", "-out", out},                         // no cards
		{"card", "allowlist", "-out", out, cards[0]},                               // no door
		{"card", "allowlist", "--door", "d1", "--rev", "0", "-out", out, cards[0]}, // rev 0
	} {
		if code, _, _ := runCLI(t, ctx, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, errs := runCLI(t, ctx, "card", "allowlist", "--door", "d1", "-out", out, filepath.Join(dir, "nope.json")); code != exitFail || !strings.Contains(errs, "nope.json") {
		t.Errorf("missing card file: exit %d, %s", code, errs)
	}
}
