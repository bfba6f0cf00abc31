package mqtttest_test

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/mqtttest"
	"github.com/varco-access/varco/wire/sitepki"
)

// The conformance suite: the same authentication, ACL, retained and Last
// Will cases against the embedded broker and Mosquitto, with real TLS
// and paho clients. Every "is not delivered" is shown with real messages:
// the forbidden message is sent, then a sentinel the receiver may get,
// sent so that the broker handles it after the forbidden one (same
// publishing connection, or a later one); once the sentinel is in, the
// forbidden message would have been too.

const site = "S"

// timeout bounds every wait for a message or an acknowledgement.
const timeout = 10 * time.Second

func topic(door string, k wire.Kind) string { return wire.Topic(site, door, k) }

// forbidden marks payloads that must never be delivered.
const forbidden = "FORBIDDEN"

// probe is a connected paho client that records what it receives.
type probe struct {
	t    *testing.T
	name string
	b    mqtttest.Broker
	c    paho.Client

	mu   sync.Mutex
	got  []paho.Message
	more chan struct{} // signalled on every message
}

func connect(t *testing.T, b mqtttest.Broker, identity string, adjust ...func(*paho.ClientOptions)) *probe {
	t.Helper()
	p := &probe{t: t, name: identity, b: b, more: make(chan struct{}, 1)}
	opts := mqtttest.ClientOptions(b, identity).SetDefaultPublishHandler(p.record)
	for _, f := range adjust {
		f(opts)
	}
	p.c = mqtttest.Connect(t, opts)
	return p
}

func (p *probe) record(_ paho.Client, m paho.Message) {
	p.mu.Lock()
	p.got = append(p.got, m)
	p.mu.Unlock()
	select {
	case p.more <- struct{}{}:
	default:
	}
}

// sub subscribes at QoS 1 and returns the SUBACK return codes in order.
func (p *probe) sub(filters ...string) []byte {
	p.t.Helper()
	m := map[string]byte{}
	for _, f := range filters {
		m[f] = 1
	}
	tok := p.c.SubscribeMultiple(m, nil)
	if !tok.WaitTimeout(timeout) || tok.Error() != nil {
		p.t.Fatalf("%s: subscribe %q: %v", p.name, filters, tok.Error())
	}
	res := tok.(*paho.SubscribeToken).Result()
	codes := make([]byte, len(filters))
	for i, f := range filters {
		c, ok := res[f]
		if !ok {
			p.t.Fatalf("%s: no SUBACK code for %q in %v", p.name, f, res)
		}
		codes[i] = c
	}
	return codes
}

// mustSub subscribes and fails unless every filter is granted QoS 1.
func (p *probe) mustSub(filters ...string) {
	p.t.Helper()
	for i, c := range p.sub(filters...) {
		if c != 1 {
			p.t.Fatalf("%s: subscribe %q: return code %#x, want QoS 1", p.name, filters[i], c)
		}
	}
}

// deniedSub subscribes to filters a client may not read. The embedded
// broker refuses them in the SUBACK (0x80); Mosquitto 2.0 grants them and
// filters every message on delivery, which the callers check with real
// messages.
func (p *probe) deniedSub(filters ...string) {
	p.t.Helper()
	for i, c := range p.sub(filters...) {
		switch {
		case p.b.Kind() == mqtttest.KindEmbedded && c != 0x80:
			p.t.Errorf("%s: subscribe %q: return code %#x, want 0x80 (failure)", p.name, filters[i], c)
		case p.b.Kind() == mqtttest.KindMosquitto && c != 0x80 && c != 1:
			p.t.Errorf("%s: subscribe %q: return code %#x", p.name, filters[i], c)
		}
	}
}

// pub publishes at QoS 1 and waits for the acknowledgement.
func (p *probe) pub(topic, payload string, retain bool) error {
	tok := p.c.Publish(topic, 1, retain, payload)
	if !tok.WaitTimeout(timeout) {
		return fmt.Errorf("%s: no PUBACK for %s within %v", p.name, topic, timeout)
	}
	return tok.Error()
}

func (p *probe) mustPub(topic, payload string, retain bool) {
	p.t.Helper()
	if err := p.pub(topic, payload, retain); err != nil {
		p.t.Fatalf("%s: publish %s: %v", p.name, topic, err)
	}
}

// waitFor waits for the message (topic, payload) and fails the test if it
// does not come or if a forbidden message came before it.
func (p *probe) waitFor(topic, payload string) paho.Message {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		got := p.got
		p.mu.Unlock()
		for _, m := range got {
			if m.Topic() == topic && string(m.Payload()) == payload {
				p.noForbidden()
				return m
			}
		}
		select {
		case <-p.more:
		case <-deadline:
			p.t.Fatalf("%s: %s %q not received within %v; got %s", p.name, topic, payload, timeout, p.summary())
			return nil
		}
	}
}

// noForbidden fails the test if a forbidden message was delivered.
func (p *probe) noForbidden() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.got {
		if strings.HasPrefix(string(m.Payload()), forbidden) {
			p.t.Errorf("%s received %s %q: the ACL let it through", p.name, m.Topic(), m.Payload())
		}
	}
}

// messages returns what the probe has received so far.
func (p *probe) messages() []paho.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]paho.Message(nil), p.got...)
}

func (p *probe) summary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s []string
	for _, m := range p.got {
		s = append(s, fmt.Sprintf("%s %q", m.Topic(), m.Payload()))
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// publishOnce publishes from a connection of its own and closes it:
// after a forbidden publish the embedded broker disconnects the client
// (mochi 2.7 answers a denied QoS 1 PUBLISH from an MQTT 3.1.1 client so)
// while Mosquitto acknowledges and drops it; either is fine here.
func publishOnce(t *testing.T, b mqtttest.Broker, identity, topic, payload string) {
	t.Helper()
	c, err := mqtttest.TryConnect(mqtttest.ClientOptions(b, identity))
	if err != nil {
		t.Fatalf("%s: connect: %v", identity, err)
	}
	defer c.Disconnect(100)
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(timeout) {
		t.Fatalf("%s: publish to %s: no answer within %v", identity, topic, timeout)
	}
	if err := tok.Error(); err != nil {
		t.Logf("%s: publish to %s: %v (the broker dropped the connection)", identity, topic, err)
	}
}

// rawConn makes paho dial through a TLS connection the test keeps, so it
// can close the TCP connection without DISCONNECT ("kill the door").
func rawConn(conn *net.Conn) func(*paho.ClientOptions) {
	return func(o *paho.ClientOptions) {
		o.SetCustomOpenConnectionFn(func(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", u.Host, o.TLSConfig)
			if err == nil {
				*conn = c
			}
			return c, err
		})
	}
}

func clearRetained(t *testing.T, b mqtttest.Broker, topics ...string) {
	t.Cleanup(func() {
		c, err := mqtttest.TryConnect(mqtttest.ClientOptions(b, sitepki.AdminIdentity))
		if err != nil {
			t.Errorf("clear retained: %v", err)
			return
		}
		defer c.Disconnect(100)
		for _, tp := range topics {
			c.Publish(tp, 1, true, []byte{}).WaitTimeout(timeout)
		}
	})
}

var (
	door     = sitepki.DoorIdentity
	station  = sitepki.StationIdentity
	adminID  = sitepki.AdminIdentity
	toDoor   = []wire.Kind{wire.KindGrants, wire.KindHead, wire.KindSnapshot, wire.KindEventsAck, wire.KindCmd, wire.KindEnroll}
	fromDoor = []wire.Kind{wire.KindSync, wire.KindEvents, wire.KindStatus, wire.KindEnrollResult}
)

func TestConformance(t *testing.T) {
	mqtttest.Each(t, site, []string{"A", "B"}, func(t *testing.T, b mqtttest.Broker) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) { tc.run(t, b) })
		}
	})
}

var cases = []struct {
	name string
	run  func(t *testing.T, b mqtttest.Broker)
}{
	{"door publishes every door-to-admin kind and the admin receives it", func(t *testing.T, b mqtttest.Broker) {
		admin := connect(t, b, adminID)
		admin.mustSub(wire.SiteFilters(site)...)
		a := connect(t, b, door("A"))
		for _, k := range fromDoor {
			a.mustPub(topic("A", k), "from A: "+string(k), false)
		}
		for _, k := range fromDoor {
			admin.waitFor(topic("A", k), "from A: "+string(k))
		}
	}},

	{"door receives every admin-to-door kind of its own", func(t *testing.T, b mqtttest.Broker) {
		a := connect(t, b, door("A"))
		a.mustSub(wire.DoorFilters(site, "A")...)
		admin := connect(t, b, adminID)
		for _, k := range toDoor {
			admin.mustPub(topic("A", k), "to A: "+string(k), false)
		}
		for _, k := range toDoor {
			a.waitFor(topic("A", k), "to A: "+string(k))
		}
	}},

	{"door cannot publish to another door or to its own admin-to-door topics", func(t *testing.T, b mqtttest.Broker) {
		admin := connect(t, b, adminID)
		admin.mustSub("varco/v1/" + site + "/#")
		bb := connect(t, b, door("B"))
		bb.mustSub(wire.DoorFilters(site, "B")...)
		var targets []string
		for _, k := range wire.Kinds() {
			targets = append(targets, topic("B", k))
		}
		for _, k := range toDoor {
			targets = append(targets, topic("A", k))
		}
		targets = append(targets,
			"varco/v1/"+site+"/door/A",             // no kind
			topic("A", wire.KindEvents)+"/extra",   // past the kind
			"varco/v1/"+site+"/door/A/unknown",     // no such kind
			"varco/v1/"+site+"/door/A/events/ack/", // trailing level
		)
		for i, tp := range targets {
			publishOnce(t, b, door("A"), tp, fmt.Sprintf("%s %d from A", forbidden, i))
		}
		// Sentinels: A's own events after its forbidden publishes; then
		// B's grants, after the admin has A's sentinel.
		publishOnce(t, b, door("A"), topic("A", wire.KindEvents), "sentinel A")
		admin.waitFor(topic("A", wire.KindEvents), "sentinel A")
		admin.mustPub(topic("B", wire.KindGrants), "sentinel B", false)
		bb.waitFor(topic("B", wire.KindGrants), "sentinel B")
	}},

	{"door cannot subscribe to other doors, wildcards or door-to-admin topics", func(t *testing.T, b mqtttest.Broker) {
		a := connect(t, b, door("A"))
		a.deniedSub(
			topic("B", wire.KindGrants), topic("B", wire.KindCmd), topic("B", wire.KindEvents), topic("B", wire.KindHead),
			"varco/v1/"+site+"/door/+/grants", "varco/v1/"+site+"/door/+/cmd", "varco/v1/"+site+"/door/+/#",
			"varco/v1/"+site+"/#", "varco/v1/+/door/B/grants", "#", "+/+/+/+/+/+",
			"$share/g/"+topic("B", wire.KindGrants), "$SYS/#",
			topic("A", wire.KindEvents), topic("A", wire.KindStatus), "varco/v1/"+site+"/door/A/#", "varco/v1/"+site+"/door/A/+",
		)
		a.mustSub(topic("A", wire.KindGrants))
		admin := connect(t, b, adminID)
		for _, k := range wire.Kinds() {
			admin.mustPub(topic("B", k), forbidden+" for B "+string(k), false)
		}
		for _, k := range fromDoor {
			admin.mustPub(topic("A", k), forbidden+" A may not read "+string(k), false)
		}
		admin.mustPub(topic("A", wire.KindGrants), "sentinel", false)
		a.waitFor(topic("A", wire.KindGrants), "sentinel")
	}},

	{"the certificate is the identity, not the CONNECT user name or client id", func(t *testing.T, b mqtttest.Broker) {
		admin := connect(t, b, adminID)
		admin.mustSub(wire.SiteFilters(site)...)
		var bLost atomic.Bool
		bb := connect(t, b, door("B"), func(o *paho.ClientOptions) {
			o.SetConnectionLostHandler(func(paho.Client, error) { bLost.Store(true) })
		})
		bb.mustSub(topic("B", wire.KindGrants))

		// A's certificate, B's user name, password and client id.
		impostor := connect(t, b, door("A"), func(o *paho.ClientOptions) {
			o.SetUsername(door("B")).SetPassword("secret").SetClientID(door("B"))
		})
		impostor.deniedSub(topic("B", wire.KindGrants))
		impostor.mustSub(topic("A", wire.KindGrants))
		admin.mustPub(topic("B", wire.KindGrants), "for B only", false)
		admin.mustPub(topic("A", wire.KindGrants), "for A", false)
		impostor.waitFor(topic("A", wire.KindGrants), "for A")
		bb.waitFor(topic("B", wire.KindGrants), "for B only")
		for _, m := range impostor.messages() {
			if m.Topic() != topic("A", wire.KindGrants) {
				t.Errorf("the client with A's certificate received %s %q", m.Topic(), m.Payload())
			}
		}

		impostor.pub(topic("B", wire.KindEvents), forbidden+" as B", false)
		if impostor.c.IsConnectionOpen() {
			impostor.mustPub(topic("A", wire.KindEvents), "as A", false)
		} else {
			publishOnce(t, b, door("A"), topic("A", wire.KindEvents), "as A")
		}
		admin.waitFor(topic("A", wire.KindEvents), "as A")

		// B was not taken over by a client id "door:B" on A's certificate.
		admin.mustPub(topic("B", wire.KindGrants), "still B", false)
		bb.waitFor(topic("B", wire.KindGrants), "still B")
		if bLost.Load() || !bb.c.IsConnectionOpen() {
			t.Error("door B lost its connection to a client with A's certificate and B's client id")
		}
	}},

	{"clients without a valid certificate of the site cannot connect", func(t *testing.T, b mqtttest.Broker) {
		other := mqtttest.StartEmbedded(t, site) // another site CA
		now := time.Now()
		mk := func(t *testing.T, certPEM, keyPEM []byte) *tls.Config {
			cfg, err := sitepki.ClientTLSConfig(certPEM, keyPEM, b.CA().CertPEM(), "")
			if err != nil {
				t.Fatal(err)
			}
			return cfg
		}
		expiredCert, expiredKey, err := b.CA().ClientCert(door("A"), now.Add(-sitepki.LeafValidity-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		serverCert, serverKey, err := b.CA().ServerCert([]string{"localhost"}, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			url  string
			tls  *tls.Config
		}{
			{"no client certificate", b.URL(), &tls.Config{RootCAs: b.CA().CertPool()}},
			{"certificate of another CA", b.URL(), func() *tls.Config {
				c := other.ClientTLS(door("A"))
				c.RootCAs = b.CA().CertPool()
				return c
			}()},
			{"expired certificate", b.URL(), mk(t, expiredCert, expiredKey)},
			{"server certificate as a client", b.URL(), mk(t, serverCert, serverKey)},
			{"plain TCP", strings.Replace(b.URL(), "ssl://", "tcp://", 1), nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				opts := mqtttest.ClientOptions(b, door("A")).SetTLSConfig(tc.tls).SetConnectTimeout(3 * time.Second)
				opts.Servers = nil
				opts.AddBroker(tc.url)
				if c, err := mqtttest.TryConnect(opts); err == nil {
					c.Disconnect(0)
					t.Fatal("connected")
				} else {
					t.Logf("refused: %v", err)
				}
			})
		}
		// The same broker still takes a good client.
		connect(t, b, door("A"))
	}},

	{"retained head reaches a late subscriber, and only its door", func(t *testing.T, b mqtttest.Broker) {
		headA, headB := topic("A", wire.KindHead), topic("B", wire.KindHead)
		clearRetained(t, b, headA, headB)
		admin := connect(t, b, adminID)
		admin.mustPub(headA, forbidden+" head A (old)", true)
		admin.mustPub(headA, "head A", true) // replaces the first
		admin.mustPub(headB, "head B", true)
		admin.c.Disconnect(100)

		a := connect(t, b, door("A"))
		a.mustSub(headA)
		if m := a.waitFor(headA, "head A"); !m.Retained() {
			t.Error("head A delivered without the retain flag")
		}
		// B's wildcard is handled before its own head: A's retained head
		// would come first.
		bb := connect(t, b, door("B"))
		bb.deniedSub("varco/v1/"+site+"/door/+/head", headA)
		bb.mustSub(headB)
		bb.waitFor(headB, "head B")
		for _, m := range bb.messages() {
			if m.Topic() == headA {
				t.Errorf("door B received A's retained head %q", m.Payload())
			}
		}
	}},

	{"Last Will of a door killed without DISCONNECT reaches the admin", func(t *testing.T, b mqtttest.Broker) {
		status := topic("A", wire.KindStatus)
		clearRetained(t, b, status)
		admin := connect(t, b, adminID)
		admin.mustSub(wire.SiteFilters(site)...)
		var conn net.Conn
		a := connect(t, b, door("A"), rawConn(&conn), func(o *paho.ClientOptions) {
			o.SetBinaryWill(status, []byte("offline"), 1, true)
		})
		a.mustPub(status, "online", true)
		admin.waitFor(status, "online")
		if err := conn.Close(); err != nil { // no DISCONNECT: the door died
			t.Fatal(err)
		}
		admin.waitFor(status, "offline")
		// The Will was retained: a late subscriber learns the door is offline.
		admin.c.Disconnect(100) // one session per identity: the late one would take it over
		late := connect(t, b, adminID)
		late.mustSub(status)
		if m := late.waitFor(status, "offline"); !m.Retained() {
			t.Error("the Will was not retained")
		}
	}},

	{"a Will on another door's topic is never published", func(t *testing.T, b mqtttest.Broker) {
		admin := connect(t, b, adminID)
		admin.mustSub(wire.SiteFilters(site)...)
		var conn net.Conn
		opts := mqtttest.ClientOptions(b, door("A")).SetBinaryWill(topic("B", wire.KindStatus), []byte(forbidden+" will"), 1, true)
		rawConn(&conn)(opts)
		c, err := mqtttest.TryConnect(opts)
		switch {
		case err != nil:
			t.Logf("refused at CONNECT: %v", err) // the embedded broker
		default:
			conn.Close() // Mosquitto accepts, and must drop the Will
			c.Disconnect(0)
		}
		clearRetained(t, b, topic("B", wire.KindStatus))
		publishOnce(t, b, door("A"), topic("A", wire.KindStatus), "sentinel")
		admin.waitFor(topic("A", wire.KindStatus), "sentinel")
		if b.Kind() == mqtttest.KindEmbedded && err == nil {
			t.Error("the embedded broker accepted a Will on another door's topic")
		}
	}},

	{"enrolment station: its enrolment topics only", func(t *testing.T, b mqtttest.Broker) {
		admin := connect(t, b, adminID)
		admin.mustSub(wire.SiteFilters(site)...)
		st := connect(t, b, station("A"))
		st.mustSub(topic("A", wire.KindEnroll))
		st.deniedSub(topic("A", wire.KindGrants), topic("A", wire.KindCmd), topic("B", wire.KindEnroll))
		admin.mustPub(topic("A", wire.KindGrants), forbidden+" grants to a station", false)
		admin.mustPub(topic("B", wire.KindEnroll), forbidden+" B's challenge", false)
		admin.mustPub(topic("A", wire.KindEnroll), "challenge", false)
		st.waitFor(topic("A", wire.KindEnroll), "challenge")

		for _, k := range []wire.Kind{wire.KindEvents, wire.KindSync} {
			publishOnce(t, b, station("A"), topic("A", k), forbidden+" station "+string(k))
		}
		publishOnce(t, b, station("A"), topic("B", wire.KindEnrollResult), forbidden+" station B result")
		publishOnce(t, b, station("A"), topic("A", wire.KindEnrollResult), "result")
		admin.waitFor(topic("A", wire.KindEnrollResult), "result")
	}},

	{"a persistent session gets what was published while the door was away", func(t *testing.T, b mqtttest.Broker) {
		grants := topic("A", wire.KindGrants)
		persistent := func(o *paho.ClientOptions) { o.SetCleanSession(false) }
		a := connect(t, b, door("A"), persistent)
		a.mustSub(grants)
		a.c.Disconnect(100) // a clean DISCONNECT: the session stays
		admin := connect(t, b, adminID)
		admin.mustPub(grants, "while away", false)
		a = connect(t, b, door("A"), persistent) // no new SUBSCRIBE
		a.waitFor(grants, "while away")
		a.c.Disconnect(100)
		connect(t, b, door("A")).c.Disconnect(100) // a clean session ends it
	}},

	{"admin ingests through a shared subscription", func(t *testing.T, b mqtttest.Broker) {
		admin := connect(t, b, adminID)
		admin.mustSub("$share/ingest/varco/v1/" + site + "/door/+/events")
		a := connect(t, b, door("A"))
		a.mustPub(topic("A", wire.KindEvents), "shared", false)
		admin.waitFor(topic("A", wire.KindEvents), "shared")
	}},
}
