package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/sitepki"
)

// These tests cover what is particular to the embedded broker: options,
// lifecycle, the listener's timeouts, the in-process client and the
// forced client id. The rules shared with Mosquitto are tested against
// both brokers in wire/mqtttest.

type testPKI struct {
	ca     *sitepki.CA
	server *tls.Config
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := sitepki.NewCA("S", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, k, err := ca.ServerCert([]string{"localhost", "127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := sitepki.ServerTLSConfig(c, k, ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{ca: ca, server: cfg}
}

func (p *testPKI) client(t *testing.T, identity string) *tls.Config {
	t.Helper()
	c, k, err := p.ca.ClientCert(identity, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := sitepki.ClientTLSConfig(c, k, p.ca.CertPEM(), "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// syncBuffer is a log sink safe for the broker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startBroker(t *testing.T, p *testPKI, adjust ...func(*Broker)) (*Broker, *syncBuffer) {
	t.Helper()
	log := new(syncBuffer)
	b, err := New(Options{Listen: "127.0.0.1:0", TLS: p.server, Site: "S", Log: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range adjust {
		f(b)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Close()
		if t.Failed() {
			t.Logf("broker log:\n%s", log)
		}
	})
	return b, log
}

func dial(t *testing.T, b *Broker, cfg *tls.Config, clientID string, h paho.MessageHandler) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("ssl://" + b.Addr()).SetTLSConfig(cfg).
		SetClientID(clientID).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).
		SetDefaultPublishHandler(h)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %q: %v", clientID, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func wait(t *testing.T, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("%T: %v", tok, tok.Error())
	}
}

func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received within 10s")
		panic("unreachable")
	}
}

func TestNewOptions(t *testing.T) {
	p := newTestPKI(t)
	noVerify := p.server.Clone()
	noVerify.ClientAuth = tls.RequireAnyClientCert
	noCert := p.server.Clone()
	noCert.Certificates = nil
	for name, opts := range map[string]Options{
		"no site":         {TLS: p.server},
		"bad site":        {TLS: p.server, Site: "a/b"},
		"no TLS":          {Site: "S"},
		"unverified cert": {TLS: noVerify, Site: "S"},
		"no client auth":  {TLS: &tls.Config{Certificates: p.server.Certificates}, Site: "S"},
		"no server cert":  {TLS: noCert, Site: "S"},
	} {
		if _, err := New(opts); !errors.Is(err, ErrOptions) {
			t.Errorf("%s: %v, want ErrOptions", name, err)
		}
	}
	b, err := New(Options{TLS: p.server, Site: "S"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Addr() != DefaultListen {
		t.Errorf("Addr before Start = %q, want the default %q", b.Addr(), DefaultListen)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	p := newTestPKI(t)
	b, err := New(Options{Listen: "127.0.0.1:0", TLS: p.server, Site: "S"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var addr string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if addr = b.Addr(); !strings.HasSuffix(addr, ":0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not bind")
		}
	}
	c := dial(t, b, p.client(t, "admin"), "admin", nil)
	if err := b.Start(); err == nil {
		t.Error("a second Start succeeded")
	}
	cancel()
	if err := receive(t, done); err != nil {
		t.Errorf("Run: %v", err)
	}
	// The client was disconnected (paho notices asynchronously).
	for deadline := time.Now().Add(5 * time.Second); c.IsConnectionOpen(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the client is still connected after Run returned")
		}
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
	// The port is free again.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	ln.Close()
}

// TestSilentConnections: peers that connect and say nothing, or finish
// TLS and send no CONNECT, are dropped after the connect timeout, and do
// not hold up Close.
func TestSilentConnections(t *testing.T) {
	p := newTestPKI(t)
	b, log := startBroker(t, p, func(b *Broker) { b.ln.timeout = 300 * time.Millisecond })

	raw, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tc, err := tls.Dial("tcp", b.Addr(), p.client(t, "door:A"))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	for name, c := range map[string]net.Conn{"silent TCP": raw, "TLS without CONNECT": tc} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		_, err := c.Read(make([]byte, 1))
		if err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			t.Errorf("%s: read %v: the broker did not drop it", name, err)
		} else if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: dropped after %v", name, d)
		}
	}
	// The broker logs after it closed the connection: allow it a moment.
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(log.String(), "TLS handshake refused"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Error("the silent TCP peer was not logged")
			break
		}
	}

	// With the normal timeout, Close does not wait for silent peers.
	quiet, _ := startBroker(t, p)
	for range 3 {
		c, err := net.Dial("tcp", quiet.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	c, err := tls.Dial("tcp", quiet.Addr(), p.client(t, "door:A"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := quiet.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with silent connections open", d)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("connection still open after Close: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestRefusedHandshakeLogged(t *testing.T) {
	p := newTestPKI(t)
	b, log := startBroker(t, p)
	c, err := tls.Dial("tcp", b.Addr(), &tls.Config{RootCAs: p.ca.CertPool()})
	if err == nil {
		// TLS 1.3: the refusal arrives with the first read.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate completed TLS")
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(log.String(), "certificate"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("refusal not logged:\n%s", log)
		}
	}
}

func TestInline(t *testing.T) {
	p := newTestPKI(t)
	b, _ := startBroker(t, p)
	grants := wire.Topic("S", "A", wire.KindGrants)
	events := wire.Topic("S", "A", wire.KindEvents)
	head := wire.Topic("S", "A", wire.KindHead)

	// In-process publish reaches a door over TLS.
	got := make(chan paho.Message, 10)
	door := dial(t, b, p.client(t, "door:A"), "door:A", func(_ paho.Client, m paho.Message) { got <- m })
	wait(t, door.Subscribe(grants, 1, nil))
	if err := b.Publish(grants, []byte("delta"), false); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, got); m.Topic() != grants || string(m.Payload()) != "delta" || m.Qos() != 1 {
		t.Errorf("door got %s %q QoS %d", m.Topic(), m.Payload(), m.Qos())
	}

	// In-process subscription receives a door's events.
	in := make(chan Message, 10)
	unsub, err := b.Subscribe(wire.SiteFilter("S"), func(m Message) { in <- m })
	if err != nil {
		t.Fatal(err)
	}
	wait(t, door.Publish(events, 1, false, "ev"))
	if m := receive(t, in); m.Topic != events || string(m.Payload) != "ev" {
		t.Errorf("inline got %s %q", m.Topic, m.Payload)
	}
	unsub()
	unsub() // idempotent

	// Retained messages are handed over on Subscribe.
	if err := b.Publish(head, []byte("rev 7"), true); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []Message
	unsub2, err := b.Subscribe(head, func(m Message) { mu.Lock(); seen = append(seen, m); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	defer unsub2()
	mu.Lock()
	if len(seen) != 1 || string(seen[0].Payload) != "rev 7" || !seen[0].Retained {
		t.Errorf("retained on Subscribe: %+v", seen)
	}
	mu.Unlock()

	// The first subscription is gone: a new event reaches only a new one.
	in2 := make(chan Message, 10)
	unsub3, err := b.Subscribe(events, func(m Message) { in2 <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer unsub3()
	wait(t, door.Publish(events, 1, false, "ev2"))
	receive(t, in2)
	select {
	case m := <-in:
		t.Errorf("unsubscribed handler got %s %q", m.Topic, m.Payload)
	default:
	}

	// The in-process client has the admin's rights, no more.
	for _, tp := range []string{"varco/v1/T/door/A/grants", "$SYS/x", "other", "varco/v1/S/door/+/grants"} {
		if err := b.Publish(tp, nil, false); !errors.Is(err, ErrDenied) {
			t.Errorf("Publish(%q): %v, want ErrDenied", tp, err)
		}
	}
	for _, f := range []string{"#", "$SYS/#", "varco/v1/+/door/A/events"} {
		if _, err := b.Subscribe(f, func(Message) {}); !errors.Is(err, ErrDenied) {
			t.Errorf("Subscribe(%q): %v, want ErrDenied", f, err)
		}
	}
	if _, err := b.Subscribe(events, nil); err == nil {
		t.Error("Subscribe with a nil handler")
	}
}

// TestClientIDForced: the session is named by the certificate, whatever
// client id the CONNECT carries.
func TestClientIDForced(t *testing.T) {
	p := newTestPKI(t)
	b, log := startBroker(t, p)
	for _, id := range []string{"", "door:B", "anything", "door:A/2"} {
		c := dial(t, b, p.client(t, "door:A"), id, nil)
		if _, ok := b.srv.Clients.Get("door:A"); !ok {
			t.Errorf("client id %q: no session door:A", id)
		}
		if _, ok := b.srv.Clients.Get(id); ok && id != "door:A" {
			t.Errorf("client id %q: a session under that id exists", id)
		}
		c.Disconnect(100)
	}
	if !strings.Contains(log.String(), "client id replaced") {
		t.Error("replaced client ids are not logged")
	}
}

// TestRetainedNeverExpire pins the capability that keeps retained
// messages past mochi's default of a day (its event loop deletes a
// retained message older than MaximumMessageExpiryInterval when that is
// not 0; the loop's clock cannot be moved from here).
func TestRetainedNeverExpire(t *testing.T) {
	b, _ := startBroker(t, newTestPKI(t))
	if got := b.srv.Options.Capabilities.MaximumMessageExpiryInterval; got != 0 {
		t.Errorf("MaximumMessageExpiryInterval = %d, want 0 (never)", got)
	}
}

// TestAdmitAndDisconnect: how the admin cuts off a door removed from the
// site, there being no certificate revocation.
func TestAdmitAndDisconnect(t *testing.T) {
	p := newTestPKI(t)
	var mu sync.Mutex
	removed := map[string]bool{"door:B": true}
	log := new(syncBuffer)
	b, err := New(Options{Listen: "127.0.0.1:0", TLS: p.server, Site: "S",
		Log: slog.New(slog.NewTextHandler(log, nil)),
		Admit: func(id string) bool {
			mu.Lock()
			defer mu.Unlock()
			return !removed[id]
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	opts := func(id string) *paho.ClientOptions {
		return paho.NewClientOptions().AddBroker("ssl://" + b.Addr()).SetTLSConfig(p.client(t, id)).
			SetClientID(id).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	}
	c := paho.NewClient(opts("door:B"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() == nil {
		c.Disconnect(0)
		t.Fatal("a removed door connected")
	}

	lost := make(chan error, 1)
	a := paho.NewClient(opts("door:A").SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err }))
	wait(t, a.Connect())
	defer a.Disconnect(0)
	mu.Lock()
	removed["door:A"] = true
	mu.Unlock()
	if !b.Disconnect("door:A") {
		t.Fatal("Disconnect(door:A) = false for a connected door")
	}
	receive(t, lost)
	if b.Disconnect("door:A") || b.Disconnect("inline") || b.Disconnect("door:nobody") {
		t.Error("Disconnect reported a client that is not connected")
	}
	c = paho.NewClient(opts("door:A"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() == nil {
		c.Disconnect(0)
		t.Fatal("door A reconnected after its removal")
	}
	if !strings.Contains(log.String(), "does not admit") {
		t.Error("refusals not logged")
	}
}
