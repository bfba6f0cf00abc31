package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco/reader/pcsc/pcscdtest"
	"github.com/varco-access/varco/reader/virtcie"
)

func TestMain(m *testing.M) { pcscdtest.Main(m) }

// TestCIERead runs 'varco card serve' and 'varco cie read' against a real
// pcscd, as an installer would at a shell: every generation and negative
// card gives the right verdict, exit code and named check.
func TestCIERead(t *testing.T) {
	d := pcscdtest.Start(t)
	addr, name := d.VPCDAddrs()[0], d.ReaderNames()[0]
	dir := t.TempDir()
	trusted := filepath.Join(pkiDir, "trusted")

	newCard := func(t *testing.T, file string, args ...string) *virtcie.Card {
		t.Helper()
		args = append([]string{"card", "new", "--pki", pkiDir, "-out", file}, args...)
		if code, _, errs := runCLI(t, context.Background(), args...); code != exitOK {
			t.Fatalf("card new: %s", errs)
		}
		c, err := virtcie.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	anna := filepath.Join(dir, "anna.json")
	newCard(t, anna, "--nis", "012345678901", "--gen", "2022")

	tests := []struct {
		name    string
		file    string
		newArgs []string // card new flags; nil: use file as is
		quirks  string   // card serve --quirks
		full    bool
		code    int
		check   string // failed_check expected
		errText string // in the JSON error, when no check is named
	}{
		{name: "2022 full", file: anna, full: true, code: exitOK},
		{name: "2016 full with quirks", file: "bruno.json", newArgs: []string{"--nis", "098765432109", "--gen", "2016"}, quirks: "ias-6a82,getresponse,padded-key", full: true, code: exitOK},
		{name: "2022 without SOD", file: anna, code: exitOK},
		{name: "clone", file: "clone.json", newArgs: []string{"--negative", "clone", "--clone-of", anna}, full: true, code: exitFail, check: "challenge signature invalid"},
		{name: "NIS changed", file: "nis.json", newArgs: []string{"--nis", "111111111111", "--negative", "nis-changed"}, full: true, code: exitFail, check: "NIS hash mismatch"},
		{name: "untrusted DS", file: "rogue.json", newArgs: []string{"--nis", "222222222222", "--negative", "untrusted-ds"}, full: true, code: exitFail, check: "unknown CSCA"},
		{name: "expired DS", file: "expired.json", newArgs: []string{"--nis", "333333333333", "--negative", "expired-ds", "--gen", "2016"}, full: true, code: exitFail, check: "expired DS"},
		{name: "no INTERNAL AUTHENTICATE", file: "noauth.json", newArgs: []string{"--nis", "444444444444", "--negative", "no-intauth"}, code: exitFail, errText: "6982"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if tt.newArgs != nil {
				file = filepath.Join(dir, tt.file)
				newCard(t, file, tt.newArgs...)
			}
			card, err := virtcie.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan int, 1)
			serveArgs := []string{"card", "serve", "--card", file, "--vpcd", addr}
			if tt.quirks != "" {
				serveArgs = append(serveArgs, "--quirks", tt.quirks)
			}
			go func() {
				code, _, _ := runCLI(t, ctx, serveArgs...)
				served <- code
			}()
			defer func() {
				cancel()
				if code := <-served; code != exitOK {
					t.Errorf("card serve exited %d", code)
				}
				d.WaitEmpty(t, 10*time.Second)
			}()

			args := []string{"cie", "read", "--reader", name, "--json", "--timeout", "30s", "--at", "2026-06-01"}
			if tt.full {
				args = append(args, "--full", "--csca", trusted)
			}
			code, out, errs := runCLI(t, context.Background(), args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			var rep readReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("stdout is not a JSON report: %v\n%s", err, out)
			}
			if rep.Reader != name {
				t.Errorf("reader %q, want %q", rep.Reader, name)
			}
			if rep.FailedCheck != tt.check || !strings.Contains(rep.Error, tt.errText) {
				t.Errorf("failed_check %q error %q, want %q / %q", rep.FailedCheck, rep.Error, tt.check, tt.errText)
			}
			if tt.code == exitOK {
				sum := sha256.Sum256(card.KeyFileTLV())
				if !rep.OK || rep.NIS != card.NIS() || rep.KeySHA256 != hex.EncodeToString(sum[:]) || !rep.SignatureOK {
					t.Errorf("report %+v does not match card NIS %s", rep, card.NIS())
				}
				if tt.full && (rep.SOD == nil || !rep.SOD.Valid || rep.SOD.Generation != card.Generation().String()) {
					t.Errorf("SOD report %+v", rep.SOD)
				}
				if !tt.full && rep.SOD != nil {
					t.Errorf("SOD checked without --full")
				}
			} else if tt.check != "" && !strings.Contains(errs, tt.check) {
				t.Errorf("stderr %q does not name the check %q", errs, tt.check)
			}
		})
	}
}

// TestCIEReadTimeout: with no card presented, the read gives up after
// --timeout and says which readers it saw.
func TestCIEReadTimeout(t *testing.T) {
	d := pcscdtest.Start(t)
	code, _, errs := runCLI(t, context.Background(), "cie", "read", "--reader", d.ReaderNames()[1], "--timeout", "1500ms")
	if code != exitFail || !strings.Contains(errs, "no card read within 1.5s") || !strings.Contains(errs, d.ReaderNames()[1]) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
