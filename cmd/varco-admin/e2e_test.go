package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin/config"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/pcsc/pcscdtest"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/mqtttest"
	"github.com/varco-access/varco/wire/sitepki"
)

// e2eSite is the MQTT site id of the end-to-end tests.
const e2eSite = "e2e"

// e2ePassword is the first admin's password (VARCO_ADMIN_PASSWORD).
const e2ePassword = "correct horse battery staple e2e"

// e2eTaps is how many taps the outage scenario makes while the broker is
// down (half at each door); VARCO_E2E_TAPS overrides it.
func e2eTaps() int {
	if n, err := strconv.Atoi(os.Getenv("VARCO_E2E_TAPS")); err == nil && n >= 4 {
		return n
	}
	return 10_000
}

// TestSiteEndToEnd runs a whole site from real processes: the varco-admin
// binary (SQLite in a temporary data_dir; its embedded broker, then
// Debian's mosquitto with mqtt.embedded = false), two varco-door
// processes (doors A and B, provisioned with `varco door provision` from
// the admin's data_dir, fake GPIO, the two vpcd readers of a private
// pcscd) and virtual CIEs. Everything the admin learns goes through its
// JSON API: a session with its CSRF token makes an API token, which does
// the rest.
//
//   - Enrolment and access: two cards are enrolled with POST /cards (EF.SOD
//     checked against the test CSCA in csca_dir; a card under a rogue CSCA
//     is refused), a group gives Anna doors A and B, and her taps are
//     granted (decision metric, relay high in /debug/gpio).
//   - Revocation: with door B stopped, Anna's card is revoked; the time
//     from the HTTP response to door A's store applying the new revision
//     (its varco_door_allowlist_revision) is logged, and her next tap at A
//     is denied.
//   - Offline door: while B is down Bruno is added to the group; restarted,
//     B reaches the admin's revision for it, denies Anna and grants Bruno.
//   - Rogue door: a client with door A's certificate (A stopped, so the
//     two do not take each other's session over) may not subscribe to B's
//     topics nor publish a delta or a command to B (or a delta to A): B
//     receives none of them (its per-kind receive counters), its revision
//     and relay do not move, while a real unlock command sent after them
//     reaches B and releases it.
//   - Forgery and replay: with the admin's own MQTT identity (a
//     certificate from the site CA), a delta signed with another key, an
//     old delta signed with the site key and a replay of the unlock
//     command are published to B: B's revision and relay do not move, it
//     counts the rejections (signature, stale, replay) and the events it
//     writes for the forgery and the replayed command reach the admin's
//     entry log; Anna is still denied.
//   - Outage: the broker goes down (the admin stopped, for the embedded
//     broker; mosquitto stopped, for the other), and meanwhile Bruno taps
//     e2eTaps() times in all at the two doors (granted: one presentation
//     over pcscd + vpcd at each door, the rest through the door's
//     /debug/tap, which runs the same tap handler on the virtual card
//     without PC/SC's 0.4 s insertion polling) and each door's contact
//     changes 20 times (forced, closed, ...). The broker comes back, both
//     outboxes drain, and the admin holds every event of each door
//     exactly once: sequence numbers 1..K without gap or duplicate, in
//     the door's outbox epoch, with one granted event per tap; the door's
//     store (read after it stopped) agrees: everything up to its
//     acknowledged sequence is at the admin, anything after it is still
//     in its outbox.
//
// Generous timeouts (hangGuard) only guard against hangs. The test needs
// pcscd with vpcd (and, for the second half, mosquitto): without them it
// is skipped, or fails under CI=true. -short skips it.
//
// With the default 10,000 taps it takes about 4 minutes on a 2-CPU VM:
// after a 2-minute outage of mosquitto the admin's paho client is in its
// one-minute reconnection back-off. Set VARCO_E2E_TAPS (at least 4) for a
// quicker run.
func TestSiteEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: several processes and minutes")
	}
	pd := pcscdtest.Start(t)
	bins := buildAll(t)
	pki := testpki.Committed(t)
	mk := func(nis string, neg virtcie.Negative) *virtcie.Card {
		c, err := virtcie.New(virtcie.Options{NIS: nis, PKI: pki, Gen: reader.Gen2022, Negative: neg})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cards := e2eCards{
		anna:  mk("100000000011", virtcie.Genuine),
		bruno: mk("100000000012", virtcie.Genuine),
		rogue: mk("100000000013", virtcie.UntrustedDS),
	}
	t.Run(mqtttest.KindEmbedded, func(t *testing.T) { runSite(t, pd, bins, cards, nil) })
	t.Run(mqtttest.KindMosquitto, func(t *testing.T) {
		runSite(t, pd, bins, cards, mqtttest.StartMosquitto(t, e2eSite, "A", "B"))
	})
}

type e2eCards struct{ anna, bruno, rogue *virtcie.Card }

// site is one run of TestSiteEndToEnd: the admin and the two doors.
type site struct {
	t      *testing.T
	pd     *pcscdtest.Daemon
	bins   binaries
	admin  *adminServer
	broker string                 // the URL the doors and clients dial
	mosq   *mqtttest.Mosquitto    // nil with the embedded broker
	a, b   *doorProc              // doors A and B
	groups map[string]int64       // group ids by name
	people map[string]int64       // person ids by name
	cards  map[string]int64       // card ids by NIS
	grants map[string]varco.Grant // Anna's grant as a door holds it, for the replay
	unlock wire.Cmd               // the admin's unlock command to B, for the replay
}

func runSite(t *testing.T, pd *pcscdtest.Daemon, bins binaries, cards e2eCards, mosq *mqtttest.Mosquitto) {
	start := time.Now()
	s := setUpSite(t, pd, bins, mosq)
	for _, phase := range []struct {
		name string
		run  func()
	}{
		{"enrolment and access", func() { s.enrolAndGrant(cards) }},
		{"revocation, offline door", func() { s.revokeWhileBDown(cards) }},
		{"rogue door", func() { s.rogueDoor(cards) }},
		{"forgery and replay", func() { s.forgedAndReplayed(cards) }},
		{"outage", func() { s.outage(cards, e2eTaps()) }},
	} {
		phase.run()
		t.Logf("%s: done after %v", phase.name, time.Since(start).Round(time.Millisecond))
	}
}

// setUpSite starts varco-admin (first start: site key, CA and first user),
// logs in, and provisions doors A and B with `varco door provision`.
func setUpSite(t *testing.T, pd *pcscdtest.Daemon, bins binaries, mosq *mqtttest.Mosquitto) *site {
	root := t.TempDir()
	dataDir := filepath.Join(root, "admin")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cscaDir, err := filepath.Abs("../../testdata/pki/trusted")
	if err != nil {
		t.Fatal(err)
	}
	httpPort := freePort(t)
	s := &site{t: t, pd: pd, bins: bins, mosq: mosq, groups: map[string]int64{}, people: map[string]int64{}, cards: map[string]int64{}, grants: map[string]varco.Grant{}}

	var mqttCfg string
	if mosq == nil {
		port := freePort(t)
		s.broker = fmt.Sprintf("ssl://127.0.0.1:%d", port)
		mqttCfg = fmt.Sprintf("embedded = true\nlisten = \"127.0.0.1:%d\"\n", port)
	} else {
		// Mosquitto trusts the CA mqtttest made for it. `varco door
		// provision` issues door certificates from the CA in the admin's
		// data_dir/mqtt, which varco-admin only creates for its embedded
		// broker: so that CA is put there before the first start, and
		// the admin's own certificate for mosquitto comes from it too.
		if err := mosq.CA().Save(filepath.Join(dataDir, "mqtt")); err != nil {
			t.Fatal(err)
		}
		certPEM, keyPEM, err := mosq.CA().ClientCert(sitepki.AdminIdentity, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{"admin.crt": certPEM, "admin.key": keyPEM, "ca.crt": mosq.CA().CertPEM()}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(root, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		s.broker = mosq.URL()
		mqttCfg = fmt.Sprintf("embedded = false\nbroker = %q\nclient_cert = %q\nclient_key = %q\nca = %q\n",
			s.broker, filepath.Join(root, "admin.crt"), filepath.Join(root, "admin.key"), filepath.Join(root, "ca.crt"))
	}
	cfgPath := filepath.Join(root, "varco-admin.toml")
	cfg := fmt.Sprintf(`listen = "127.0.0.1:%d"
data_dir = %q
metrics_listen = ""
csca_dir = %q

[log]
level = "info"

[mqtt]
site = %q
%s`, httpPort, dataDir, cscaDir, e2eSite, mqttCfg)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.admin = &adminServer{t: t, bin: bins.admin, cfgPath: cfgPath, dataDir: dataDir,
		base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), env: cleanEnv(config.EnvPassword + "=" + e2ePassword),
		logPath: filepath.Join(root, "varco-admin.log")}
	showLogOnFailure(t, "varco-admin", s.admin.logPath)
	s.admin.start()
	s.admin.loginAndToken(e2ePassword)

	s.a = s.provision("A", root, pd.ReaderNames()[0], pd.VPCDAddrs()[0])
	s.b = s.provision("B", root, pd.ReaderNames()[1], pd.VPCDAddrs()[1])
	return s
}

// provision runs `varco door provision` for door id into the default
// place of its state directory and writes its configuration.
func (s *site) provision(id, root, readerName, vpcd string) *doorProc {
	t := s.t
	dir := filepath.Join(root, "door-"+id)
	out := filepath.Join(dir, "mqtt")
	logPath := filepath.Join(root, "varco-"+id+".log")
	p := startProc(t, "varco door provision", logPath, os.Environ(), s.bins.varco,
		"door", "provision", "--data-dir", s.admin.dataDir, "--door", id, "--broker", s.broker, "--site", e2eSite, "-out", out)
	<-p.done
	if p.err != nil {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("varco door provision: %v\n%s", p.err, b)
	}
	snippet, _ := os.ReadFile(logPath)
	pub, err := os.ReadFile(filepath.Join(out, "site.pub"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("broker = %q", s.broker), fmt.Sprintf("site_public_key = %q", strings.TrimSpace(string(pub)))} {
		if !strings.Contains(string(snippet), want) {
			t.Fatalf("varco door provision printed no %s:\n%s", want, snippet)
		}
	}
	port := freePort(t)
	d := &doorProc{t: t, id: id, bin: s.bins.door, dir: dir, cfgPath: filepath.Join(dir, "varco-door.toml"),
		base: fmt.Sprintf("http://127.0.0.1:%d", port), vpcd: vpcd, logPath: logPath}
	cfg := fmt.Sprintf(`controller_id = "ctl-%s"
state_dir = %q
metrics_addr = "127.0.0.1:%d"
gpio = "fake"

[site]
id = %q
time_zone = "Europe/Rome"
site_public_key = %q

[mqtt]
broker = %q
ca = %q
reconnect_min = "100ms"
reconnect_max = "1s"

[clock]
rtc = true
ntp_check = false

[[doors]]
id = %q
reader = %q
relay_pin = %q
contact_pin = %q
contact_active_low = true
release_time = "3s"
debounce = "10ms"
`, id, dir, port, e2eSite, strings.TrimSpace(string(pub)), s.broker, filepath.Join(out, "ca.crt"), id, readerName, d.relayPin(), d.contactPin())
	if err := os.WriteFile(d.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	showLogOnFailure(t, "varco-door "+id, logPath)
	return d
}

// waitSynced waits until door d is connected and its store holds the
// admin's revision of it, which the admin's status view also shows.
func (s *site) waitSynced(d *doorProc) {
	s.t.Helper()
	var want int64
	eventually(s.t, hangGuard, "door "+d.id+" reaches the admin's revision", func() bool {
		want = s.admin.doorRevision(d.apiID)
		return d.connected() && d.revision() == want
	})
	eventually(s.t, hangGuard, "the admin's status of "+d.id+" shows it", func() bool {
		online, rev := s.admin.doorStatus(d.apiID)
		return online && rev == uint64(want)
	})
}

// enrolAndGrant creates the doors, people and group through the API,
// enrols the cards, starts both doors and checks Anna's taps.
func (s *site) enrolAndGrant(cards e2eCards) {
	t, a := s.t, s.admin
	var sites []struct {
		ID int64 `json:"id"`
	}
	a.must("GET", "/sites", nil, http.StatusOK, &sites)
	if len(sites) == 0 {
		t.Fatal("no site")
	}
	for _, d := range []*doorProc{s.a, s.b} {
		var door apiDoor
		a.must("POST", "/doors", map[string]any{"site_id": sites[0].ID, "name": "Door " + d.id, "controller_id": d.id}, http.StatusCreated, &door)
		d.apiID = door.ID
	}
	person := func(no, name string) int64 {
		var p struct {
			ID int64 `json:"id"`
		}
		a.must("POST", "/people", map[string]any{"employee_no": no, "name": name, "surname": "E2E", "active": true}, http.StatusCreated, &p)
		return p.ID
	}
	anna, bruno, carla := person("E1", "Anna"), person("E2", "Bruno"), person("E3", "Carla")
	enrol := func(pid int64, c *virtcie.Card) (int, []byte) {
		var card struct {
			ID int64 `json:"id"`
		}
		code, body := a.call("POST", "/cards", map[string]any{"person_id": pid, "nis": c.NIS(), "public_key": c.KeyFileTLV(), "sod": c.SOD()}, &card)
		s.cards[c.NIS()] = card.ID
		return code, body
	}
	for pid, c := range map[int64]*virtcie.Card{anna: cards.anna, bruno: cards.bruno} {
		if code, body := enrol(pid, c); code != http.StatusCreated {
			t.Fatalf("enrol %s: %d %s", c.NIS(), code, body)
		}
	}
	if code, body := enrol(carla, cards.rogue); code != http.StatusUnprocessableEntity || !strings.Contains(string(body), "CSCA") {
		t.Fatalf("enrol a card under a rogue CSCA: %d %s, want 422 naming the CSCA", code, body)
	}
	var g struct {
		ID int64 `json:"id"`
	}
	a.must("POST", "/groups", map[string]any{"name": "staff", "schedule_id": nil, "door_ids": []int64{s.a.apiID, s.b.apiID}, "person_ids": []int64{anna}}, http.StatusCreated, &g)
	s.groups["staff"], s.people["anna"], s.people["bruno"] = g.ID, anna, bruno

	var access struct {
		Revision int64 `json:"revision"`
		Grants   []struct {
			NIS string `json:"nis"`
		} `json:"grants"`
	}
	a.must("GET", fmt.Sprintf("/doors/%d/access", s.a.apiID), nil, http.StatusOK, &access)
	if len(access.Grants) != 1 || access.Grants[0].NIS != cards.anna.NIS() {
		t.Fatalf("door A's access list: %+v, want Anna alone", access)
	}
	// Anna's grant as the doors hold it: the replayed delta carries it.
	s.grants["anna"] = varco.Grant{NIS: cards.anna.NIS(), PersonID: strconv.FormatInt(anna, 10), PublicKey: cards.anna.KeyFileTLV(), Flags: varco.FlagAlways}

	for _, d := range []*doorProc{s.a, s.b} {
		d.start()
		s.waitSynced(d)
	}
	s.a.tap(s.pd, cards.anna, "granted")
	s.b.tap(s.pd, cards.anna, "granted")
}

// revokeWhileBDown revokes Anna's card with door B stopped, times the
// revocation at door A, then adds Bruno while B is still down and checks
// that B catches up on restart.
func (s *site) revokeWhileBDown(cards e2eCards) {
	t, a := s.t, s.admin
	s.b.stop()
	eventually(t, hangGuard, "the admin sees B offline", func() bool { online, _ := a.doorStatus(s.b.apiID); return !online })

	rev0 := s.a.revision()
	a.must("PUT", fmt.Sprintf("/cards/%d/status", s.cards[cards.anna.NIS()]), map[string]string{"status": "revoked"}, http.StatusOK, nil)
	answered := time.Now()
	eventually(t, hangGuard, "door A applies the revocation", func() bool { return s.a.revision() != rev0 })
	applied := time.Since(answered)
	want := a.doorRevision(s.a.apiID)
	if got := s.a.revision(); got != want {
		t.Fatalf("door A at revision %d after the revocation, the admin at %d", got, want)
	}
	eventually(t, hangGuard, "the admin's status of A shows the revision", func() bool { _, rev := a.doorStatus(s.a.apiID); return rev == uint64(want) })
	reported := time.Since(answered)
	t.Logf("revocation: %v from the HTTP response to door A's store at revision %d (%d→%d); %v until the admin's status of A showed it",
		applied.Round(100*time.Microsecond), want, rev0, want, reported.Round(time.Millisecond))
	s.a.tap(s.pd, cards.anna, string(varco.ReasonUnknown))

	// Changes while B is down: Anna's revocation (above) and Bruno added.
	a.must("POST", fmt.Sprintf("/groups/%d/people", s.groups["staff"]), map[string]any{"ids": []int64{s.people["bruno"]}}, http.StatusOK, nil)
	if got, admin := s.b.dirRevision(), a.doorRevision(s.b.apiID); got >= admin {
		t.Fatalf("door B's stored revision %d is not behind the admin's %d", got, admin)
	}
	s.b.start()
	s.waitSynced(s.b)
	s.b.tap(s.pd, cards.anna, string(varco.ReasonUnknown))
	s.b.tap(s.pd, cards.bruno, "granted")
}

// dirRevision reads the revision of a stopped door from its store.
func (d *doorProc) dirRevision() int64 {
	d.t.Helper()
	st, err := store.Open(filepath.Join(d.dir, "varco-door.db"), nil)
	if err != nil {
		d.t.Fatal(err)
	}
	defer st.Close()
	rev, _, err := st.Revision(d.id)
	if err != nil {
		d.t.Fatal(err)
	}
	return int64(rev)
}

// fileTLS is a client TLS configuration from PEM files.
func fileTLS(t *testing.T, cert, key, ca string) *tls.Config {
	t.Helper()
	var pems [3][]byte
	for i, f := range []string{cert, key, ca} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pems[i] = b
	}
	cfg, err := sitepki.ClientTLSConfig(pems[0], pems[1], pems[2], "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// clientOptions are paho options for a one-off client of the test.
func (s *site) clientOptions(identity string, tlsCfg *tls.Config) *paho.ClientOptions {
	return paho.NewClientOptions().AddBroker(s.broker).SetTLSConfig(tlsCfg).SetClientID(identity).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second)
}

// publishOnce publishes from a connection of its own, which it then
// closes: the embedded broker disconnects a client after a publish the
// ACL denies (mochi's answer to a denied QoS 1 PUBLISH of MQTT 3.1.1),
// Mosquitto acknowledges and drops it. It returns the broker's answer.
func publishOnce(opts *paho.ClientOptions, topic string, payload []byte) error {
	c, err := mqtttest.TryConnect(opts)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Disconnect(50)
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(5 * time.Second) {
		return errors.New("no PUBACK within 5s")
	}
	return tok.Error()
}

// inCounts are door d's counters of messages received, by kind.
func (d *doorProc) inCounts() map[string]float64 {
	return d.metrics(fmt.Sprintf(`varco_door_mqtt_messages_total{direction="in",door=%q,`, d.id))
}

// rogueDoor uses door A's certificate (door A stopped) against door B.
func (s *site) rogueDoor(cards e2eCards) {
	t, a := s.t, s.admin
	s.a.stop()
	mqttDir := filepath.Join(s.a.dir, "mqtt")
	rogueTLS := fileTLS(t, filepath.Join(mqttDir, "A.crt"), filepath.Join(mqttDir, "A.key"), filepath.Join(mqttDir, "ca.crt"))
	opts := func() *paho.ClientOptions { return s.clientOptions(sitepki.DoorIdentity("A"), rogueTLS) }

	revB, inB := s.b.revision(), s.b.inCounts()
	topicB := func(k wire.Kind) string { return wire.Topic(e2eSite, "B", k) }

	// The credentials work for A's own topics (A's retained head comes)
	// and not for B's: refused in the SUBACK, or (Mosquitto) granted and
	// filtered on delivery, so B's retained head never comes.
	var mu sync.Mutex
	var got []string
	c, err := mqtttest.TryConnect(opts().SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		mu.Lock()
		got = append(got, m.Topic())
		mu.Unlock()
	}))
	if err != nil {
		t.Fatalf("door A's certificate refused: %v", err)
	}
	filters := map[string]byte{wire.Topic(e2eSite, "A", wire.KindHead): 1, topicB(wire.KindHead): 1, topicB(wire.KindGrants): 1, topicB(wire.KindCmd): 1}
	tok := c.SubscribeMultiple(filters, nil)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	for f, code := range tok.(*paho.SubscribeToken).Result() {
		switch {
		case strings.Contains(f, "/A/") && code != 1:
			t.Errorf("door A's certificate: subscribe %s: %#x, want QoS 1", f, code)
		case strings.Contains(f, "/B/") && code != 0x80 && (s.mosq == nil || code != 1):
			t.Errorf("door A's certificate: subscribe %s: %#x, want 0x80 (failure)", f, code)
		}
	}
	eventually(t, hangGuard, "A's retained head reaches the rogue client", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(got, wire.Topic(e2eSite, "A", wire.KindHead))
	})
	c.Disconnect(50)

	// Publishes to B's admin-to-door topics (and to A's: a door never
	// writes its own grants), signed with a key of the attacker's.
	_, rogueKey, _ := ed25519.GenerateKey(nil)
	rogue := wire.NewSigner(rogueKey)
	now := time.Now().UTC()
	seal := func(k wire.Kind, door string, body any) []byte {
		b, err := rogue.Seal(k, e2eSite, door, body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, p := range []struct {
		topic string
		msg   []byte
	}{
		{topicB(wire.KindGrants), seal(wire.KindGrants, "B", wire.Delta{From: uint64(revB), To: uint64(revB) + 1, IssuedAt: now, Upserts: []varco.Grant{s.grants["anna"]}})},
		{topicB(wire.KindCmd), seal(wire.KindCmd, "B", wire.Cmd{Seq: uint64(now.UnixMicro()) + 1e9, Action: wire.ActionUnlockOnce, IssuedAt: now, ExpiresAt: now.Add(time.Minute), By: "rogue"})},
		{topicB(wire.KindHead), seal(wire.KindHead, "B", wire.Head{Rev: uint64(revB) + 100, IssuedAt: now})},
		{wire.Topic(e2eSite, "A", wire.KindGrants), seal(wire.KindGrants, "A", wire.Delta{From: 0, To: 1000, IssuedAt: now, Upserts: []varco.Grant{s.grants["anna"]}})},
	} {
		if err := publishOnce(opts(), p.topic, p.msg); err != nil {
			t.Logf("rogue publish to %s: %v (the broker dropped the connection)", p.topic, err)
		}
	}

	// A real command after them: it reaches B (and releases it), they did
	// not.
	var cmd wire.Cmd
	a.must("POST", fmt.Sprintf("/doors/%d/unlock", s.b.apiID), nil, http.StatusAccepted, &cmd)
	eventually(t, hangGuard, "B's relay releases on the admin's unlock", func() bool { return s.b.pin(s.b.relayPin()) == "high" })
	after := s.b.inCounts()
	for series, v := range after {
		if strings.Contains(series, `kind="events/ack"`) {
			// The admin acknowledging the events B writes meanwhile (the
			// unlock's own): the rogue published no ack.
			continue
		}
		want := inB[series]
		if strings.Contains(series, `kind="cmd"`) {
			want++
		}
		if v != want {
			t.Errorf("door B %s: %v → %v: a rogue message was delivered", series, inB[series], v)
		}
	}
	if got := s.b.revision(); got != revB {
		t.Errorf("door B's revision moved %d → %d", revB, got)
	}
	if n := s.b.metric(s.b.rejectedSeries("signature")); n != 0 {
		t.Errorf("door B rejected %v messages for their signature: the broker delivered a rogue one", n)
	}
	mu.Lock()
	for _, tp := range got {
		if strings.Contains(tp, "/B/") {
			t.Errorf("the rogue client received %s", tp)
		}
	}
	mu.Unlock()
	s.unlock = cmd

	s.a.start()
	s.waitSynced(s.a)
	// A's session was never handed the delta to A: nothing to reject.
	if n := s.a.metric(s.a.rejectedSeries("signature")); n != 0 {
		t.Errorf("door A rejected %v messages for their signature after its restart", n)
	}
	eventually(t, hangGuard, "B's relay locks again", func() bool { return s.b.pin(s.b.relayPin()) == "low" })
}

// asAdmin publishes msg with the admin's MQTT identity from a connection
// of the test's, until delivered reports that the door got it. A broker
// has one session per identity (the client id is forced to the
// certificate's), so this connection takes varco-admin's session over and
// varco-admin, reconnecting at once, takes it back: the test's client
// keeps the session (CleanSession false) and acknowledges nothing it is
// handed, so what the broker had for varco-admin meanwhile is delivered
// to it again when it returns; and it tries again when varco-admin was
// back before its message went out.
func (s *site) asAdmin(tlsCfg *tls.Config, topic string, msg []byte, delivered func() bool) {
	s.t.Helper()
	for try := 1; ; try++ {
		opts := s.clientOptions(sitepki.AdminIdentity, tlsCfg).SetCleanSession(false).SetAutoAckDisabled(true)
		if c, err := mqtttest.TryConnect(opts); err == nil {
			c.Publish(topic, 1, false, msg).WaitTimeout(2 * time.Second)
			c.Disconnect(20)
		}
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if delivered() {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		if try == 10 {
			s.t.Fatalf("%s: not delivered after %d attempts", topic, try)
		}
		s.t.Logf("%s: not delivered yet (attempt %d): again", topic, try)
	}
}

// maxSeq is the highest sequence number among evs.
func maxSeq(evs []apiEvent) uint64 {
	var m uint64
	for _, e := range evs {
		m = max(m, e.Seq)
	}
	return m
}

// forgedAndReplayed publishes to B, with the admin's identity, a delta
// signed with another key, an old delta signed with the site key and the
// admin's last unlock command again.
func (s *site) forgedAndReplayed(cards e2eCards) {
	t, a := s.t, s.admin
	key, err := wire.LoadPrivateKey(filepath.Join(a.dataDir, config.SiteKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := sitepki.LoadCA(filepath.Join(a.dataDir, config.MQTTDir))
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.ClientCert(sitepki.AdminIdentity, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	adminTLS, err := sitepki.ClientTLSConfig(certPEM, keyPEM, ca.CertPEM(), "")
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ed25519.GenerateKey(nil)
	siteSigner, forger := wire.NewSigner(key), wire.NewSigner(otherKey)

	revB := uint64(s.b.revision())
	if revB < 2 {
		t.Fatalf("door B at revision %d: no old delta to replay", revB)
	}
	seq0 := maxSeq(a.events(s.b.apiID, ""))
	now := time.Now().UTC()
	seal := func(sg *wire.Signer, k wire.Kind, body any) []byte {
		b, err := sg.Seal(k, e2eSite, "B", body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, m := range []struct {
		name   string
		kind   wire.Kind
		msg    []byte
		reason string
	}{
		// Anna's grant back, one revision ahead: what an attacker wants.
		{"forged delta", wire.KindGrants, seal(forger, wire.KindGrants, wire.Delta{From: revB, To: revB + 1, IssuedAt: now, Upserts: []varco.Grant{s.grants["anna"]}}), "signature"},
		// The same grant in a delta the site key did sign, long applied.
		{"old delta", wire.KindGrants, seal(siteSigner, wire.KindGrants, wire.Delta{From: revB - 1, To: revB, IssuedAt: now.Add(-time.Hour), Upserts: []varco.Grant{s.grants["anna"]}}), "stale"},
		// The unlock B executed in rogueDoor, exactly as the admin sent it.
		{"replayed command", wire.KindCmd, seal(siteSigner, wire.KindCmd, s.unlock), "replay"},
	} {
		series := s.b.rejectedSeries(m.reason)
		before := s.b.metric(series)
		s.asAdmin(adminTLS, wire.Topic(e2eSite, "B", m.kind), m.msg, func() bool { return s.b.metric(series) > before })
		if got := s.b.metric(series); got != before+1 {
			t.Errorf("%s: %s %v → %v, want one more", m.name, series, before, got)
		}
		if got := s.b.revision(); got != int64(revB) {
			t.Fatalf("%s: door B's revision moved %d → %d", m.name, revB, got)
		}
		if got := s.b.pin(s.b.relayPin()); got != "low" {
			t.Fatalf("%s: door B's relay is %s", m.name, got)
		}
	}

	// The door said so in events, which reach the admin once it is back
	// on its session.
	var found []string
	published := time.Now()
	eventually(t, 2*hangGuard, "B's rejection events reach the admin", func() bool {
		found = found[:0]
		for _, e := range a.events(s.b.apiID, "") {
			switch {
			case e.Seq <= seq0:
			case e.Kind == string(varco.EventSync) && strings.Contains(e.Detail, "(signature)"):
				found = append(found, "forged delta")
			case e.Kind == string(varco.EventController) && strings.Contains(e.Detail, "refused (replay)"):
				found = append(found, "replayed command")
			}
		}
		return len(found) == 2
	})
	t.Logf("door B's events at the admin %v after the last publish: %v", time.Since(published).Round(time.Millisecond), found)
	s.waitSynced(s.b)
	s.b.tap(s.pd, cards.anna, string(varco.ReasonUnknown))
}

// contactEvents opens and closes door d's contact n times in all (open,
// close, open, ...), each change as soon as the door has logged the
// previous one: with no grant and no REX an opening is "forced" and the
// closing after it "closed", so every change is one real door event,
// debounced and sampled by the door's state machine and written to its
// outbox like any other. It runs on a goroutine of its own, so it reports
// failures rather than failing the test.
func contactEvents(d *doorProc, n int) error {
	client := &http.Client{Timeout: 10 * time.Second}
	forced, closed := d.eventSeries("forced"), d.eventSeries("closed")
	read := func() (map[string]float64, error) {
		resp, err := client.Get(d.base + "/metrics")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		m := map[string]float64{}
		for l := range strings.Lines(string(b)) {
			if strings.HasPrefix(l, forced+" ") || strings.HasPrefix(l, closed+" ") {
				f := strings.Fields(l)
				v, err := strconv.ParseFloat(f[len(f)-1], 64)
				if err != nil {
					return nil, err
				}
				m[f[0]] = v
			}
		}
		return m, nil
	}
	m, err := read()
	if err != nil {
		return err
	}
	f0, c0 := m[forced], m[closed]
	for i := range n {
		// The contact is active low: high is open.
		level, series, want := "high", forced, f0+float64(i/2+1)
		if i%2 == 1 {
			level, series, want = "low", closed, c0+float64(i/2+1)
		}
		resp, err := client.PostForm(d.base+"/debug/gpio", url.Values{"pin": {d.contactPin()}, "level": {level}})
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("door %s: set contact %s: %s", d.id, level, resp.Status)
		}
		for deadline := time.Now().Add(hangGuard); ; {
			m, err := read()
			if err != nil {
				return err
			}
			if m[series] >= want {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("door %s: %s = %v, below %v %v after contact %s (change %d of %d)", d.id, series, m[series], want, hangGuard, level, i+1, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

// outboxLen is the door's count of unacknowledged events.
func (d *doorProc) outboxLen() float64 {
	return d.metric(fmt.Sprintf(`varco_door_outbox_events{door=%q}`, d.id))
}

// checkExactlyOnce fails unless evs hold sequence numbers 1..len(evs),
// each once, all in one epoch, which it returns.
func checkExactlyOnce(t *testing.T, door string, evs []apiEvent) string {
	t.Helper()
	seen := make(map[uint64]int, len(evs))
	epochs := map[string]int{}
	for _, e := range evs {
		seen[e.Seq]++
		epochs[e.Epoch]++
	}
	var dups, missing []uint64
	for seq, n := range seen {
		if n > 1 {
			dups = append(dups, seq)
		}
	}
	for seq := uint64(1); seq <= uint64(len(evs)); seq++ {
		if seen[seq] == 0 {
			missing = append(missing, seq)
		}
	}
	if len(dups) > 0 || len(missing) > 0 || len(epochs) != 1 {
		slices.Sort(dups)
		slices.Sort(missing)
		t.Fatalf("door %s at the admin: %d events, duplicated seqs %v, %d missing seqs (first: %v), epochs %v",
			door, len(evs), dups[:min(len(dups), 20)], len(missing), missing[:min(len(missing), 20)], epochs)
	}
	for e := range epochs {
		return e
	}
	return ""
}

// outage takes the broker down, makes n taps at the two doors meanwhile
// (Bruno's card, granted: one real presentation over pcscd and vpcd at
// each door, the rest through /debug/tap) and a few door-contact events,
// brings it back and checks that every event reaches the admin exactly
// once.
func (s *site) outage(cards e2eCards, n int) {
	t, a := s.t, s.admin
	doors := []*doorProc{s.a, s.b}
	before := map[string]int{}
	granted := map[string]int{}
	for _, d := range doors {
		eventually(t, 2*hangGuard, "door "+d.id+"'s outbox drains before the outage", d.drained)
		evs := a.events(d.apiID, "")
		before[d.id] = len(evs)
		granted[d.id] = countGranted(evs, cards.bruno.NIS())
	}
	cardFile := filepath.Join(t.TempDir(), "bruno.json")
	if err := cards.bruno.Save(cardFile); err != nil {
		t.Fatal(err)
	}
	bruno, err := os.ReadFile(cardFile)
	if err != nil {
		t.Fatal(err)
	}
	per := n / len(doors)
	const contacts = 20 // door-contact changes per door: forced, closed, ...
	var made time.Duration
	down := func() {
		for _, d := range doors {
			eventually(t, hangGuard, "door "+d.id+" notices the broker is gone", func() bool { return !d.connected() })
		}
		start := time.Now()
		// Both doors at once; the contact changes first, as an opening
		// while a grant holds the strike released is no forced one.
		each := func(f func(d *doorProc) error) {
			errs := make([]error, len(doors))
			var wg sync.WaitGroup
			for i, d := range doors {
				wg.Go(func() { errs[i] = f(d) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
		}
		each(func(d *doorProc) error { return contactEvents(d, contacts) })
		// The PC/SC path works offline too: one real tap at each door.
		for _, d := range doors {
			d.tap(s.pd, cards.bruno, "granted")
		}
		each(func(d *doorProc) error { return tapMany(d, bruno, per-1) })
		made = time.Since(start)
		for _, d := range doors {
			if got := d.outboxLen(); got < float64(per+contacts) {
				t.Fatalf("door %s holds %v events in its outbox after %d taps and %d contact changes", d.id, got, per, contacts)
			}
		}
	}
	if s.mosq == nil {
		a.stop() // and with it the embedded broker
		down()
		a.start()
	} else {
		restartMosquitto(t, s.mosq, down)
	}
	back := time.Now()
	// The admin's paho client retries with a back-off of up to a minute
	// and a batch the broker took while nobody listened is sent again
	// after the door's ack wait (5 s, up to 30 s): hence the long guard.
	for _, d := range doors {
		eventually(t, 4*time.Minute, "door "+d.id+"'s outbox drains after the outage", d.drained)
	}
	drained := time.Since(back)
	made2 := 2 * (per + contacts)
	t.Logf("outage: %d taps and %d contact changes at 2 doors in %v (%.0f events/s) while the broker was down; both outboxes drained %v after it returned (%.0f events/s)",
		2*per, 2*contacts, made.Round(time.Millisecond), float64(made2)/made.Seconds(), drained.Round(time.Millisecond), float64(made2)/drained.Seconds())

	// Exactly once at the admin, and in agreement with each door's store.
	for _, d := range doors {
		evs := a.events(d.apiID, "")
		epoch := checkExactlyOnce(t, d.id, evs)
		if len(evs)-before[d.id] < per+contacts {
			t.Errorf("door %s: %d events at the admin after the outage, %d before, %d made meanwhile", d.id, len(evs), before[d.id], per+contacts)
		}
		if got := countGranted(evs, cards.bruno.NIS()) - granted[d.id]; got != per {
			t.Errorf("door %s: %d of Bruno's %d taps during the outage are granted events at the admin", d.id, got, per)
		}
		d.stop()
		eventually(t, hangGuard, "the admin sees "+d.id+" offline", func() bool { online, _ := a.doorStatus(d.apiID); return !online })
		evs = a.events(d.apiID, "")
		checkExactlyOnce(t, d.id, evs)
		k := uint64(len(evs))

		st, err := store.Open(filepath.Join(d.dir, "varco-door.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		last, err1 := st.LastSeq(d.id)
		acked, err2 := st.Acked(d.id)
		pending, err3 := st.Pending(d.id, acked, 1<<20)
		storeEpoch := st.Epoch()
		st.Close()
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		if storeEpoch != epoch {
			t.Errorf("door %s: the admin's events are of epoch %q, the door's outbox is %q", d.id, epoch, storeEpoch)
		}
		if k < acked || k > last {
			t.Errorf("door %s: the admin holds seqs 1..%d; the door acknowledged up to %d and wrote up to %d", d.id, k, acked, last)
		}
		for i, e := range pending {
			if e.Seq != acked+uint64(i)+1 {
				t.Errorf("door %s: outbox after seq %d holds seq %d at %d", d.id, acked, e.Seq, i)
				break
			}
		}
		if acked+uint64(len(pending)) != last {
			t.Errorf("door %s: acknowledged %d + %d pending != last seq %d", d.id, acked, len(pending), last)
		}
		t.Logf("door %s: the admin holds seqs 1..%d exactly once (epoch %s); the door wrote 1..%d, acknowledged up to %d", d.id, k, epoch, last, acked)
	}
	a.stop()
}

// tapMany presents the card file's card n times at door d through its
// /debug/tap (the fake-GPIO rig's tap without PC/SC; see the controller's
// debugTap), in requests of up to 500 taps, and fails unless every tap is
// granted. Like contactEvents it reports failures rather than failing the
// test.
func tapMany(d *doorProc, card []byte, n int) error {
	client := &http.Client{Timeout: 2 * time.Minute}
	for n > 0 {
		k := min(n, 500)
		resp, err := client.Post(fmt.Sprintf("%s/debug/tap?door=%s&count=%d", d.base, url.QueryEscape(d.id), k), "application/json", bytes.NewReader(card))
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var res struct {
			Taps, Granted int
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &res) != nil || res.Taps != k || res.Granted != k {
			return fmt.Errorf("door %s: /debug/tap of %d: %s %s", d.id, k, resp.Status, b)
		}
		n -= k
	}
	return nil
}

// countGranted counts the granted events of the card nis among evs.
func countGranted(evs []apiEvent, nis string) int {
	n := 0
	for _, e := range evs {
		if e.Kind == "granted" && e.NIS == nis {
			n++
		}
	}
	return n
}
