//go:build linux

package pcscdtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/varco-access/varco/reader/vpcd"
)

// AptHint is the command that installs what the tests need on Debian.
const AptHint = "apt-get install -y pcscd vsmartcard-vpcd"

// Shared-mode constants: the system pcscd that `make test` starts.
const (
	sharedPort = 35963
	lockPath   = "/tmp/varco-pcscd.lock"
	lockWait   = 5 * time.Minute
)

// readerNames are the names pcscd gives the two slots of the one vpcd
// entry in its configuration: FRIENDLYNAME, reader index, slot.
var readerNames = []string{"Virtual PCD 00 00", "Virtual PCD 00 01"}

// driverPaths are where distributions install the vpcd driver.
var driverPaths = []string{
	"/usr/lib/pcsc/drivers/serial/libifdvpcd.so",
	"/usr/lib64/pcsc/drivers/serial/libifdvpcd.so",
	"/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so",
}

// startTimeout bounds how long a private pcscd may take to be ready.
const startTimeout = 15 * time.Second

type mode int

const (
	modeMissing mode = iota // pcscd or vpcd not installed
	modePrivate             // own pcscd in a mount namespace
	modeShared              // the system pcscd under a file lock
)

// env is what the process decided once, at the first Main or Start.
type env struct {
	mode   mode
	reason string // why modeMissing
	pcscd  string // pcscd binary
	driver string // libifdvpcd.so
	base   string // private mode: process-wide directory
	runDir string // private mode: bind-mounted on /run/pcscd
}

var (
	setupOnce sync.Once
	procEnv   *env

	// daemonMu is held by the live Daemon of this process: the socket
	// path is fixed per process, so there can only be one.
	daemonMu sync.Mutex
)

func setup() *env {
	setupOnce.Do(func() { procEnv = detect() })
	return procEnv
}

func detect() *env {
	e := &env{}
	pcscd, err := exec.LookPath("pcscd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/pcscd", "/sbin/pcscd", "/usr/local/sbin/pcscd"} {
			if fileExists(p) {
				pcscd, err = p, nil
				break
			}
		}
	}
	if err != nil {
		e.reason = "pcscd is not installed"
		return e
	}
	e.pcscd = pcscd
	if os.Getenv("VARCO_PCSCD") == "system" || os.Geteuid() != 0 || !unshareWorks() {
		e.mode = modeShared
		return e
	}
	for _, p := range driverPaths {
		if fileExists(p) {
			e.driver = p
			break
		}
	}
	if e.driver == "" {
		e.reason = "the vpcd driver (libifdvpcd.so) is not installed"
		return e
	}
	base, err := os.MkdirTemp(shortTempDir(), "varco-pcscd-")
	if err == nil {
		err = os.Mkdir(filepath.Join(base, "run"), 0o755)
	}
	if err != nil {
		e.reason = fmt.Sprintf("cannot create a run directory: %v", err)
		return e
	}
	e.mode, e.base, e.runDir = modePrivate, base, filepath.Join(base, "run")
	// Before any PC/SC call of the process: libpcsclite caches it.
	os.Setenv("PCSCLITE_CSOCK_NAME", filepath.Join(e.runDir, "pcscd.comm"))
	return e
}

// shortTempDir keeps the socket path under the 108-byte sun_path limit.
func shortTempDir() string {
	if d := os.TempDir(); len(d) < 60 {
		return d
	}
	return "/tmp"
}

func unshareWorks() bool {
	return exec.Command("unshare", "--mount", "--propagation", "private", "true").Run() == nil
}

// Main prepares the process for Start (in private mode it sets
// PCSCLITE_CSOCK_NAME, which must happen before the first PC/SC call),
// runs the tests and removes the process-wide directory. Call it from
// TestMain:
//
//	func TestMain(m *testing.M) { pcscdtest.Main(m) }
func Main(m *testing.M) {
	e := setup()
	code := m.Run()
	if e.base != "" {
		os.RemoveAll(e.base)
	}
	os.Exit(code)
}

// Daemon is one pcscd with a vpcd entry of two virtual readers, started by
// Start and stopped when the test that started it ends.
type Daemon struct {
	tb      testing.TB
	env     *env
	private bool
	ports   [2]int
	confDir string
	logPath string
	lock    *os.File // shared mode: holds the flock

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// Start starts a pcscd for tb (or, in shared mode, takes the system one),
// waits until its vpcd ports listen and registers its shutdown with
// tb.Cleanup. On failure of the test it logs the tail of pcscd's output.
// It blocks while another Daemon of the process is alive. It skips tb when
// pcscd or vpcd is unavailable (fails it under CI=true).
func Start(tb testing.TB) *Daemon {
	tb.Helper()
	e := setup()
	switch e.mode {
	case modeMissing:
		unavailable(tb, e.reason)
	case modeShared:
		return startShared(tb, e)
	}
	return startPrivate(tb, e)
}

// lockProcess waits until no other Daemon of this process is alive.
func lockProcess(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(lockWait)
	for !daemonMu.TryLock() {
		if time.Now().After(deadline) {
			tb.Fatal("pcscdtest: another Daemon of this process is still alive (Start called twice in one test?)")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func unavailable(tb testing.TB, reason string) {
	tb.Helper()
	msg := fmt.Sprintf("pcscdtest: %s; install it with: %s", reason, AptHint)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

func startPrivate(tb testing.TB, e *env) *Daemon {
	tb.Helper()
	// TempDir first: its removal must run after cleanup dumped the log.
	dir := tb.TempDir()
	lockProcess(tb)
	d := &Daemon{
		tb:      tb,
		env:     e,
		private: true,
		confDir: filepath.Join(dir, "conf"),
		logPath: filepath.Join(dir, "pcscd.log"),
	}
	tb.Cleanup(d.cleanup)
	if err := os.Mkdir(d.confDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	var err error
	for range 20 {
		d.ports = pickPorts()
		if err = d.writeConf(); err != nil {
			tb.Fatal(err)
		}
		if err = d.launch(); !errors.Is(err, errPortTaken) {
			break
		}
	}
	if err != nil {
		tb.Fatalf("pcscdtest: start pcscd: %v", err)
	}
	return d
}

func startShared(tb testing.TB, e *env) *Daemon {
	tb.Helper()
	lockProcess(tb)
	d := &Daemon{tb: tb, env: e, ports: [2]int{sharedPort, sharedPort + 1}}
	tb.Cleanup(d.cleanup)
	sock := os.Getenv("PCSCLITE_CSOCK_NAME")
	if sock == "" {
		sock = "/run/pcscd/pcscd.comm"
	}
	if !fileExists(sock) {
		unavailable(tb, "no pcscd is running (no "+sock+"; start one with vpcd on port 35963, or run as root for a private one)")
	}
	for _, p := range d.ports {
		if ln, err := listeners(p); err != nil || len(ln) == 0 {
			unavailable(tb, fmt.Sprintf("nothing listens on vpcd port %d", p))
		}
	}
	// Read-only is enough for flock and works on a lock file another user
	// created.
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDONLY, 0o666)
	if err != nil {
		tb.Fatalf("pcscdtest: %v", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			tb.Fatalf("pcscdtest: lock %s: %v", lockPath, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.lock = f
	// The previous user's cards may still look present: pcscd notices a
	// vpcd card leaving only at its next presence poll.
	if name, err := waitEmpty(d.ReaderNames(), 10*time.Second); err != nil {
		unavailable(tb, fmt.Sprintf("the shared pcscd is not usable: %v", err))
	} else if name != "" {
		unavailable(tb, fmt.Sprintf("a card stays in %q of the shared pcscd (another program is using it)", name))
	}
	return d
}

// waitEmpty waits until pcscd reports no card in any of readers and
// returns "", or the name of a reader still holding a card after timeout.
func waitEmpty(readers []string, timeout time.Duration) (string, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return "", err
	}
	defer c.Release()
	listed, err := c.ListReaders()
	if err != nil {
		return "", err
	}
	rs := make([]scard.ReaderState, len(readers))
	for i, r := range readers {
		if !slices.Contains(listed, r) {
			return "", fmt.Errorf("no reader %q (readers: %q)", r, listed)
		}
		rs[i] = scard.ReaderState{Reader: r, CurrentState: scard.StateUnaware}
	}
	deadline := time.Now().Add(timeout)
	for {
		err := c.GetStatusChange(rs, 500*time.Millisecond)
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			return "", err
		}
		busy := ""
		for i := range rs {
			rs[i].CurrentState = rs[i].EventState &^ scard.StateChanged
			if rs[i].EventState&scard.StatePresent != 0 {
				busy = rs[i].Reader
			}
		}
		if busy == "" || time.Now().After(deadline) {
			return busy, nil
		}
	}
}

// VPCDAddrs returns the addresses (host:port) a virtual card dials to be
// in the first and the second reader of ReaderNames.
func (d *Daemon) VPCDAddrs() []string {
	return []string{
		net.JoinHostPort("127.0.0.1", strconv.Itoa(d.ports[0])),
		net.JoinHostPort("127.0.0.1", strconv.Itoa(d.ports[1])),
	}
}

// ReaderNames returns the PC/SC names of the two readers, in the order of
// VPCDAddrs.
func (d *Daemon) ReaderNames() []string { return append([]string(nil), readerNames...) }

// Private reports whether d is a private pcscd (Kill and Restart work)
// rather than the shared system one.
func (d *Daemon) Private() bool { return d.private }

// LogPath returns the file that collects pcscd's output (empty in shared
// mode).
func (d *Daemon) LogPath() string { return d.logPath }

// Kill sends SIGKILL to pcscd and waits for it to exit, as a crash would.
// Cards connected to vpcd see their connection closed. Call it from the
// goroutine of the test that called Start.
func (d *Daemon) Kill() {
	d.tb.Helper()
	d.requirePrivate("Kill")
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		d.tb.Fatal("pcscdtest: Kill: pcscd is not running")
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	d.waitExit(10 * time.Second)
}

// Restart starts pcscd again with the same socket path and vpcd ports,
// after stopping it if it is still running, and waits until it is ready.
// Cards must dial vpcd again.
func (d *Daemon) Restart() {
	d.tb.Helper()
	d.requirePrivate("Restart")
	d.mu.Lock()
	if d.cmd != nil {
		d.stopLocked()
	}
	d.mu.Unlock()
	// The ports were ours a moment ago; give the kernel a few tries to
	// release them before calling it a failure.
	var err error
	for range 25 {
		if err = d.launch(); !errors.Is(err, errPortTaken) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		d.tb.Fatalf("pcscdtest: restart pcscd: %v", err)
	}
}

// Stop stops pcscd with SIGTERM (SIGKILL after 5 s) and waits for it. It is
// idempotent; Restart starts it again. In shared mode it does nothing.
func (d *Daemon) Stop() {
	if !d.private {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked()
}

func (d *Daemon) stopLocked() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(5 * time.Second):
		d.tb.Logf("pcscdtest: pcscd ignored SIGTERM for 5s, sending SIGKILL")
		d.cmd.Process.Signal(syscall.SIGKILL)
	}
	d.waitExit(10 * time.Second)
}

// waitExit waits for the exit of a signalled pcscd; d.mu is held.
func (d *Daemon) waitExit(timeout time.Duration) {
	select {
	case <-d.exited:
	case <-time.After(timeout):
		d.tb.Errorf("pcscdtest: pcscd (pid %d) did not exit", d.cmd.Process.Pid)
	}
	d.cmd, d.exited = nil, nil
}

func (d *Daemon) requirePrivate(op string) {
	d.tb.Helper()
	if d.private {
		return
	}
	msg := "pcscdtest: " + op + " needs a private pcscd (root and unshare); the shared system pcscd cannot be killed by tests"
	if os.Getenv("CI") == "true" {
		d.tb.Fatal(msg)
	}
	d.tb.Skip(msg)
}

func (d *Daemon) cleanup() {
	if d.private {
		d.Stop()
		if d.tb.Failed() {
			d.dumpLog()
		}
	}
	if d.lock != nil {
		syscall.Flock(int(d.lock.Fd()), syscall.LOCK_UN)
		d.lock.Close()
	}
	daemonMu.Unlock()
}

// dumpLog logs the tail of pcscd's output.
func (d *Daemon) dumpLog() {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		d.tb.Logf("pcscdtest: no pcscd log: %v", err)
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	const tail = 80
	if len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	d.tb.Logf("pcscdtest: last %d lines of %s:\n%s", len(lines), d.logPath, strings.Join(lines, "\n"))
}

func (d *Daemon) writeConf() error {
	ch := d.ports[0]
	conf := fmt.Sprintf("FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:0x%04X\nLIBPATH      %s\nCHANNELID    0x%04X\n",
		ch, d.env.driver, ch)
	return os.WriteFile(filepath.Join(d.confDir, "vpcd"), []byte(conf), 0o644)
}

// errPortTaken is returned by launch when a vpcd port was not free.
var errPortTaken = errors.New("vpcd port already in use")

// launch starts pcscd in its own mount namespace and waits until its socket
// exists and it listens on both vpcd ports.
func (d *Daemon) launch() error {
	run := d.env.runDir
	// pcscd refuses to start over the files of a killed instance.
	for _, f := range []string{"pcscd.comm", "pcscd.pid"} {
		if err := os.Remove(filepath.Join(run, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== pcscdtest %s: starting pcscd, vpcd ports %d and %d, socket %s/pcscd.comm\n",
		time.Now().Format(time.RFC3339Nano), d.ports[0], d.ports[1], run)
	logStart, _ := logf.Seek(0, 1)

	const script = `mkdir -p /run/pcscd && mount --bind "$1" /run/pcscd && exec "$2" --foreground --debug -c "$3"`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private",
		"sh", "-c", script, "sh", run, d.env.pcscd, d.confDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	// If the test binary dies, pcscd must not outlive it holding ports.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	d.mu.Lock()
	d.cmd, d.exited = cmd, exited
	d.mu.Unlock()

	fail := func(err error) error {
		d.mu.Lock()
		defer d.mu.Unlock()
		cmd.Process.Signal(syscall.SIGKILL)
		d.waitExit(10 * time.Second)
		return err
	}
	sock := filepath.Join(run, "pcscd.comm")
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			return fail(fmt.Errorf("pcscd exited during start: %v (log: %s)", cmd.ProcessState, d.logPath))
		default:
		}
		// unshare and sh exec, so cmd's pid is pcscd's.
		ours, err := d.listening(cmd.Process.Pid)
		if err != nil {
			return fail(err)
		}
		if ours && fileExists(sock) {
			return nil
		}
		if out := d.logSince(logStart); bytes.Contains(out, []byte("daemon ready")) && !ours {
			// vpcd logs "Address already in use" and drops the
			// reader, and pcscd carries on without it.
			return fail(errPortTaken)
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("pcscd not ready after %v (log: %s)", startTimeout, d.logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *Daemon) logSince(off int64) []byte {
	b, err := os.ReadFile(d.logPath)
	if err != nil || int64(len(b)) < off {
		return nil
	}
	return b[off:]
}

// listening reports whether process pid holds the listening sockets of
// both vpcd ports. It reads /proc rather than connecting, because vpcd
// takes any connection for a card.
func (d *Daemon) listening(pid int) (bool, error) {
	owned, err := socketInodes(pid)
	if err != nil {
		return false, nil // the process is starting or gone: try again
	}
	for _, p := range d.ports {
		inodes, err := listeners(p)
		if err != nil {
			return false, err
		}
		found := false
		for _, ino := range inodes {
			found = found || owned[ino]
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

// socketInodes returns the inodes of the sockets process pid has open.
func socketInodes(pid int) (map[string]bool, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool)
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(l, "socket:["); ok {
			out[strings.TrimSuffix(ino, "]")] = true
		}
	}
	return out, nil
}

// listeners returns the inodes of the TCP sockets listening on port, from
// /proc/net/tcp and /proc/net/tcp6.
func listeners(port int) ([]string, error) {
	var out []string
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st ... uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: TCP_LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
				out = append(out, fields[9])
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pickPorts returns an even port and the next one, both free right now,
// below the kernel's ephemeral range so outgoing connections do not take
// them, and away from the system vpcd (35963).
func pickPorts() [2]int {
	for {
		p := 20000 + 2*rand.IntN(6000)
		if portFree(p) && portFree(p+1) {
			return [2]int{p, p + 1}
		}
	}
}

func portFree(p int) bool {
	if l, err := listeners(p); err != nil || len(l) > 0 {
		return false
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// InsertCard puts card in the field of the vpcd reader listening at addr
// and serves it in the background until the card is removed: close the
// returned Conn to take it out, otherwise it is removed when tb ends. A
// Serve error (for example a card whose Transmit fails on purpose) is only
// logged.
func InsertCard(tb testing.TB, addr string, card vpcd.Card) *vpcd.Conn {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	conn, err := vpcd.Dial(dctx, addr, card)
	if err != nil {
		cancel()
		tb.Fatalf("pcscdtest: insert card: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := conn.Serve(ctx); err != nil {
			tb.Logf("pcscdtest: card at %s: %v", addr, err)
		}
	}()
	tb.Cleanup(func() {
		cancel()
		conn.Close()
		<-done
	})
	return conn
}

// WaitEmpty waits until pcscd reports no card in any of d's readers, so the
// next card inserted is a new presentation; it fails tb if a card is still
// there after timeout. pcscd notices a vpcd card leaving only at its next
// presence poll (about 400 ms).
func (d *Daemon) WaitEmpty(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	name, err := waitEmpty(d.ReaderNames(), timeout)
	if err != nil {
		tb.Fatalf("pcscdtest: %v", err)
	}
	if name != "" {
		tb.Fatalf("pcscdtest: a card is still in %q after %v", name, timeout)
	}
}

// Connect waits (at most 10 s) until pcscd reports a card in readerName and
// connects to it exclusively, as a door does. It returns the card and its
// ATR; wrap it with pcsc.NewCard. The connection is closed (card reset) when
// tb ends.
func Connect(tb testing.TB, readerName string) (*scard.Card, []byte) {
	tb.Helper()
	ctx, err := scard.EstablishContext()
	if err != nil {
		tb.Fatalf("pcscdtest: establish: %v", err)
	}
	tb.Cleanup(func() { ctx.Release() })
	rs := []scard.ReaderState{{Reader: readerName, CurrentState: scard.StateUnaware}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ctx.GetStatusChange(rs, 500*time.Millisecond)
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			tb.Fatalf("pcscdtest: status of %q: %v", readerName, err)
		}
		if err == nil && rs[0].EventState&scard.StatePresent != 0 {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("pcscdtest: no card in %q after 10 s", readerName)
		}
		rs[0].CurrentState = rs[0].EventState &^ scard.StateChanged
	}
	card, err := ctx.Connect(readerName, scard.ShareExclusive, scard.ProtocolAny)
	if err != nil {
		tb.Fatalf("pcscdtest: connect %q: %v", readerName, err)
	}
	tb.Cleanup(func() { card.Disconnect(scard.ResetCard) })
	st, err := card.Status()
	if err != nil {
		tb.Fatalf("pcscdtest: status %q: %v", readerName, err)
	}
	return card, st.Atr
}
