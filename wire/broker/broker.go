package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/sitepki"
)

// DefaultListen is the address Options.Listen defaults to: MQTT over TLS
// on every interface (IANA's port for secure MQTT).
const DefaultListen = ":8883"

// Options configures a Broker. TLS and Site are required; the zero value
// of every other field means the documented default.
type Options struct {
	// Listen is the TCP address of the TLS listener; "" means
	// DefaultListen. A port of 0 picks a free port: Addr says which.
	Listen string

	// TLS is the listener's configuration, normally
	// sitepki.ServerTLSConfig. It must have a certificate and require and
	// verify client certificates (tls.RequireAndVerifyClientCert): the
	// certificate is the client's identity. New does not modify it.
	TLS *tls.Config

	// Site is the site id (a wire.ValidID) whose topics the ACL serves.
	Site string

	// Admit, if set, is asked at every CONNECT whether a verified
	// identity may connect at all; nil admits every identity the site CA
	// signed. There is no certificate revocation list: this is how
	// varco-admin refuses a door that was removed from the site (with
	// Disconnect for its current connection).
	Admit func(identity string) bool

	// Log receives the broker's and mochi's log records: refused
	// handshakes and connections and ACL denials at Info and Warn. nil
	// discards them.
	Log *slog.Logger
}

// Broker is an MQTT broker for one site: mochi-mqtt behind a TLS listener
// with mandatory client certificates, authenticated and authorised by the
// rules of Allow. Sessions and retained messages live in memory only.
type Broker struct {
	opts Options
	log  *slog.Logger
	srv  *mqtt.Server
	ln   *tlsListener

	mu      sync.Mutex
	started bool
	closed  bool
	nextSub int
}

// New checks opts and returns a broker that is not listening yet (Start).
func New(opts Options) (*Broker, error) {
	if !wire.ValidID(opts.Site) {
		return nil, fmt.Errorf("%w: Site: invalid site id %q", ErrOptions, opts.Site)
	}
	if opts.TLS == nil {
		return nil, fmt.Errorf("%w: TLS is required", ErrOptions)
	}
	if opts.TLS.ClientAuth != tls.RequireAndVerifyClientCert {
		return nil, fmt.Errorf("%w: TLS.ClientAuth is %v, want RequireAndVerifyClientCert: the client certificate is the identity", ErrOptions, opts.TLS.ClientAuth)
	}
	if len(opts.TLS.Certificates) == 0 && opts.TLS.GetCertificate == nil {
		return nil, fmt.Errorf("%w: TLS has no server certificate", ErrOptions)
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	caps := mqtt.NewDefaultServerCapabilities()
	// mochi's default deletes retained messages (and messages queued for
	// an offline session) a day after they were published: a door away
	// for longer would miss its retained head. Keep them, as Mosquitto
	// does; each session's queue stays bounded by MaximumInflight.
	caps.MaximumMessageExpiryInterval = 0
	srv := mqtt.New(&mqtt.Options{
		InlineClient: true,
		Capabilities: caps,
		Logger:       log.With("component", "mochi"),
	})
	h := &hook{site: opts.Site, admit: opts.Admit, srv: srv, log: log}
	if err := srv.AddHook(h, nil); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	return &Broker{
		opts: opts,
		log:  log,
		srv:  srv,
		ln:   newTLSListener("tls", opts.Listen, opts.TLS.Clone(), log),
	}, nil
}

// Start binds the listener and serves clients in the background until
// Close.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.started {
		return errors.New("broker: already started")
	}
	if err := b.srv.AddListener(b.ln); err != nil {
		return fmt.Errorf("broker: listen on %s: %w", b.opts.Listen, err)
	}
	if err := b.srv.Serve(); err != nil {
		b.ln.Close(func(string) {})
		return fmt.Errorf("broker: serve: %w", err)
	}
	b.started = true
	b.log.Info("broker: listening", "addr", b.ln.Address(), "site", b.opts.Site)
	return nil
}

// Run starts the broker, serves until ctx ends, then closes it.
func (b *Broker) Run(ctx context.Context) error {
	if err := b.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return b.Close()
}

// Addr returns the address the listener is bound to ("127.0.0.1:37215"),
// or Options.Listen before Start.
func (b *Broker) Addr() string { return b.ln.Address() }

// Close disconnects every client, stops the listener and waits for the
// connections' goroutines. Clients that did not DISCONNECT get their
// Will published, as on any lost connection. Retained messages and
// sessions are lost. Close is idempotent.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if !b.started {
		return nil
	}
	return b.srv.Close()
}

// Disconnect closes the connection of identity, if it is connected, and
// reports whether it was. Its Last Will is published, as for any lost
// connection. Nothing stops the client from connecting again unless
// Options.Admit now refuses it.
func (b *Broker) Disconnect(identity string) bool {
	if _, _, err := sitepki.ParseIdentity(identity); err != nil {
		return false // not a client of ours (mochi's in-process client is "inline")
	}
	cl, ok := b.srv.Clients.Get(identity)
	if !ok || cl.Closed() {
		return false
	}
	_ = b.srv.DisconnectClient(cl, packets.ErrAdministrativeAction)
	return true
}

// Publish publishes a message from inside the process, as the admin
// identity but without TLS: at QoS 1 to every subscriber whose
// subscription asks for it, retained if retain is set (an empty retained
// payload clears the topic's retained message). The topic must be one
// Allow grants the admin to publish to; otherwise Publish returns
// ErrDenied.
func (b *Broker) Publish(topic string, payload []byte, retain bool) error {
	if !Allow(b.opts.Site, sitepki.AdminIdentity, topic, true) {
		return fmt.Errorf("%w: publish to %q", ErrDenied, topic)
	}
	if err := b.srv.Publish(topic, payload, retain, 1); err != nil {
		return fmt.Errorf("broker: publish to %q: %w", topic, err)
	}
	return nil
}

// Message is a message delivered to an in-process subscriber.
type Message struct {
	Topic    string
	Payload  []byte
	Retained bool // a retained message sent because the subscription is new
}

// Subscribe subscribes handler, inside the process and as the admin
// identity, to filter (one Allow grants the admin; otherwise ErrDenied).
// Retained messages matching filter are handed over at once, before
// Subscribe returns. handler runs on the goroutine of the publishing
// client's connection: it must not block, and it must not keep
// Message.Payload past its return without copying. There is no QoS for
// in-process subscribers: what arrives while the process is down is lost.
// The returned function unsubscribes.
func (b *Broker) Subscribe(filter string, handler func(Message)) (unsubscribe func(), err error) {
	if handler == nil {
		return nil, errors.New("broker: subscribe: nil handler")
	}
	if !Allow(b.opts.Site, sitepki.AdminIdentity, filter, false) {
		return nil, fmt.Errorf("%w: subscribe to %q", ErrDenied, filter)
	}
	b.mu.Lock()
	b.nextSub++
	id := b.nextSub
	b.mu.Unlock()
	err = b.srv.Subscribe(filter, id, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		handler(Message{Topic: pk.TopicName, Payload: pk.Payload, Retained: pk.FixedHeader.Retain})
	})
	if err != nil {
		return nil, fmt.Errorf("broker: subscribe to %q: %w", filter, err)
	}
	var once sync.Once
	return func() { once.Do(func() { _ = b.srv.Unsubscribe(filter, id) }) }, nil
}
