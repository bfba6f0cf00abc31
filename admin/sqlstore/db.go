package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/varco-access/varco/admin"
)

//go:embed migrations
var migrations embed.FS

// Options tune a DB. A nil *Options means the defaults documented on each
// field.
type Options struct {
	// Now is the store's clock, for CreatedAt, audit times and the like;
	// nil means time.Now.
	Now func() time.Time
	// TombstoneRevisions is how many revisions of deleted grants a door
	// keeps for DoorDelta; older deltas get ErrRevisionGone. 0 means 1000.
	TombstoneRevisions int64
	// BusyTimeout is how long a SQLite connection waits for a lock before
	// failing; 0 means 5s.
	BusyTimeout time.Duration
	// MaxReaders bounds the SQLite reader pool (writes use one connection
	// of their own); 0 means 8.
	MaxReaders int
}

// mmapSize is how much of a SQLite file is read through mmap, sparing a
// pread per page: 2 GiB (SQLite's own cap) on 64-bit machines, 256 MiB
// where the address space is 32-bit.
const mmapSize = 256<<20 + (strconv.IntSize-32)/32*(2<<30-256<<20)

// dialect is what differs between the two SQL engines.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// DB is an admin.Store over database/sql: SQLite (modernc.org/sqlite) or
// PostgreSQL (pgx). Methods are safe for concurrent use.
type DB struct {
	d dialect
	// w takes every write. For SQLite it is a single connection opened
	// with BEGIN IMMEDIATE, so writers queue in Go instead of meeting
	// SQLITE_BUSY; for PostgreSQL it is the same pool as r and write
	// transactions that touch door views take an advisory lock.
	w *sql.DB
	r *sql.DB

	now      func() time.Time
	keepRevs int64

	rebound sync.Map // query with ? → query with $n (PostgreSQL)

	// evStmt (SQLite) is the INSERT of a full batch of events, prepared
	// at open on the writer's one connection: compiling a statement of
	// eventBatch rows costs SQLite about as much as running it. (pgx
	// caches prepared statements by itself.)
	evStmt *sql.Stmt
}

var _ admin.Store = (*DB)(nil)

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.Now == nil {
		v.Now = time.Now
	}
	if v.TombstoneRevisions <= 0 {
		v.TombstoneRevisions = 1000
	}
	if v.BusyTimeout <= 0 {
		v.BusyTimeout = 5 * time.Second
	}
	if v.MaxReaders <= 0 {
		v.MaxReaders = 8
	}
	return v
}

// OpenSQLite opens (creating it if needed) the SQLite database at path and
// brings its schema up to date. The file runs in WAL mode with
// synchronous=NORMAL (a power cut may lose the last transactions, never
// corrupt the file) and foreign keys on.
func OpenSQLite(path string, opts *Options) (*DB, error) {
	o := opts.withDefaults()
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlstore: sqlite path %q: empty or containing ? or #", path)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// The default 2 MiB page cache thrashes on the event indexes: each
	// miss is a pread. 64 MiB per reader connection, 256 MiB for the
	// writer (allocated as used), reads through mmap, temporary tables in
	// memory.
	q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", mmapSize))
	q.Add("_pragma", "temp_store(MEMORY)")
	// Event ingest dirties an index leaf per person and per door in every
	// batch; checkpointing every 1000 pages (the default) wrote and
	// synced those leaves after nearly every batch. Every 16384 pages
	// (64 MiB of WAL) a hot leaf is written back once for many batches.
	q.Add("_pragma", "wal_autocheckpoint(16384)")
	q.Add("_pragma", "journal_size_limit(134217728)")
	dsn := "file:" + path + "?" + q.Encode()

	// Migrate on a connection of its own: goose may want more than the
	// writer's one connection.
	m, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	err = migrate(context.Background(), m, dialectSQLite)
	if cerr := m.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", path, err)
	}

	// The writer gets a bigger page cache: ingest walks every event index.
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate&_pragma="+url.QueryEscape("cache_size(-262144)"))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)&_pragma="+url.QueryEscape("cache_size(-65536)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(o.MaxReaders)
	r.SetMaxIdleConns(o.MaxReaders)
	db := &DB{d: dialectSQLite, w: w, r: r, now: o.Now, keepRevs: o.TombstoneRevisions}
	if db.evStmt, err = w.Prepare(db.insertEventsSQL(eventBatch)); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	// The planner statistics SQLite recommends refreshing when a
	// long-lived connection opens (cheap: bounded analysis, only of the
	// tables that need it).
	if _, err := w.Exec("PRAGMA optimize=0x10002"); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	return db, nil
}

// Optimize refreshes the query planner's statistics: PRAGMA optimize on
// SQLite, which a long-running server should call every few hours (the
// event tables grow by millions of rows); ANALYZE on PostgreSQL, where
// autovacuum normally does it unasked.
func (db *DB) Optimize(ctx context.Context) error {
	q := "ANALYZE"
	if db.d == dialectSQLite {
		q = "PRAGMA optimize"
	}
	if _, err := db.w.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("sqlstore: optimize: %w", err)
	}
	return nil
}

// OpenPostgres connects to the PostgreSQL database named by dsn (a pgx
// connection string or URL) and brings its schema up to date; concurrent
// migrations from several admin replicas are serialised by goose's
// session lock.
func OpenPostgres(ctx context.Context, dsn string, opts *Options) (*DB, error) {
	o := opts.withDefaults()
	p, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: postgres: %w", err)
	}
	p.SetMaxOpenConns(16)
	p.SetMaxIdleConns(16)
	p.SetConnMaxIdleTime(5 * time.Minute)
	if err := p.PingContext(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("sqlstore: postgres: %w", err)
	}
	if err := migrate(ctx, p, dialectPostgres); err != nil {
		p.Close()
		return nil, fmt.Errorf("sqlstore: postgres: %w", err)
	}
	return &DB{d: dialectPostgres, w: p, r: p, now: o.Now, keepRevs: o.TombstoneRevisions}, nil
}

// migrate applies the embedded migrations of dialect d.
func migrate(ctx context.Context, db *sql.DB, d dialect) error {
	dir, gd := "migrations/sqlite", goose.DialectSQLite3
	var popts []goose.ProviderOption
	if d == dialectPostgres {
		dir, gd = "migrations/postgres", goose.DialectPostgres
		l, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		popts = append(popts, goose.WithSessionLocker(l))
	}
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	popts = append(popts, goose.WithDisableGlobalRegistry(true))
	p, err := goose.NewProvider(gd, db, fsys, popts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}

// Close closes the connection pools.
func (db *DB) Close() error {
	var err error
	if db.evStmt != nil {
		err = db.evStmt.Close()
	}
	if db.d == dialectSQLite {
		// Keep the planner's statistics fresh for the next start.
		_, _ = db.w.Exec("PRAGMA optimize")
		err = db.r.Close()
	}
	if cerr := db.w.Close(); err == nil {
		err = cerr
	}
	return err
}

// q adapts a query written with ? placeholders to the dialect.
func (db *DB) q(query string) string {
	if db.d != dialectPostgres {
		return query
	}
	if v, ok := db.rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	inStr := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inStr = !inStr
		case c == '?' && !inStr:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	s := b.String()
	db.rebound.Store(query, s)
	return s
}

// t converts a time to the dialect's column value: microseconds since the
// epoch for SQLite, timestamptz for PostgreSQL.
func (db *DB) t(t time.Time) any {
	if db.d == dialectSQLite {
		return t.UnixMicro()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// nt is t for a nullable time.
func (db *DB) nt(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.t(*t)
}

// tcol scans a time column of either dialect.
type tcol struct{ p *time.Time }

func (c tcol) Scan(v any) error {
	switch x := v.(type) {
	case int64:
		*c.p = time.UnixMicro(x).UTC()
	case time.Time:
		*c.p = x.UTC()
	case nil:
		*c.p = time.Time{}
	default:
		return fmt.Errorf("sqlstore: time column holds %T", v)
	}
	return nil
}

// ntcol scans a nullable time column.
type ntcol struct{ p **time.Time }

func (c ntcol) Scan(v any) error {
	if v == nil {
		*c.p = nil
		return nil
	}
	var t time.Time
	if err := (tcol{&t}).Scan(v); err != nil {
		return err
	}
	*c.p = &t
	return nil
}

// nowT is the store's clock at microsecond precision in UTC: what a
// stored time reads back as.
func (db *DB) nowT() time.Time { return db.now().UTC().Truncate(time.Microsecond) }

// normT truncates a caller's time the way storage does.
func normT(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// mapErr turns driver errors into the admin sentinels. fk is what a
// foreign key violation means at the call site: admin.ErrNotFound when
// inserting a reference to something missing, admin.ErrConflict when
// deleting something still referred to.
func mapErr(err error, fk error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return admin.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", admin.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			if fk != nil {
				return fmt.Errorf("%w: %v", fk, err)
			}
		}
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return fmt.Errorf("%w: %v", admin.ErrConflict, err)
		case "23503":
			if fk != nil {
				return fmt.Errorf("%w: %v", fk, err)
			}
		}
	}
	return err
}
