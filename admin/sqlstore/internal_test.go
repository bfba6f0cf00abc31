package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

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
	if _, err := db.r.Exec(`DELETE FROM people`); err == nil {
		t.Fatal("the read pool can write")
	}
}
