package pgtest_test

import (
	"database/sql"
	"testing"

	"github.com/varco-access/varco/admin/sqlstore/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestStart: two databases, isolated from each other.
func TestStart(t *testing.T) {
	a, b := pgtest.Start(t), pgtest.Start(t)
	if a == b {
		t.Fatalf("same DSN twice: %s", a)
	}
	da, err := sql.Open("pgx", a)
	if err != nil {
		t.Fatal(err)
	}
	defer da.Close()
	db, err := sql.Open("pgx", b)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := da.Exec(`CREATE TABLE x (v int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`SELECT * FROM x`); err == nil {
		t.Fatal("table of database a visible in database b")
	}
	var v string
	if err := da.QueryRow(`SHOW server_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	t.Logf("server %s", v)
}
