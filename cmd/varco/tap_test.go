package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/pcsc/pcscdtest"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
)

// writeDemo writes a demo directory: a manifest with the given doors and
// a genuine card "anna".
func writeDemo(t *testing.T, doors ...demoDoor) string {
	t.Helper()
	dir := t.TempDir()
	c, err := virtcie.New(virtcie.Options{NIS: "012345678901", PKI: testpki.Committed(t), Gen: reader.Gen2022})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Save(filepath.Join(dir, "anna.json")); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(demoManifest{Doors: doors, Cards: []demoCard{{Name: "anna", File: "anna.json"}, {Name: "carla", File: "/abs/carla.json"}}})
	if err := os.WriteFile(filepath.Join(dir, DemoManifest), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestParseDemoManifest(t *testing.T) {
	m, err := parseDemoManifest("demo.json", "/d", []byte(`{"admin": "http://127.0.0.1:8080",
		"doors": [{"name": "ingresso", "title": "Ingresso", "vpcd": "127.0.0.1:35963", "metrics": "http://127.0.0.1:9471"},
			{"name": "banco-hr", "desk": "127.0.0.1:19480"}],
		"cards": [{"name": "anna", "file": "cards/anna.json"}, {"name": "x", "file": "/abs/x.json"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Cards[0].File != "/d/cards/anna.json" || m.Cards[1].File != "/abs/x.json" {
		t.Errorf("card files %q %q: want relative ones under the demo dir", m.Cards[0].File, m.Cards[1].File)
	}
	if d, err := m.door("Ingresso"); err != nil || d.VPCD != "127.0.0.1:35963" {
		t.Errorf("door by title: %+v %v", d, err)
	}
	if d, err := m.door("banco-hr"); err != nil || d.Desk != "127.0.0.1:19480" {
		t.Errorf("desk: %+v %v", d, err)
	}
	if _, err := m.door("cantina"); err == nil || !strings.Contains(err.Error(), "the doors are: ingresso") {
		t.Errorf("unknown door: %v, want the known doors listed", err)
	}
	if _, err := m.card("zoe"); err == nil || !strings.Contains(err.Error(), "the cards are: anna, x") {
		t.Errorf("unknown card: %v, want the known cards listed", err)
	}
	for name, bad := range map[string]string{
		"not json":      `{`,
		"door no vpcd":  `{"doors": [{"name": "a"}]}`,
		"door twice":    `{"doors": [{"name": "a", "vpcd": "x:1"}, {"name": "a", "vpcd": "x:2"}]}`,
		"vpcd and desk": `{"doors": [{"name": "a", "vpcd": "x:1", "desk": "x:2"}]}`,
		"card no file":  `{"cards": [{"name": "a"}]}`,
		"card twice":    `{"cards": [{"name": "a", "file": "f"}, {"name": "a", "file": "g"}]}`,
		"wrong type":    `{"doors": {}}`,
	} {
		if _, err := parseDemoManifest("demo.json", "/d", []byte(bad)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseDecisions(t *testing.T) {
	text := `# HELP varco_door_decisions_total access decisions
# TYPE varco_door_decisions_total counter
varco_door_decisions_total{door="ingresso",reason="granted"} 3
varco_door_decisions_total{door="ingresso",reason="clone_suspected"} 1
varco_door_decisions_total{door="magazzino",reason="granted"} 7
varco_door_events_total{door="ingresso",kind="granted"} 3
`
	got, err := parseDecisions(strings.NewReader(text), "ingresso")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["granted"] != 3 || got["clone_suspected"] != 1 {
		t.Errorf("decisions %v", got)
	}
	if r, ok := newDecision(got, map[string]float64{"granted": 3, "clone_suspected": 1, "unknown": 1}); !ok || r != "unknown" {
		t.Errorf("newDecision = %q %v, want unknown", r, ok)
	}
	if _, ok := newDecision(got, got); ok {
		t.Error("newDecision without a change")
	}
}

func TestTapUsage(t *testing.T) {
	dir := writeDemo(t, demoDoor{Name: "ingresso", VPCD: "127.0.0.1:1"})
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no flags", []string{"tap"}, exitUsage, "--door and --card are required"},
		{"help", []string{"tap", "-h"}, exitOK, "-demo-dir"},
		{"unknown door", []string{"tap", "--demo-dir", dir, "--door", "cantina", "--card", "anna"}, exitUsage, `no door "cantina" in the demo; the doors are: ingresso`},
		{"unknown card", []string{"tap", "--demo-dir", dir, "--door", "ingresso", "--card", "zoe"}, exitUsage, `no card "zoe" in the demo; the cards are: anna, carla`},
		{"no demo", []string{"tap", "--demo-dir", t.TempDir(), "--door", "ingresso", "--card", "anna"}, exitFail, "no demo in"},
		{"missing card file", []string{"tap", "--demo-dir", dir, "--door", "ingresso", "--card", "carla"}, exitFail, "/abs/carla.json"},
		{"no pcscd there", []string{"tap", "--demo-dir", dir, "--door", "ingresso", "--card", "anna"}, exitFail, "vpcd 127.0.0.1:1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, ctx, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, tt.code, tt.stderr)
			}
		})
	}
}

// TestTapThroughPCSCD taps over a real pcscd: a stand-in door waits for
// the card in the vpcd reader through PC/SC and counts a decision in its
// /metrics when it has connected to it; `varco tap` must report that
// decision.
func TestTapThroughPCSCD(t *testing.T) {
	pd := pcscdtest.Start(t)
	var granted atomic.Int64
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "varco_door_decisions_total{door=\"ingresso\",reason=\"granted\"} %d\n", granted.Load())
	}))
	defer metrics.Close()
	dir := writeDemo(t, demoDoor{Name: "ingresso", Title: "Ingresso", VPCD: pd.VPCDAddrs()[0], Metrics: metrics.URL})
	seen := make(chan []byte, 1)
	go func() {
		_, atr := pcscdtest.Connect(t, pd.ReaderNames()[0])
		granted.Add(1)
		seen <- atr
	}()
	code, out, errs := runCLI(t, context.Background(), "tap", "--demo-dir", dir, "--door", "ingresso", "--card", "anna", "--json")
	if code != exitOK {
		t.Fatalf("varco tap: exit %d: %s", code, errs)
	}
	var res tapResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	if res.Result != "granted" || res.Door != "ingresso" || res.Card != "anna" || res.NIS != "012345678901" {
		t.Errorf("result %+v", res)
	}
	if atr := <-seen; len(atr) == 0 {
		t.Error("pcscd saw no ATR")
	}
	pd.WaitEmpty(t, 10*time.Second)
}
