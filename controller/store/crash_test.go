package store_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/controller/store/storetest"
)

// crashEnv makes the test binary act as the crash child: open the store
// named by the variable and apply ever newer snapshots until killed.
const crashEnv = "VARCO_STORE_CRASH_CHILD"

const crashGrants = 50_000

// crashSnapshot is revision rev of the child's allowlist: grants
// rev..rev+crashGrants-1, all named after rev, so a mix of two revisions
// shows in the first and last NIS.
func crashSnapshot(rev uint64) store.Snapshot {
	return store.Snapshot{Door: door, Rev: rev, Grants: store.FixtureGrants(int(rev), crashGrants, fmt.Sprint(rev))}
}

func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

func crashChild(path string) {
	s, err := store.Open(path, nil) // fsync on: as in production
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	rev, _, _ := s.Revision(door)
	for {
		rev++
		snap := crashSnapshot(rev)
		fmt.Println("apply", rev)
		if err := s.ApplySnapshot(snap, time.Now()); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
	}
}

// TestCrashDuringSnapshot SIGKILLs a process in the middle of applying
// snapshots of 50,000 grants; the file must then hold one revision
// completely.
func TestCrashDuringSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	path := filepath.Join(t.TempDir(), "varco.db")
	s, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustSnapshot(t, s, crashSnapshot(1))
	s.Close()

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		var last string
		// Wait for the child to start its second apply, so at least one
		// full snapshot has committed in this process, then kill it at a
		// random point of the next.
		for applies := 0; applies < 2 && sc.Scan(); {
			last = sc.Text()
			if strings.HasPrefix(last, "error") {
				t.Fatalf("child: %s", last)
			}
			applies++
		}
		time.Sleep(time.Duration(rand.IntN(600)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for sc.Scan() {
			last = sc.Text()
		}
		cmd.Wait()

		s, err := store.Open(path, nil)
		if err != nil {
			t.Fatalf("round %d: open after kill: %v", round, err)
		}
		if err := s.Check(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		rev, _, _ := s.Revision(door)
		n, _ := s.GrantCount(door)
		first, ok1, _ := s.Grant(door, store.FixtureNIS(int(rev)))
		lastG, ok2, _ := s.Grant(door, store.FixtureNIS(int(rev)+crashGrants-1))
		_, before, _ := s.Grant(door, store.FixtureNIS(int(rev)-1))
		_, after, _ := s.Grant(door, store.FixtureNIS(int(rev)+crashGrants))
		name := fmt.Sprint(rev)
		if n != crashGrants || !ok1 || !ok2 || first.DisplayName != name || lastG.DisplayName != name || before || after {
			t.Errorf("round %d: rev %d is not whole: count %d, first %v %q, last %v %q, neighbours %v %v",
				round, rev, n, ok1, first.DisplayName, ok2, lastG.DisplayName, before, after)
		}
		t.Logf("round %d: child was at %q, store at rev %d", round, last, rev)
		storetest.MustCheck(t, s)
	}
}
