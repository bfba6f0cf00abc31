package sqlstore_test

import (
	"context"
	"testing"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/sqlstore"
	"github.com/varco-access/varco/admin/sqlstore/pgtest"
	"github.com/varco-access/varco/admin/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openPostgres opens a store on a fresh database of the test server.
func openPostgres(t *testing.T, opts *sqlstore.Options) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.OpenPostgres(context.Background(), pgtest.Start(t), opts)
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

func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) admin.Store { return openPostgres(t, nil) })
}
