package mqttsync_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/metrics"
	"github.com/varco-access/varco/controller/mqttsync"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/controller/store/storetest"
	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/mqtttest"
	"github.com/varco-access/varco/wire/sitepki"
)

// The door's sync against real brokers (the embedded one and Debian's
// Mosquitto), with TLS client certificates and the per-door ACL: a test
// admin client signs and publishes, ingests events idempotently and acks
// them.

// proxy forwards TCP connections to a broker and can cut them all, as a
// network failure would (TLS passes through untouched).
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { io.Copy(u, c); u.Close() }()
		go func() { io.Copy(c, u); c.Close() }()
	}
}

// cut closes every connection through the proxy.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// admin is the test's varco-admin: it signs, ingests events by (epoch,
// seq) and acknowledges them.
type admin struct {
	t *testing.T
	c paho.Client

	mu       sync.Mutex
	events   map[uint64]varco.Event
	dups     int
	statuses []wire.Status
	syncs    []wire.SyncRequest
	holdAck  func(wire.EventsBatch) bool // true: store, do not ack
	changed  chan struct{}
}

func newAdmin(t *testing.T, b mqtttest.Broker) *admin {
	t.Helper()
	a := &admin{t: t, events: map[uint64]varco.Event{}, changed: make(chan struct{}, 1)}
	opts := mqtttest.ClientOptions(b, sitepki.AdminIdentity)
	a.c = mqtttest.Connect(t, opts)
	filters := map[string]byte{}
	for _, f := range wire.SiteFilters(site) {
		filters[f] = 1
	}
	tok := a.c.SubscribeMultiple(filters, a.handle)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("admin subscribe: %v", tok.Error())
	}
	return a
}

func (a *admin) handle(_ paho.Client, m paho.Message) {
	s, d, k, err := wire.ParseTopic(m.Topic())
	if err != nil || len(m.Payload()) == 0 {
		return
	}
	defer func() {
		select {
		case a.changed <- struct{}{}:
		default:
		}
	}()
	a.mu.Lock()
	defer a.mu.Unlock()
	switch k {
	case wire.KindStatus:
		var st wire.Status
		if err := wire.DecodeFor(s, d, k, m.Payload(), &st); err == nil && d == doorID {
			a.statuses = append(a.statuses, st)
		}
	case wire.KindSync:
		var r wire.SyncRequest
		if err := wire.DecodeFor(s, d, k, m.Payload(), &r); err == nil {
			a.syncs = append(a.syncs, r)
		}
	case wire.KindEvents:
		var b wire.EventsBatch
		if err := wire.DecodeFor(s, d, k, m.Payload(), &b); err != nil {
			a.t.Errorf("admin: events batch: %v", err)
			return
		}
		for _, e := range b.Events {
			if _, seen := a.events[e.Seq]; seen {
				a.dups++
				continue
			}
			a.events[e.Seq] = e
		}
		if a.holdAck != nil && a.holdAck(b) {
			return
		}
		last := b.Events[len(b.Events)-1].Seq
		a.publish(wire.KindEventsAck, wire.Ack{Epoch: b.Epoch, Seq: last}, false) // never wait in a handler
	}
}

// publish seals body for doorID and publishes it.
func (a *admin) publish(k wire.Kind, body any, wait bool) {
	a.publishTo(doorID, doorID, signer, k, body, wait)
}

// publishTo seals body for sealDoor with s and publishes it on topicDoor's
// topic.
func (a *admin) publishTo(topicDoor, sealDoor string, s *wire.Signer, k wire.Kind, body any, wait bool) {
	msg, err := s.Seal(k, site, sealDoor, body)
	if err != nil {
		a.t.Errorf("seal: %v", err)
		return
	}
	tok := a.c.Publish(wire.Topic(site, topicDoor, k), 1, k.Retained(), msg)
	if wait && (!tok.WaitTimeout(10*time.Second) || tok.Error() != nil) {
		a.t.Errorf("admin publish %s: %v", k, tok.Error())
	}
}

// waitFor polls cond (with a.mu held) until it holds, for up to 20s.
func (a *admin) waitFor(what string, cond func() bool) {
	a.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		a.mu.Lock()
		ok := cond()
		a.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-a.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			a.t.Fatalf("admin: waited 20s for %s", what)
		}
	}
}

// door is a session on a real broker, through a proxy.
type realDoor struct {
	st      *store.Store
	s       *mqttsync.Session
	door    *fakeDoor
	metrics *metrics.Metrics
	cancel  context.CancelFunc
	done    chan error
}

func startRealDoor(t *testing.T, b mqtttest.Broker, p *proxy, st *store.Store, tune func(*mqttsync.Options)) *realDoor {
	t.Helper()
	u, err := url.Parse(b.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg := b.ClientTLS(sitepki.DoorIdentity(doorID))
	willTopic, will, err := mqttsync.WillFor(site, doorID)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := mqttsync.NewPahoTransport(mqttsync.PahoOptions{
		Broker:    u.Scheme + "://" + p.ln.Addr().String(),
		ClientID:  mqttsync.ClientID(doorID),
		TLS:       func() (*tls.Config, error) { return cfg.Clone(), nil },
		WillTopic: willTopic, Will: will,
		KeepAlive: 5 * time.Second,
		Backoff:   mqttsync.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond},
		Log:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &realDoor{st: st, door: newFakeDoor(), metrics: metrics.New(metrics.BuildInfo{}), done: make(chan error, 1)}
	o := mqttsync.Options{
		Site: site, SiteKey: signer.PublicKey(), Door: d.door, Store: st, Transport: tr,
		ClockTrusted: func() bool { return true }, Metrics: d.metrics, Version: "it",
		Log:            slog.New(slog.DiscardHandler),
		StatusInterval: 100 * time.Millisecond, AckTimeout: 5 * time.Second,
	}
	if tune != nil {
		tune(&o)
	}
	var sp *mqttsync.Session
	var mu sync.Mutex
	o.Emit = func(ev varco.Event) {
		if _, err := st.Append(ev); err != nil {
			t.Errorf("append: %v", err)
		}
		mu.Lock()
		s := sp
		mu.Unlock()
		if s != nil {
			s.Notify()
		}
	}
	d.s, err = mqttsync.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	sp = d.s
	mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { d.done <- d.s.Run(ctx) }()
	t.Cleanup(d.stop)
	return d
}

func (d *realDoor) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	<-d.done
	d.cancel = nil
}

func (d *realDoor) counter(t *testing.T, name string, labels ...string) float64 {
	h := &harness{t: t, metrics: d.metrics}
	return h.counter(name, labels...)
}

func TestRealBrokers(t *testing.T) {
	mqtttest.Each(t, site, []string{doorID, "demo-2"}, func(t *testing.T, b mqtttest.Broker) {
		u, err := url.Parse(b.URL())
		if err != nil {
			t.Fatal(err)
		}
		p := startProxy(t, u.Host)
		a := newAdmin(t, b)
		st := storetest.OpenWith(t, &store.Options{NoSync: true})

		// 300 events waiting before the door first connects.
		evs := make([]varco.Event, 300)
		for i := range evs {
			evs[i] = varco.Event{Door: doorID, Time: time.Now(), Kind: varco.EventGranted, NIS: fmt.Sprintf("%012d", i), PersonID: "p"}
		}
		if _, err := st.AppendBatch(evs); err != nil {
			t.Fatal(err)
		}
		var cutOnce sync.Once
		cutNow := make(chan struct{})
		a.mu.Lock()
		a.holdAck = func(b wire.EventsBatch) bool {
			// Keep the third batch (101-150) unacknowledged and cut the
			// door's connection while it is in flight.
			if b.Events[0].Seq == 101 {
				held := false
				cutOnce.Do(func() { held = true; close(cutNow) })
				return held
			}
			return false
		}
		a.mu.Unlock()

		d := startRealDoor(t, b, p, st, func(o *mqttsync.Options) { o.BatchEvents = 50 })
		a.waitFor("the door online", func() bool { return len(a.statuses) > 0 && a.statuses[len(a.statuses)-1].Online })
		a.waitFor("the boot sync request", func() bool { return len(a.syncs) > 0 && a.syncs[0].Reason == wire.SyncBoot })

		select {
		case <-cutNow:
		case <-time.After(20 * time.Second):
			t.Fatal("the third batch never arrived")
		}
		// Only acknowledged events are gone: 1-100.
		waitUntil(t, "ack 100 applied", func() bool { n, _ := st.Acked(doorID); return n == 100 })
		p.cut()
		a.waitFor("the Last Will (offline)", func() bool {
			for _, s := range a.statuses {
				if !s.Online {
					return true
				}
			}
			return false
		})
		if acked, _ := st.Acked(doorID); acked != 100 {
			t.Fatalf("acked %d at the cut, want 100: unacknowledged events dropped", acked)
		}
		if n, _ := st.Len(doorID); n != 200 {
			t.Fatalf("outbox %d at the cut, want 200", n)
		}
		// The door reconnects by itself and sends from 101 again.
		a.waitFor("every event once", func() bool { return len(a.events) == 300 })
		waitUntil(t, "the outbox emptied by acks", func() bool { n, _ := st.Len(doorID); return n == 0 })
		a.mu.Lock()
		for seq := uint64(1); seq <= 300; seq++ {
			if _, ok := a.events[seq]; !ok {
				t.Errorf("event %d never arrived", seq)
			}
		}
		if a.dups == 0 {
			t.Error("no duplicates: the unacknowledged batch was not sent again")
		}
		reconnected := false
		for _, r := range a.syncs {
			reconnected = reconnected || r.Reason == mqttsync.SyncReconnect
		}
		a.mu.Unlock()
		if !reconnected {
			t.Error("no sync request after the reconnect")
		}

		// A signed delta reaches the door's store.
		a.publish(wire.KindGrants, delta(0, 1, grants(1, 3, "v1")...), true)
		waitUntil(t, "delta 0→1 applied", func() bool { rev, _, _ := st.Revision(doorID); return rev == 1 })
		if g, ok, _ := st.Grant(doorID, fmt.Sprintf("%012d", 2)); !ok || g.DisplayName != "v1" {
			t.Fatalf("grant after delta: %+v %v", g, ok)
		}
		// Another key, another door's seal, another door's topic: nothing
		// changes. The valid delta 1→2 after them is the sentinel: once it
		// is in, the door has handled the three before it.
		a.publishTo(doorID, doorID, otherSigner, wire.KindGrants, delta(1, 2, grant(50, "forged")), true)
		a.publishTo(doorID, "demo-2", signer, wire.KindGrants, delta(1, 2, grant(51, "for demo-2")), true)
		a.publishTo("demo-2", "demo-2", signer, wire.KindGrants, delta(1, 2, grant(52, "on demo-2's topic")), true)
		a.publish(wire.KindGrants, delta(1, 2, grant(53, "sentinel")), true)
		waitUntil(t, "the sentinel delta applied", func() bool { rev, _, _ := st.Revision(doorID); return rev == 2 })
		for _, n := range []int{50, 51, 52} {
			if _, ok, _ := st.Grant(doorID, fmt.Sprintf("%012d", n)); ok {
				t.Errorf("grant %d from a message the door must refuse", n)
			}
		}
		if got := d.counter(t, "varco_door_mqtt_rejected_total", "reason", mqttsync.ReasonSignature); got != 1 {
			t.Errorf("signature rejections %v, want 1", got)
		}
		if got := d.counter(t, "varco_door_mqtt_rejected_total", "reason", mqttsync.ReasonWrongDoor); got != 1 {
			t.Errorf("wrong-door rejections %v, want 1", got)
		}
		// The refusals are events the admin receives.
		a.waitFor("the rejection events", func() bool {
			n := 0
			for _, e := range a.events {
				if e.Kind == varco.EventSync && (strings.Contains(e.Detail, "(signature)") || strings.Contains(e.Detail, "(wrong_door)")) {
					n++
				}
			}
			return n == 2
		})

		// A retained head ahead of the door: it asks.
		a.publish(wire.KindHead, wire.Head{Rev: 5, IssuedAt: time.Now()}, true)
		a.waitFor("the head's sync request", func() bool {
			for _, r := range a.syncs {
				if r.Reason == wire.SyncHead && r.Rev == 2 {
					return true
				}
			}
			return false
		})

		// A clean stop: the retained offline status before DISCONNECT.
		a.mu.Lock()
		n := len(a.statuses)
		a.mu.Unlock()
		d.stop()
		a.waitFor("the offline status", func() bool {
			for _, s := range a.statuses[n:] {
				if !s.Online && s.Rev == 2 && !s.Time.IsZero() {
					return true // the session's own, not the will (no time)
				}
			}
			return false
		})
	})
}
