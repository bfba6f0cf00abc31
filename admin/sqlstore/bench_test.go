package sqlstore

// Benchmarks of the admin store at site scale, on both backends:
//
//	go test -run XXX -bench . -benchtime 1x ./admin/sqlstore/
//
// VARCO_BENCH_EVENTS (default 10,000,000) scales the event store,
// VARCO_BENCH_PEOPLE (default 100,000) and VARCO_BENCH_DOORS (default
// 1,000) the door views. Figures are reported with b.ReportMetric and a
// table in the log; nothing is asserted.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/sqlstore/pgtest"
)

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

var benchBackends = []struct {
	name string
	open func(b *testing.B) *DB
}{
	{"sqlite", func(b *testing.B) *DB {
		db, err := OpenSQLite(filepath.Join(b.TempDir(), "bench.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}},
	{"postgres", func(b *testing.B) *DB {
		db, err := OpenPostgres(context.Background(), pgtest.Start(b), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}},
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

const (
	benchEventDoors  = 200
	benchEventPeople = 20000
)

var benchReasons = []varco.Reason{varco.ReasonOutsideSchedule, varco.ReasonOutsideSchedule, varco.ReasonUnknown, varco.ReasonUnknown,
	varco.ReasonExpired, varco.ReasonCloneSuspected, varco.ReasonLockdown, varco.ReasonHoliday}

// benchEvent is event i of n spread over a year from t0, time ordered, with
// a realistic mix: mostly granted taps, some denies, few door alarms, rare
// controller events.
func benchEvent(r *rand.Rand, t0 time.Time, i, n int, seqs []uint64) admin.Event {
	door := r.IntN(benchEventDoors)
	seqs[door]++
	e := admin.Event{
		DoorID:       int64(door + 1),
		Seq:          seqs[door],
		Time:         t0.Add(time.Duration(float64(i) / float64(n) * float64(365*24*time.Hour))).Truncate(time.Second),
		ClockTrusted: true,
	}
	person := func() {
		id := int64(r.IntN(benchEventPeople) + 1)
		e.PersonID = &id
		e.NIS = fmt.Sprintf("%012d", id)
	}
	switch x := r.Float64(); {
	case x < 0.88:
		e.Kind = varco.EventGranted
		person()
	case x < 0.96:
		e.Kind = varco.EventDenied
		e.Reason = benchReasons[r.IntN(len(benchReasons))]
		if e.Reason == varco.ReasonUnknown {
			e.NIS = fmt.Sprintf("%012d", 900000000000+r.IntN(1000000))
		} else {
			person()
		}
	case x < 0.98:
		e.Kind = varco.EventREX
	case x < 0.99:
		e.Kind = varco.EventClosed
	case x < 0.995:
		e.Kind = varco.EventForced
	case x < 0.999:
		e.Kind = varco.EventHeldOpen
	default:
		e.Kind = []varco.EventKind{varco.EventController, varco.EventClock, varco.EventSync, varco.EventReader}[r.IntN(4)]
		e.Detail = "controller started, version 1.0"
	}
	return e
}

// BenchmarkEvents builds an event store of VARCO_BENCH_EVENTS events
// through InsertEvents in batches of 1000 (the ingest throughput), inserts
// more into the full store, then runs 200 varied entry-log searches per
// iteration (latency percentiles).
func BenchmarkEvents(b *testing.B) {
	n := benchEnv("VARCO_BENCH_EVENTS", 10_000_000)
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			ctx := context.Background()
			r := rand.New(rand.NewPCG(1, 2))
			t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			seqs := make([]uint64, benchEventDoors)
			// insert times InsertEvents alone, not the making of the
			// events.
			var inserting time.Duration
			insert := func(batch []admin.Event) {
				t := time.Now()
				if _, err := db.InsertEvents(ctx, batch); err != nil {
					b.Fatal(err)
				}
				inserting += time.Since(t)
			}
			batch := make([]admin.Event, 0, 1000)
			start := time.Now()
			var last time.Time
			var lastMillion time.Duration
			for i := 0; i < n; i++ {
				batch = append(batch, benchEvent(r, t0, i, n, seqs))
				if len(batch) == cap(batch) || i == n-1 {
					insert(batch)
					last = batch[len(batch)-1].Time
					batch = batch[:0]
				}
				if i > 0 && i%1_000_000 == 0 {
					b.Logf("%s: %d events in %v (%.0f events/s over the last million)", be.name, i, time.Since(start).Round(time.Second), 1e6/(inserting-lastMillion).Seconds())
					lastMillion = inserting
				}
			}
			build := time.Since(start)
			ingest := float64(n) / inserting.Seconds()

			// Ingest into the full store: 100 more batches of 1000, then
			// 20 of 5000 (what an ingest coalescing door messages for a
			// moment would write).
			more := 100_000
			inserting = 0
			for i := 0; i < more; i++ {
				e := benchEvent(r, last, i, n, seqs)
				batch = append(batch, e)
				if len(batch) == cap(batch) {
					insert(batch)
					batch = batch[:0]
				}
			}
			ingestFull := float64(more) / inserting.Seconds()
			inserting = 0
			big := make([]admin.Event, 0, 5000)
			for i := 0; i < more; i++ {
				big = append(big, benchEvent(r, last.Add(time.Hour), i, n, seqs))
				if len(big) == cap(big) {
					insert(big)
					big = big[:0]
				}
			}
			ingestFull5k := float64(more) / inserting.Seconds()
			// A replayed batch (a door reconnecting) costs the unique
			// index probes only.
			replay := make([]admin.Event, 1000)
			r2 := rand.New(rand.NewPCG(1, 2))
			s2 := make([]uint64, benchEventDoors)
			for i := range replay {
				replay[i] = benchEvent(r2, t0, i, n, s2)
			}
			start = time.Now()
			if k, err := db.InsertEvents(ctx, replay); err != nil || k != 0 {
				b.Fatalf("replay inserted %d: %v", k, err)
			}
			replayT := time.Since(start)
			if db.d == dialectSQLite {
				// What PRAGMA optimize at Close (or a periodic one) keeps
				// up to date for a long-running server.
				if _, err := db.w.Exec("ANALYZE"); err != nil {
					b.Fatal(err)
				}
			} else if _, err := db.w.Exec("ANALYZE events"); err != nil {
				b.Fatal(err)
			}

			type search struct {
				name  string
				f     func(r *rand.Rand) admin.EventFilter
				page2 bool
			}
			day := func(r *rand.Rand) time.Time { return t0.AddDate(0, 0, r.IntN(360)) }
			searches := []search{
				{"latest", func(r *rand.Rand) admin.EventFilter { return admin.EventFilter{} }, false},
				{"door", func(r *rand.Rand) admin.EventFilter {
					return admin.EventFilter{DoorID: int64(r.IntN(benchEventDoors) + 1)}
				}, false},
				{"person", func(r *rand.Rand) admin.EventFilter {
					return admin.EventFilter{PersonID: int64(r.IntN(benchEventPeople) + 1)}
				}, false},
				{"day", func(r *rand.Rand) admin.EventFilter {
					d := day(r)
					return admin.EventFilter{From: d, To: d.AddDate(0, 0, 1)}
				}, false},
				{"reason", func(r *rand.Rand) admin.EventFilter {
					return admin.EventFilter{Reason: benchReasons[r.IntN(len(benchReasons))]}
				}, false},
				{"kind rare", func(r *rand.Rand) admin.EventFilter { return admin.EventFilter{Kind: varco.EventClock} }, false},
				{"kind forced week", func(r *rand.Rand) admin.EventFilter {
					d := day(r)
					return admin.EventFilter{Kind: varco.EventForced, From: d, To: d.AddDate(0, 0, 7)}
				}, false},
				{"door week", func(r *rand.Rand) admin.EventFilter {
					d := day(r)
					return admin.EventFilter{DoorID: int64(r.IntN(benchEventDoors) + 1), From: d, To: d.AddDate(0, 0, 7)}
				}, false},
				{"person month", func(r *rand.Rand) admin.EventFilter {
					d := day(r)
					return admin.EventFilter{PersonID: int64(r.IntN(benchEventPeople) + 1), From: d, To: d.AddDate(0, 1, 0)}
				}, false},
				{"door reason", func(r *rand.Rand) admin.EventFilter {
					return admin.EventFilter{DoorID: int64(r.IntN(benchEventDoors) + 1), Reason: varco.ReasonCloneSuspected}
				}, false},
				{"door person", func(r *rand.Rand) admin.EventFilter {
					return admin.EventFilter{DoorID: int64(r.IntN(benchEventDoors) + 1), PersonID: int64(r.IntN(benchEventPeople) + 1)}
				}, false},
				{"door page 2", func(r *rand.Rand) admin.EventFilter {
					return admin.EventFilter{DoorID: int64(r.IntN(benchEventDoors) + 1)}
				}, true},
				{"day page 2", func(r *rand.Rand) admin.EventFilter {
					d := day(r)
					return admin.EventFilter{From: d, To: d.AddDate(0, 0, 1)}
				}, true},
				{"reason page 2", func(r *rand.Rand) admin.EventFilter {
					return admin.EventFilter{Reason: benchReasons[r.IntN(len(benchReasons))]}
				}, true},
			}
			b.ResetTimer()
			var all []time.Duration
			per := map[string][]time.Duration{}
			rs := rand.New(rand.NewPCG(3, 4))
			for it := 0; it < b.N; it++ {
				for i := 0; i < 200; i++ {
					s := searches[i%len(searches)]
					f := s.f(rs)
					if s.page2 {
						_, next, err := db.SearchEvents(ctx, f)
						if err != nil {
							b.Fatal(err)
						}
						if next == nil {
							continue
						}
						f.After = next
					}
					t := time.Now()
					if _, _, err := db.SearchEvents(ctx, f); err != nil {
						b.Fatal(err)
					}
					d := time.Since(t)
					all = append(all, d)
					per[s.name] = append(per[s.name], d)
				}
			}
			b.StopTimer()
			// Retention: the oldest month goes.
			start = time.Now()
			purged, err := db.PurgeEventsBefore(ctx, admin.Actor{Name: "bench"}, t0.AddDate(0, 1, 0))
			if err != nil {
				b.Fatal(err)
			}
			purgeT := time.Since(start)
			b.ReportMetric(ingest, "ingest-events/s")
			b.ReportMetric(ingestFull, "ingest-full-events/s")
			b.ReportMetric(ingestFull5k, "ingest-full-5k-events/s")
			b.ReportMetric(ms(percentile(all, 0.5)), "search-p50-ms")
			b.ReportMetric(ms(percentile(all, 0.99)), "search-p99-ms")
			var tb strings.Builder
			fmt.Fprintf(&tb, "\n%s, %d events (+%d): build %v, ingest %.0f events/s in batches of 1000; into the full store %.0f events/s (batches of 1000), %.0f events/s (batches of 5000); replay of 1000 duplicates %v\n",
				be.name, n, 2*more, build.Round(time.Second), ingest, ingestFull, ingestFull5k, replayT.Round(time.Microsecond))
			fmt.Fprintf(&tb, "%-18s %6s %9s %9s %9s\n", "search", "n", "p50 ms", "p99 ms", "max ms")
			for _, s := range searches {
				d := per[s.name]
				fmt.Fprintf(&tb, "%-18s %6d %9.2f %9.2f %9.2f\n", s.name, len(d), ms(percentile(d, 0.5)), ms(percentile(d, 0.99)), ms(percentile(d, 1)))
			}
			fmt.Fprintf(&tb, "%-18s %6d %9.2f %9.2f %9.2f\n", "all", len(all), ms(percentile(all, 0.5)), ms(percentile(all, 0.99)), ms(percentile(all, 1)))
			fmt.Fprintf(&tb, "purge of the oldest month: %d events in %v (%.0f events/s)", purged, purgeT.Round(time.Millisecond), float64(purged)/purgeT.Seconds())
			// Printed, not logged: benchmark logs are cut at a few lines.
			fmt.Println(tb.String())
		})
	}
}

// bulk inserts rows with multi-row INSERTs of up to 500 rows, in one
// transaction.
func bulk(b *testing.B, db *DB, head string, cols int, n int, row func(i int) []any) {
	b.Helper()
	tx, err := db.w.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	one := "(" + placeholders(cols) + ")"
	for start := 0; start < n; start += 500 {
		end := min(start+500, n)
		var sb strings.Builder
		sb.WriteString(head + " VALUES ")
		var args []any
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteString(one)
			args = append(args, row(i)...)
		}
		if _, err := tx.Exec(db.q(sb.String()), args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDoorViews loads VARCO_BENCH_PEOPLE people with a card each and
// VARCO_BENCH_DOORS doors in groups of 10 doors, each group with
// people/groups people (plus 10% from the next group, who are in two
// groups), one schedule per 10 groups; then times the initial
// materialisation of every door's view, DoorView of one door, and the
// writes HR and facilities make, above all editing a schedule that
// thousands of people's grants name.
func BenchmarkDoorViews(b *testing.B) {
	nPeople := benchEnv("VARCO_BENCH_PEOPLE", 100_000)
	nDoors := benchEnv("VARCO_BENCH_DOORS", 1000)
	nGroups := max(nDoors/10, 1)
	perGroup := nPeople / nGroups
	nScheds := max(nGroups/10, 1)
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			ctx := context.Background()
			a := admin.Actor{Name: "bench"}
			now := db.t(time.Now())
			t0 := time.Now()
			bulk(b, db, `INSERT INTO people (id, employee_no, name, surname, department, email, active, search, created_at, updated_at)`, 10, nPeople, func(i int) []any {
				return []any{i + 1, fmt.Sprint("E", i), "Nome", fmt.Sprint("Cognome", i), "", "", true, "", now, now}
			})
			keys := make([][]byte, 16)
			for i := range keys {
				keys[i] = benchKey(i)
			}
			bulk(b, db, `INSERT INTO cards (id, person_id, nis, public_key, key_hash, sod_generation, ds_subject, verification, enrolled_at, enrolled_by, status)`, 11, nPeople, func(i int) []any {
				return []any{i + 1, i + 1, fmt.Sprintf("%012d", i+1), keys[i%len(keys)], "", "", "", "", now, "", "active"}
			})
			bulk(b, db, `INSERT INTO doors (id, site_id, name, location, controller_id, mode, revision, min_rev, schedules_rev, holidays_rev)`, 10, nDoors, func(i int) []any {
				return []any{i + 1, 1, fmt.Sprint("Porta ", i), "", fmt.Sprint("door-", i), "normal", 1, 0, 1, 1}
			})
			bulk(b, db, `INSERT INTO schedules (id, name, days, open_on_holidays)`, 4, nScheds, func(i int) []any {
				return []any{i + 1, fmt.Sprint("Orario ", i), `[[],[{"start":480,"end":1080}],[{"start":480,"end":1080}],[{"start":480,"end":1080}],[{"start":480,"end":1080}],[{"start":480,"end":1080}],[]]`, false}
			})
			bulk(b, db, `INSERT INTO access_groups (id, name, schedule_id, lockdown_override)`, 4, nGroups, func(i int) []any {
				return []any{i + 1, fmt.Sprint("Gruppo ", i), i/10 + 1, i%10 == 0}
			})
			bulk(b, db, `INSERT INTO group_doors (group_id, door_id)`, 2, nGroups*10, func(i int) []any {
				return []any{i/10 + 1, i%nDoors + 1}
			})
			extra := perGroup / 10
			bulk(b, db, `INSERT INTO group_people (group_id, person_id)`, 2, nGroups*(perGroup+extra), func(i int) []any {
				g, k := i/(perGroup+extra), i%(perGroup+extra)
				return []any{g + 1, (g*perGroup+k)%nPeople + 1}
			})
			if db.d == dialectPostgres {
				for _, tbl := range []string{"people", "cards", "doors", "schedules", "access_groups"} {
					if _, err := db.w.Exec(`SELECT setval(pg_get_serial_sequence('` + tbl + `', 'id'), (SELECT max(id) FROM ` + tbl + `))`); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := db.w.Exec(`ANALYZE`); err != nil {
					b.Fatal(err)
				}
			} else if _, err := db.w.Exec(`ANALYZE`); err != nil {
				b.Fatal(err)
			}
			load := time.Since(t0)

			b.ResetTimer()
			t0 = time.Now()
			if err := db.RebuildViews(ctx); err != nil {
				b.Fatal(err)
			}
			initial := time.Since(t0)
			var rows int
			db.r.QueryRow(`SELECT count(*) FROM door_grants`).Scan(&rows)
			if db.d == dialectPostgres {
				db.w.Exec(`ANALYZE door_grants`)
			}

			timeIt := func(n int, f func()) time.Duration {
				t := time.Now()
				for i := 0; i < n; i++ {
					f()
				}
				return time.Since(t) / time.Duration(n)
			}
			var grants int
			view := timeIt(20, func() {
				v, err := db.DoorView(ctx, 5)
				if err != nil {
					b.Fatal(err)
				}
				grants = len(v.Grants)
			})

			revs := func() map[int64]int64 {
				m := map[int64]int64{}
				rows, err := db.r.Query(`SELECT id, revision FROM doors`)
				if err != nil {
					b.Fatal(err)
				}
				defer rows.Close()
				for rows.Next() {
					var id, r int64
					rows.Scan(&id, &r)
					m[id] = r
				}
				return m
			}
			moved := func(before map[int64]int64) int {
				n := 0
				for id, r := range revs() {
					if r != before[id] {
						n++
					}
				}
				return n
			}
			type step struct {
				name  string
				do    func(i int) error
				moved int
				took  time.Duration
			}
			sc, err := db.GetSchedule(ctx, 1)
			if err != nil {
				b.Fatal(err)
			}
			var schedPeople int
			db.r.QueryRow(db.q(`SELECT count(DISTINCT gp.person_id) FROM group_people gp JOIN access_groups g ON g.id = gp.group_id WHERE g.schedule_id = 1`)).Scan(&schedPeople)
			steps := []*step{
				{name: fmt.Sprintf("edit schedule 1 (%d people)", schedPeople), do: func(i int) error {
					sc.Days[6] = []varco.Window{{Start: 480, End: 480 + 60 + i%600}}
					return db.UpdateSchedule(ctx, a, &sc)
				}},
				{name: "suspend+reactivate one card", do: func(i int) error {
					if err := db.SetCardStatus(ctx, a, int64(i+1), admin.CardSuspended); err != nil {
						return err
					}
					return db.SetCardStatus(ctx, a, int64(i+1), admin.CardActive)
				}},
				{name: "add one person to a group", do: func(i int) error { return db.AddGroupPeople(ctx, a, 2, int64(nPeople-i)) }},
				{name: "rename one person", do: func(i int) error {
					p, err := db.GetPerson(ctx, int64(i+1))
					if err != nil {
						return err
					}
					p.Name = fmt.Sprint("Nuovo", i)
					return db.UpdatePerson(ctx, a, &p)
				}},
				{name: "add a door to a group", do: func(i int) error { return db.AddGroupDoors(ctx, a, 3, int64(nDoors-i)) }},
				{name: fmt.Sprintf("change a group's schedule (%d people)", perGroup+extra), do: func(i int) error {
					g, err := db.GetGroup(ctx, 4)
					if err != nil {
						return err
					}
					// Always, then a schedule, and so on: every edit
					// changes the group's grants.
					g.ScheduleID = nil
					if i%2 == 1 {
						s := int64(1 + i%nScheds)
						g.ScheduleID = &s
					}
					return db.UpdateGroup(ctx, a, &g)
				}},
				{name: "holiday (every door of the site)", do: func(i int) error {
					return db.CreateHoliday(ctx, a, &admin.Holiday{SiteID: 1, Date: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format(time.DateOnly)})
				}},
			}
			const reps = 5
			rev0, _ := db.DoorRevision(ctx, 5)
			for _, s := range steps {
				before := revs()
				t := time.Now()
				for i := 0; i < reps; i++ {
					if err := s.do(i); err != nil {
						b.Fatalf("%s: %v", s.name, err)
					}
				}
				s.took = time.Since(t) / reps
				s.moved = moved(before)
			}
			// A door that missed all those writes catches up.
			var delta admin.DoorDelta
			deltaT := timeIt(20, func() {
				delta, err = db.DoorDelta(ctx, 5, rev0)
				if err != nil {
					b.Fatal(err)
				}
			})
			b.StopTimer()
			b.ReportMetric(initial.Seconds(), "initial-s")
			b.ReportMetric(ms(view), "doorview-ms")
			b.ReportMetric(ms(steps[0].took), "schedule-edit-ms")
			var tb strings.Builder
			fmt.Fprintf(&tb, "\n%s: %d people with a card, %d doors, %d groups of 10 doors and %d+%d people, %d schedules (bulk load %v)\n",
				be.name, nPeople, nDoors, nGroups, perGroup, extra, nScheds, load.Round(time.Millisecond))
			fmt.Fprintf(&tb, "initial materialisation: %v for %d door grants\n", initial.Round(time.Millisecond), rows)
			fmt.Fprintf(&tb, "DoorView of one door (%d grants): %.2f ms\n", grants, ms(view))
			fmt.Fprintf(&tb, "DoorDelta over the %d revisions of the writes below (%d upserts, %d deletes, %d schedules, %d holidays): %.2f ms\n",
				delta.To-delta.From, len(delta.Upserts), len(delta.Deletes), len(delta.Schedules), len(delta.Holidays), ms(deltaT))
			fmt.Fprintf(&tb, "%-44s %10s %12s %14s\n", "write (one transaction, mean of 5)", "ms", "doors moved", "ms per door")
			for _, s := range steps {
				per := 0.0
				if s.moved > 0 {
					per = ms(s.took) / float64(s.moved)
				}
				fmt.Fprintf(&tb, "%-44s %10.1f %12d %14.3f\n", s.name, ms(s.took), s.moved, per)
			}
			// Printed, not logged: benchmark logs are cut at a few lines.
			fmt.Println(tb.String())
		})
	}
}

// benchKey is a well-formed RSA-2048 public key for bulk-loaded cards.
func benchKey(i int) []byte {
	k := make([]byte, 0, 270)
	k = append(k, 0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00)
	for j := 0; j < 256; j++ {
		k = append(k, byte(j*7+i)|1)
	}
	k[9] |= 0x80
	return append(k, 0x02, 0x03, 0x01, 0x00, 0x01)
}
