package main

// Benchmarks of the MQTT sync at site scale (ARCHITECTURE.md section 5),
// with the admin's real syncer (admin/syncer over its paho transport and
// a SQLite store) and, where a door is needed, the door's real session
// (controller/mqttsync over its paho transport and a bbolt store): this
// package may import both sides, which admin/ and controller/ may not.
//
//	go test -run '^$' -bench Sync -benchtime 1x ./cmd/varco-admin/
//
// Sizes default to the targets of issue 5 and scale down for quick runs:
// VARCO_BENCH_SYNC_DOORS (1,000 simulated doors), VARCO_BENCH_SYNC_GRANTS
// (100,000 grants in the snapshot), VARCO_BENCH_SYNC_EVENTS (1,000,000
// events replayed). Figures are reported with b.ReportMetric and a
// summary line on standard output; docs/benchmarks.md ("Sync") has the
// method and the numbers.

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/sqlstore"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/controller/door"
	"github.com/varco-access/varco/controller/mqttsync"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/mqtttest"
	"github.com/varco-access/varco/wire/sitepki"
)

const benchSite = "bench"

// benchSize is the env variable name as a positive integer, or def.
func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

var benchActor = admin.Actor{Name: "bench"}

// pct is the p-quantile (0..1) of ds by the nearest-rank method.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchKey is a syntactically valid 2048-bit RSA public key (DER PKCS#1),
// different for each i: the store and the wire check the shape, and no
// card signs anything in these benchmarks.
func benchKey(i int) []byte {
	k := []byte{0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00}
	for j := range 256 {
		k = append(k, byte(j*7+i)|1)
	}
	k[9] |= 0x80
	return append(k, 0x02, 0x03, 0x01, 0x00, 0x01)
}

// openBenchStore opens an admin SQLite store in a temporary directory
// with the production settings.
func openBenchStore(b *testing.B) (*sqlstore.DB, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "varco-admin.db")
	st, err := sqlstore.OpenSQLite(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st, path
}

// loadCards gives each person one active card, inserted straight into
// the SQLite file's cards table 500 rows at a time (as admin/sqlstore's
// own benchmarks load their fixtures): enrolling 100,000 cards one by one
// through the store, each with its audit entry, takes minutes and is not
// what is measured.
func loadCards(b *testing.B, path string, personIDs []int64, keys [][]byte) {
	b.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	now := time.Now().Unix()
	const rows = 500
	for start := 0; start < len(personIDs); start += rows {
		ids := personIDs[start:min(start+rows, len(personIDs))]
		var q strings.Builder
		q.WriteString(`INSERT INTO cards (person_id, nis, public_key, key_hash, sod_generation, ds_subject, verification, enrolled_at, enrolled_by, status) VALUES `)
		args := make([]any, 0, len(ids)*10)
		for i, pid := range ids {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, '2022', '', 'bench', ?, 'bench', 'active')")
			k := keys[(start+i)%len(keys)]
			sum := sha256.Sum256(k)
			args = append(args, pid, fmt.Sprintf("%012d", 100000000000+start+i), k, hex.EncodeToString(sum[:]), now)
		}
		if _, err := tx.Exec(q.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// startSyncer runs the admin's syncer on st over brk with the admin's
// certificate, as varco-admin does (default debounce), until the
// benchmark ends.
func startSyncer(b *testing.B, brk mqtttest.Broker, st admin.Store, signer *wire.Signer) (*syncer.Syncer, *syncer.Paho) {
	b.Helper()
	quiet := slog.New(slog.DiscardHandler)
	tr, err := syncer.NewPaho(syncer.PahoOptions{URL: brk.URL(), TLS: brk.ClientTLS(sitepki.AdminIdentity), Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	s, err := syncer.New(syncer.Options{Store: st, Site: benchSite, Signer: signer, Transport: tr, Poll: time.Hour, Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		<-done
		tr.Close()
	})
	return s, tr
}

// arrivals records, per door client, when the first message of a round
// arrived and what it was.
type arrivals struct {
	mu      sync.Mutex
	at      []time.Time
	payload [][]byte
	n       atomic.Int64
	all     chan struct{}
}

func newArrivals(n int) *arrivals {
	return &arrivals{at: make([]time.Time, n), payload: make([][]byte, n), all: make(chan struct{})}
}

func (a *arrivals) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.at)
	clear(a.payload)
	a.n.Store(0)
	a.all = make(chan struct{})
}

func (a *arrivals) mark(i int, p []byte) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.at[i].IsZero() {
		return
	}
	a.at[i], a.payload[i] = now, p
	if a.n.Add(1) == int64(len(a.at)) {
		close(a.all)
	}
}

// wait returns once every client has a message of the round.
func (a *arrivals) wait(b *testing.B, what string) {
	b.Helper()
	a.mu.Lock()
	all := a.all
	a.mu.Unlock()
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
		b.Fatalf("%s: %d of %d doors got it within 2 minutes", what, a.n.Load(), len(a.at))
	}
}

// since returns each arrival's time after t0.
func (a *arrivals) since(t0 time.Time) []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]time.Duration, len(a.at))
	for i, t := range a.at {
		out[i] = t.Sub(t0)
	}
	return out
}

// BenchmarkSyncRevocation measures how long a revocation takes to reach
// VARCO_BENCH_SYNC_DOORS doors (default 1,000), on the embedded broker
// and on Mosquitto. Every door is a paho client with its own door
// certificate, subscribed to its own grants, head and cmd topics, as a
// door is; one person with one card is in a group of every door. Each
// iteration, with the clock started just before the store write:
//
//   - broker: the syncer's transport publishes one small QoS 1 message
//     to each door's cmd topic in turn (waiting for each PUBACK, as the
//     syncer does): arrival times from the first publish, and each
//     message's publish-to-arrival time, the broker's own cost;
//   - grant: a new card is enrolled (store write, Syncer.Changed): time
//     until each door has its delta;
//   - revoke: the card is revoked (store write, Syncer.Changed): time
//     until each door has its delta, which must delete the card's NIS
//     and verify with the site key.
func BenchmarkSyncRevocation(b *testing.B) {
	n := benchSize("VARCO_BENCH_SYNC_DOORS", 1000)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("door-%04d", i)
	}
	for _, kind := range []string{mqtttest.KindEmbedded, mqtttest.KindMosquitto} {
		b.Run(kind, func(b *testing.B) {
			var brk mqtttest.Broker
			if kind == mqtttest.KindEmbedded {
				brk = mqtttest.StartEmbedded(b, benchSite)
			} else {
				brk = mqtttest.StartMosquitto(b, benchSite, ids...)
			}
			benchRevocation(b, brk, ids)
		})
	}
}

func benchRevocation(b *testing.B, brk mqtttest.Broker, ids []string) {
	ctx := context.Background()
	n := len(ids)
	st, _ := openBenchStore(b)
	sites, err := st.ListSites(ctx)
	if err != nil {
		b.Fatal(err)
	}
	doorIDs := make([]int64, n)
	for i, id := range ids {
		d := admin.Door{SiteID: sites[0].ID, Name: id, ControllerID: id}
		if err := st.CreateDoor(ctx, benchActor, &d); err != nil {
			b.Fatal(err)
		}
		doorIDs[i] = d.ID
	}
	p := admin.Person{EmployeeNo: "1", Name: "Anna", Surname: "Bianchi", Active: true}
	if err := st.CreatePerson(ctx, benchActor, &p); err != nil {
		b.Fatal(err)
	}
	if err := st.CreateGroup(ctx, benchActor, &admin.Group{Name: "everyone", DoorIDs: doorIDs, PersonIDs: []int64{p.ID}}); err != nil {
		b.Fatal(err)
	}

	_, key, _ := ed25519.GenerateKey(nil)
	signer := wire.NewSigner(key)
	s, tr := startSyncer(b, brk, st, signer)

	// The doors, connected a few dozen at a time.
	heads, grants, cmds := newArrivals(n), newArrivals(n), newArrivals(n)
	byTopic := map[string]func([]byte){}
	for i, id := range ids {
		byTopic[wire.Topic(benchSite, id, wire.KindHead)] = func(p []byte) { heads.mark(i, p) }
		byTopic[wire.Topic(benchSite, id, wire.KindGrants)] = func(p []byte) { grants.mark(i, p) }
		byTopic[wire.Topic(benchSite, id, wire.KindCmd)] = func(p []byte) { cmds.mark(i, p) }
	}
	t0 := time.Now()
	sem := make(chan struct{}, 32)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			identity := sitepki.DoorIdentity(id)
			opts := mqtttest.ClientOptions(brk, identity).SetKeepAlive(time.Minute).
				SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
					if f := byTopic[m.Topic()]; f != nil {
						f(m.Payload())
					}
				})
			c, err := mqtttest.TryConnect(opts)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", identity, err)
				return
			}
			b.Cleanup(func() { c.Disconnect(0) })
			filters := map[string]byte{}
			for _, k := range []wire.Kind{wire.KindGrants, wire.KindHead, wire.KindCmd} {
				filters[wire.Topic(benchSite, id, k)] = 1
			}
			if tok := c.SubscribeMultiple(filters, nil); !tok.WaitTimeout(time.Minute) || tok.Error() != nil {
				errs[i] = fmt.Errorf("%s: subscribe: %v", identity, tok.Error())
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	connected := time.Since(t0)
	heads.wait(b, "the syncer's first head")

	verify := make([]*wire.Verifier, n)
	for i, id := range ids {
		verify[i] = wire.NewVerifier(signer.PublicKey(), benchSite, id)
	}
	// propagate times a store write's deltas to every door, checking
	// each delta with check.
	propagate := func(what string, write func() error, check func(d wire.Delta) error) (all []time.Duration, wrote time.Duration) {
		grants.reset()
		start := time.Now()
		if err := write(); err != nil {
			b.Fatal(err)
		}
		wrote = time.Since(start)
		s.Changed()
		grants.wait(b, what)
		all = grants.since(start)
		for i, p := range grants.payload {
			var d wire.Delta
			if err := verify[i].Open(wire.KindGrants, p, &d); err != nil {
				b.Fatalf("%s at %s: %v", what, ids[i], err)
			}
			if err := check(d); err != nil {
				b.Fatalf("%s at %s: %v", what, ids[i], err)
			}
		}
		return all, wrote
	}

	var fromStart, perMsg, grant, revoke []time.Duration
	var writes []time.Duration
	iter := 0
	for b.Loop() {
		iter++
		// The broker alone: one small message to each door in turn.
		cmds.reset()
		sent := make([]time.Time, n)
		payload := []byte(`{"v":"1.0","bench":"broker"}`)
		start := time.Now()
		for i, id := range ids {
			sent[i] = time.Now()
			if err := tr.Publish(ctx, wire.Topic(benchSite, id, wire.KindCmd), 1, false, payload); err != nil {
				b.Fatal(err)
			}
		}
		cmds.wait(b, "the broker round")
		fromStart = append(fromStart, cmds.since(start)...)
		for i, d := range cmds.since(start) {
			perMsg = append(perMsg, d-sent[i].Sub(start))
		}

		nis := fmt.Sprintf("9%011d", iter)
		card := admin.Card{PersonID: p.ID, NIS: nis, PublicKey: benchKey(iter), EnrolledAt: time.Now()}
		g, w := propagate("grant", func() error { return st.CreateCard(ctx, benchActor, &card) }, func(d wire.Delta) error {
			if len(d.Upserts) != 1 || d.Upserts[0].NIS != nis {
				return fmt.Errorf("delta %+v does not grant %s", d, nis)
			}
			return nil
		})
		grant, writes = append(grant, g...), append(writes, w)
		r, w := propagate("revoke", func() error { return st.SetCardStatus(ctx, benchActor, card.ID, admin.CardRevoked) }, func(d wire.Delta) error {
			if len(d.Deletes) != 1 || d.Deletes[0] != nis || len(d.Upserts) != 0 {
				return fmt.Errorf("delta %+v does not revoke %s", d, nis)
			}
			return nil
		})
		revoke, writes = append(revoke, r...), append(writes, w)
	}

	b.ReportMetric(msf(pct(revoke, 0.50)), "revoke-p50-ms")
	b.ReportMetric(msf(pct(revoke, 0.99)), "revoke-p99-ms")
	b.ReportMetric(msf(pct(revoke, 1)), "revoke-max-ms")
	b.ReportMetric(msf(pct(grant, 0.99)), "grant-p99-ms")
	b.ReportMetric(msf(pct(writes, 0.50)), "write-p50-ms")
	b.ReportMetric(msf(pct(fromStart, 0.50)), "broker-p50-ms")
	b.ReportMetric(msf(pct(fromStart, 0.99)), "broker-p99-ms")
	b.ReportMetric(msf(pct(perMsg, 0.50)), "broker-msg-p50-ms")
	b.ReportMetric(msf(pct(perMsg, 0.99)), "broker-msg-p99-ms")
	fmt.Printf("sync revocation, %s broker, %d doors (%d connected in %v), %d round(s): "+
		"revoke p50 %.1f ms p99 %.1f ms max %.1f ms; grant p50 %.1f ms p99 %.1f ms; store write p50 %.1f ms; "+
		"broker alone (%d sequential QoS 1 publishes): from the first publish p50 %.1f ms p99 %.1f ms, per message p50 %.2f ms p99 %.2f ms "+
		"(target: revoke p99 < 1000 ms)\n",
		brk.Kind(), n, n, connected.Round(time.Millisecond), iter,
		msf(pct(revoke, 0.5)), msf(pct(revoke, 0.99)), msf(pct(revoke, 1)), msf(pct(grant, 0.5)), msf(pct(grant, 0.99)), msf(pct(writes, 0.5)),
		n, msf(pct(fromStart, 0.5)), msf(pct(fromStart, 0.99)), msf(pct(perMsg, 0.5)), msf(pct(perMsg, 0.99)))
}

// benchDoor is the door of the snapshot and replay benchmarks: the
// door's real session (controller/mqttsync over paho, the door's
// certificate) on a bbolt store, for a door.Door on a fake relay pin.
type benchDoor struct {
	store *store.Store
	sess  *mqttsync.Session
}

func newBenchDoor(b *testing.B, brk mqtttest.Broker, id string, pub ed25519.PublicKey, st *store.Store) *benchDoor {
	b.Helper()
	quiet := slog.New(slog.DiscardHandler)
	d := &benchDoor{store: st}
	var sess atomic.Pointer[mqttsync.Session]
	emit := func(ev varco.Event) {
		if _, err := st.Append(ev); err == nil {
			if s := sess.Load(); s != nil {
				s.Notify()
			}
		}
	}
	dr, err := door.New(door.DefaultConfig(id), door.Pins{Relay: &gpiotest.Pin{N: id + "_RELAY"}}, nil, emit)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dr.Halt() })
	willTopic, will, err := mqttsync.WillFor(benchSite, id)
	if err != nil {
		b.Fatal(err)
	}
	tlsCfg := brk.ClientTLS(sitepki.DoorIdentity(id))
	tr, err := mqttsync.NewPahoTransport(mqttsync.PahoOptions{
		Broker: brk.URL(), ClientID: mqttsync.ClientID(id),
		TLS:       func() (*tls.Config, error) { return tlsCfg, nil },
		WillTopic: willTopic, Will: will, Log: quiet,
		Backoff: mqttsync.Backoff{Min: 100 * time.Millisecond, Max: time.Second},
	})
	if err != nil {
		b.Fatal(err)
	}
	s, err := mqttsync.New(mqttsync.Options{Site: benchSite, SiteKey: pub, Door: dr, Store: st, Transport: tr,
		Emit: emit, ClockTrusted: func() bool { return true }, Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	sess.Store(s)
	d.sess = s
	return d
}

// run runs the session until the returned stop is called.
func (d *benchDoor) run() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.sess.Run(ctx) }()
	return func() { cancel(); <-done }
}

func openDoorStore(b *testing.B) *store.Store {
	b.Helper()
	st, err := store.Open(filepath.Join(b.TempDir(), "varco-door.db"), &store.Options{OutboxCap: 2_000_000})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkSyncSnapshot measures a snapshot of VARCO_BENCH_SYNC_GRANTS
// grants (default 100,000) to one door on the embedded broker: the
// admin's SQLite store has that many people, each with a card, in a
// group of the door. End to end, a new door (the real session, an empty
// bbolt store) connects and sends its boot sync request; the syncer
// answers with the snapshot (DoorView, SplitSnapshot, one signature per
// chunk, QoS 1 publishes) and the door verifies each chunk, assembles
// them, checks the digest and applies the whole in one bbolt
// transaction: timed from the start of the door's session to its store
// holding the revision. The stages are also timed alone, in process.
func BenchmarkSyncSnapshot(b *testing.B) {
	n := benchSize("VARCO_BENCH_SYNC_GRANTS", 100_000)
	ctx := context.Background()
	const id = "snap"
	brk := mqtttest.StartEmbedded(b, benchSite)
	st, dbPath := openBenchStore(b)
	sites, err := st.ListSites(ctx)
	if err != nil {
		b.Fatal(err)
	}
	dr := admin.Door{SiteID: sites[0].ID, Name: "Ingresso", ControllerID: id}
	if err := st.CreateDoor(ctx, benchActor, &dr); err != nil {
		b.Fatal(err)
	}
	load := time.Now()
	people := make([]admin.Person, n)
	for i := range people {
		people[i] = admin.Person{EmployeeNo: fmt.Sprintf("E%07d", i), Name: "Nome", Surname: fmt.Sprintf("Cognome %d", i), Active: true}
	}
	if _, _, err := st.ImportPeople(ctx, benchActor, people); err != nil {
		b.Fatal(err)
	}
	var all []admin.Person
	for f := (admin.PersonFilter{Limit: 10_000}); ; {
		page, err := st.ListPeople(ctx, f)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < f.Limit {
			break
		}
		f.After = &page[len(page)-1]
	}
	pids := make([]int64, 0, len(all))
	keys := make([][]byte, 64)
	for i := range keys {
		keys[i] = benchKey(i)
	}
	for _, p := range all {
		pids = append(pids, p.ID)
	}
	loadCards(b, dbPath, pids, keys)
	if err := st.CreateGroup(ctx, benchActor, &admin.Group{Name: "everyone", DoorIDs: []int64{dr.ID}, PersonIDs: pids}); err != nil {
		b.Fatal(err)
	}
	loaded := time.Since(load)

	_, key, _ := ed25519.GenerateKey(nil)
	signer := wire.NewSigner(key)
	pub := signer.PublicKey()
	startSyncer(b, brk, st, signer)

	var view, split, seal, open, apply, e2e []time.Duration
	var chunks, bytes, grants int
	for b.Loop() {
		// The stages alone.
		t := time.Now()
		v, err := st.DoorView(ctx, dr.ID)
		if err != nil {
			b.Fatal(err)
		}
		view = append(view, time.Since(t))
		grants = len(v.Grants)
		t = time.Now()
		cs := wire.SplitSnapshot(wire.NewID(), uint64(v.Revision), v.Grants, v.Schedules, v.Holidays, v.Mode, v.TimeZone, wire.DefaultChunkBytes)
		split = append(split, time.Since(t))
		t = time.Now()
		msgs := make([][]byte, len(cs))
		bytes = 0
		for i, c := range cs {
			if msgs[i], err = signer.Seal(wire.KindSnapshot, benchSite, id, c); err != nil {
				b.Fatal(err)
			}
			bytes += len(msgs[i])
		}
		seal = append(seal, time.Since(t))
		chunks = len(cs)
		t = time.Now()
		ver, asm := wire.NewVerifier(pub, benchSite, id), wire.NewAssembler(nil)
		var snap *wire.Snapshot
		for _, m := range msgs {
			var c wire.SnapshotChunk
			if err := ver.Open(wire.KindSnapshot, m, &c); err != nil {
				b.Fatal(err)
			}
			if snap, err = asm.Add(c); err != nil {
				b.Fatal(err)
			}
		}
		if snap == nil {
			b.Fatal("snapshot incomplete after every chunk")
		}
		open = append(open, time.Since(t))
		ds := openDoorStore(b)
		t = time.Now()
		if err := ds.ApplySnapshot(store.Snapshot{Door: id, Rev: snap.Rev, Grants: snap.Grants, Schedules: snap.Schedules,
			Holidays: snap.Holidays, Mode: snap.Mode, TimeZone: snap.TimeZone}, time.Now()); err != nil {
			b.Fatal(err)
		}
		apply = append(apply, time.Since(t))

		// End to end: a new door asks and gets it.
		d := newBenchDoor(b, brk, id, pub, openDoorStore(b))
		t = time.Now()
		stop := d.run()
		for {
			rev, _, err := d.store.Revision(id)
			if err != nil {
				b.Fatal(err)
			}
			if rev == uint64(v.Revision) {
				break
			}
			if time.Since(t) > 5*time.Minute {
				b.Fatalf("door at revision %d after 5 minutes, want %d", rev, v.Revision)
			}
			time.Sleep(time.Millisecond)
		}
		e2e = append(e2e, time.Since(t))
		stop()
		if got, err := d.store.GrantCount(id); err != nil || got != grants {
			b.Fatalf("door holds %d grants (%v), want %d", got, err, grants)
		}
	}

	last := func(ds []time.Duration) float64 { return msf(ds[len(ds)-1]) }
	b.ReportMetric(last(e2e), "e2e-ms")
	b.ReportMetric(last(view), "doorview-ms")
	b.ReportMetric(last(split), "split-ms")
	b.ReportMetric(last(seal), "sign-ms")
	b.ReportMetric(last(open), "verify+assemble-ms")
	b.ReportMetric(last(apply), "apply-ms")
	b.ReportMetric(float64(chunks), "chunks")
	b.ReportMetric(float64(bytes)/(1<<20), "MiB")
	fmt.Printf("sync snapshot, embedded broker, %d grants (%d chunks, %.1f MiB signed; store loaded in %v): end to end %.0f ms "+
		"(new door's session start → bbolt at the revision); alone: DoorView %.0f ms, split %.0f ms, sign %.0f ms, "+
		"verify + assemble + digest %.0f ms, bbolt apply %.0f ms\n",
		grants, chunks, float64(bytes)/(1<<20), loaded.Round(time.Second), last(e2e), last(view), last(split), last(seal), last(open), last(apply))
}

// BenchmarkSyncReplay measures the replay of a door's outbox of
// VARCO_BENCH_SYNC_EVENTS events (default 1,000,000) into the admin's
// SQLite store on the embedded broker: the door's real session drains
// its bbolt outbox in batches of 500 (one in flight until acknowledged),
// the real syncer stores each batch (InsertEvents) and acknowledges it,
// and the door drops what is acknowledged. Timed from the start of the
// door's session to an empty outbox; the admin must then hold every
// sequence number once.
func BenchmarkSyncReplay(b *testing.B) {
	n := benchSize("VARCO_BENCH_SYNC_EVENTS", 1_000_000)
	ctx := context.Background()
	const id = "replay"
	brk := mqtttest.StartEmbedded(b, benchSite)
	_, key, _ := ed25519.GenerateKey(nil)
	signer := wire.NewSigner(key)

	var rates []float64
	var took []time.Duration
	for b.Loop() {
		b.StopTimer()
		st, _ := openBenchStore(b)
		sites, err := st.ListSites(ctx)
		if err != nil {
			b.Fatal(err)
		}
		dr := admin.Door{SiteID: sites[0].ID, Name: "Ingresso", ControllerID: id}
		if err := st.CreateDoor(ctx, benchActor, &dr); err != nil {
			b.Fatal(err)
		}
		ds := openDoorStore(b)
		// A realistic mix: mostly grants of many people, some denies,
		// some door alarms.
		t0 := time.Now().Add(-time.Duration(n) * time.Second)
		batch := make([]varco.Event, 0, 10_000)
		for i := range n {
			e := varco.Event{Door: id, Time: t0.Add(time.Duration(i) * time.Second), ClockTrusted: true}
			switch i % 20 {
			case 0:
				e.Kind, e.Reason, e.NIS = varco.EventDenied, varco.ReasonUnknown, fmt.Sprintf("%012d", 900000000000+i%50_000)
			case 1:
				e.Kind = varco.EventREX
			case 2:
				e.Kind, e.Detail = varco.EventClosed, "forced"
			default:
				e.Kind, e.NIS, e.PersonID = varco.EventGranted, fmt.Sprintf("%012d", 100000000000+i%20_000), strconv.Itoa(1+i%20_000)
			}
			batch = append(batch, e)
			if len(batch) == cap(batch) || i == n-1 {
				if _, err := ds.AppendBatch(batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		startSyncer(b, brk, st, signer)
		d := newBenchDoor(b, brk, id, signer.PublicKey(), ds)
		b.StartTimer()

		t := time.Now()
		stop := d.run()
		for {
			left, err := ds.Len(id)
			if err != nil {
				b.Fatal(err)
			}
			if left == 0 {
				break
			}
			if time.Since(t) > 10*time.Minute {
				b.Fatalf("%d events still in the outbox after 10 minutes", left)
			}
			time.Sleep(10 * time.Millisecond)
		}
		el := time.Since(t)
		b.StopTimer()
		stop()
		last, err := ds.LastSeq(id)
		if err != nil {
			b.Fatal(err)
		}
		top, err := st.MaxEventSeq(ctx, dr.ID)
		if err != nil {
			b.Fatal(err)
		}
		count := 0
		// The store ignores duplicates on (door, epoch, seq): n distinct
		// rows up to seq last means each once.
		if err := countEvents(ctx, st, dr.ID, &count); err != nil {
			b.Fatal(err)
		}
		// The door's own events (session start, sync) come after the n.
		if top != last || uint64(count) != last || last < uint64(n) {
			b.Fatalf("admin holds %d events up to seq %d; the door wrote up to %d (%d replayed)", count, top, last, n)
		}
		took = append(took, el)
		rates = append(rates, float64(n)/el.Seconds())
		b.StartTimer()
	}
	rate := rates[len(rates)-1]
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(took[len(took)-1].Seconds(), "replay-s")
	fmt.Printf("sync replay, embedded broker, SQLite: %d events from a door's outbox in %v: %.0f events/s (batches of %d, one in flight; target > 5000 events/s)\n",
		n, took[len(took)-1].Round(time.Millisecond), rate, mqttsync.DefaultBatchEvents)
}

// countEvents counts the door's events at the admin through the entry
// log's keyset pagination.
func countEvents(ctx context.Context, st admin.Store, doorID int64, n *int) error {
	f := admin.EventFilter{DoorID: doorID, Limit: 10_000}
	for {
		evs, next, err := st.SearchEvents(ctx, f)
		if err != nil {
			return err
		}
		*n += len(evs)
		if next == nil || len(evs) == 0 {
			return nil
		}
		f.After = next
	}
}
