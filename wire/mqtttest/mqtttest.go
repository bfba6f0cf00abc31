package mqtttest

import (
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/varco-access/varco/wire/sitepki"
)

// Broker is a running MQTT broker for one site, with its own CA.
type Broker interface {
	// URL is the address for paho: "ssl://127.0.0.1:<port>".
	URL() string
	// CA is the site CA that signed the broker's certificate and signs
	// the clients'.
	CA() *sitepki.CA
	// ClientTLS returns a client TLS configuration with a fresh
	// certificate whose Common Name is identity (sitepki.AdminIdentity,
	// DoorIdentity, StationIdentity). It fails the test if identity is
	// not one.
	ClientTLS(identity string) *tls.Config
	// Close stops the broker; the test's cleanup also does.
	Close() error
	// Kind says which broker it is: KindEmbedded or KindMosquitto.
	Kind() string
}

// The kinds of Broker.
const (
	KindEmbedded  = "embedded"  // wire/broker (mochi-mqtt), in the test process
	KindMosquitto = "mosquitto" // Debian's mosquitto, a child process
)

// pki is what both brokers share: the CA and the client certificates.
type pki struct {
	tb   testing.TB
	ca   *sitepki.CA
	url  string
	kind string
}

func newPKI(tb testing.TB, site, kind string) *pki {
	tb.Helper()
	ca, err := sitepki.NewCA(site, time.Now())
	if err != nil {
		tb.Fatalf("mqtttest: %v", err)
	}
	return &pki{tb: tb, ca: ca, kind: kind}
}

// serverCert issues the broker's certificate for the loopback names.
func (p *pki) serverCert() (certPEM, keyPEM []byte) {
	p.tb.Helper()
	c, k, err := p.ca.ServerCert([]string{"localhost", "127.0.0.1", "::1"}, time.Now())
	if err != nil {
		p.tb.Fatalf("mqtttest: %v", err)
	}
	return c, k
}

func (p *pki) URL() string     { return p.url }
func (p *pki) CA() *sitepki.CA { return p.ca }
func (p *pki) Kind() string    { return p.kind }

func (p *pki) ClientTLS(identity string) *tls.Config {
	p.tb.Helper()
	c, k, err := p.ca.ClientCert(identity, time.Now())
	if err != nil {
		p.tb.Fatalf("mqtttest: %v", err)
	}
	// No ServerName: crypto/tls verifies the host dialled (127.0.0.1),
	// which the server certificate names.
	cfg, err := sitepki.ClientTLSConfig(c, k, p.ca.CertPEM(), "")
	if err != nil {
		p.tb.Fatalf("mqtttest: %v", err)
	}
	return cfg
}

// ClientOptions returns paho options for identity on b: the broker's URL,
// a fresh certificate for identity, client id = identity (both brokers
// force it to be), clean session, no automatic reconnection, short
// timeouts, handlers called in order. Adjust them before paho.NewClient.
func ClientOptions(b Broker, identity string) *paho.ClientOptions {
	return paho.NewClientOptions().
		AddBroker(b.URL()).
		SetTLSConfig(b.ClientTLS(identity)).
		SetClientID(identity).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).
		SetWriteTimeout(5 * time.Second).
		SetOrderMatters(true)
}

// Connect connects a paho client made from opts (see ClientOptions) and
// disconnects it when the test ends. It fails the test if the broker
// refuses.
func Connect(tb testing.TB, opts *paho.ClientOptions) paho.Client {
	tb.Helper()
	c, err := TryConnect(opts)
	if err != nil {
		tb.Fatalf("mqtttest: connect %s: %v", opts.ClientID, err)
	}
	tb.Cleanup(func() { c.Disconnect(100) })
	return c
}

// TryConnect connects a paho client made from opts and returns the
// broker's refusal, if any, as an error. The caller disconnects it.
func TryConnect(opts *paho.ClientOptions) (paho.Client, error) {
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("no CONNACK within 10s")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	return c, nil
}

// Each runs f as a subtest against each kind of broker, each started for
// site (and doors, see StartMosquitto) for that subtest alone: the
// embedded broker, then Mosquitto (skipped where it is not installed,
// except under CI=true).
func Each(t *testing.T, site string, doors []string, f func(t *testing.T, b Broker)) {
	t.Helper()
	t.Run(KindEmbedded, func(t *testing.T) { f(t, StartEmbedded(t, site, doors...)) })
	t.Run(KindMosquitto, func(t *testing.T) { f(t, StartMosquitto(t, site, doors...)) })
}
