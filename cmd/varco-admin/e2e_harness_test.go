package main

// The processes of the end-to-end tests (e2e_test.go): the real
// varco-admin, varco-door and varco binaries built from this module, a
// private pcscd with two vpcd readers, and a small JSON client of the
// admin's API. Nothing here fakes a component: the fakes are the virtual
// cards (on vpcd) and the GPIO (varco-door's gpio = "fake", driven over
// its /debug/gpio endpoint).

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/varco-access/varco/reader/pcsc/pcscdtest"
	"github.com/varco-access/varco/reader/virtcie"
	"github.com/varco-access/varco/wire/mqtttest"
)

// hangGuard bounds every wait of the end-to-end tests: it only turns a
// hung test into a failure, the assertions are on what happens.
const hangGuard = 30 * time.Second

// eventually polls cond every few milliseconds until it holds or limit
// passes, and fails the test then.
func eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out (%v) waiting until %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// binaries are the three commands, built once per top-level test into its
// temporary directory.
type binaries struct{ admin, door, varco string }

func buildAll(t testing.TB) binaries {
	t.Helper()
	dir := t.TempDir()
	b := binaries{filepath.Join(dir, "varco-admin"), filepath.Join(dir, "varco-door"), filepath.Join(dir, "varco")}
	for bin, pkg := range map[string]string{b.admin: ".", b.door: "../varco-door", b.varco: "../varco"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return b
}

// proc is one child process. Its standard output and error go to a log
// file that restarts append to; the end of it is shown when the test
// fails.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // once done is closed
}

func startProc(t testing.TB, name, logPath string, env []string, bin string, args ...string) *proc {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "==== %s started %s\n", name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = env
	// The child dies with the test binary, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.running() {
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and fails the test unless the process exits 0 within
// the hang guard.
func (p *proc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			p.t.Fatalf("%s exited after SIGTERM: %v", p.name, p.err)
		}
	case <-time.After(hangGuard):
		p.cmd.Process.Kill()
		p.t.Fatalf("%s did not stop within %v of SIGTERM", p.name, hangGuard)
	}
}

// showLogOnFailure logs the last lines of a log file when t fails.
func showLogOnFailure(t testing.TB, what, path string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		b, _ := os.ReadFile(path)
		var lines []string
		for l := range strings.Lines(string(b)) {
			// The admin's request log would hide the rest.
			if !strings.Contains(l, `msg="http request"`) {
				lines = append(lines, strings.TrimSuffix(l, "\n"))
			}
		}
		if len(lines) > 80 {
			lines = lines[len(lines)-80:]
		}
		t.Logf("last lines of the %s log %s:\n%s", what, path, strings.Join(lines, "\n"))
	})
}

// adminServer is the varco-admin process and an API client for it.
type adminServer struct {
	t       testing.TB
	bin     string
	cfgPath string
	dataDir string
	base    string // http://127.0.0.1:port
	env     []string
	logPath string
	proc    *proc
	token   string // bearer token, once made
	client  *http.Client
}

// start runs varco-admin and waits until /healthz answers.
func (a *adminServer) start() {
	a.t.Helper()
	a.proc = startProc(a.t, "varco-admin", a.logPath, a.env, a.bin, "-config", a.cfgPath)
	eventually(a.t, hangGuard, "varco-admin answers /healthz", func() bool {
		if !a.proc.running() {
			a.t.Fatalf("varco-admin exited: %v", a.proc.err)
		}
		resp, err := http.Get(a.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (a *adminServer) stop() { a.t.Helper(); a.proc.stop() }

// call sends one API request with the bearer token and decodes a JSON
// answer into out (if not nil); it returns the status and the body.
func (a *adminServer) call(method, path string, body, out any) (int, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+"/api/v1"+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if a.client != nil {
		// A session is a browser's: it says where the page came from.
		req.Header.Set("Origin", a.base)
	}
	c := a.client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, b
}

// must is call that fails the test unless the status is want.
func (a *adminServer) must(method, path string, body any, want int, out any) {
	a.t.Helper()
	if code, b := a.call(method, path, body, out); code != want {
		a.t.Fatalf("%s %s = %d %s, want %d", method, path, code, b, want)
	}
}

// loginAndToken logs in as the first admin with a session (cookie and
// CSRF token, as the panel does), creates an API token through that
// session and uses the token from then on (as a script does).
func (a *adminServer) loginAndToken(password string) {
	a.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		a.t.Fatal(err)
	}
	a.client = &http.Client{Jar: jar}
	var me struct {
		Username  string `json:"username"`
		CSRFToken string `json:"csrf_token"`
	}
	a.must("POST", "/auth/login", map[string]string{"username": "admin", "password": password}, http.StatusOK, &me)
	if me.CSRFToken == "" {
		a.t.Fatal("login: no CSRF token")
	}
	// A write with the session but without the CSRF token is refused.
	if code, b := a.call("POST", "/tokens", map[string]string{"name": "e2e", "role": "admin"}, nil); code != http.StatusForbidden {
		a.t.Fatalf("POST /tokens without X-CSRF-Token = %d %s, want 403", code, b)
	}
	b, _ := json.Marshal(map[string]string{"name": "e2e", "role": "admin"})
	req, _ := http.NewRequest("POST", a.base+"/api/v1/tokens", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", me.CSRFToken)
	req.Header.Set("Origin", a.base)
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusCreated || tok.Token == "" {
		a.t.Fatalf("POST /tokens = %d (%v)", resp.StatusCode, err)
	}
	a.token, a.client = tok.Token, nil
}

// apiDoor is what the tests read of a door from the API.
type apiDoor struct {
	ID           int64  `json:"id"`
	ControllerID string `json:"controller_id"`
	Revision     int64  `json:"revision"`
}

func (a *adminServer) doorRevision(id int64) int64 {
	a.t.Helper()
	var d apiDoor
	a.must("GET", fmt.Sprintf("/doors/%d", id), nil, http.StatusOK, &d)
	return d.Revision
}

// apiEvent is one entry of the entry log.
type apiEvent struct {
	DoorID int64  `json:"door_id"`
	Epoch  string `json:"epoch"`
	Seq    uint64 `json:"seq"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	NIS    string `json:"nis"`
	Detail string `json:"detail"`
}

// events returns every event of the door through the paginated API
// (newest first, as the API gives them), with query added to each page's
// query string.
func (a *adminServer) events(doorID int64, query string) []apiEvent {
	a.t.Helper()
	var all []apiEvent
	cursor := ""
	for {
		q := fmt.Sprintf("/events?door_id=%d&limit=1000%s", doorID, query)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Events []apiEvent `json:"events"`
			Next   string     `json:"next"`
		}
		a.must("GET", q, nil, http.StatusOK, &page)
		all = append(all, page.Events...)
		if page.Next == "" || len(page.Events) == 0 {
			return all
		}
		cursor = page.Next
	}
}

// doorStatus is GET /doors/:id/status: what the door last reported.
func (a *adminServer) doorStatus(id int64) (online bool, rev uint64) {
	a.t.Helper()
	var st struct {
		Sync *struct {
			Online bool   `json:"online"`
			Rev    uint64 `json:"rev"`
		} `json:"sync"`
	}
	a.must("GET", fmt.Sprintf("/doors/%d/status", id), nil, http.StatusOK, &st)
	if st.Sync == nil {
		return false, 0
	}
	return st.Sync.Online, st.Sync.Rev
}

// doorProc is one varco-door process serving one door, with fake GPIO and
// a vpcd reader of the test's pcscd.
type doorProc struct {
	t       testing.TB
	id      string // the door's id: its controller id at the admin
	bin     string
	dir     string // state_dir
	cfgPath string
	base    string // http://127.0.0.1:port of /metrics and /debug/gpio
	vpcd    string // where virtual cards are inserted for this door's reader
	logPath string
	proc    *proc
	apiID   int64 // the door's id in the admin's API
}

func (d *doorProc) relayPin() string   { return d.id + "_RELAY" }
func (d *doorProc) contactPin() string { return d.id + "_CONTACT" }

// start runs varco-door and waits until its HTTP endpoint answers.
func (d *doorProc) start() {
	d.t.Helper()
	d.proc = startProc(d.t, "varco-door "+d.id, d.logPath, os.Environ(), d.bin, "-config", d.cfgPath)
	eventually(d.t, hangGuard, "varco-door "+d.id+" serves /metrics", func() bool {
		if !d.proc.running() {
			d.t.Fatalf("varco-door %s exited: %v", d.id, d.proc.err)
		}
		resp, err := http.Get(d.base + "/metrics")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// The fake contact pin starts high (the input's pull-up), which is
	// "open" for the active-low contact: close the door.
	d.setPin(d.contactPin(), "low")
}

func (d *doorProc) stop() { d.t.Helper(); d.proc.stop() }

func (d *doorProc) get(path string) string {
	d.t.Helper()
	resp, err := http.Get(d.base + path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metrics returns the sample lines of /metrics whose series (name and
// labels) starts with prefix, by series.
func (d *doorProc) metrics(prefix string) map[string]float64 {
	d.t.Helper()
	out := map[string]float64{}
	for l := range strings.Lines(d.get("/metrics")) {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, prefix) {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			d.t.Fatalf("metric line %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

// metric is the value of one series, 0 when absent.
func (d *doorProc) metric(series string) float64 {
	d.t.Helper()
	return d.metrics(series + " ")[series]
}

// Series of the door's metrics.
func (d *doorProc) revisionSeries() string {
	return fmt.Sprintf(`varco_door_allowlist_revision{door=%q}`, d.id)
}
func (d *doorProc) decisionSeries(reason string) string {
	return fmt.Sprintf(`varco_door_decisions_total{door=%q,reason=%q}`, d.id, reason)
}
func (d *doorProc) eventSeries(kind string) string {
	return fmt.Sprintf(`varco_door_events_total{door=%q,kind=%q}`, d.id, kind)
}
func (d *doorProc) inSeries(kind string) string {
	return fmt.Sprintf(`varco_door_mqtt_messages_total{direction="in",door=%q,kind=%q}`, d.id, kind)
}
func (d *doorProc) rejectedSeries(reason string) string {
	return fmt.Sprintf(`varco_door_mqtt_rejected_total{door=%q,reason=%q}`, d.id, reason)
}

func (d *doorProc) revision() int64 { return int64(d.metric(d.revisionSeries())) }

func (d *doorProc) connected() bool {
	return d.metric(fmt.Sprintf(`varco_door_mqtt_connected{door=%q}`, d.id)) == 1
}

// drained reports an empty outbox with nothing in flight.
func (d *doorProc) drained() bool {
	return d.metric(fmt.Sprintf(`varco_door_outbox_events{door=%q}`, d.id)) == 0 &&
		d.metric(fmt.Sprintf(`varco_door_outbox_in_flight_events{door=%q}`, d.id)) == 0
}

// decisions is the door's count of access decisions of every reason.
func (d *doorProc) decisions() map[string]float64 {
	return d.metrics(fmt.Sprintf(`varco_door_decisions_total{door=%q,`, d.id))
}

func (d *doorProc) pin(name string) string {
	d.t.Helper()
	var levels map[string]string
	if err := json.Unmarshal([]byte(d.get("/debug/gpio")), &levels); err != nil {
		d.t.Fatalf("/debug/gpio: %v", err)
	}
	l, ok := levels[name]
	if !ok {
		d.t.Fatalf("no pin %s in %v", name, levels)
	}
	return l
}

func (d *doorProc) setPin(name, level string) {
	d.t.Helper()
	resp, err := http.PostForm(d.base+"/debug/gpio", url.Values{"pin": {name}, "level": {level}})
	if err != nil {
		d.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		d.t.Fatalf("set %s %s: %s", name, level, resp.Status)
	}
}

// tap presents card at the door's reader and waits for the door's
// decision, which must have reason ("granted" or a deny reason); a grant
// must also release the relay. pcscd now and then misses a vpcd card
// inserted right after the previous one left (its reader loop sits in
// GetStatusChange; nothing of Varco is involved): with no decision 5 s
// after the insertion the card is taken away and inserted once more.
func (d *doorProc) tap(pd *pcscdtest.Daemon, card *virtcie.Card, reason string) {
	d.t.Helper()
	if reason != "granted" {
		// A deny must leave the relay locked: first let an earlier
		// grant's pulse end.
		eventually(d.t, hangGuard, "the relay of "+d.id+" locks", func() bool { return d.pin(d.relayPin()) == "low" })
	}
	before := d.decisions()
	total := func(m map[string]float64) (n float64) {
		for _, v := range m {
			n += v
		}
		return n
	}
	for try := 1; ; try++ {
		conn := pcscdtest.InsertCard(d.t, d.vpcd, card)
		deadline := time.Now().Add(5 * time.Second)
		var after map[string]float64
		for time.Now().Before(deadline) {
			if after = d.decisions(); total(after) > total(before) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if total(after) > total(before) {
			series := d.decisionSeries(reason)
			if after[series] != before[series]+1 || total(after) != total(before)+1 {
				d.t.Fatalf("door %s, card %s: decisions %v → %v, want one more %s", d.id, card.NIS(), before, after, reason)
			}
			if reason == "granted" {
				eventually(d.t, 2*time.Second, "the relay of "+d.id+" releases", func() bool { return d.pin(d.relayPin()) == "high" })
			} else if got := d.pin(d.relayPin()); got != "low" {
				d.t.Fatalf("door %s: relay %s after a deny", d.id, got)
			}
			conn.Close()
			pd.WaitEmpty(d.t, 10*time.Second)
			return
		}
		conn.Close()
		pd.WaitEmpty(d.t, 10*time.Second)
		if try == 2 {
			d.t.Fatalf("door %s: no decision for card %s after two insertions", d.id, card.NIS())
		}
		d.t.Logf("door %s: no decision 5 s after card %s was inserted: inserting it again", d.id, card.NIS())
	}
}

// freePort is a free TCP port on loopback.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// restartMosquitto stops the broker m, runs down while it is stopped, and
// starts Debian's mosquitto again from m's own configuration file (same
// port, certificates and ACL, no persistence: sessions start empty),
// stopped when the test ends. It returns once the new broker completes a
// TLS handshake.
func restartMosquitto(t testing.TB, m *mqtttest.Mosquitto, down func()) {
	t.Helper()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	down()
	bin, err := mqtttest.FindMosquitto()
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(m.Dir, "mosquitto.conf")
	logPath := filepath.Join(m.Dir, "mosquitto-restarted.out")
	p := startProc(t, "mosquitto", logPath, os.Environ(), bin, "-c", conf)
	t.Cleanup(func() {
		if p.running() {
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				p.cmd.Process.Kill()
			}
		}
	})
	showLogOnFailure(t, "restarted mosquitto", filepath.Join(m.Dir, "mosquitto.log"))
	u, err := url.Parse(m.URL())
	if err != nil {
		t.Fatal(err)
	}
	probe := m.ClientTLS("admin")
	eventually(t, hangGuard, "the restarted mosquitto answers", func() bool {
		if !p.running() {
			t.Fatalf("mosquitto exited: %v", p.err)
		}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", u.Host, probe)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}
