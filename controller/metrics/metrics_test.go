package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco"
)

// scrape returns the text exposition of h.
func scrape(tb testing.TB, h http.Handler) string {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func TestHandler(t *testing.T) {
	m := New(BuildInfo{Version: "v1.2.3", Revision: "abc"})
	m.AddDoor("front", "ACS ACR1252")
	m.AddDoor("back", "virtual")

	m.Tap("front")
	m.Tap("front")
	m.Tap("back")
	m.Decision("front", varco.Decision{Granted: true, PersonID: "p1"})
	m.Decision("front", varco.Decision{Reason: varco.ReasonCloneSuspected})
	m.Decision("back", varco.Decision{Reason: varco.ReasonUnknown})
	m.TapToRelay("front", 42*time.Millisecond)
	m.TapToRelay("front", 3*time.Second) // beyond the last bucket
	m.SetOutboxLen("front", 17)
	m.SetRevision("front", 1234)
	m.SetClockTrusted(true)
	m.SetReaderUp("front", "ACS ACR1252", true)

	body := scrape(t, m.Handler())
	for _, want := range []string{
		`varco_door_taps_total{door="front"} 2`,
		`varco_door_taps_total{door="back"} 1`,
		`varco_door_decisions_total{door="front",reason="granted"} 1`,
		`varco_door_decisions_total{door="front",reason="clone_suspected"} 1`,
		`varco_door_decisions_total{door="back",reason="unknown"} 1`,
		`varco_door_decisions_total{door="back",reason="expired"} 0`, // pre-created by AddDoor
		`varco_door_decisions_total{door="back",reason="granted"} 0`,
		`varco_door_tap_to_relay_seconds_bucket{door="front",le="0.001"} 0`,
		`varco_door_tap_to_relay_seconds_bucket{door="front",le="0.05"} 1`,
		`varco_door_tap_to_relay_seconds_bucket{door="front",le="2"} 1`,
		`varco_door_tap_to_relay_seconds_bucket{door="front",le="+Inf"} 2`,
		`varco_door_tap_to_relay_seconds_count{door="front"} 2`,
		`varco_door_tap_to_relay_seconds_sum{door="front"} 3.042`,
		`varco_door_tap_to_relay_seconds_count{door="back"} 0`,
		`varco_door_outbox_events{door="front"} 17`,
		`varco_door_outbox_events{door="back"} 0`,
		`varco_door_allowlist_revision{door="front"} 1234`,
		`varco_door_clock_trusted 1`,
		`varco_door_reader_up{door="front",reader="ACS ACR1252"} 1`,
		`varco_door_reader_up{door="back",reader="virtual"} 0`,
		`varco_door_build_info{goversion="go`,
		`revision="abc",version="v1.2.3"} 1`,
		"# TYPE varco_door_tap_to_relay_seconds histogram",
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}

	m.SetClockTrusted(false)
	m.SetReaderUp("front", "ACS ACR1252", false)
	body = scrape(t, m.Handler())
	for _, want := range []string{
		`varco_door_clock_trusted 0`,
		`varco_door_reader_up{door="front",reader="ACS ACR1252"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

// TestPrivateRegistry: two instances do not collide, which they would on
// the default registry.
func TestPrivateRegistry(t *testing.T) {
	a, b := New(BuildInfo{}), New(BuildInfo{})
	a.Tap("x")
	if body := scrape(t, b.Handler()); strings.Contains(body, `varco_door_taps_total{door="x"}`) {
		t.Error("metrics leak between instances")
	}
	if body := scrape(t, a.Handler()); !strings.Contains(body, `version="devel"`) {
		t.Error("empty version not reported as devel")
	}
}

func TestSyncMetrics(t *testing.T) {
	m := New(BuildInfo{})
	m.AddSyncDoor("front")
	m.AddSyncDoor("back")
	m.SetConnected("front", true)
	m.SyncMessage("front", In, "grants")
	m.SyncMessage("front", In, "grants")
	m.SyncMessage("front", Out, "events")
	m.SyncRejected("front", "signature")
	m.SyncEventSuppressed("front", "signature")
	m.SetOutboxInFlight("front", 500)
	m.SetLastSync("front", time.Unix(1700000000, 500_000_000))
	body := scrape(t, m.Handler())
	for _, want := range []string{
		`varco_door_mqtt_connected{door="front"} 1`,
		`varco_door_mqtt_connected{door="back"} 0`,
		`varco_door_mqtt_messages_total{direction="in",door="front",kind="grants"} 2`,
		`varco_door_mqtt_messages_total{direction="out",door="front",kind="events"} 1`,
		`varco_door_mqtt_rejected_total{door="front",reason="signature"} 1`,
		`varco_door_sync_events_suppressed_total{door="front",reason="signature"} 1`,
		`varco_door_outbox_in_flight_events{door="front"} 500`,
		`varco_door_outbox_in_flight_events{door="back"} 0`,
		`varco_door_last_sync_timestamp_seconds{door="front"} 1.7000000005e+09`,
		`varco_door_last_sync_timestamp_seconds{door="back"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}
}

func TestNilRecordsNothing(t *testing.T) {
	var m *Metrics
	m.AddDoor("d", "r")
	m.Tap("d")
	m.Decision("d", varco.Decision{Granted: true})
	m.TapToRelay("d", time.Millisecond)
	m.SetOutboxLen("d", 1)
	m.SetRevision("d", 1)
	m.SetClockTrusted(true)
	m.SetReaderUp("d", "r", true)
	m.AddSyncDoor("d")
	m.SetConnected("d", true)
	m.SyncMessage("d", In, "head")
	m.SyncRejected("d", "stale")
	m.SyncEventSuppressed("d", "stale")
	m.SetOutboxInFlight("d", 1)
	m.SetLastSync("d", time.Now())
}

func TestServe(t *testing.T) {
	m := New(BuildInfo{Version: "test"})
	m.Tap("front")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.ServeListener(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `varco_door_taps_total{door="front"} 1`) {
		t.Errorf("GET /metrics: %d\n%s", resp.StatusCode, body)
	}
	if resp, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /: %d, want 404", resp.StatusCode)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeListener = %v", err)
		}
	case <-time.After(ShutdownTimeout + time.Second):
		t.Fatal("ServeListener did not return after cancel")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("listener still open after shutdown")
	}
}

func TestServeBadAddr(t *testing.T) {
	m := New(BuildInfo{})
	if err := m.Serve(context.Background(), "256.0.0.1:bad"); err == nil {
		t.Error("Serve accepted a bad address")
	}
}
