package pgtest

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestWatchdog: a test binary killed before Stop does not leave its server
// running. The child is this test binary, re-run to start a server and
// block; it is then killed.
func TestWatchdog(t *testing.T) {
	if os.Getenv("PGTEST_WATCHDOG_CHILD") != "" {
		s, err := StartServer()
		if err != nil {
			os.Exit(3)
		}
		os.WriteFile(os.Getenv("PGTEST_WATCHDOG_CHILD"), []byte(s.DSN("postgres")+"\n"+s.Dir()), 0o644)
		select {}
	}
	if _, err := FindBinaries(); err != nil {
		unavailable(t, err)
	}
	out := filepath.Join(t.TempDir(), "dsn")
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchdog$")
	cmd.Env = append(os.Environ(), "PGTEST_WATCHDOG_CHILD="+out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var info []byte
	for deadline := time.Now().Add(60 * time.Second); len(info) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child did not start a server")
		}
		info, _ = os.ReadFile(out)
	}
	var dsn, dir string
	for i, b := range info {
		if b == '\n' {
			dsn, dir = string(info[:i]), string(info[i+1:])
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, err := os.Stat(dir)
		db, _ := sql.Open("pgx", dsn+" connect_timeout=1")
		perr := db.Ping()
		db.Close()
		if os.IsNotExist(err) && perr != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("20s after the test binary died: dir %s exists %v, server answers %v", dir, err == nil, perr == nil)
		}
	}
}
