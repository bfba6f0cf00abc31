package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
)

// TestRebind: ? outside string literals becomes $n.
func TestRebind(t *testing.T) {
	db := &DB{d: dialectPostgres}
	for in, want := range map[string]string{
		`SELECT 1`:                              `SELECT 1`,
		`a = ? AND b = ?`:                       `a = $1 AND b = $2`,
		`x = '?' AND y = ? AND z LIKE 'it''s?'`: `x = '?' AND y = $1 AND z LIKE 'it''s?'`,
	} {
		if got := db.q(in); got != want {
			t.Errorf("q(%q) = %q, want %q", in, got, want)
		}
	}
	if got := (&DB{d: dialectSQLite}).q(`a = ?`); got != `a = ?` {
		t.Errorf("sqlite rebind %q", got)
	}
}

// TestReopen: migrations run once; data survives a reopen.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	db, err := OpenSQLite(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := admin.Person{EmployeeNo: "E1", Name: "Mario", Surname: "Rossi", Active: true}
	if err := db.CreatePerson(context.Background(), admin.Actor{Name: "t"}, &p); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = OpenSQLite(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.GetPerson(context.Background(), p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSQLite(path+"?mode=ro", nil); err == nil {
		t.Fatal("a path with ? was accepted")
	}
	var mode string
	if err := db.r.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q %v", mode, err)
	}
	for _, c := range []struct {
		pool   *sql.DB
		pragma string
		want   string
	}{
		{db.w, "cache_size", "-262144"}, {db.r, "cache_size", "-65536"},
		{db.w, "foreign_keys", "1"}, {db.r, "foreign_keys", "1"},
		{db.w, "synchronous", "1"}, {db.w, "busy_timeout", "5000"},
		{db.w, "wal_autocheckpoint", "16384"}, {db.w, "temp_store", "2"},
	} {
		var v string
		if err := c.pool.QueryRow("PRAGMA " + c.pragma).Scan(&v); err != nil || v != c.want {
			t.Errorf("PRAGMA %s = %q (%v), want %s", c.pragma, v, err, c.want)
		}
	}
	if _, err := db.r.Exec(`DELETE FROM people`); err == nil {
		t.Fatal("the read pool can write")
	}
}

// TestPurgeChunks: a purge bigger than a chunk deletes everything older in
// several transactions and writes one audit entry with the total.
func TestPurgeChunks(t *testing.T) {
	defer func(n int64) { purgeChunk = n }(purgeChunk)
	purgeChunk = 7
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "v.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []admin.Event
	for i := 0; i < 50; i++ {
		evs = append(evs, admin.Event{DoorID: 1, Seq: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Hour), Kind: varco.EventGranted})
	}
	if _, err := db.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		before int
		want   int64
	}{{21, 21}, {21, 0}, {35, 14}} {
		n, err := db.PurgeEventsBefore(ctx, admin.Actor{Name: "t"}, t0.Add(time.Duration(tc.before)*time.Hour))
		if err != nil || n != tc.want {
			t.Fatalf("purge before %d: %d, %v; want %d", tc.before, n, err, tc.want)
		}
	}
	es, _ := db.ListAudit(ctx, admin.AuditFilter{Action: admin.ActionPurge})
	if len(es) != 2 || string(es[1].After) != `{"before":"2024-01-01T21:00:00Z","deleted":21}` {
		t.Fatalf("audit %+v", es)
	}
	left, _, _ := db.SearchEvents(ctx, admin.EventFilter{Limit: 100})
	if len(left) != 15 {
		t.Fatalf("%d left", len(left))
	}
}

// TestFullBatches: batches of exactly eventBatch events take the prepared
// statement inside the transaction, on the writer's one connection (a
// statement prepared lazily there once deadlocked); a replay of them
// inserts nothing.
func TestFullBatches(t *testing.T) {
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "v.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]admin.Event, 2*eventBatch+3)
	for i := range evs {
		evs[i] = admin.Event{DoorID: 1, Seq: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Second), Kind: varco.EventGranted}
	}
	for round, want := range []int{len(evs), 0} {
		n, err := db.InsertEvents(ctx, evs)
		if err != nil || n != want {
			t.Fatalf("round %d: inserted %d, %v; want %d", round, n, err, want)
		}
	}
}
