package server

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/config"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/broker"
	"github.com/varco-access/varco/wire/sitepki"
)

// admitTimeout bounds the store lookup of a connecting door.
const admitTimeout = 5 * time.Second

// loadOrCreateSiteKey reads the site's signing key at path, or makes one
// the first time. An existing file is never replaced, not even one that
// does not load (wrong mode, not a key): replacing the site key cuts off
// every door that pins the old one, so that is for a person to decide.
// The new key is written to a temporary file and hard-linked into place,
// which fails rather than overwrite a key that appeared meanwhile.
func loadOrCreateSiteKey(path string, log *slog.Logger) (ed25519.PrivateKey, error) {
	key, err := wire.LoadPrivateKey(path)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("server: site key: %w", err)
	}
	key, err = wire.GenerateSiteKey()
	if err != nil {
		return nil, fmt.Errorf("server: site key: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".new")
	os.Remove(tmp) // a leftover of a crash
	if err := wire.WritePrivateKey(tmp, key); err != nil {
		return nil, fmt.Errorf("server: site key: %w", err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadOrCreateSiteKey(path, log) // made meanwhile: use it
		}
		return nil, fmt.Errorf("server: site key: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	log.Info("created the site signing key: every door pins its public key (site_public_key)", "path", path)
	return key, nil
}

// loadOrCreateCA reads the site's MQTT CA in dir, or makes one when
// neither of its files exists. Half a CA (one file without the other) is
// an error, never replaced: a new CA cuts off every door certificate.
func loadOrCreateCA(dir, site string, now time.Time, log *slog.Logger) (*sitepki.CA, error) {
	_, certErr := os.Stat(filepath.Join(dir, sitepki.CertFile))
	_, keyErr := os.Stat(filepath.Join(dir, sitepki.KeyFile))
	if errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist) {
		ca, err := sitepki.NewCA(site, now)
		if err != nil {
			return nil, fmt.Errorf("server: mqtt CA: %w", err)
		}
		if err := ca.Save(dir); err != nil {
			return nil, fmt.Errorf("server: mqtt CA: %w", err)
		}
		log.Info("created the site MQTT CA", "dir", dir)
		return ca, nil
	}
	ca, err := sitepki.LoadCA(dir)
	if err != nil {
		return nil, fmt.Errorf("server: mqtt CA: %w", err)
	}
	if want := "Varco site " + site + " MQTT CA"; ca.Certificate().Subject.CommonName != want {
		// Only a label: the topics' site comes from mqtt.site.
		log.Warn("the MQTT CA was made for another site id", "dir", dir, "ca", ca.Certificate().Subject.CommonName, "mqtt.site", site)
	}
	return ca, nil
}

// syncLink is the admin's side of the MQTT link: the embedded broker (if
// any), the paho transport and the syncer running on it.
type syncLink struct {
	log       *slog.Logger
	broker    *broker.Broker // nil with an external broker
	transport *syncer.Paho
	syncer    *syncer.Syncer
	brokerURL string
	cancel    context.CancelFunc
	done      chan struct{} // closed when the syncer's Run returned
	closeOnce sync.Once
	closeErr  error
}

// startSync starts the link as cfg.MQTT says, or returns nil when the
// sync is disabled. The syncer runs until close, not until ctx ends: the
// API may still send commands while it drains.
func (m *Main) startSync(ctx context.Context, store admin.Store, key ed25519.PrivateKey, cscas []*x509.Certificate) (*syncLink, error) {
	cfg, log := m.cfg, m.log
	mc := cfg.MQTT
	if !mc.SyncEnabled() {
		log.Warn("door sync disabled: mqtt.embedded is false and mqtt.broker is empty; doors keep their stored allowlists and door commands are refused")
		return nil, nil
	}
	l := &syncLink{log: log}
	popts := syncer.PahoOptions{ClientID: sitepki.AdminIdentity, Log: log.With("component", "mqtt")}
	if mc.Embedded {
		// Certificates follow the wall clock, not Options.Now: TLS peers
		// check them against theirs.
		now := time.Now()
		ca, err := loadOrCreateCA(cfg.MQTTCADir(), mc.Site, now, log)
		if err != nil {
			return nil, err
		}
		hosts := cfg.BrokerHosts()
		certPEM, keyPEM, err := ca.ServerCert(hosts, now)
		if err != nil {
			return nil, fmt.Errorf("server: mqtt: %w", err)
		}
		tlsCfg, err := sitepki.ServerTLSConfig(certPEM, keyPEM, ca.CertPEM())
		if err != nil {
			return nil, fmt.Errorf("server: mqtt: %w", err)
		}
		b, err := broker.New(broker.Options{Listen: mc.Listen, TLS: tlsCfg, Site: mc.Site,
			Admit: admitter(store, log), Log: log})
		if err != nil {
			return nil, fmt.Errorf("server: mqtt: %w", err)
		}
		if err := b.Start(); err != nil {
			return nil, fmt.Errorf("server: mqtt.listen: %w", err)
		}
		l.broker = b
		l.brokerURL = "ssl://" + dialHostPort(b.Addr())
		log.Info("MQTT broker listening", "url", l.brokerURL, "listen", b.Addr(), "site", mc.Site, "hosts", strings.Join(hosts, ","))

		// The admin's own certificate lives in memory only: made at each
		// start, it never needs protecting on disk.
		ccert, ckey, err := ca.ClientCert(sitepki.AdminIdentity, now)
		if err == nil {
			popts.TLS, err = sitepki.ClientTLSConfig(ccert, ckey, ca.CertPEM(), "")
		}
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("server: mqtt: %w", err)
		}
		popts.URL = l.brokerURL
	} else {
		tlsCfg, err := externalTLS(mc)
		if err != nil {
			return nil, err
		}
		popts.URL, popts.TLS = mc.Broker, tlsCfg
		// The broker may come up after us: keep trying in the background.
		popts.Background = true
		l.brokerURL = mc.Broker
		log.Info("connecting to the external MQTT broker", "url", mc.Broker, "site", mc.Site)
	}

	tr, err := syncer.NewPaho(popts)
	if err != nil {
		l.closeBroker()
		return nil, fmt.Errorf("server: mqtt: %w", err)
	}
	l.transport = tr
	s, err := syncer.New(syncer.Options{Store: store, Site: mc.Site, Signer: wire.NewSigner(key), Transport: tr,
		CSCAs: cscas, Log: log.With("component", "sync"), Now: m.opt.Now})
	if err != nil {
		tr.Close()
		l.closeBroker()
		return nil, fmt.Errorf("server: %w", err)
	}
	l.syncer = s
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		if err := s.Run(sctx); err != nil {
			log.Error("door sync stopped", "err", err)
		}
	}()
	return l, nil
}

// close stops the syncer, the transport and the broker, in that order,
// giving the syncer until ctx ends to return. Later calls return what
// the first returned.
func (l *syncLink) close(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.closeOnce.Do(func() { l.closeErr = l.stop(ctx) })
	return l.closeErr
}

func (l *syncLink) stop(ctx context.Context) error {
	l.cancel()
	select {
	case <-l.done:
	case <-ctx.Done():
		l.log.Error("the door sync did not stop in time")
	}
	err := l.transport.Close()
	if berr := l.closeBroker(); berr != nil {
		err = errors.Join(err, fmt.Errorf("server: mqtt broker: %w", berr))
	}
	return err
}

func (l *syncLink) closeBroker() error {
	if l.broker == nil {
		return nil
	}
	return l.broker.Close()
}

// admitter is the embedded broker's Admit: the admin and enrolment
// stations, and doors the store knows. There is no revocation list for
// door certificates: deleting the door is what shuts its certificate out
// (from its next connection on).
func admitter(store admin.Store, log *slog.Logger) func(identity string) bool {
	return func(identity string) bool {
		role, id, err := sitepki.ParseIdentity(identity)
		if err != nil {
			return false
		}
		if role != sitepki.RoleDoor {
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), admitTimeout)
		defer cancel()
		_, err = store.GetDoorByControllerID(ctx, id)
		switch {
		case err == nil:
			return true
		case errors.Is(err, admin.ErrNotFound):
			log.Warn("MQTT: refused a door the admin does not know: create the door (controller id) first", "door", id)
		default:
			log.Error("MQTT: refused a door: cannot look it up", "door", id, "err", err)
		}
		return false
	}
}

// externalTLS reads the admin's client certificate, key and the CA for
// an external broker, and checks that the certificate names the admin.
func externalTLS(mc config.MQTT) (*tls.Config, error) {
	certPEM, err := os.ReadFile(mc.ClientCert)
	if err != nil {
		return nil, fmt.Errorf("server: mqtt.client_cert: %w", err)
	}
	keyPEM, err := os.ReadFile(mc.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("server: mqtt.client_key: %w", err)
	}
	caPEM, err := os.ReadFile(mc.CA)
	if err != nil {
		return nil, fmt.Errorf("server: mqtt.ca: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("server: mqtt.client_cert %s: no PEM certificate", mc.ClientCert)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("server: mqtt.client_cert %s: %w", mc.ClientCert, err)
	}
	if cn := cert.Subject.CommonName; cn != sitepki.AdminIdentity {
		return nil, fmt.Errorf("server: mqtt.client_cert %s: Common Name %q, want %q: the broker's ACL knows the admin by it", mc.ClientCert, cn, sitepki.AdminIdentity)
	}
	cfg, err := sitepki.ClientTLSConfig(certPEM, keyPEM, caPEM, "")
	if err != nil {
		return nil, fmt.Errorf("server: mqtt: %w", err)
	}
	return cfg, nil
}

// dialHostPort is addr with an unspecified host (every interface)
// replaced by loopback.
func dialHostPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
