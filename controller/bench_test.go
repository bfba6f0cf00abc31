package controller

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/config"
	"github.com/varco-access/varco/controller/decide"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/pcsc"
	"github.com/varco-access/varco/reader/pcsc/pcscdtest"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
)

func TestMain(m *testing.M) { pcscdtest.Main(m) }

// BenchmarkTapToRelay times the software path of a tap over the real
// pcscd + vpcd: the five-APDU door read, the allowlist lookup in bbolt (among
// 100,000 grants), the decision with the signature check, the relay command
// and the outbox append. It runs the controller's tap handler on a card
// connected once, so pcscd's card-detection polling (about 400 ms with vpcd,
// see docs/benchmarks.md) is not in the figure.
func BenchmarkTapToRelay(b *testing.B) {
	const grants, taps = 100_000, 300
	pd := pcscdtest.Start(b)
	dir := b.TempDir()
	pki := testpki.Committed(b)
	card, err := virtcie.New(virtcie.Options{NIS: "123456789012", Gen: reader.Gen2022, PKI: pki})
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.DefaultConfig()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	cfg.Site.ID, cfg.Site.PublicKey = "bench", base64.StdEncoding.EncodeToString(pub)
	cfg.ControllerID, cfg.StateDir, cfg.MetricsAddr, cfg.GPIO = "bench", dir, "", config.GPIOFake
	cfg.Clock.RTC = true
	d := config.DefaultDoor()
	d.ID, d.Reader, d.RelayPin = "bench", pd.ReaderNames()[0], "BENCH_RELAY"
	d.DeniedRepeatWindow = config.D(0)
	cfg.Doors = []config.Door{d}

	st, err := store.Open(cfg.StorePath(), &store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	snap := store.Snapshot{Door: "bench", Rev: 1, Grants: make([]varco.Grant, 0, grants)}
	key := card.KeyFileTLV()
	for i := range grants - 1 {
		snap.Grants = append(snap.Grants, varco.Grant{NIS: fmt.Sprintf("9%011d", i), PersonID: fmt.Sprint("p", i), PublicKey: key, Flags: varco.FlagAlways})
	}
	snap.Grants = append(snap.Grants, varco.Grant{NIS: card.NIS(), PersonID: "anna", PublicKey: key, Flags: varco.FlagAlways})
	if err := st.ApplySnapshot(snap, time.Now()); err != nil {
		b.Fatal(err)
	}
	st.Close()

	c, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	pcscdtest.InsertCard(b, pd.VPCDAddrs()[0], card)
	h, atr := pcscdtest.Connect(b, pd.ReaderNames()[0])
	tr := pcsc.NewCard(h, pd.ReaderNames()[0], atr)
	u := c.units[0]

	for range b.N {
		lat := make([]time.Duration, 0, taps)
		for range taps {
			t0 := time.Now()
			if err := c.tap(u, tr); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
		n, _ := c.store.Len("bench")
		if n < taps {
			b.Fatalf("outbox holds %d events after %d taps", n, taps)
		}
		fmt.Printf("tap-to-relay over pcscd+vpcd, %d grants, %d taps: p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n",
			grants, taps, ms(p(0.5)), ms(p(0.9)), ms(p(0.99)), ms(lat[len(lat)-1]))
		b.ReportMetric(ms(p(0.5)), "p50-ms")
		b.ReportMetric(ms(p(0.99)), "p99-ms")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkDecision1M times the decision of a tap with 1,000,000 grants in
// the door's store: the bbolt lookup of the NIS, the signature check with the
// stored key and the schedule, beside a bare lookup of the same keys in the
// same run. The card answer is recorded once, so no card is involved.
func BenchmarkDecision1M(b *testing.B) {
	const grants, lookups = 1_000_000, 2000
	card, err := virtcie.New(virtcie.Options{NIS: "123456789012", Gen: reader.Gen2022, PKI: testpki.Committed(b)})
	if err != nil {
		b.Fatal(err)
	}
	read, err := reader.ReadDoor(card, nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(b.TempDir()+"/d.db", &store.Options{NoSync: true, InitialMmapSize: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	key := card.KeyFileTLV()
	office := varco.Schedule{ID: "office"}
	for d := range 7 {
		office.Days[d] = []varco.Window{{Start: 0, End: varco.MinutesPerDay}}
	}
	snap := store.Snapshot{Door: "d", Rev: 1, Schedules: []varco.Schedule{office}, Grants: make([]varco.Grant, 0, grants)}
	for i := range grants {
		snap.Grants = append(snap.Grants, varco.Grant{NIS: fmt.Sprintf("%012d", i), PersonID: fmt.Sprint("p", i), PublicKey: key, ScheduleIDs: []string{"office"}})
	}
	if err := st.ApplySnapshot(snap, time.Now()); err != nil {
		b.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Rome")
	nis := func(i int) string { return fmt.Sprintf("%012d", (i*7919)%grants) }

	for range b.N {
		bare := make([]time.Duration, 0, lookups)
		full := make([]time.Duration, 0, lookups)
		for i := range lookups {
			t0 := time.Now()
			if _, ok, err := st.Grant("d", nis(i)); err != nil || !ok {
				b.Fatalf("lookup %s: %v %v", nis(i), ok, err)
			}
			bare = append(bare, time.Since(t0))

			t0 = time.Now()
			var dec varco.Decision
			err := st.View(func(r *store.ReadTx) error {
				g, ok, err := r.Grant("d", nis(i))
				if err != nil || !ok {
					return fmt.Errorf("grant %v %v", ok, err)
				}
				scheds, err := r.Schedules()
				if err != nil {
					return err
				}
				r2 := *read
				r2.NIS = g.NIS
				dec = decide.Decide(decide.Input{Grant: &g, Read: &r2, Now: t0, Location: loc, Schedules: scheds,
					Clock: decide.ClockState{Trusted: true}})
				return nil
			})
			full = append(full, time.Since(t0))
			if err != nil || !dec.Granted {
				b.Fatalf("decision %+v, %v", dec, err)
			}
		}
		slices.Sort(bare)
		slices.Sort(full)
		p := func(l []time.Duration, q float64) float64 { return float64(l[int(q*float64(len(l)-1))]) / 1e3 }
		fmt.Printf("decision with %d grants (lookup + signature + schedule), %d taps: p50 %.1f µs  p99 %.1f µs; bare store lookup p50 %.1f µs  p99 %.1f µs\n",
			grants, lookups, p(full, 0.5), p(full, 0.99), p(bare, 0.5), p(bare, 0.99))
		b.ReportMetric(p(full, 0.5), "p50-µs")
		b.ReportMetric(p(full, 0.99), "p99-µs")
	}
}
