package mqttsync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/varco-access/varco/controller/door"
)

// PahoOptions configure a PahoTransport. Zero durations take their
// defaults.
type PahoOptions struct {
	// Broker is the broker URL: mqtts://host:8883 (also ssl, tls), or
	// mqtt://, tcp://, ws://, wss:// (tests, or a TLS-terminating proxy).
	Broker string
	// ClientID is the fixed MQTT client id, so that the broker keeps the
	// door's session (subscriptions and queued QoS 1 messages) across
	// reconnects: "door:<id>", the door's identity (wire/sitepki).
	ClientID string
	// TLS returns the TLS configuration of one connection attempt. It is
	// called before every attempt, so renewed certificate files are
	// picked up and a missing one is retried rather than fatal (see
	// TLSFiles). nil connects without TLS.
	TLS func() (*tls.Config, error)
	// WillTopic and Will are the Last Will (retained, QoS 1): the door's
	// status topic and wire.OfflineWill.
	WillTopic string
	Will      []byte
	// KeepAlive is the MQTT keep-alive (default 30s).
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt (default 15s).
	ConnectTimeout time.Duration
	// Backoff is the wait between attempts; StableAfter the time a
	// connection must last to start the back-off over
	// (DefaultStableAfter).
	Backoff     Backoff
	StableAfter time.Duration
	// Clock and Rand drive the back-off; nil means the system clock and
	// math/rand/v2.
	Clock door.Clock
	Rand  func() float64
	Log   *slog.Logger
}

// PahoTransport is the Transport over Eclipse Paho (MQTT 3.1.1). It
// makes a new paho client for every connection attempt and runs its own
// reconnect loop (paho's has no jitter); the broker keeps the session,
// since the client id is fixed and CleanSession false. Messages that paho
// had in flight when a connection died are not resent by paho: the sync
// code sends what was not acknowledged again.
type PahoTransport struct {
	o PahoOptions

	// Messages go from paho's router to one worker through a short
	// queue, and are acknowledged when their handler returns. The router
	// is thus free while a handler applies a large snapshot, so PINGRESP
	// and PUBACK packets keep being read (paho reads nothing else while
	// its ordered router waits for a handler).
	queue    chan inbound
	stopping chan struct{} // closed when Run stops the worker

	mu     sync.Mutex
	subs   []subscription
	client paho.Client   // nil while down
	lost   chan struct{} // closed when client's connection ends
}

type subscription struct {
	filter string
	h      func(Message)
}

// inbound is a message waiting for its handler.
type inbound struct {
	h   func(Message)
	m   Message
	ack func()
}

// QueueLength bounds the messages received and not yet handled: enough
// to keep the router free for a while, few enough that snapshot chunks
// (some 350 KiB each) stay a few megabytes.
const QueueLength = 8

var _ Transport = (*PahoTransport)(nil)

// NewPahoTransport checks o and returns a transport; it connects in Run.
func NewPahoTransport(o PahoOptions) (*PahoTransport, error) {
	u, err := url.Parse(o.Broker)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("mqttsync: broker %q: want a URL such as mqtts://host:8883", o.Broker)
	}
	if o.ClientID == "" {
		return nil, errors.New("mqttsync: empty client id")
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 15 * time.Second
	}
	if o.StableAfter <= 0 {
		o.StableAfter = DefaultStableAfter
	}
	if o.Clock == nil {
		o.Clock = door.SystemClock()
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &PahoTransport{o: o, queue: make(chan inbound, QueueLength), stopping: make(chan struct{})}, nil
}

// Subscribe implements Transport.
func (p *PahoTransport) Subscribe(filter string, h func(Message)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.subs = append(p.subs, subscription{filter, h})
}

// Publish implements Transport.
func (p *PahoTransport) Publish(topic string, qos byte, retained bool, payload []byte) Completion {
	p.mu.Lock()
	c, lost := p.client, p.lost
	p.mu.Unlock()
	if c == nil {
		return Completed(ErrNotConnected)
	}
	return newPahoCompletion(c.Publish(topic, qos, retained, payload), lost)
}

// pahoCompletion completes with the token, or with ErrConnectionLost when
// the token's client is gone: paho keeps the tokens of a persistent
// session pending until the same client reconnects, which ours never do.
type pahoCompletion struct {
	done chan struct{}
	err  error
}

func newPahoCompletion(tok paho.Token, lost <-chan struct{}) *pahoCompletion {
	c := &pahoCompletion{done: make(chan struct{})}
	go func() {
		select {
		case <-tok.Done():
			c.err = tok.Error()
		case <-lost:
			select {
			case <-tok.Done(): // both ready: the token's answer wins
				c.err = tok.Error()
			default:
				c.err = ErrConnectionLost
			}
		}
		close(c.done)
	}()
	return c
}

func (c *pahoCompletion) Done() <-chan struct{} { return c.done }
func (c *pahoCompletion) Err() error            { <-c.done; return c.err }

// Run implements Transport.
func (p *PahoTransport) Run(ctx context.Context, up func(), down func(error)) error {
	worker := make(chan struct{})
	go func() {
		defer close(worker)
		for {
			select {
			case in := <-p.queue:
				in.h(in.m)
				in.ack()
			case <-p.stopping:
				return
			}
		}
	}()
	redial(ctx, p.o.Clock, p.o.Backoff, p.o.Rand, p.o.StableAfter, p.dial, up, func(err error) {
		p.drop()
		down(err)
	}, p.o.Log)
	close(p.stopping) // a message not handled yet is not acknowledged: the broker sends it again
	<-worker
	p.disconnect()
	return nil
}

// dial makes one connection attempt with a new client.
func (p *PahoTransport) dial(ctx context.Context) (<-chan error, error) {
	opts := paho.NewClientOptions().
		AddBroker(p.o.Broker).
		SetClientID(p.o.ClientID).
		SetCleanSession(false).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetKeepAlive(p.o.KeepAlive).
		SetPingTimeout(min(p.o.KeepAlive, 10*time.Second)).
		SetConnectTimeout(p.o.ConnectTimeout).
		SetWriteTimeout(10 * time.Second)
	if p.o.TLS != nil {
		cfg, err := p.o.TLS()
		if err != nil {
			return nil, err
		}
		opts.SetTLSConfig(cfg)
	}
	if p.o.WillTopic != "" {
		opts.SetBinaryWill(p.o.WillTopic, p.o.Will, 1, true)
	}
	lostErr := make(chan error, 1)
	opts.SetConnectionLostHandler(func(_ paho.Client, err error) {
		select {
		case lostErr <- err:
		default:
		}
	})
	p.mu.Lock()
	subs := append([]subscription(nil), p.subs...)
	p.mu.Unlock()
	// Messages the broker kept for the session arrive right after
	// CONNACK, before SUBSCRIBE is answered: route them from the start.
	filters := make(map[string]byte, len(subs))
	for _, s := range subs {
		filters[s.filter] = 1
	}
	opts.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		p.o.Log.Debug("mqtt message on no subscription", "topic", m.Topic())
		m.Ack()
	})
	c := paho.NewClient(opts)
	for _, s := range subs {
		c.AddRoute(s.filter, p.handler(s.h))
	}

	if err := wait(ctx, c.Connect(), p.o.ConnectTimeout); err != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("connect %s: %w", p.o.Broker, err)
	}
	if len(filters) > 0 {
		if err := wait(ctx, c.SubscribeMultiple(filters, nil), p.o.ConnectTimeout); err != nil {
			c.Disconnect(0)
			return nil, fmt.Errorf("subscribe: %w", err)
		}
	}
	p.mu.Lock()
	p.client, p.lost = c, make(chan struct{})
	p.mu.Unlock()
	return lostErr, nil
}

// handler queues paho's messages for h, in order.
func (p *PahoTransport) handler(h func(Message)) paho.MessageHandler {
	return func(_ paho.Client, m paho.Message) {
		in := inbound{h: h, m: Message{Topic: m.Topic(), Payload: m.Payload(), Retained: m.Retained()}, ack: m.Ack}
		select {
		case p.queue <- in:
		case <-p.stopping:
		}
	}
}

// wait waits for tok, at most timeout, and returns its error. paho's
// SubscribeMultiple reports refused filters (return code 0x80) only in
// the token's Result.
func wait(ctx context.Context, tok paho.Token, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errors.New("timed out")
	}
	if err := tok.Error(); err != nil {
		return err
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for f, code := range st.Result() {
			if code == 0x80 {
				return fmt.Errorf("broker refused the subscription to %s (ACL?)", f)
			}
		}
	}
	return nil
}

// drop forgets the client of a lost connection, completing its pending
// publishes with ErrConnectionLost.
func (p *PahoTransport) drop() {
	p.mu.Lock()
	c, lost := p.client, p.lost
	p.client, p.lost = nil, nil
	p.mu.Unlock()
	if lost != nil {
		close(lost)
	}
	if c != nil {
		c.Disconnect(0) // stops paho's goroutines; the link is gone anyway
	}
}

// disconnect ends a live connection cleanly: DISCONNECT after up to
// 250 ms for work in flight, so the broker discards the Last Will.
func (p *PahoTransport) disconnect() {
	p.mu.Lock()
	c, lost := p.client, p.lost
	p.client, p.lost = nil, nil
	p.mu.Unlock()
	if c != nil {
		c.Disconnect(250)
	}
	if lost != nil {
		close(lost)
	}
}

// TLSFiles returns a PahoOptions.TLS that reads, at every call, the CA
// bundle at ca (empty: the system pool) and the client certificate and
// key at cert and key (empty: none). serverName, when set, is the name
// the broker's certificate must carry; empty takes the broker URL's host.
func TLSFiles(ca, cert, key, serverName string) func() (*tls.Config, error) {
	return func() (*tls.Config, error) {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
		if ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, fmt.Errorf("mqtt ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("mqtt ca %s: no PEM certificate", ca)
			}
			cfg.RootCAs = pool
		}
		if cert != "" || key != "" {
			kp, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, fmt.Errorf("mqtt client certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{kp}
		}
		return cfg, nil
	}
}
