// Package sqlstore implements admin.Store over database/sql, on SQLite
// (modernc.org/sqlite, pure Go: the embedded default) or PostgreSQL (pgx's
// database/sql driver: for large sites and several admin replicas).
//
// One DB type serves both: the SQL is written once, with ? placeholders
// rewritten to $n for PostgreSQL, and the few differences (time and boolean
// column types, the schedule-id aggregate, how writers are serialised) sit
// behind a dialect value. Two thin packages over a shared core would have
// duplicated every method signature for no gain. Each dialect has its own
// embedded migrations (migrations/sqlite, migrations/postgres: the same
// tables, columns and indexes, native types), applied at open by goose's
// Provider API.
//
// # SQLite
//
// The file runs in WAL mode with synchronous=NORMAL, foreign keys on and a
// busy timeout. Writes go through a pool of one connection that begins with
// BEGIN IMMEDIATE, so writers queue in Go rather than failing with
// SQLITE_BUSY; reads use a separate read-only pool and see a snapshot.
// Times are INTEGER microseconds since the epoch.
//
// # PostgreSQL
//
// Every audited write holds a transaction-level advisory lock: admin
// writes are rare, and the door view refresh (below) diffs against the
// materialised rows, which concurrent writers would race on. Event ingest
// does not take it. DoorView and DoorDelta read in a REPEATABLE READ
// transaction. Columns the store orders by use the "C" collation, so both
// backends sort names the same way (byte order).
//
// # Door views
//
// door_grants materialises, per door and NIS, the grant the door must hold,
// or a tombstone once it must not; door_schedules the schedules those
// grants name; doors.revision the door's revision. A write declares which
// doors × people its change may affect; before commit, the refresh
// recomputes the wanted grants of just that product with one INSERT ...
// SELECT into a temporary table, finds the doors whose grants differ with
// EXCEPT, moves each such door's revision by one, and upserts or tombstones
// only the rows that changed, stamped with the new revision. Grants name
// schedules by id: editing a schedule moves the revision of the doors whose
// grants name it and rewrites no grant. DoorDelta(from) returns the rows
// stamped after from, plus the schedule and holiday sets when their
// revision markers moved. Tombstones older than Options.TombstoneRevisions
// revisions are pruned as the door's grants change; a delta from before
// the newest pruned tombstone is admin.ErrRevisionGone.
//
// # Events
//
// InsertEvents writes batches of up to 1000 events per multi-row INSERT,
// one transaction per call, skipping those already stored by the unique
// (door, epoch, seq) key; on SQLite full batches go through a statement
// prepared at open, as INSERT OR IGNORE so no statement journal is kept.
// The entry log pages newest first by (time, id) through indexes on time,
// door, person, kind, reason and door+reason (BenchmarkEvents: figures for
// 10 million events). PurgeEventsBefore deletes in transactions of 10,000
// rows so ingest goes on. A long-running SQLite server should call
// Optimize every few hours to keep the planner's statistics current.
//
// Errors: unique violations map to admin.ErrConflict; missing rows, and
// references to missing rows on insert, to admin.ErrNotFound; a delete
// refused by a foreign key to admin.ErrConflict.
package sqlstore
