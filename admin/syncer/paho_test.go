package syncer_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/mqtttest"
	"github.com/varco-access/varco/wire/sitepki"
)

// wait bounds every wait for a message.
const wait = 10 * time.Second

// logBuf collects a component's log and shows it when the test failed.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testLog(t *testing.T, name string) (*slog.Logger, *logBuf) {
	t.Helper()
	lb := new(logBuf)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log:\n%s", name, lb.String())
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// newPaho connects a Paho transport with the admin identity to b.
func newPaho(t *testing.T, b mqtttest.Broker, adjust ...func(*syncer.PahoOptions)) (*syncer.Paho, *logBuf) {
	t.Helper()
	log, lb := testLog(t, "paho")
	o := syncer.PahoOptions{URL: b.URL(), TLS: b.ClientTLS(sitepki.AdminIdentity), Log: log, ConnectTimeout: 5 * time.Second}
	for _, f := range adjust {
		f(&o)
	}
	p, err := syncer.NewPaho(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, lb
}

// doorClient is a plain paho client with a door's certificate, as
// varco-door connects.
type doorClient struct {
	t   *testing.T
	c   paho.Client
	got chan paho.Message
}

func connectDoor(t *testing.T, b mqtttest.Broker, door string, adjust ...func(*paho.ClientOptions)) *doorClient {
	t.Helper()
	d := &doorClient{t: t, got: make(chan paho.Message, 1000)}
	opts := mqtttest.ClientOptions(b, sitepki.DoorIdentity(door)).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { d.got <- m })
	for _, f := range adjust {
		f(opts)
	}
	d.c = mqtttest.Connect(t, opts)
	d.subscribe(wire.DoorFilters(site, door)...)
	return d
}

func (d *doorClient) subscribe(filters ...string) {
	d.t.Helper()
	m := map[string]byte{}
	for _, f := range filters {
		m[f] = 1
	}
	tok := d.c.SubscribeMultiple(m, nil)
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		d.t.Fatalf("door subscribe: %v", tok.Error())
	}
	for f, code := range tok.(*paho.SubscribeToken).Result() {
		if code > 2 {
			d.t.Fatalf("door subscribe %s: refused (%#x)", f, code)
		}
	}
}

func (d *doorClient) publish(topic string, retained bool, payload []byte) {
	d.t.Helper()
	tok := d.c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		d.t.Fatalf("door publish %s: %v", topic, tok.Error())
	}
}

// next returns the next message the door received on topic, skipping
// others.
func (d *doorClient) next(topic string) paho.Message {
	d.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case m := <-d.got:
			if m.Topic() == topic {
				return m
			}
		case <-timeout:
			d.t.Fatalf("door: nothing on %s within %v", topic, wait)
			return nil
		}
	}
}

type received struct {
	topic   string
	payload string
}

func recv(t *testing.T, ch <-chan received) received {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(wait):
		t.Fatalf("the admin received nothing within %v", wait)
		return received{}
	}
}

// TestPahoRoundTrip: admin → door and door → admin over real brokers,
// with the admin identity; the handlers see the door's messages in order
// and may publish (and wait for the PUBACK) from inside, as the syncer's
// ingest does.
func TestPahoRoundTrip(t *testing.T) {
	mqtttest.Each(t, site, []string{"d1"}, func(t *testing.T, b mqtttest.Broker) {
		ctx := t.Context()
		p, _ := newPaho(t, b)
		door := connectDoor(t, b, "d1")
		got := make(chan received, 100)
		ackTopic := wire.Topic(site, "d1", wire.KindEventsAck)
		for _, f := range wire.SiteFilters(site) {
			must(t, p.Subscribe(ctx, f, func(topic string, payload []byte) {
				// paho's own ordered delivery would deadlock here once a
				// second message is waiting.
				if err := p.Publish(ctx, ackTopic, 1, false, payload); err != nil {
					t.Errorf("publish from a handler: %v", err)
				}
				got <- received{topic, string(payload)}
			}))
		}

		grants := wire.Topic(site, "d1", wire.KindGrants)
		must(t, p.Publish(ctx, grants, 1, false, []byte("grants-1")))
		if m := door.next(grants); string(m.Payload()) != "grants-1" {
			t.Errorf("door got %q", m.Payload())
		}

		const n = 50
		events := wire.Topic(site, "d1", wire.KindEvents)
		for i := range n {
			door.publish(events, false, []byte(strconv.Itoa(i)))
		}
		for i := range n {
			if r := recv(t, got); r.topic != events || r.payload != strconv.Itoa(i) {
				t.Fatalf("message %d: %+v", i, r)
			}
		}
		for i := range n {
			if m := door.next(ackTopic); string(m.Payload()) != strconv.Itoa(i) {
				t.Fatalf("ack %d: %q", i, m.Payload())
			}
		}
	})
}

// TestPahoResubscribesAfterReconnect: the broker drops the admin's
// connection and forgets its session (another connection with the admin
// identity and a clean session takes it over); the transport connects
// again by itself and subscribes again, so door messages flow again.
func TestPahoResubscribesAfterReconnect(t *testing.T) {
	mqtttest.Each(t, site, []string{"d1"}, func(t *testing.T, b mqtttest.Broker) {
		ctx := t.Context()
		p, lb := newPaho(t, b, func(o *syncer.PahoOptions) { o.MaxReconnectInterval = time.Second })
		got := make(chan received, 100)
		events := wire.Topic(site, "d1", wire.KindEvents)
		must(t, p.Subscribe(ctx, wire.Prefix+site+"/door/+/events", func(topic string, payload []byte) {
			got <- received{topic, string(payload)}
		}))
		door := connectDoor(t, b, "d1")
		door.publish(events, false, []byte("before"))
		if r := recv(t, got); r.payload != "before" {
			t.Fatalf("got %+v", r)
		}

		kicker, err := mqtttest.TryConnect(mqtttest.ClientOptions(b, sitepki.AdminIdentity))
		if err != nil {
			t.Fatal(err)
		}
		kicker.Disconnect(100)

		// Messages sent while the admin is away are lost (its session was
		// wiped): keep sending until one arrives.
		deadline := time.Now().Add(3 * wait)
		for i := 0; ; i++ {
			door.publish(events, false, []byte("after-"+strconv.Itoa(i)))
			select {
			case r := <-got:
				if !strings.HasPrefix(r.payload, "after-") {
					t.Fatalf("got %+v", r)
				}
			case <-time.After(200 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatal("no door message after the reconnection")
				}
				continue
			}
			break
		}
		if !strings.Contains(lb.String(), "mqtt: connection lost") {
			t.Error("the connection was never lost: the test proved nothing")
		}
		if !p.Connected() {
			t.Error("not connected")
		}
	})
}

// TestPahoPersistentSession: what the broker queued for the admin while
// it was away arrives when it connects again, before the syncer has
// subscribed: it is held, unacknowledged, and handed over by the first
// Subscribe that matches.
func TestPahoPersistentSession(t *testing.T) {
	mqtttest.Each(t, site, []string{"d1"}, func(t *testing.T, b mqtttest.Broker) {
		ctx := t.Context()
		filter := wire.Prefix + site + "/door/+/events"
		events := wire.Topic(site, "d1", wire.KindEvents)
		p1, _ := newPaho(t, b)
		must(t, p1.Subscribe(ctx, filter, func(string, []byte) {}))
		must(t, p1.Close())

		door := connectDoor(t, b, "d1")
		for i := range 5 {
			door.publish(events, false, []byte(strconv.Itoa(i)))
		}
		p2, _ := newPaho(t, b)
		// Give the broker time to deliver the queue before Subscribe, so
		// that the messages are held (the test passes either way).
		time.Sleep(300 * time.Millisecond)
		got := make(chan received, 100)
		must(t, p2.Subscribe(ctx, filter, func(topic string, payload []byte) { got <- received{topic, string(payload)} }))
		// All of them, each once; not necessarily in order: mochi resends
		// a session's queue sorted by the second each was received, with
		// an unstable sort.
		var payloads []string
		for range 5 {
			payloads = append(payloads, recv(t, got).payload)
		}
		slices.Sort(payloads)
		if want := []string{"0", "1", "2", "3", "4"}; !slices.Equal(payloads, want) {
			t.Errorf("got %v, want %v", payloads, want)
		}
		select {
		case r := <-got:
			t.Errorf("one more: %+v", r)
		case <-time.After(200 * time.Millisecond):
		}
	})
}

// TestPahoRefused: a client certificate from another CA is refused, and
// NewPaho says so.
func TestPahoRefused(t *testing.T) {
	mqtttest.Each(t, site, nil, func(t *testing.T, b mqtttest.Broker) {
		other, err := sitepki.NewCA(site, time.Now())
		must(t, err)
		cert, key, err := other.ClientCert(sitepki.AdminIdentity, time.Now())
		must(t, err)
		cfg, err := sitepki.ClientTLSConfig(cert, key, b.CA().CertPEM(), "")
		must(t, err)
		start := time.Now()
		p, err := syncer.NewPaho(syncer.PahoOptions{URL: b.URL(), TLS: cfg, ConnectTimeout: 5 * time.Second})
		if err == nil {
			p.Close()
			t.Fatal("connected with a certificate from another CA")
		}
		if time.Since(start) > 8*time.Second {
			t.Errorf("the refusal took %v", time.Since(start))
		}
		t.Logf("refused: %v", err)
	})
}

func TestPahoOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    syncer.PahoOptions
		want string
	}{
		{"plain mqtt", syncer.PahoOptions{URL: "tcp://127.0.0.1:1883", TLS: &tls.Config{}}, "want ssl://"},
		{"no host", syncer.PahoOptions{URL: "ssl://", TLS: &tls.Config{}}, "no host"},
		{"no TLS", syncer.PahoOptions{URL: "ssl://127.0.0.1:8883"}, "TLS is required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := syncer.NewPaho(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestPahoBackground: with no broker, NewPaho returns at once in the
// background mode; Publish fails fast, Subscribe is kept for the
// connection, Close is prompt.
func TestPahoBackground(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	log, _ := testLog(t, "paho")
	p, err := syncer.NewPaho(syncer.PahoOptions{URL: "ssl://" + addr, TLS: &tls.Config{}, Background: true, ConnectTimeout: time.Second, Log: log})
	must(t, err)
	if p.Connected() {
		t.Error("connected to nothing")
	}
	if err := p.Publish(t.Context(), "x", 1, false, nil); !errors.Is(err, syncer.ErrNotConnected) {
		t.Errorf("Publish = %v, want ErrNotConnected", err)
	}
	must(t, p.Subscribe(t.Context(), "a/+", func(string, []byte) {}))
	time.Sleep(1500 * time.Millisecond) // let it retry once
	start := time.Now()
	must(t, p.Close())
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := p.Publish(t.Context(), "x", 1, false, nil); !errors.Is(err, syncer.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}

// TestPahoBackgroundConnects: the background mode connects to a broker
// that is up.
func TestPahoBackgroundConnects(t *testing.T) {
	b := mqtttest.StartEmbedded(t, site)
	p, _ := newPaho(t, b, func(o *syncer.PahoOptions) { o.Background = true })
	for deadline := time.Now().Add(wait); !p.Connected(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not connected")
		}
	}
	u, _ := url.Parse(b.URL())
	t.Logf("connected to %s", u.Host)
}
