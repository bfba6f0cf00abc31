package mqtttest

import (
	"log/slog"
	"testing"

	"github.com/varco-access/varco/wire/broker"
	"github.com/varco-access/varco/wire/sitepki"
)

// Embedded is the broker StartEmbedded runs: wire/broker in the test
// process, on 127.0.0.1 and a free port.
type Embedded struct {
	*pki
	// Broker is the running broker, for its in-process Publish and
	// Subscribe.
	Broker *broker.Broker
}

var _ Broker = (*Embedded)(nil)

// StartEmbedded starts the embedded broker (wire/broker) for site with a
// new CA, and closes it when tb ends. doors is accepted for symmetry with
// StartMosquitto and ignored: the embedded ACL derives every door's rights
// from its identity, so any door id works.
func StartEmbedded(tb testing.TB, site string, doors ...string) *Embedded {
	tb.Helper()
	p := newPKI(tb, site, KindEmbedded)
	log := new(logBuffer)
	cert, key := p.serverCert()
	cfg, err := sitepki.ServerTLSConfig(cert, key, p.ca.CertPEM())
	if err != nil {
		tb.Fatalf("mqtttest: %v", err)
	}
	b, err := broker.New(broker.Options{
		Listen: "127.0.0.1:0",
		TLS:    cfg,
		Site:   site,
		Log:    slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		tb.Fatalf("mqtttest: %v", err)
	}
	if err := b.Start(); err != nil {
		tb.Fatalf("mqtttest: %v", err)
	}
	tb.Cleanup(func() {
		b.Close()
		log.dumpOnFailure(tb, "embedded broker")
	})
	p.url = "ssl://" + b.Addr()
	return &Embedded{pki: p, Broker: b}
}

// Close stops the broker.
func (e *Embedded) Close() error { return e.Broker.Close() }
