// Package storetest is the shared test suite of admin.Store
// implementations: every backend (admin/sqlstore on SQLite and on
// PostgreSQL) runs the same Run, so they behave alike.
//
// Beside checking each method, the suite checks an invariant after every
// subtest, the way bbolt's test helpers check the file: each door's
// DoorView equals the view computed in Go from the store's own domain data
// (groups, people, cards, schedules, holidays, the door and its site).
package storetest
