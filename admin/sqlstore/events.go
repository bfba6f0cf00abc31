package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/varco-access/varco/admin"
)

// eventBatch is how many events go in one multi-row INSERT: 11 values each
// stays under SQLite's 32766 and PostgreSQL's 65535 parameters.
const eventBatch = 1000

const eventCols = `id, door_id, epoch, seq, time, clock_trusted, kind, reason, nis, person_id, detail, received_at`

func scanEvent(r scanner, e *admin.Event) error {
	var seq int64
	if err := r.Scan(&e.ID, &e.DoorID, &e.Epoch, &seq, tcol{&e.Time}, &e.ClockTrusted, &e.Kind, &e.Reason, &e.NIS, &e.PersonID, &e.Detail, tcol{&e.ReceivedAt}); err != nil {
		return err
	}
	e.Seq = uint64(seq)
	return nil
}

// InsertEvents implements admin.Store.
func (db *DB) InsertEvents(ctx context.Context, events []admin.Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	var ve admin.ValidationError
	for i := range events {
		if err := events[i].Validate(); err != nil {
			var e *admin.ValidationError
			if errors.As(err, &e) {
				for k, v := range e.Fields {
					addField(&ve, fmt.Sprintf("events[%d].%s", i, k), v)
				}
			}
		}
		if events[i].Seq > math.MaxInt64 {
			addField(&ve, fmt.Sprintf("events[%d].seq", i), "too large")
		}
	}
	if len(ve.Fields) > 0 {
		return 0, &ve
	}
	now := db.nowT()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: insert events: %w", err)
	}
	defer tx.Rollback()

	// Resolve the people of the NIS the doors sent without one.
	people := map[string]*int64{}
	var nisList []any
	for i := range events {
		if e := &events[i]; e.PersonID == nil && e.NIS != "" {
			if _, ok := people[e.NIS]; !ok {
				people[e.NIS] = nil
				nisList = append(nisList, e.NIS)
			}
		}
	}
	for len(nisList) > 0 {
		n := min(len(nisList), eventBatch)
		rows, err := tx.QueryContext(ctx, db.q(`SELECT nis, person_id FROM cards WHERE nis IN (`+placeholders(n)+`)`), nisList[:n]...)
		if err != nil {
			return 0, fmt.Errorf("sqlstore: insert events: %w", err)
		}
		for rows.Next() {
			var nis string
			var id int64
			if err := rows.Scan(&nis, &id); err != nil {
				rows.Close()
				return 0, err
			}
			people[nis] = &id
		}
		if err := rows.Close(); err != nil {
			return 0, err
		}
		nisList = nisList[n:]
	}

	inserted := 0
	args := make([]any, 0, eventBatch*11)
	for start := 0; start < len(events); start += eventBatch {
		batch := events[start:min(start+eventBatch, len(events))]
		args = args[:0]
		for i := range batch {
			e := &batch[i]
			pid := e.PersonID
			if pid == nil && e.NIS != "" {
				pid = people[e.NIS]
			}
			rcv := e.ReceivedAt
			if rcv.IsZero() {
				rcv = now
			}
			args = append(args, e.DoorID, e.Epoch, int64(e.Seq), db.t(e.Time), e.ClockTrusted, string(e.Kind), string(e.Reason), e.NIS, pid, e.Detail, db.t(rcv))
		}
		var res sql.Result
		if len(batch) == eventBatch && db.evStmt != nil {
			res, err = tx.StmtContext(ctx, db.evStmt).ExecContext(ctx, args...)
		} else {
			res, err = tx.ExecContext(ctx, db.q(db.insertEventsSQL(len(batch))), args...)
		}
		if err != nil {
			return 0, fmt.Errorf("sqlstore: insert events: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		inserted += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlstore: insert events: commit: %w", err)
	}
	return inserted, nil
}

// insertEventsSQL is the INSERT of n events, ignoring those already
// stored.
func (db *DB) insertEventsSQL(n int) string {
	var b strings.Builder
	if db.d == dialectSQLite {
		// OR IGNORE rather than ON CONFLICT DO NOTHING: with every
		// constraint resolved by ignoring (the values were validated), the
		// statement cannot abort half way, so SQLite keeps no statement
		// journal, which cost a page copy for every index leaf the batch
		// touched.
		b.WriteString(`INSERT OR IGNORE`)
	} else {
		b.WriteString(`INSERT`)
	}
	b.WriteString(` INTO events (door_id, epoch, seq, time, clock_trusted, kind, reason, nis, person_id, detail, received_at) VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	if db.d == dialectPostgres {
		b.WriteString(` ON CONFLICT (door_id, epoch, seq) DO NOTHING`)
	}
	return b.String()
}

// SearchEvents implements admin.Store.
func (db *DB) SearchEvents(ctx context.Context, f admin.EventFilter) ([]admin.Event, *admin.EventCursor, error) {
	var conds []string
	var args []any
	add := func(c string, v ...any) { conds = append(conds, c); args = append(args, v...) }
	if !f.From.IsZero() {
		add(`time >= ?`, db.t(f.From))
	}
	if !f.To.IsZero() {
		add(`time < ?`, db.t(f.To))
	}
	if f.DoorID != 0 {
		add(`door_id = ?`, f.DoorID)
	}
	if f.PersonID != 0 {
		add(`person_id = ?`, f.PersonID)
	}
	if f.Kind != "" {
		add(`kind = ?`, string(f.Kind))
	}
	if f.Reason != "" {
		// The second term matches the partial indexes' WHERE.
		add(`reason = ? AND reason <> ''`, string(f.Reason))
	}
	if f.After != nil {
		add(`(time, id) < (?, ?)`, db.t(f.After.Time), f.After.ID)
	}
	n := limit(f.Limit, 100, 10000)
	q := `SELECT ` + eventCols + ` FROM events`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, ` AND `)
	}
	q += ` ORDER BY time DESC, id DESC LIMIT ?`
	args = append(args, n+1)
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: search events: %w", err)
	}
	evs, err := collect(rows, scanEvent)
	if err != nil {
		return nil, nil, err
	}
	if len(evs) <= n {
		return evs, nil, nil
	}
	evs = evs[:n]
	last := evs[n-1]
	return evs, &admin.EventCursor{Time: last.Time, ID: last.ID}, nil
}

// MaxEventSeq implements admin.Store.
func (db *DB) MaxEventSeq(ctx context.Context, doorID int64) (uint64, error) {
	var seq *int64
	if err := db.r.QueryRowContext(ctx, db.q(`SELECT MAX(seq) FROM events WHERE door_id = ?`), doorID).Scan(&seq); err != nil {
		return 0, fmt.Errorf("sqlstore: max event seq: %w", err)
	}
	if seq == nil {
		return 0, nil
	}
	return uint64(*seq), nil
}

// purgeChunk is how many events one purge transaction deletes: a year of
// a big site's events is millions of rows, and one transaction that size
// would hold the writer (and, on SQLite, grow the WAL) for as long.
var purgeChunk int64 = 10000

// PurgeEventsBefore implements admin.Store. It deletes in transactions of
// purgeChunk events, so ingest goes on meanwhile; the audit entry, with
// the total, is written with the last one.
func (db *DB) PurgeEventsBefore(ctx context.Context, a admin.Actor, before time.Time) (int64, error) {
	if err := a.Validate(); err != nil {
		return 0, err
	}
	var total int64
	for {
		var n int64
		err := db.write(ctx, a, func(t *tx) error {
			var err error
			n, err = t.affected(nil, `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time < ? ORDER BY time LIMIT ?)`, t.db.t(before), purgeChunk)
			if err != nil {
				return fmt.Errorf("sqlstore: purge events: %w", err)
			}
			if n == purgeChunk || total+n == 0 {
				return nil
			}
			return t.auditID(admin.ActionPurge, "event", "", nil, map[string]any{"before": normT(before), "deleted": total + n})
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < purgeChunk {
			return total, nil
		}
	}
}
