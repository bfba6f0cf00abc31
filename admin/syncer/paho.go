package syncer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/varco-access/varco/wire/sitepki"
)

// Defaults of PahoOptions.
const (
	DefaultConnectTimeout       = 10 * time.Second
	DefaultKeepAlive            = 30 * time.Second
	DefaultMaxReconnectInterval = time.Minute
)

// maxHeld bounds the messages kept for a subscription not made yet (see
// Paho): past it the oldest is acknowledged and dropped.
const maxHeld = 1000

// PahoOptions configure NewPaho. URL and TLS are required.
type PahoOptions struct {
	// URL is the broker: "ssl://host:8883" (also "tls://", "mqtts://",
	// "tcps://"). Plain MQTT is refused: the client certificate is the
	// admin's identity.
	URL string
	// TLS carries the client certificate (Common Name "admin") and the
	// CA that verifies the broker: sitepki.ClientTLSConfig.
	TLS *tls.Config
	// ClientID is the MQTT client id. Default sitepki.AdminIdentity: the
	// site's brokers force the client id to the certificate's identity
	// anyway, so the persistent session is the admin's.
	ClientID string
	// Log receives connection losses, reconnections and refused
	// subscriptions. Nil discards.
	Log *slog.Logger
	// ConnectTimeout bounds each connection attempt (TCP, TLS and
	// CONNACK) and each re-subscription. Default DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// KeepAlive is the MQTT keep-alive: a dead link is noticed within
	// about 1.5 times it. Default DefaultKeepAlive.
	KeepAlive time.Duration
	// MaxReconnectInterval caps the wait between connection attempts,
	// which starts at 1 s and doubles. Default
	// DefaultMaxReconnectInterval.
	MaxReconnectInterval time.Duration
	// Background makes NewPaho return at once and keep trying to connect
	// until Close, instead of failing when the first attempt fails: for
	// an external broker that may be down when varco-admin starts.
	Background bool
}

// Paho is the Transport over a paho MQTT 3.1.1 client.
//
// The session is persistent (CleanSession false): what the broker queued
// for the admin while it was away is delivered when it connects again.
// The client reconnects by itself (back-off from 1 s, doubling up to
// MaxReconnectInterval) and subscribes to every filter registered with
// Subscribe again on each connection, so a broker that lost the session
// (a restart of the embedded one, an expiry) still delivers.
//
// # Ordering and slow handlers
//
// paho calls handlers on the goroutine that reads the network when order
// matters (SetOrderMatters(true)), and its documentation says such a
// handler "must not block or call functions within this package that may
// block (e.g. Publish)": a handler that waits for a PUBACK while the
// next PUBLISH is waiting to be routed deadlocks the client. The
// syncer's handlers do both: they write to the database and publish
// acknowledgements. With SetOrderMatters(false) paho starts a goroutine
// per message instead, which loses the order (a door's Last Will could
// overtake its last status) and has no bound.
//
// So Paho keeps the order and takes the handlers off paho's goroutine:
// paho's callback only appends the message to a queue, and one worker
// goroutine runs the handlers, one message at a time in arrival order,
// and then acknowledges the message (SetAutoAckDisabled(true)). The
// PUBACK leaves only once the handler has returned, so a slow database
// slows the broker's deliveries down instead of filling memory: the
// broker sends no more unacknowledged messages than its in-flight window
// (Mosquitto's max_inflight_messages, 20 by default; mochi's receive
// maximum). A message whose handler has not run when the connection
// drops is not acknowledged and is delivered again: handlers must be
// idempotent, which the syncer's are (ingest ignores duplicates, sync
// requests and statuses may repeat).
//
// A message that matches no registered filter (it arrives for the
// persistent session before the syncer has subscribed again after a
// restart) is held, unacknowledged, until a matching Subscribe, at most
// maxHeld of them.
type Paho struct {
	o   PahoOptions
	log *slog.Logger
	c   paho.Client

	stop       chan struct{} // closed by Close
	loopDone   chan struct{} // closed when connectLoop returns
	workerDone chan struct{} // closed when work returns
	wake       chan struct{} // the worker has something to look at

	mu     sync.Mutex
	closed bool
	subs   []subscription // in registration order
	queue  []paho.Message // received, not handled yet
	held   []paho.Message // received, no subscription matched yet
	rescan bool           // a subscription was added: look at held again
}

type subscription struct {
	filter string
	h      func(topic string, payload []byte)
}

var _ Transport = (*Paho)(nil)

// NewPaho checks o and starts connecting. Without o.Background it
// returns once connected, or the error of the first attempt (refused
// certificate, unreachable broker); with it, at once. Close it when done.
func NewPaho(o PahoOptions) (*Paho, error) {
	u, err := url.Parse(o.URL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("syncer: paho: URL %q: %w", o.URL, err)
	case u.Host == "":
		return nil, fmt.Errorf("syncer: paho: URL %q has no host", o.URL)
	}
	switch u.Scheme {
	case "ssl", "tls", "mqtts", "tcps":
	default:
		return nil, fmt.Errorf("syncer: paho: URL %q: want ssl://host:port (TLS with a client certificate)", o.URL)
	}
	if o.TLS == nil {
		return nil, errors.New("syncer: paho: TLS is required")
	}
	if o.ClientID == "" {
		o.ClientID = sitepki.AdminIdentity
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.MaxReconnectInterval <= 0 {
		o.MaxReconnectInterval = DefaultMaxReconnectInterval
	}
	p := &Paho{
		o:          o,
		log:        o.Log,
		stop:       make(chan struct{}),
		loopDone:   make(chan struct{}),
		workerDone: make(chan struct{}),
		wake:       make(chan struct{}, 1),
	}
	opts := paho.NewClientOptions().
		AddBroker(o.URL).
		SetTLSConfig(o.TLS).
		SetClientID(o.ClientID).
		SetProtocolVersion(4). // 3.1.1, and no silent fallback to 3.1
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectRetry(false). // the first connection is connectLoop's
		SetConnectTimeout(o.ConnectTimeout).
		SetKeepAlive(o.KeepAlive).
		SetPingTimeout(o.ConnectTimeout).
		SetMaxReconnectInterval(o.MaxReconnectInterval).
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetDefaultPublishHandler(p.enqueue).
		SetOnConnectHandler(p.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			p.log.Warn("mqtt: connection lost; reconnecting", "broker", o.URL, "err", err)
		})
	p.c = paho.NewClient(opts)

	go p.work()
	first := make(chan error, 1)
	go p.connectLoop(first)
	if o.Background {
		return p, nil
	}
	select {
	case err = <-first:
	case <-time.After(2*o.ConnectTimeout + time.Second):
		err = fmt.Errorf("no CONNACK within %v", o.ConnectTimeout)
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("syncer: paho: connect to %s: %w", o.URL, err)
	}
	return p, nil
}

// connectLoop makes the first connection; paho's automatic reconnection
// takes over from there. The first attempt's result goes to first. In
// the background mode it tries again with a doubling, jittered wait.
func (p *Paho) connectLoop(first chan<- error) {
	defer close(p.loopDone)
	wait := time.Second
	for attempt := 1; ; attempt++ {
		tok := p.c.Connect()
		select {
		case <-tok.Done():
		case <-p.stop:
			// Let the attempt end, so that Close's Disconnect finds a
			// settled client.
			tok.WaitTimeout(p.o.ConnectTimeout + time.Second)
			return
		}
		err := tok.Error()
		if first != nil {
			first <- err
			first = nil
		}
		if err == nil || !p.o.Background {
			return
		}
		d := wait/2 + rand.N(wait/2+1)
		p.log.Warn("mqtt: cannot connect to the broker; retrying", "broker", p.o.URL, "attempt", attempt, "retry_in", d.Round(time.Millisecond), "err", err)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-p.stop:
			t.Stop()
			return
		}
		wait = min(2*wait, p.o.MaxReconnectInterval)
	}
}

// onConnect runs on its own goroutine after each connection: it
// subscribes again to every registered filter, retrying while the
// connection lasts.
func (p *Paho) onConnect(c paho.Client) {
	p.log.Info("mqtt: connected", "broker", p.o.URL, "client_id", p.o.ClientID)
	wait := 100 * time.Millisecond
	for {
		p.mu.Lock()
		var filters []string
		for _, s := range p.subs {
			filters = append(filters, s.filter)
		}
		closed := p.closed
		p.mu.Unlock()
		if len(filters) == 0 || closed {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.o.ConnectTimeout)
		refused, err := p.subscribe(ctx, c, filters)
		cancel()
		for _, f := range refused {
			p.log.Error("mqtt: the broker refused a subscription", "filter", f)
		}
		if err == nil {
			p.log.Debug("mqtt: subscribed again", "filters", len(filters))
			return
		}
		if !c.IsConnectionOpen() {
			return // the next connection subscribes
		}
		p.log.Warn("mqtt: subscribing again failed; retrying", "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-p.stop:
			t.Stop()
			return
		}
		wait = min(2*wait, p.o.ConnectTimeout)
	}
}

// subscribeAgain is the SUBACK code 0x91, "packet identifier in use":
// not an MQTT 3.1.1 code, but mochi answers it when the SUBSCRIBE's
// packet identifier is also that of a message it is delivering to the
// client and that is not acknowledged yet (mochi keeps one table of
// identifiers for both directions; paho knows only its own). A new
// SUBSCRIBE gets the next identifier.
const subscribeAgain = 0x91

// subscribe subscribes to filters at QoS 1 and returns those the broker
// refused. It sends the filters answered subscribeAgain again until ctx
// ends.
func (p *Paho) subscribe(ctx context.Context, c paho.Client, filters []string) (refused []string, err error) {
	for len(filters) > 0 {
		m := map[string]byte{}
		byKey := map[string]string{} // paho's Result keys drop a $share/{group}/ prefix
		for _, f := range filters {
			m[f] = 1
			byKey[stripShare(f)] = f
		}
		tok := c.SubscribeMultiple(m, nil)
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return refused, ctx.Err()
		}
		if err := tok.Error(); err != nil {
			return refused, err
		}
		filters = filters[:0:0]
		for k, code := range tok.(*paho.SubscribeToken).Result() {
			f, ok := byKey[k]
			if !ok {
				f = k
			}
			switch {
			case code <= 2: // the QoS granted
			case code == subscribeAgain:
				filters = append(filters, f)
			default:
				refused = append(refused, f)
			}
		}
		if err := ctx.Err(); err != nil && len(filters) > 0 {
			return refused, err
		}
	}
	return refused, nil
}

func stripShare(filter string) string {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		if _, f, ok := strings.Cut(rest, "/"); ok {
			return f
		}
	}
	return filter
}

// Connected reports whether the client has a connection to the broker
// now.
func (p *Paho) Connected() bool { return p.c.IsConnectionOpen() }

// Publish sends payload and waits for the broker's PUBACK (QoS 1), or
// until ctx ends. Without a connection at the moment it fails at once
// with ErrNotConnected rather than queueing: the syncer sends again.
func (p *Paho) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	if p.isClosed() {
		return ErrClosed
	}
	if !p.c.IsConnectionOpen() {
		return fmt.Errorf("publish %s: %w", topic, ErrNotConnected)
	}
	tok := p.c.Publish(topic, qos, retained, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("publish %s: %w", topic, ctx.Err())
	}
}

// Subscribe registers h for filter (QoS 1) and subscribes now if
// connected, waiting for the SUBACK until ctx ends; otherwise the
// subscription is made on connection. Subscribing to a filter again
// replaces its handler. A filter the broker refuses is forgotten and
// ErrRefused returned.
func (p *Paho) Subscribe(ctx context.Context, filter string, h func(topic string, payload []byte)) error {
	if h == nil {
		return errors.New("syncer: paho: subscribe: nil handler")
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	replaced := false
	for i := range p.subs {
		if p.subs[i].filter == filter {
			p.subs[i].h, replaced = h, true
		}
	}
	if !replaced {
		p.subs = append(p.subs, subscription{filter, h})
	}
	p.rescan = true
	p.mu.Unlock()
	p.signal()

	if !p.c.IsConnectionOpen() {
		return nil
	}
	refused, err := p.subscribe(ctx, p.c, []string{filter})
	switch {
	case len(refused) > 0:
		p.forget(filter)
		return fmt.Errorf("subscribe %s: %w", filter, ErrRefused)
	case err != nil && !p.c.IsConnectionOpen():
		return nil // lost meanwhile: the next connection subscribes
	case err != nil:
		return fmt.Errorf("subscribe %s: %w", filter, err)
	}
	return nil
}

func (p *Paho) forget(filter string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.subs {
		if p.subs[i].filter == filter {
			p.subs = append(p.subs[:i], p.subs[i+1:]...)
			return
		}
	}
}

// Close disconnects (waiting up to 250 ms for in-flight messages), waits
// for a running handler to return and stops. Messages received and not
// handled yet are not acknowledged: the broker delivers them again to
// the next session. Close is idempotent.
func (p *Paho) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.queue, p.held = nil, nil
	close(p.stop)
	p.mu.Unlock()
	p.signal()
	<-p.loopDone
	p.c.Disconnect(250)
	<-p.workerDone
	return nil
}

func (p *Paho) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// enqueue is paho's handler for every message: it must not block.
func (p *Paho) enqueue(_ paho.Client, m paho.Message) {
	p.mu.Lock()
	if !p.closed {
		p.queue = append(p.queue, m)
	}
	p.mu.Unlock()
	p.signal()
}

func (p *Paho) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// work runs the handlers, one message at a time, and acknowledges each
// message after them.
func (p *Paho) work() {
	defer close(p.workerDone)
	for {
		m, hs, ok := p.next()
		if !ok {
			return
		}
		for _, h := range hs {
			h(m.Topic(), m.Payload())
		}
		m.Ack()
	}
}

// next waits for a message that has handlers, holding those that have
// none; false once closed.
func (p *Paho) next() (paho.Message, []func(string, []byte), bool) {
	var drop []paho.Message
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, nil, false
		}
		if p.rescan {
			// Held messages came first: those a new subscription matches
			// go before the queue.
			p.rescan = false
			var ready, still []paho.Message
			for _, m := range p.held {
				if len(p.handlers(m.Topic())) > 0 {
					ready = append(ready, m)
				} else {
					still = append(still, m)
				}
			}
			p.held = still
			p.queue = append(ready, p.queue...)
		}
		for len(p.queue) > 0 {
			m := p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
			if hs := p.handlers(m.Topic()); len(hs) > 0 {
				p.mu.Unlock()
				p.dropHeld(drop)
				return m, hs, true
			}
			p.held = append(p.held, m)
			if len(p.held) > maxHeld {
				drop = append(drop, p.held[0])
				p.held[0] = nil
				p.held = p.held[1:]
			}
		}
		p.mu.Unlock()
		p.dropHeld(drop)
		drop = drop[:0]
		<-p.wake
	}
}

// dropHeld acknowledges messages held too long, outside p.mu: Ack may
// wait for paho.
func (p *Paho) dropHeld(ms []paho.Message) {
	for _, m := range ms {
		p.log.Warn("mqtt: dropping a message no subscription matches", "topic", m.Topic())
		m.Ack()
	}
}

// handlers returns the handlers whose filter matches topic; p.mu held.
func (p *Paho) handlers(topic string) []func(string, []byte) {
	var hs []func(string, []byte)
	for _, s := range p.subs {
		if matchFilter(s.filter, topic) {
			hs = append(hs, s.h)
		}
	}
	return hs
}

// matchFilter reports whether an MQTT topic filter matches topic: '+'
// one level, '#' (last) any number of levels including none; wildcards
// at the first level do not match topics starting with '$'
// (MQTT 3.1.1 section 4.7). A shared subscription "$share/{group}/f"
// matches as f.
func matchFilter(filter, topic string) bool {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		_, f, ok := strings.Cut(rest, "/")
		if !ok {
			return false
		}
		filter = f
	}
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fs {
		if f == "#" {
			return i == len(fs)-1
		}
		if i >= len(ts) || (f != "+" && f != ts[i]) {
			return false
		}
	}
	return len(fs) == len(ts)
}
