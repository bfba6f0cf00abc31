// Package metrics is varco-door's Prometheus instrumentation: taps,
// decisions by reason, tap-to-relay latency, outbox length, allowlist
// revision, clock trust, reader health and build info, on a private
// registry served at /metrics on a local address.
//
// A private registry (never prometheus.DefaultRegisterer) keeps tests
// independent and keeps libraries from adding metrics behind our back.
// The methods of [Metrics] are safe for concurrent use and cheap enough for
// the tap path; a nil *Metrics records nothing, so code under test may pass
// nil.
//
// Labels are bounded: door ids and reader names come from the config, and
// reasons from the fixed list in package varco. Never label by card or
// person.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/varco-access/varco"
)

// Namespace prefixes every metric name.
const Namespace = "varco_door"

// Granted is the reason label of a granted decision.
const Granted = "granted"

// LatencyBuckets are the tap-to-relay histogram buckets in seconds, 1 ms to
// 2 s: a CIE door read over PC/SC takes tens to hundreds of milliseconds.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2}

// reasons are the decision labels pre-created for each door, so rate()
// sees a zero before the first deny of a kind.
var reasons = []varco.Reason{
	varco.ReasonUnknown, varco.ReasonCloneSuspected, varco.ReasonExpired,
	varco.ReasonNotYetValid, varco.ReasonOutsideSchedule, varco.ReasonHoliday,
	varco.ReasonLockdown, varco.ReasonClockUntrusted, varco.ReasonAllowlistStale,
	varco.ReasonReadError,
}

// BuildInfo labels the varco_door_build_info gauge.
type BuildInfo struct {
	Version  string // release, e.g. "v0.3.0"; "devel" when empty
	Revision string // VCS commit; may be empty
}

// Metrics holds varco-door's collectors and their registry.
type Metrics struct {
	reg          *prometheus.Registry
	taps         *prometheus.CounterVec
	decisions    *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	outbox       *prometheus.GaugeVec
	revision     *prometheus.GaugeVec
	clockTrusted prometheus.Gauge
	readerUp     *prometheus.GaugeVec

	// The MQTT sync link (controller/mqttsync).
	connected  *prometheus.GaugeVec
	messages   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	suppressed *prometheus.CounterVec
	inFlight   *prometheus.GaugeVec
	lastSync   *prometheus.GaugeVec
}

// Directions of SyncMessage.
const (
	In  = "in"  // admin to door
	Out = "out" // door to admin
)

// New returns metrics registered on a new private registry, together with
// the Go runtime and process collectors.
func New(build BuildInfo) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		taps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "taps_total",
			Help: "Cards presented to a reader, read or not.",
		}, []string{"door"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "decisions_total",
			Help: "Access decisions by reason; reason=\"granted\" for grants.",
		}, []string{"door", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "tap_to_relay_seconds",
			Help:    "Time from card detected to relay energised, for granted taps.",
			Buckets: LatencyBuckets,
		}, []string{"door"}),
		outbox: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "outbox_events",
			Help: "Events in the outbox not yet acknowledged by the admin server.",
		}, []string{"door"}),
		revision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "allowlist_revision",
			Help: "Allowlist revision applied in the store.",
		}, []string{"door"}),
		clockTrusted: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "clock_trusted",
			Help: "1 once the clock is trusted (NTP synchronised or RTC), else 0.",
		}),
		readerUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "reader_up",
			Help: "1 while the door's reader is present and pcscd answers, else 0.",
		}, []string{"door", "reader"}),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "mqtt_connected",
			Help: "1 while the door's MQTT session to the admin's broker is up, else 0.",
		}, []string{"door"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "mqtt_messages_total",
			Help: "MQTT messages received (in) and published (out), by wire kind.",
		}, []string{"door", "direction", "kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "mqtt_rejected_total",
			Help: "Admin-to-door messages not acted on, by reason (stale duplicates included).",
		}, []string{"door", "reason"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "sync_events_suppressed_total",
			Help: "Sync events not written to the outbox because one of the same reason was written less than a minute before.",
		}, []string{"door", "reason"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "outbox_in_flight_events",
			Help: "Events sent to the admin and not yet acknowledged.",
		}, []string{"door"}),
		lastSync: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "last_sync_timestamp_seconds",
			Help: "When the door last applied an update or learnt it is current (Unix time), 0 if never.",
		}, []string{"door"}),
	}
	version := build.Version
	if version == "" {
		version = "devel"
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help: "Always 1; labels say which build is running.",
		ConstLabels: prometheus.Labels{
			"version": version, "revision": build.Revision, "goversion": runtime.Version(),
		},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(
		m.taps, m.decisions, m.latency, m.outbox, m.revision, m.clockTrusted, m.readerUp,
		m.connected, m.messages, m.rejected, m.suppressed, m.inFlight, m.lastSync,
		buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry returns the private registry, for collectors owned elsewhere
// (the store's bbolt stats, for example).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// AddDoor creates every series of a door at zero, so dashboards and alerts
// see the door before its first tap. reader is its configured reader name.
func (m *Metrics) AddDoor(door, reader string) {
	if m == nil {
		return
	}
	m.taps.WithLabelValues(door)
	m.decisions.WithLabelValues(door, Granted)
	for _, r := range reasons {
		m.decisions.WithLabelValues(door, string(r))
	}
	m.latency.WithLabelValues(door)
	m.outbox.WithLabelValues(door)
	m.revision.WithLabelValues(door)
	m.readerUp.WithLabelValues(door, reader)
}

// Tap counts a card presented at door.
func (m *Metrics) Tap(door string) {
	if m == nil {
		return
	}
	m.taps.WithLabelValues(door).Inc()
}

// Decision counts a decision at door under its reason, or "granted".
func (m *Metrics) Decision(door string, d varco.Decision) {
	if m == nil {
		return
	}
	reason := Granted
	if !d.Granted {
		reason = string(d.Reason)
		if reason == "" {
			reason = "none"
		}
	}
	m.decisions.WithLabelValues(door, reason).Inc()
}

// TapToRelay records the time from card detected to relay energised.
func (m *Metrics) TapToRelay(door string, d time.Duration) {
	if m == nil {
		return
	}
	m.latency.WithLabelValues(door).Observe(d.Seconds())
}

// SetOutboxLen sets how many events of door wait in the outbox.
func (m *Metrics) SetOutboxLen(door string, n int) {
	if m == nil {
		return
	}
	m.outbox.WithLabelValues(door).Set(float64(n))
}

// SetRevision sets the allowlist revision applied for door.
func (m *Metrics) SetRevision(door string, rev uint64) {
	if m == nil {
		return
	}
	m.revision.WithLabelValues(door).Set(float64(rev))
}

// SetClockTrusted records whether the clock is trusted.
func (m *Metrics) SetClockTrusted(trusted bool) {
	if m == nil {
		return
	}
	m.clockTrusted.Set(b2f(trusted))
}

// SetReaderUp records whether door's reader is usable.
func (m *Metrics) SetReaderUp(door, reader string, up bool) {
	if m == nil {
		return
	}
	m.readerUp.WithLabelValues(door, reader).Set(b2f(up))
}

// AddSyncDoor creates the sync series of a door at zero; call it for each
// door when the MQTT link is configured.
func (m *Metrics) AddSyncDoor(door string) {
	if m == nil {
		return
	}
	m.connected.WithLabelValues(door)
	m.inFlight.WithLabelValues(door)
	m.lastSync.WithLabelValues(door)
}

// SetConnected records whether door's MQTT session is up.
func (m *Metrics) SetConnected(door string, up bool) {
	if m == nil {
		return
	}
	m.connected.WithLabelValues(door).Set(b2f(up))
}

// SyncMessage counts one MQTT message of kind (a wire kind) received
// (direction In) or published (Out) for door.
func (m *Metrics) SyncMessage(door, direction, kind string) {
	if m == nil {
		return
	}
	m.messages.WithLabelValues(door, direction, kind).Inc()
}

// SyncRejected counts an admin-to-door message door did not act on;
// reason is one of a fixed list (controller/mqttsync).
func (m *Metrics) SyncRejected(door, reason string) {
	if m == nil {
		return
	}
	m.rejected.WithLabelValues(door, reason).Inc()
}

// SyncEventSuppressed counts a sync event the rate limit kept out of the
// outbox.
func (m *Metrics) SyncEventSuppressed(door, reason string) {
	if m == nil {
		return
	}
	m.suppressed.WithLabelValues(door, reason).Inc()
}

// SetOutboxInFlight sets how many of door's events are sent and not yet
// acknowledged.
func (m *Metrics) SetOutboxInFlight(door string, n int) {
	if m == nil {
		return
	}
	m.inFlight.WithLabelValues(door).Set(float64(n))
}

// SetLastSync records when door last synced; a zero t records 0.
func (m *Metrics) SetLastSync(door string, t time.Time) {
	if m == nil {
		return
	}
	v := 0.0
	if !t.IsZero() {
		v = float64(t.UnixNano()) / 1e9
	}
	m.lastSync.WithLabelValues(door).Set(v)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:          m.reg, // counts its own scrape errors
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// ShutdownTimeout bounds how long Serve waits for scrapes in flight.
const ShutdownTimeout = 5 * time.Second

// Serve listens on addr (host:port) and serves /metrics until ctx ends,
// then shuts down within ShutdownTimeout. It returns nil after a shutdown
// caused by ctx.
func (m *Metrics) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return m.ServeListener(ctx, ln)
}

// ServeListener is Serve on a listener the caller opened (tests use port 0).
// It closes ln.
func (m *Metrics) ServeListener(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		srv.Close()
		return fmt.Errorf("metrics: shutdown: %w", err)
	}
	return nil
}
