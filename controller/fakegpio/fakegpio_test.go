package fakegpio

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
)

func TestBank(t *testing.T) {
	b, err := Register("FAKE_RELAY", "FAKE_CONTACT")
	if err != nil {
		t.Fatal(err)
	}
	relay := gpioreg.ByName("FAKE_RELAY")
	if relay == nil {
		t.Fatal("pin not registered in gpioreg")
	}
	if err := relay.Out(gpio.High); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()

	var levels map[string]string
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&levels)
	resp.Body.Close()
	if levels["FAKE_RELAY"] != "high" || levels["FAKE_CONTACT"] != "low" {
		t.Errorf("levels = %v", levels)
	}

	// An input driven over HTTP wakes a WaitForEdge.
	contact := gpioreg.ByName("FAKE_CONTACT")
	if err := contact.In(gpio.PullUp, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	got := make(chan bool, 1)
	go func() { got <- contact.WaitForEdge(10 * time.Second) }()
	resp, err = http.PostForm(srv.URL, url.Values{"pin": {"FAKE_CONTACT"}, "level": {"low"}})
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST: %v %v", resp.Status, err)
	}
	if !<-got || contact.Read() != gpio.Low {
		t.Error("edge not delivered or level not set")
	}

	for _, tc := range []struct {
		form url.Values
		code int
		msg  string
	}{
		{url.Values{"pin": {"FAKE_CONTACT"}, "level": {"up"}}, http.StatusBadRequest, `level "up"`},
		{url.Values{"pin": {"GPIO99"}, "level": {"high"}}, http.StatusNotFound, `no pin "GPIO99"`},
	} {
		resp, err := http.PostForm(srv.URL, tc.form)
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		buf := make([]byte, 256)
		n, _ := resp.Body.Read(buf)
		sb.Write(buf[:n])
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(sb.String(), tc.msg) {
			t.Errorf("POST %v: %d %q, want %d %q", tc.form, resp.StatusCode, sb.String(), tc.code, tc.msg)
		}
	}
}
