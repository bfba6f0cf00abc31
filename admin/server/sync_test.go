package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/config"
	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/mqtttest"
	"github.com/varco-access/varco/wire/sitepki"
)

// doorOptions returns paho options for a door of the started m, with a
// certificate issued from the data directory's CA, as `varco door
// provision` does.
func doorOptions(t *testing.T, m *Main, cfg config.Config, door string) *paho.ClientOptions {
	t.Helper()
	ca, err := sitepki.LoadCA(cfg.MQTTCADir())
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.ClientCert(sitepki.DoorIdentity(door), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := sitepki.ClientTLSConfig(cert, key, ca.CertPEM(), "")
	if err != nil {
		t.Fatal(err)
	}
	return paho.NewClientOptions().AddBroker(m.BrokerURL()).SetTLSConfig(tlsCfg).
		SetClientID(sitepki.DoorIdentity(door)).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
}

// TestSyncDoorGetsHead: a door created through the store while the
// server runs gets its signed head, retained, from the embedded broker;
// a door the store does not know is refused.
func TestSyncDoorGetsHead(t *testing.T) {
	cfg := testConfig(t)
	var logs syncBuffer
	st := mustOpenStore(t, cfg, nil)
	opts := testOptions(new(syncBuffer))
	opts.Store = st
	m := New(cfg, testLogger(t, &logs), opts)
	mustStart(t, m)
	if u := m.BrokerURL(); !strings.HasPrefix(u, "ssl://127.0.0.1:") {
		t.Fatalf("BrokerURL = %q", u)
	}
	pub := m.SitePublicKey()
	if len(pub) == 0 {
		t.Fatal("no site public key")
	}
	if !strings.Contains(logs.String(), wire.EncodePublicKey(pub)) {
		t.Error("the site public key is not in the log")
	}

	ghost := paho.NewClient(doorOptions(t, m, cfg, "ghost"))
	if tok := ghost.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() == nil {
		ghost.Disconnect(0)
		t.Fatalf("a door the store does not know connected: %v", tok.Error())
	}

	ctx := t.Context()
	sites, err := st.ListSites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := admin.Door{SiteID: sites[0].ID, Name: "Ingresso", ControllerID: "ingresso"}
	if err := st.CreateDoor(ctx, admin.Actor{Name: "test"}, &d); err != nil {
		t.Fatal(err)
	}
	// The syncer finds the new door at its next poll (no API call tells
	// it here) and announces its head, retained: wait for it, then
	// connect as the door.
	headTopic := wire.Topic(cfg.MQTT.Site, "ingresso", wire.KindHead)
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := make(chan []byte, 10)
		c := paho.NewClient(doorOptions(t, m, cfg, "ingresso").SetDefaultPublishHandler(func(_ paho.Client, msg paho.Message) {
			if msg.Topic() == headTopic && msg.Retained() {
				got <- msg.Payload()
			}
		}))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("door connect: %v", tok.Error())
		}
		filters := map[string]byte{}
		for _, f := range wire.DoorFilters(cfg.MQTT.Site, "ingresso") {
			filters[f] = 1
		}
		if tok := c.SubscribeMultiple(filters, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("door subscribe: %v", tok.Error())
		}
		select {
		case b := <-got:
			c.Disconnect(100)
			var h wire.Head
			if err := wire.NewVerifier(pub, cfg.MQTT.Site, "ingresso").Open(wire.KindHead, b, &h); err != nil {
				t.Fatal(err)
			}
			rev, err := st.DoorRevision(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if h.Rev != uint64(rev) {
				t.Errorf("head %d, door at %d", h.Rev, rev)
			}
			return
		case <-time.After(500 * time.Millisecond):
			c.Disconnect(100)
		}
		if time.Now().After(deadline) {
			t.Fatal("no retained head for the new door")
		}
	}
}

// TestSiteKeyAndCAKept: the site key is 0600 and, like the MQTT CA,
// survives a restart unchanged.
func TestSiteKeyAndCAKept(t *testing.T) {
	cfg := testConfig(t)
	start := func() *Main {
		m := New(cfg, testLogger(t, new(syncBuffer)), testOptions(new(syncBuffer)))
		mustStart(t, m)
		return m
	}
	m := start()
	pub1 := m.SitePublicKey()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(cfg.SiteKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("site key mode %04o, want 0600", fi.Mode().Perm())
	}
	key1, _ := os.ReadFile(cfg.SiteKeyPath())
	ca1, _ := os.ReadFile(filepath.Join(cfg.MQTTCADir(), sitepki.CertFile))
	if len(key1) == 0 || len(ca1) == 0 {
		t.Fatal("no site key or CA written")
	}

	m = start()
	key2, _ := os.ReadFile(cfg.SiteKeyPath())
	ca2, _ := os.ReadFile(filepath.Join(cfg.MQTTCADir(), sitepki.CertFile))
	if !bytes.Equal(key1, key2) || !m.SitePublicKey().Equal(pub1) {
		t.Error("the site key changed at the restart")
	}
	if !bytes.Equal(ca1, ca2) {
		t.Error("the MQTT CA changed at the restart")
	}
	if entries, _ := filepath.Glob(filepath.Join(cfg.DataDir, ".site.key*")); len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// TestSiteKeyNeverReplaced: a site key that does not load stops the
// start and stays as it was.
func TestSiteKeyNeverReplaced(t *testing.T) {
	cfg := testConfig(t)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	junk := []byte("not a key\n")
	if err := os.WriteFile(cfg.SiteKeyPath(), junk, 0o644); err != nil {
		t.Fatal(err)
	}
	m := New(cfg, testLogger(t, new(syncBuffer)), testOptions(new(syncBuffer)))
	err := m.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "site key") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Run = %v, want the site key's mode named", err)
	}
	if b, _ := os.ReadFile(cfg.SiteKeyPath()); !bytes.Equal(b, junk) {
		t.Error("the site key file was changed")
	}
}

// TestSyncDisabled: mqtt.embedded false without a broker: no broker, no
// Deps.Sync, a warning.
func TestSyncDisabled(t *testing.T) {
	cfg := testConfig(t)
	cfg.MQTT.Embedded = false
	var logs syncBuffer
	opts := testOptions(new(syncBuffer))
	var got Deps
	opts.RegisterAPI = func(_ *gin.Engine, d Deps) error { got = d; return nil }
	m := New(cfg, testLogger(t, &logs), opts)
	mustStart(t, m)
	if got.Sync != nil || m.BrokerURL() != "" {
		t.Errorf("sync disabled, yet Deps.Sync = %v, BrokerURL = %q", got.Sync, m.BrokerURL())
	}
	if !strings.Contains(logs.String(), "door sync disabled") {
		t.Error("no warning in the log")
	}
	if _, err := os.Stat(cfg.MQTTCADir()); !os.IsNotExist(err) {
		t.Errorf("a CA was made with the sync disabled: %v", err)
	}
}

// TestSyncInDeps: with the embedded broker RegisterAPI gets the syncer.
func TestSyncInDeps(t *testing.T) {
	cfg := testConfig(t)
	opts := testOptions(new(syncBuffer))
	var got Deps
	opts.RegisterAPI = func(_ *gin.Engine, d Deps) error { got = d; return nil }
	m := New(cfg, testLogger(t, new(syncBuffer)), opts)
	mustStart(t, m)
	if got.Sync == nil {
		t.Fatal("Deps.Sync is nil")
	}
	if _, ok := got.Sync.Status("nobody"); ok {
		t.Error("a status for an unknown door")
	}
}

// TestBrokerListenFails: a taken mqtt.listen stops the start, naming it.
func TestBrokerListenFails(t *testing.T) {
	cfg := testConfig(t)
	m1 := New(cfg, testLogger(t, new(syncBuffer)), testOptions(new(syncBuffer)))
	mustStart(t, m1)
	cfg2 := testConfig(t)
	cfg2.MQTT.Listen = strings.TrimPrefix(m1.BrokerURL(), "ssl://")
	err := New(cfg2, testLogger(t, new(syncBuffer)), testOptions(new(syncBuffer))).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "mqtt.listen") {
		t.Errorf("Run = %v, want an mqtt.listen error", err)
	}
}

// writeClientFiles writes a client certificate for identity from b's CA,
// its key and the CA into a temp dir.
func writeClientFiles(t *testing.T, b mqtttest.Broker, identity string) (cert, key, ca string) {
	t.Helper()
	c, k, err := b.CA().ClientCert(identity, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key, ca = filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key"), filepath.Join(dir, "ca.crt")
	for p, data := range map[string][]byte{cert: c, key: k, ca: b.CA().CertPEM()} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key, ca
}

// TestExternalBroker: with mqtt.embedded false the admin syncs through
// mqtt.broker with its own certificate; a certificate that does not name
// the admin stops the start.
func TestExternalBroker(t *testing.T) {
	b := mqtttest.StartEmbedded(t, config.DefaultMQTTSite)
	cfg := testConfig(t)
	cfg.MQTT.Embedded = false
	cfg.MQTT.Broker = b.URL()
	cfg.MQTT.ClientCert, cfg.MQTT.ClientKey, cfg.MQTT.CA = writeClientFiles(t, b, sitepki.AdminIdentity)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st := mustOpenStore(t, cfg, nil)
	ctx := t.Context()
	sites, err := st.ListSites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateDoor(ctx, admin.Actor{Name: "test"}, &admin.Door{SiteID: sites[0].ID, Name: "Retro", ControllerID: "retro"}); err != nil {
		t.Fatal(err)
	}
	opts := testOptions(new(syncBuffer))
	opts.Store = st
	var got Deps
	opts.RegisterAPI = func(_ *gin.Engine, d Deps) error { got = d; return nil }
	m := New(cfg, testLogger(t, new(syncBuffer)), opts)
	mustStart(t, m)
	if got.Sync == nil || m.BrokerURL() != b.URL() {
		t.Fatalf("Deps.Sync %v, BrokerURL %q", got.Sync, m.BrokerURL())
	}
	if _, err := os.Stat(cfg.MQTTCADir()); !os.IsNotExist(err) {
		t.Errorf("a CA was made for an external broker: %v", err)
	}
	// The head the syncer announces at start is retained on the broker.
	headTopic := wire.Topic(cfg.MQTT.Site, "retro", wire.KindHead)
	heads := make(chan []byte, 10)
	door := mqtttest.Connect(t, mqtttest.ClientOptions(b, sitepki.DoorIdentity("retro")).
		SetDefaultPublishHandler(func(_ paho.Client, msg paho.Message) {
			if msg.Topic() == headTopic {
				heads <- msg.Payload()
			}
		}))
	deadline := time.Now().Add(15 * time.Second)
	for len(heads) == 0 && time.Now().Before(deadline) {
		if tok := door.Subscribe(headTopic, 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		select {
		case h := <-heads:
			heads <- h
		case <-time.After(300 * time.Millisecond):
		}
	}
	select {
	case h := <-heads:
		var head wire.Head
		if err := wire.NewVerifier(m.SitePublicKey(), cfg.MQTT.Site, "retro").Open(wire.KindHead, h, &head); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatal("no head for the door through the external broker")
	}

	bad := testConfig(t)
	bad.MQTT = cfg.MQTT
	bad.MQTT.ClientCert, bad.MQTT.ClientKey, bad.MQTT.CA = writeClientFiles(t, b, sitepki.DoorIdentity("retro"))
	err = New(bad, testLogger(t, new(syncBuffer)), testOptions(new(syncBuffer))).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), `Common Name "door:retro", want "admin"`) {
		t.Errorf("Run with a door certificate = %v", err)
	}
}
