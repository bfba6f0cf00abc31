package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
)

// importConfig writes a controller config for the import tests; the
// reader is never opened by -import.
func importConfig(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "varco-door.toml")
	cfg := fmt.Sprintf(`controller_id = "imp"
state_dir = %q
metrics_addr = ""
gpio = "fake"

[site]
id = "imp"
time_zone = "Europe/Rome"
site_public_key = "1jDY1rIclNybMgSb7JM4o11SrtRAZwqRFQOItzpk+C8="

[clock]
rtc = true
ntp_check = false

[[doors]]
id = "front"
reader = "virtual"
relay_pin = "IMP_RELAY"
`, dir)
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeSnapshot writes an allowlist file of n grants with NIS first..
// first+n-1, all holding key, open Monday 08:00-18:00 (or at any time
// with flags varco.FlagAlways).
func writeSnapshot(t testing.TB, path string, rev uint64, first, n int, key []byte, flags varco.Flags) {
	t.Helper()
	snap := store.Snapshot{Door: "front", Rev: rev, Grants: make([]varco.Grant, n),
		Schedules: []varco.Schedule{{ID: "office", Days: [7][]varco.Window{1: {{Start: 480, End: 1080}}}}}}
	for i := range snap.Grants {
		snap.Grants[i] = varco.Grant{NIS: fmt.Sprintf("%012d", first+i), PersonID: fmt.Sprint(first + i),
			DisplayName: "Nome Cognome", PublicKey: key, ScheduleIDs: []string{"office"}, Flags: flags}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := json.NewEncoder(w).Encode(snap); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitApplying reads the import's log until it starts applying, and then
// keeps draining it.
func waitApplying(t *testing.T, cmd *exec.Cmd, sc *bufio.Scanner) {
	t.Helper()
	for sc.Scan() {
		if strings.Contains(sc.Text(), "applying allowlist") {
			go func() {
				for sc.Scan() {
				}
			}()
			return
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatal("the import never started applying")
}

func runImport(t testing.TB, bin, cfg, file string) (string, error) {
	t.Helper()
	out, err := exec.Command(bin, "-config", cfg, "-import", file).CombinedOutput()
	return string(out), err
}

// storeState opens the store after a run, checks its invariants and
// returns the revision and grant count of door "front".
func storeState(t *testing.T, dir string) (rev uint64, n int, s *store.Store) {
	t.Helper()
	s, err := store.Open(filepath.Join(dir, "varco-door.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		s.Close()
		t.Fatalf("store inconsistent: %v", err)
	}
	if rev, _, err = s.Revision("front"); err != nil {
		t.Fatal(err)
	}
	if n, err = s.GrantCount("front"); err != nil {
		t.Fatal(err)
	}
	return rev, n, s
}

func TestImportRejectsBadFiles(t *testing.T) {
	bin := buildDaemon(t)
	dir := t.TempDir()
	cfg := importConfig(t, dir)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ name, body, want string }{
		{"syntax", `{"door":"front",`, "unexpected EOF"},
		{"unknown field", `{"door":"front","rev":1,"grantz":[]}`, `unknown field`},
		{"other door", `{"door":"back","rev":1,"grants":[]}`, `is not configured in this controller`},
		{"rev zero", `{"door":"front","rev":0,"grants":[]}`, "rev must be at least 1"},
		{"bad nis", `{"door":"front","rev":1,"grants":[{"nis":"12AB","person_id":"x","public_key":""}]}`, "12AB"},
		{"trailing", `{"door":"front","rev":1,"grants":[]} {}`, "data after the snapshot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runImport(t, bin, cfg, write(strings.ReplaceAll(tc.name, " ", "-")+".json", tc.body))
			if err == nil || !strings.Contains(out, tc.want) {
				t.Fatalf("import: err %v, want failure mentioning %q; output:\n%s", err, tc.want, out)
			}
		})
	}
	if out, err := runImport(t, bin, cfg, filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(out, "no such file") {
		t.Fatalf("missing file: %v\n%s", err, out)
	}
	// The rejected grant file left a sync event saying so; nothing else
	// changed.
	rev, n, s := storeState(t, dir)
	defer s.Close()
	if rev != 0 || n != 0 {
		t.Fatalf("after rejected imports: rev %d, %d grants; want 0, 0", rev, n)
	}
	evs, err := s.Pending("front", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Kind != varco.EventSync || !strings.Contains(evs[0].Detail, "rejected") {
		t.Fatalf("outbox after a rejected import: %+v", evs)
	}
}

// TestImportKill9 kills the real binary with SIGKILL at several points
// while it applies a large allowlist: every time, the store must pass its
// invariant check and hold either the old revision with its grants or the
// new one with all of its grants, never a mix.
func TestImportKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: writes a 200,000-grant file")
	}
	bin := buildDaemon(t)
	dir := t.TempDir()
	cfg := importConfig(t, dir)
	card, err := virtcie.New(virtcie.Options{NIS: "100000000001", PKI: testpki.Committed(t), Gen: reader.Gen2022})
	if err != nil {
		t.Fatal(err)
	}
	key := card.KeyFileTLV()
	const oldFirst, oldN, newFirst, newN = 1, 1000, 500_000_000_000, 200_000
	small, big := filepath.Join(dir, "rev1.json"), filepath.Join(dir, "rev2.json")
	writeSnapshot(t, small, 1, oldFirst, oldN, key, 0)
	writeSnapshot(t, big, 2, newFirst, newN, key, 0)
	if out, err := runImport(t, bin, cfg, small); err != nil {
		t.Fatalf("import rev 1: %v\n%s", err, out)
	}

	// Time one whole apply (from the "applying" log line to exit) into
	// another state directory, then kill at fractions of that time:
	// early, late, and around the commit.
	cmd := exec.Command(bin, "-config", importConfig(t, t.TempDir()), "-import", big)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitApplying(t, cmd, bufio.NewScanner(stderr))
	start := time.Now()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("timing import: %v", err)
	}
	whole := time.Since(start)
	t.Logf("applying %d grants takes %v", newN, whole.Round(time.Millisecond))
	var delays []time.Duration
	for _, f := range []float64{0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 1.0, 1.1} {
		delays = append(delays, time.Duration(f*float64(whole)))
	}

	midApply := 0
	for i, delay := range delays {
		cmd = exec.Command(bin, "-config", cfg, "-import", big)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		waitApplying(t, cmd, sc)
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		werr := cmd.Wait()
		killed := werr != nil && strings.Contains(werr.Error(), "killed")

		rev, n, s := storeState(t, dir)
		_, hasOld, err1 := s.Grant("front", fmt.Sprintf("%012d", oldFirst))
		_, hasNew, err2 := s.Grant("front", fmt.Sprintf("%012d", newFirst+newN-1))
		s.Close()
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		switch {
		case rev == 1 && n == oldN && hasOld && !hasNew:
			if !killed {
				t.Fatalf("kill %d: the process exited on its own (%v) but rev 2 was not applied", i, werr)
			}
			midApply++
			t.Logf("kill %d after %v: old allowlist intact (rev 1, %d grants)", i, delay, n)
		case rev == 2 && n == newN && hasNew && !hasOld:
			t.Logf("kill %d after %v: new allowlist complete (rev 2, %d grants; killed=%v)", i, delay, n, killed)
			// Once applied, later runs only refresh it: nothing left to
			// interrupt.
			i = 99
		default:
			t.Fatalf("kill %d after %v: mixed state rev %d with %d grants (old present %v, new present %v)", i, delay, rev, n, hasOld, hasNew)
		}
		if i == 99 {
			break
		}
	}
	if midApply == 0 {
		t.Fatal("no kill landed during the apply: the test proved nothing (the apply finished too fast)")
	}
	t.Logf("%d kills landed during the apply", midApply)

	// Finish it: the full import applies and logs a sync event after the
	// first one.
	if out, err := runImport(t, bin, cfg, big); err != nil {
		t.Fatalf("final import: %v\n%s", err, out)
	}
	rev, n, s := storeState(t, dir)
	defer s.Close()
	if rev != 2 || n != newN {
		t.Fatalf("after a full import: rev %d, %d grants", rev, n)
	}
	evs, err := s.Pending("front", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) < 2 || evs[0].Kind != varco.EventSync || evs[len(evs)-1].Kind != varco.EventSync ||
		!strings.Contains(evs[len(evs)-1].Detail, "rev 2") {
		t.Fatalf("outbox: %+v", evs)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq != evs[i-1].Seq+1 {
			t.Fatalf("outbox seq gap: %d then %d", evs[i-1].Seq, evs[i].Seq)
		}
	}
}
