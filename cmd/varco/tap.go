package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/varco-access/varco/reader/virtcie"
	"github.com/varco-access/varco/reader/vpcd"
)

// DemoManifest is the file (demo.json in the demo directory) in which
// .ci/demo.sh says what it started: the doors with their vpcd reader and
// metrics endpoint, and the virtual cards. `varco tap` and varco-admin's
// demo page read it.
const DemoManifest = "demo.json"

// demoManifest is the JSON of DemoManifest.
type demoManifest struct {
	Admin string     `json:"admin"` // the panel's URL
	Varco string     `json:"varco"` // the varco binary (varco-admin's demo page runs its tap)
	Doors []demoDoor `json:"doors"`
	Cards []demoCard `json:"cards"`
}

type demoDoor struct {
	Name    string `json:"name"`    // the door's id ("ingresso"), its controller id at the admin
	Title   string `json:"title"`   // as people call it ("Ingresso")
	VPCD    string `json:"vpcd"`    // host:port of its vpcd reader
	Metrics string `json:"metrics"` // base URL of its varco-door's /metrics ("" if unknown)
	// Desk, for an enrolment station instead of a door, is the loopback
	// address of its virtual desk (`varco enroll --virtual`); VPCD and
	// Metrics are then empty.
	Desk string `json:"desk,omitempty"`
}

type demoCard struct {
	Name string `json:"name"` // "anna"
	File string `json:"file"` // card file, relative to the demo directory unless absolute
	Note string `json:"note"` // what it is ("enrolled", "a clone of anna")
}

// defaultDemoDir is where .ci/demo.sh puts the demo: $VARCO_DEMO_DIR, or
// varco-demo under $TMPDIR (default /tmp).
func defaultDemoDir() string {
	if d := os.Getenv("VARCO_DEMO_DIR"); d != "" {
		return d
	}
	tmp := os.Getenv("TMPDIR")
	if tmp == "" {
		tmp = "/tmp"
	}
	return filepath.Join(tmp, "varco-demo")
}

// loadDemoManifest reads dir's manifest and checks it.
func loadDemoManifest(dir string) (*demoManifest, error) {
	path := filepath.Join(dir, DemoManifest)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no demo in %s (no %s): start one with 'make run', or give --demo-dir", dir, DemoManifest)
	}
	if err != nil {
		return nil, err
	}
	return parseDemoManifest(path, dir, b)
}

// parseDemoManifest parses a manifest; card files are made absolute
// against dir. name is for errors.
func parseDemoManifest(name, dir string, b []byte) (*demoManifest, error) {
	var m demoManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	seen := map[string]bool{}
	for i, d := range m.Doors {
		if d.Name == "" || (d.VPCD == "") == (d.Desk == "") {
			return nil, fmt.Errorf("%s: door %d: a name and either vpcd (a door) or desk (an enrolment desk) are required", name, i+1)
		}
		if seen["door "+d.Name] {
			return nil, fmt.Errorf("%s: door %q twice", name, d.Name)
		}
		seen["door "+d.Name] = true
	}
	for i, c := range m.Cards {
		if c.Name == "" || c.File == "" {
			return nil, fmt.Errorf("%s: card %d: name and file are required", name, i+1)
		}
		if seen["card "+c.Name] {
			return nil, fmt.Errorf("%s: card %q twice", name, c.Name)
		}
		seen["card "+c.Name] = true
		if !filepath.IsAbs(c.File) {
			m.Cards[i].File = filepath.Join(dir, c.File)
		}
	}
	return &m, nil
}

func (m *demoManifest) door(name string) (demoDoor, error) {
	var names []string
	for _, d := range m.Doors {
		if strings.EqualFold(d.Name, name) || strings.EqualFold(d.Title, name) {
			return d, nil
		}
		names = append(names, d.Name)
	}
	return demoDoor{}, fmt.Errorf("%w: no door %q in the demo; the doors are: %s", errUsage, name, strings.Join(names, ", "))
}

func (m *demoManifest) card(name string) (demoCard, error) {
	var names []string
	for _, c := range m.Cards {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
		names = append(names, c.Name)
	}
	return demoCard{}, fmt.Errorf("%w: no card %q in the demo; the cards are: %s", errUsage, name, strings.Join(names, ", "))
}

// tapResult is what `varco tap --json` prints.
type tapResult struct {
	Door   string `json:"door"`
	Card   string `json:"card"`
	NIS    string `json:"nis"`
	Result string `json:"result"` // "granted", "denied", "presented" (a desk), or "" when the door's metrics were not readable
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"` // what a desk said: "read NIS ..."
}

// Timing of a tap over vpcd.
var (
	// tapHold is how long the card stays on the reader at least.
	tapHold = time.Second
	// tapDecision is how long a tap waits for the door's decision before
	// it takes the card away and presents it once more: pcscd now and
	// then misses a vpcd card put in right after another left.
	tapDecision = 5 * time.Second
	// tapGone is how long a tap waits after taking the card away, so
	// that pcscd notices (its presence poll is about 400 ms) before the
	// next tap.
	tapGone = 700 * time.Millisecond
)

// tap taps a demo card at a demo door: the card is presented over vpcd
// (pcscd, then the door's PC/SC reader loop: the real path) and the
// door's decision counters are read before and after.
func tap(e *env, args []string) error {
	fs := e.newFlags("tap", "--door NAME --card NAME [--demo-dir DIR] [--json]")
	door := fs.String("door", "", "demo door (its name, e.g. ingresso)")
	card := fs.String("card", "", "demo card (e.g. anna)")
	dir := fs.String("demo-dir", defaultDemoDir(), "the demo's directory, with "+DemoManifest+" (default $VARCO_DEMO_DIR or $TMPDIR/varco-demo)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *door == "" || *card == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: --door and --card are required", errUsage)
	}
	m, err := loadDemoManifest(*dir)
	if err != nil {
		return err
	}
	d, err := m.door(*door)
	if err != nil {
		return err
	}
	cd, err := m.card(*card)
	if err != nil {
		return err
	}
	c, err := virtcie.Load(cd.File)
	if err != nil {
		return err
	}
	res, err := tapAt(e.ctx, d, c)
	res.Card = cd.Name
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	title := d.Title
	if title == "" {
		title = d.Name
	}
	switch res.Result {
	case "granted":
		fmt.Fprintf(e.stdout, "%s → %s: granted (NIS %s)\n", cd.Name, title, c.NIS())
	case "denied":
		fmt.Fprintf(e.stdout, "%s → %s: denied, %s (NIS %s)\n", cd.Name, title, res.Reason, c.NIS())
	default:
		if d.Desk != "" {
			fmt.Fprintf(e.stdout, "%s → %s: %s; the admin's verdict is on the panel's enrolment page\n", cd.Name, title, res.Detail)
			break
		}
		fmt.Fprintf(e.stdout, "%s → %s: presented (NIS %s); the door's decision is in its log and the panel\n", cd.Name, title, c.NIS())
	}
	return nil
}

// tapAt presents c at door d and returns the door's decision, read from
// its metrics when it has them.
func tapAt(ctx context.Context, d demoDoor, c *virtcie.Card) (tapResult, error) {
	res := tapResult{Door: d.Name, NIS: c.NIS()}
	if d.Desk != "" {
		b, err := c.Marshal()
		if err != nil {
			return res, err
		}
		res.Result = "presented"
		res.Detail, err = handToDesk(ctx, d.Desk, b)
		return res, err
	}
	var before map[string]float64
	if d.Metrics != "" {
		var err error
		if before, err = decisions(ctx, d.Metrics, d.Name); err != nil {
			return res, fmt.Errorf("door %s: %w (is the demo running?)", d.Name, err)
		}
	}
	for try := 1; ; try++ {
		decided, err := present(ctx, d, c, before, &res)
		if err != nil || decided || before == nil || try == 2 {
			return res, err
		}
	}
}

// present puts the card on the reader for tapHold, or until the door
// decides (at most tapDecision) when before holds its counters; it
// reports whether the door decided.
func present(ctx context.Context, d demoDoor, c *virtcie.Card, before map[string]float64, res *tapResult) (bool, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := vpcd.Dial(dctx, d.VPCD, c)
	cancel()
	if err != nil {
		return false, fmt.Errorf("door %s: vpcd %s: %w (is pcscd running?)", d.Name, d.VPCD, err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- conn.Serve(sctx) }()
	start := time.Now()
	decided := false
	for before != nil && time.Since(start) < tapDecision && ctx.Err() == nil {
		after, err := decisions(ctx, d.Metrics, d.Name)
		if err == nil {
			if r, ok := newDecision(before, after); ok {
				decided = true
				res.Result, res.Reason = "denied", r
				if r == "granted" {
					res.Result, res.Reason = "granted", ""
				}
				break
			}
		}
		sleep(ctx, 50*time.Millisecond)
	}
	sleep(ctx, tapHold-time.Since(start))
	stop()
	conn.Close()
	<-served
	c.Reset()
	sleep(ctx, tapGone)
	return decided, ctx.Err()
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// newDecision is the reason whose counter went up from before to after.
func newDecision(before, after map[string]float64) (string, bool) {
	for r, n := range after {
		if n > before[r] {
			return r, true
		}
	}
	return "", false
}

// decisions reads varco_door_decisions_total of door from a varco-door's
// /metrics at base: the count by reason ("granted" or a deny reason).
func decisions(ctx context.Context, base, door string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/metrics: %s", base, resp.Status)
	}
	return parseDecisions(resp.Body, door)
}

// parseDecisions reads the decision counters of door from a Prometheus
// text exposition.
func parseDecisions(r io.Reader, door string) (map[string]float64, error) {
	prefix := fmt.Sprintf("varco_door_decisions_total{door=%q,reason=", door)
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		rest, ok := strings.CutPrefix(l, prefix)
		if !ok {
			continue
		}
		reason, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		r, err := strconv.Unquote(reason)
		if err != nil {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %v", l, err)
		}
		out[r] = v
	}
	return out, sc.Err()
}
