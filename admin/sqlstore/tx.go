package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/varco-access/varco/admin"
)

// writeLockKey is the PostgreSQL advisory lock every audited write holds
// for its transaction: admin writes are rare and the door view refresh
// diffs against the current materialised rows, so they run one at a time
// (SQLite gets the same from its single writer connection).
const writeLockKey = 0x76617263 // "varc"

// tx is one write transaction: the change, its audit entries and the
// refresh of the door views it touched, committed together.
type tx struct {
	db    *DB
	tx    *sql.Tx
	ctx   context.Context
	now   time.Time
	actor string

	// What the door view refresh at commit must recompute: grants of
	// (doors × people), each either every one or those put in the
	// tmp_doors / tmp_people tables.
	grants                bool
	doorsAll, peopleAll   bool
	doorsSome, peopleSome bool
	temps                 bool
	// Doors whose view changes without a grant changing.
	marks []mark
}

// mark asks the refresh to move the revision of some doors: a schedule's
// doors (schedules set changed), a site's doors (holidays or time zone), or
// one door (mode, site).
type mark struct {
	query string
	args  []any
}

// write runs fn in a write transaction on behalf of actor a; audit entries
// and door view changes commit with it.
func (db *DB) write(ctx context.Context, a admin.Actor, fn func(*tx) error) error {
	if err := a.Validate(); err != nil {
		return err
	}
	return db.writeAs(ctx, a.Name, fn)
}

func (db *DB) writeAs(ctx context.Context, actor string, fn func(*tx) error) (err error) {
	sqlTx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: begin: %w", err)
	}
	t := &tx{db: db, tx: sqlTx, ctx: ctx, now: db.nowT(), actor: actor}
	defer func() {
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if db.d == dialectPostgres {
		if _, err = sqlTx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", writeLockKey); err != nil {
			return fmt.Errorf("sqlstore: write lock: %w", err)
		}
		// The refresh's statements touch a few thousand rows by index:
		// a parallel worker's start costs more than they do.
		if _, err = sqlTx.ExecContext(ctx, "SET LOCAL max_parallel_workers_per_gather = 0"); err != nil {
			return fmt.Errorf("sqlstore: %w", err)
		}
	}
	if err = fn(t); err != nil {
		return err
	}
	if err = t.refresh(); err != nil {
		return fmt.Errorf("sqlstore: refresh door views: %w", err)
	}
	if err = sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", err)
	}
	return nil
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.ctx, t.db.q(query), args...)
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(t.ctx, t.db.q(query), args...)
}

func (t *tx) queryRow(query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(t.ctx, t.db.q(query), args...)
}

// insert runs an INSERT ... RETURNING id.
func (t *tx) insert(fk error, query string, args ...any) (int64, error) {
	var id int64
	if err := t.queryRow(query+" RETURNING id", args...).Scan(&id); err != nil {
		return 0, mapErr(err, fk)
	}
	return id, nil
}

// affected runs a write and returns the rows it touched, mapping errors.
func (t *tx) affected(fk error, query string, args ...any) (int64, error) {
	res, err := t.exec(query, args...)
	if err != nil {
		return 0, mapErr(err, fk)
	}
	return res.RowsAffected()
}

// audit records one entry. before and after are marshalled to JSON (nil
// stays NULL); the domain types keep secrets out with json:"-".
func (t *tx) audit(action, entity string, id int64, before, after any) error {
	return t.auditID(action, entity, strconv.FormatInt(id, 10), before, after)
}

func (t *tx) auditID(action, entity, id string, before, after any) error {
	b, err := jsonOrNil(before)
	if err != nil {
		return err
	}
	a, err := jsonOrNil(after)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO audit (time, actor, action, entity, entity_id, before, after) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.db.t(t.now), t.actor, action, entity, id, b, a)
	if err != nil {
		return fmt.Errorf("sqlstore: audit: %w", err)
	}
	return nil
}

func jsonOrNil(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: audit json: %w", err)
	}
	return string(b), nil
}
