package controller

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/config"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
)

// TestDebugTap presents virtual cards to a controller through /debug/tap
// and checks each presentation goes the whole way: a granted card releases
// the relay and writes one granted event per tap, a clone and an unknown
// card are denied with their reasons, and bad requests name the problem.
func TestDebugTap(t *testing.T) {
	dir := t.TempDir()
	pki := testpki.Committed(t)
	mk := func(nis string, neg virtcie.Negative) []byte {
		c, err := virtcie.New(virtcie.Options{NIS: nis, Gen: reader.Gen2022, PKI: pki, Negative: neg})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, nis+".json")
		if err := c.Save(p); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	anna := mk("100000000021", virtcie.Genuine)
	annaCard, err := virtcie.Parse("anna", anna)
	if err != nil {
		t.Fatal(err)
	}
	clone, err := virtcie.NewClone(annaCard)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, "clone.json")
	if err := clone.Save(cp); err != nil {
		t.Fatal(err)
	}
	cloneFile, _ := os.ReadFile(cp)
	carla := mk("100000000022", virtcie.Genuine)

	cfg := config.DefaultConfig()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	cfg.Site.ID, cfg.Site.PublicKey = "test", base64.StdEncoding.EncodeToString(pub)
	cfg.ControllerID, cfg.StateDir, cfg.MetricsAddr, cfg.GPIO = "test", dir, "", config.GPIOFake
	cfg.Clock.RTC = true
	d := config.DefaultDoor()
	d.ID, d.Reader, d.RelayPin = "front", config.VirtualReader, "DEBUGTAP_RELAY"
	d.DeniedRepeatWindow = config.D(0)
	cfg.Doors = []config.Door{d}
	st, err := store.Open(cfg.StorePath(), nil)
	if err != nil {
		t.Fatal(err)
	}
	g := varco.Grant{NIS: annaCard.NIS(), PersonID: "anna", PublicKey: annaCard.KeyFileTLV(), Flags: varco.FlagAlways}
	if err := st.ApplySnapshot(store.Snapshot{Door: "front", Rev: 1, Grants: []varco.Grant{g}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(c.debugTap())
	defer srv.Close()

	post := func(query string, body []byte) (int, string, debugTapResult) {
		t.Helper()
		resp, err := http.Post(srv.URL+"?"+query, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var res debugTapResult
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatalf("reply %q: %v", b, err)
			}
		}
		return resp.StatusCode, string(b), res
	}
	outbox := func() map[string]int {
		t.Helper()
		evs, err := c.store.Pending("front", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, e := range evs {
			m[string(e.Kind)+"/"+string(e.Reason)]++
		}
		return m
	}

	locked, _ := c.gpio.Level("DEBUGTAP_RELAY")
	code, body, res := post("door=front&count=20", anna)
	if code != http.StatusOK || res.Taps != 20 || res.Granted != 20 || res.ReadErrors != 0 {
		t.Fatalf("anna x20: %d %s", code, body)
	}
	if lvl, _ := c.gpio.Level("DEBUGTAP_RELAY"); lvl == locked {
		t.Errorf("relay %v after a granted tap, want released", lvl)
	}
	if got := outbox()["granted/"]; got != 20 {
		t.Errorf("outbox holds %d granted events after 20 granted taps: %v", got, outbox())
	}
	if code, body, res = post("door=front", cloneFile); code != http.StatusOK || res.Granted != 0 || res.Denied[varco.ReasonCloneSuspected] != 1 {
		t.Errorf("clone: %d %s", code, body)
	}
	if code, body, res = post("door=front&count=3", carla); code != http.StatusOK || res.Denied[varco.ReasonUnknown] != 3 {
		t.Errorf("carla: %d %s", code, body)
	}
	if got := outbox(); got["denied/"+string(varco.ReasonCloneSuspected)] != 1 || got["denied/"+string(varco.ReasonUnknown)] != 3 {
		t.Errorf("outbox after the denials: %v", got)
	}

	for _, tc := range []struct {
		query string
		body  []byte
		code  int
		want  string
	}{
		{"door=back", anna, http.StatusNotFound, `door "back"`},
		{"door=front&count=0", anna, http.StatusBadRequest, "count"},
		{"door=front&count=x", anna, http.StatusBadRequest, "count"},
		{"door=front&count=100001", anna, http.StatusBadRequest, "count"},
		{"door=front", []byte(`{"version":1,"nis":"12"}`), http.StatusBadRequest, "nis"},
		{"door=front", []byte("not json"), http.StatusBadRequest, "request body"},
		{"door=front", bytes.Repeat([]byte(" "), 1<<20+1), http.StatusRequestEntityTooLarge, "card file"},
	} {
		if code, body, _ := post(tc.query, tc.body); code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s (%d bytes): %d %q, want %d naming %q", tc.query, len(tc.body), code, body, tc.code, tc.want)
		}
	}
}
