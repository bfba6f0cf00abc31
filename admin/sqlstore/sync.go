package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
)

// How the door views are kept (see doc.go): door_grants holds, per door and
// NIS, the grant the door must hold, or a tombstone; door_schedules the
// schedules those grants name; doors.revision and friends the revisions.
// A write says which (doors × people) its change may affect; at commit,
// refresh recomputes the wanted grants of that product set-based into a
// temporary table, diffs it against door_grants, moves the revision of
// every door whose view differs (once per transaction), and writes only
// the rows that changed, stamped with the door's new revision.

// tempTables are the refresh's scratch tables, per connection. They are
// emptied at the end of each refresh; a rolled back transaction takes its
// rows with it.
var tempTables = []string{
	`CREATE TEMP TABLE IF NOT EXISTS tmp_doors (door_id BIGINT PRIMARY KEY)`,
	`CREATE TEMP TABLE IF NOT EXISTS tmp_people (person_id BIGINT PRIMARY KEY)`,
	`CREATE TEMP TABLE IF NOT EXISTS tmp_want (
		door_id BIGINT NOT NULL, nis TEXT NOT NULL, card_id BIGINT NOT NULL,
		person_id BIGINT NOT NULL, display_name TEXT NOT NULL,
		schedule_ids TEXT NOT NULL, flags BIGINT NOT NULL,
		PRIMARY KEY (door_id, nis))`,
	`CREATE TEMP TABLE IF NOT EXISTS tmp_chg (door_id BIGINT NOT NULL, grants INTEGER NOT NULL, sched INTEGER NOT NULL, hol INTEGER NOT NULL)`,
	`CREATE TEMP TABLE IF NOT EXISTS tmp_ws (door_id BIGINT NOT NULL, schedule_id BIGINT NOT NULL, PRIMARY KEY (door_id, schedule_id))`,
	`CREATE TEMP TABLE IF NOT EXISTS tmp_up (door_id BIGINT NOT NULL, nis TEXT NOT NULL, PRIMARY KEY (door_id, nis))`,
	`CREATE TEMP TABLE IF NOT EXISTS tmp_gone (door_id BIGINT NOT NULL, nis TEXT NOT NULL, PRIMARY KEY (door_id, nis))`,
}

var tempNames = []string{"tmp_doors", "tmp_people", "tmp_want", "tmp_chg", "tmp_ws", "tmp_up", "tmp_gone"}

func (t *tx) ensureTemps() error {
	if t.temps {
		return nil
	}
	for _, q := range tempTables {
		if _, err := t.exec(q); err != nil {
			return fmt.Errorf("temp table: %w", err)
		}
	}
	for _, n := range tempNames {
		if _, err := t.exec("DELETE FROM " + n); err != nil {
			return err
		}
	}
	t.temps = true
	return nil
}

// sel names a set of doors or people for the refresh: every one, some ids,
// or the rows of a query returning one id column (run at once: call it
// before a delete cascades the rows away).
type sel struct {
	all   bool
	ids   []int64
	query string
	args  []any
}

var all = sel{all: true}

func ids(v ...int64) sel             { return sel{ids: v} }
func selQ(q string, args ...any) sel { return sel{query: q, args: args} }

// affect says the grants of doors × people may change in this
// transaction.
func (t *tx) affect(doors, people sel) error {
	if err := t.ensureTemps(); err != nil {
		return err
	}
	t.grants = true
	if err := t.fill(doors, "tmp_doors", "door_id", &t.doorsAll, &t.doorsSome); err != nil {
		return err
	}
	return t.fill(people, "tmp_people", "person_id", &t.peopleAll, &t.peopleSome)
}

func (t *tx) fill(s sel, table, col string, isAll, some *bool) error {
	if s.all {
		*isAll = true
		return nil
	}
	*some = true
	if *isAll {
		return nil
	}
	ins := "INSERT INTO " + table + " (" + col + ") "
	if s.query != "" {
		_, err := t.exec(ins+"SELECT id FROM ("+s.query+") x WHERE true ON CONFLICT DO NOTHING", s.args...)
		return err
	}
	for _, id := range s.ids {
		if _, err := t.exec(ins+"VALUES (?) ON CONFLICT DO NOTHING", id); err != nil {
			return err
		}
	}
	return nil
}

// markSchedule: the schedule's definition changed; its doors get the new
// schedule set.
func (t *tx) markSchedule(id int64) {
	t.marks = append(t.marks, mark{`INSERT INTO tmp_chg (door_id, grants, sched, hol) SELECT door_id, 0, 1, 0 FROM door_schedules WHERE schedule_id = ?`, []any{id}})
}

// markSite: the site's holidays (hol) or time zone changed.
func (t *tx) markSite(id int64, hol bool) {
	t.marks = append(t.marks, mark{`INSERT INTO tmp_chg (door_id, grants, sched, hol) SELECT id, 0, 0, CAST(? AS INTEGER) FROM doors WHERE site_id = ?`, []any{b2i(hol), id}})
}

// markDoor: the door's mode or site (hol: holidays and time zone) changed.
func (t *tx) markDoor(id int64, hol bool) {
	t.marks = append(t.marks, mark{`INSERT INTO tmp_chg (door_id, grants, sched, hol) VALUES (?, 0, 0, ?)`, []any{id, b2i(hol)}})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// refresh brings the door views in line with the transaction's changes.
func (t *tx) refresh() error {
	if !t.grants && len(t.marks) == 0 {
		return nil
	}
	if err := t.ensureTemps(); err != nil {
		return err
	}
	doorsLimited := t.doorsSome && !t.doorsAll
	peopleLimited := t.peopleSome && !t.peopleAll
	// scope restricts door_grants (as tbl) to the doors × people in scope.
	// When both are limited, the people side drives (a person holds a few
	// grants, a door thousands): the unary + keeps the planners off the
	// door index.
	scope := func(tbl string) string {
		var s string
		if doorsLimited {
			col := tbl + ".door_id"
			if peopleLimited {
				col = "+" + col
			}
			s += " AND " + col + " IN (SELECT door_id FROM tmp_doors)"
		}
		if peopleLimited {
			s += " AND " + tbl + ".person_id IN (SELECT person_id FROM tmp_people)"
		}
		return s
	}
	var wantScope string
	if doorsLimited {
		wantScope += " AND gd.door_id IN (SELECT door_id FROM tmp_doors)"
	}
	if peopleLimited {
		wantScope += " AND gp.person_id IN (SELECT person_id FROM tmp_people)"
	}
	type step struct {
		name    string
		q       string
		args    []any
		analyze string // PostgreSQL: the temp table to ANALYZE after the step
	}
	run := func(steps []step) error {
		for _, s := range steps {
			if _, err := t.exec(s.q, s.args...); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			if s.analyze != "" && t.db.d == dialectPostgres {
				// Temporary tables have no statistics until analysed:
				// without them the planner guesses thousands of rows and
				// hash-joins whole tables for a one-person change.
				if _, err := t.exec("ANALYZE " + s.analyze); err != nil {
					return fmt.Errorf("%s: analyze: %w", s.name, err)
				}
			}
		}
		return nil
	}
	if t.grants {
		if t.db.d == dialectPostgres {
			if _, err := t.exec("ANALYZE tmp_doors, tmp_people"); err != nil {
				return fmt.Errorf("analyze: %w", err)
			}
		}
		err := run([]step{
			// The grants the doors in scope should hold for the people in
			// scope: one per active card of an active person in a group
			// covering the door; schedules the union of the groups',
			// always if a group has none, lockdown override if a group
			// says so.
			{name: "want", analyze: "tmp_want", q: `INSERT INTO tmp_want (door_id, nis, card_id, person_id, display_name, schedule_ids, flags)
				SELECT gd.door_id, c.nis, c.id, p.id, p.name || ' ' || p.surname, ` + t.db.scheduleAgg("g.schedule_id") + `,
					MAX(CASE WHEN g.schedule_id IS NULL THEN 1 ELSE 0 END) + MAX(CASE WHEN g.lockdown_override THEN 2 ELSE 0 END)
				FROM group_doors gd
				JOIN access_groups g ON g.id = gd.group_id
				JOIN group_people gp ON gp.group_id = gd.group_id
				JOIN people p ON p.id = gp.person_id
				JOIN cards c ON c.person_id = p.id
				WHERE p.active AND c.status = 'active'` + wantScope + `
				GROUP BY gd.door_id, c.id, c.nis, p.id, p.name, p.surname`},
			// Wanted grants missing or different...
			{name: "upserts", analyze: "tmp_up", q: `INSERT INTO tmp_up (door_id, nis)
				SELECT door_id, nis FROM (
					SELECT door_id, nis, card_id, person_id, display_name, schedule_ids, flags FROM tmp_want
					EXCEPT
					SELECT door_id, nis, card_id, person_id, display_name, schedule_ids, flags FROM door_grants
					WHERE NOT deleted` + scope("door_grants") + `
				) x`},
			// ...and held grants no longer wanted.
			{name: "gone", analyze: "tmp_gone", q: `INSERT INTO tmp_gone (door_id, nis)
				SELECT dg.door_id, dg.nis FROM door_grants dg
				WHERE NOT dg.deleted` + scope("dg") + `
				AND NOT EXISTS (SELECT 1 FROM tmp_want w WHERE w.door_id = dg.door_id AND w.nis = dg.nis)`},
			{name: "changed", analyze: "tmp_chg", q: `INSERT INTO tmp_chg (door_id, grants, sched, hol)
				SELECT door_id, 1, 0, 0 FROM (SELECT door_id FROM tmp_up UNION SELECT door_id FROM tmp_gone) x`},
			// The schedule sets of those doors: a schedule is named by a
			// door's grants when a group covering the door has it and has
			// a person who gets a grant. (A scalar subquery, not EXISTS:
			// PostgreSQL turns EXISTS into a semi-join over every member
			// of every group; this stops at each group's first member.)
			{name: "schedules", q: `INSERT INTO tmp_ws (door_id, schedule_id)
				SELECT DISTINCT gd.door_id, g.schedule_id
				FROM group_doors gd JOIN access_groups g ON g.id = gd.group_id
				WHERE g.schedule_id IS NOT NULL AND gd.door_id IN (SELECT door_id FROM tmp_chg)
				AND (SELECT 1 FROM group_people gp JOIN people p ON p.id = gp.person_id JOIN cards c ON c.person_id = p.id
					WHERE gp.group_id = g.id AND p.active AND c.status = 'active' LIMIT 1) = 1`},
			{name: "schedules diff", q: `INSERT INTO tmp_chg (door_id, grants, sched, hol)
				SELECT door_id, 0, 1, 0 FROM (
					SELECT door_id FROM (
						SELECT door_id, schedule_id FROM tmp_ws
						EXCEPT
						SELECT door_id, schedule_id FROM door_schedules WHERE door_id IN (SELECT door_id FROM tmp_chg WHERE grants = 1)
					) a
					UNION
					SELECT door_id FROM (
						SELECT door_id, schedule_id FROM door_schedules WHERE door_id IN (SELECT door_id FROM tmp_chg WHERE grants = 1)
						EXCEPT
						SELECT door_id, schedule_id FROM tmp_ws
					) b
				) x`},
			{name: "schedules delete", q: `DELETE FROM door_schedules WHERE door_id IN (SELECT door_id FROM tmp_chg WHERE sched = 1)`},
			{name: "schedules insert", q: `INSERT INTO door_schedules (door_id, schedule_id)
				SELECT door_id, schedule_id FROM tmp_ws WHERE door_id IN (SELECT door_id FROM tmp_chg WHERE sched = 1)`},
		})
		if err != nil {
			return err
		}
	}
	for _, m := range t.marks {
		if _, err := t.exec(m.query, m.args...); err != nil {
			return fmt.Errorf("mark: %w", err)
		}
	}
	// One revision per transaction per changed door.
	res, err := t.exec(`UPDATE doors SET revision = revision + 1,
		schedules_rev = CASE WHEN id IN (SELECT door_id FROM tmp_chg WHERE sched = 1) THEN revision + 1 ELSE schedules_rev END,
		holidays_rev = CASE WHEN id IN (SELECT door_id FROM tmp_chg WHERE hol = 1) THEN revision + 1 ELSE holidays_rev END
		WHERE id IN (SELECT door_id FROM tmp_chg)`)
	if err != nil {
		return fmt.Errorf("bump: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 && t.grants {
		err := run([]step{
			// WHERE true: SQLite needs it to tell the upsert's ON from a
			// join's.
			{name: "upsert", q: `INSERT INTO door_grants (door_id, nis, card_id, person_id, display_name, schedule_ids, flags, rev, deleted)
				SELECT w.door_id, w.nis, w.card_id, w.person_id, w.display_name, w.schedule_ids, w.flags, d.revision, false
				FROM tmp_up u
				JOIN tmp_want w ON w.door_id = u.door_id AND w.nis = u.nis
				JOIN doors d ON d.id = u.door_id
				WHERE true
				ON CONFLICT (door_id, nis) DO UPDATE SET card_id = excluded.card_id, person_id = excluded.person_id,
					display_name = excluded.display_name, schedule_ids = excluded.schedule_ids, flags = excluded.flags,
					rev = excluded.rev, deleted = excluded.deleted`},
			{name: "tombstones", q: `UPDATE door_grants SET deleted = true, rev = (SELECT revision FROM doors WHERE doors.id = door_grants.door_id)
				WHERE (door_id, nis) IN (SELECT door_id, nis FROM tmp_gone)`},
			// Tombstones older than keepRevs revisions go; min_rev
			// remembers the newest one pruned.
			{name: "min_rev", args: []any{t.db.keepRevs, t.db.keepRevs}, q: `UPDATE doors SET min_rev = (SELECT MAX(dg.rev) FROM door_grants dg WHERE dg.door_id = doors.id AND dg.deleted AND dg.rev <= doors.revision - ?)
				WHERE id IN (SELECT door_id FROM tmp_chg WHERE grants = 1)
				AND EXISTS (SELECT 1 FROM door_grants dg WHERE dg.door_id = doors.id AND dg.deleted AND dg.rev <= doors.revision - ?)`},
			{name: "prune", args: []any{t.db.keepRevs}, q: `DELETE FROM door_grants WHERE deleted AND door_id IN (SELECT door_id FROM tmp_chg WHERE grants = 1)
				AND rev <= (SELECT revision FROM doors WHERE doors.id = door_grants.door_id) - ?`},
		})
		if err != nil {
			return err
		}
	}
	clear := "DELETE FROM "
	if t.db.d == dialectPostgres {
		// TRUNCATE also drops the pages a big refresh left behind, which
		// the next small one would otherwise scan.
		clear = "TRUNCATE "
	}
	for _, n := range tempNames {
		if _, err := t.exec(clear + n); err != nil {
			return err
		}
	}
	t.grants, t.doorsAll, t.peopleAll, t.doorsSome, t.peopleSome, t.marks = false, false, false, false, false, nil
	return nil
}

// scheduleAgg is the sorted, comma-separated, distinct list of the
// non-null schedule ids in column col ("" when none).
func (db *DB) scheduleAgg(col string) string {
	if db.d == dialectPostgres {
		return "array_to_string(array_agg(DISTINCT " + col + " ORDER BY " + col + "), ',')"
	}
	return "COALESCE(group_concat(DISTINCT " + col + " ORDER BY " + col + "), '')"
}

// RebuildViews recomputes every door's view from scratch, moving the
// revision of the doors whose view was out of line. The store keeps the
// views up to date by itself; this is for after a manual repair of the
// database, and for benchmarks.
func (db *DB) RebuildViews(ctx context.Context) error {
	return db.writeAs(ctx, "system", func(t *tx) error { return t.affect(all, all) })
}

// readTx runs fn in a read-only transaction seeing one snapshot.
func (db *DB) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	var opts *sql.TxOptions
	if db.d == dialectPostgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := db.r.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	defer tx.Rollback()
	if db.d == dialectPostgres {
		// A door's view is a thousand-odd rows by index: starting a
		// parallel worker, which the planner picks for the wide public
		// keys, costs more than the whole query.
		if _, err := tx.ExecContext(ctx, "SET LOCAL max_parallel_workers_per_gather = 0"); err != nil {
			return fmt.Errorf("sqlstore: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

type doorSync struct {
	siteID                                 int64
	mode                                   varco.DoorMode
	tz                                     string
	revision, minRev, schedulesRev, holRev int64
}

func (db *DB) doorSync(ctx context.Context, q queryer, doorID int64) (doorSync, error) {
	var s doorSync
	err := q.QueryRowContext(ctx, db.q(`SELECT d.site_id, d.mode, s.time_zone, d.revision, d.min_rev, d.schedules_rev, d.holidays_rev
		FROM doors d JOIN sites s ON s.id = d.site_id WHERE d.id = ?`), doorID).
		Scan(&s.siteID, &s.mode, &s.tz, &s.revision, &s.minRev, &s.schedulesRev, &s.holRev)
	if err != nil {
		return s, fmt.Errorf("sqlstore: door %d: %w", doorID, mapErr(err, nil))
	}
	return s, nil
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// DoorView implements admin.Store.
func (db *DB) DoorView(ctx context.Context, doorID int64) (admin.DoorView, error) {
	v := admin.DoorView{DoorID: doorID}
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		s, err := db.doorSync(ctx, tx, doorID)
		if err != nil {
			return err
		}
		v.Revision, v.Mode, v.TimeZone = s.revision, s.mode, s.tz
		if v.Grants, _, err = db.grants(ctx, tx, `dg.door_id = ? AND NOT dg.deleted`, doorID); err != nil {
			return err
		}
		if v.Schedules, err = db.doorSchedules(ctx, tx, doorID); err != nil {
			return err
		}
		v.Holidays, err = db.siteHolidays(ctx, tx, s.siteID)
		return err
	})
	return v, err
}

// DoorDelta implements admin.Store.
func (db *DB) DoorDelta(ctx context.Context, doorID int64, from int64) (admin.DoorDelta, error) {
	d := admin.DoorDelta{DoorID: doorID, From: from}
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		s, err := db.doorSync(ctx, tx, doorID)
		if err != nil {
			return err
		}
		if from < s.minRev || from > s.revision {
			return fmt.Errorf("sqlstore: door %d: delta from %d (kept %d..%d): %w", doorID, from, s.minRev, s.revision, admin.ErrRevisionGone)
		}
		d.To, d.Mode, d.TimeZone = s.revision, s.mode, s.tz
		if d.Upserts, d.Deletes, err = db.grants(ctx, tx, `dg.door_id = ? AND dg.rev > ?`, doorID, from); err != nil {
			return err
		}
		if s.schedulesRev > from {
			if d.Schedules, err = db.doorSchedules(ctx, tx, doorID); err != nil {
				return err
			}
		}
		if s.holRev > from {
			d.Holidays, err = db.siteHolidays(ctx, tx, s.siteID)
		}
		return err
	})
	return d, err
}

// DoorRevision implements admin.Store.
func (db *DB) DoorRevision(ctx context.Context, doorID int64) (int64, error) {
	var r int64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT revision FROM doors WHERE id = ?`), doorID).Scan(&r)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: door %d: %w", doorID, mapErr(err, nil))
	}
	return r, nil
}

// grants reads door_grants rows matching where: live ones as grants (with
// the card's key), tombstones as deleted NIS. Both sorted by NIS.
func (db *DB) grants(ctx context.Context, q queryer, where string, args ...any) ([]varco.Grant, []string, error) {
	rows, err := q.QueryContext(ctx, db.q(`SELECT dg.nis, dg.person_id, dg.display_name, c.public_key, dg.schedule_ids, dg.flags, dg.deleted
		FROM door_grants dg LEFT JOIN cards c ON c.id = dg.card_id AND NOT dg.deleted
		WHERE `+where+` ORDER BY dg.nis`), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: grants: %w", err)
	}
	defer rows.Close()
	grants := []varco.Grant{}
	deletes := []string{}
	for rows.Next() {
		var (
			g        varco.Grant
			personID int64
			sched    string
			deleted  bool
		)
		if err := rows.Scan(&g.NIS, &personID, &g.DisplayName, &g.PublicKey, &sched, &g.Flags, &deleted); err != nil {
			return nil, nil, fmt.Errorf("sqlstore: grants: %w", err)
		}
		if deleted {
			deletes = append(deletes, g.NIS)
			continue
		}
		g.PersonID = fmt.Sprint(personID)
		if sched != "" {
			g.ScheduleIDs = strings.Split(sched, ",")
		}
		grants = append(grants, g)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: grants: %w", err)
	}
	return grants, deletes, nil
}

func (db *DB) doorSchedules(ctx context.Context, q queryer, doorID int64) ([]varco.Schedule, error) {
	ss, err := db.listSchedules(ctx, q, `WHERE id IN (SELECT schedule_id FROM door_schedules WHERE door_id = ?)`, doorID)
	if err != nil {
		return nil, err
	}
	out := make([]varco.Schedule, 0, len(ss))
	for i := range ss {
		out = append(out, ss[i].Varco())
	}
	return out, nil
}

func (db *DB) siteHolidays(ctx context.Context, q queryer, siteID int64) ([]varco.Holiday, error) {
	hs, err := db.listHolidays(ctx, q, siteID)
	if err != nil {
		return nil, err
	}
	out := make([]varco.Holiday, 0, len(hs))
	for i := range hs {
		out = append(out, hs[i].Varco())
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Date < out[j].Date })
	return out, nil
}
