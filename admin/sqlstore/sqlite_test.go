package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/sqlstore"
	"github.com/varco-access/varco/admin/storetest"
)

// openSQLite opens a fresh SQLite store in a temp dir.
func openSQLite(t *testing.T, opts *sqlstore.Options) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "varco.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) admin.Store { return openSQLite(t, nil) })
}
