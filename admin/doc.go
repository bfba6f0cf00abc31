// Package admin holds the admin server's domain: sites, people, cards,
// schedules, holidays, doors, access groups, admin users, sessions, API
// tokens, the audit log and door events, and the Store interface every
// storage backend implements (package admin/sqlstore: SQLite and
// PostgreSQL, tested by the shared suite in admin/storetest).
//
// The types talk in domain terms and carry their own validation
// (Validate methods returning a *ValidationError naming each bad field).
// Names are stored verbatim: HTML and SQL metacharacters are allowed,
// escaping is the job of whatever prints them and every query is
// parameterised.
//
// Beside the tables an administrator edits, a Store keeps, for every door,
// the view the door must hold (DoorView: its grants, the schedules those
// grants name, its site's holidays, its mode and time zone) under a
// revision that moves by one in every transaction that changes that view
// and only then. DoorDelta answers "I have revision N" with what changed
// since, which is what the MQTT sync publishes.
//
// Every write made on behalf of a person takes an Actor and records an
// AuditEntry in the same transaction; secrets (password hashes, session
// and token hashes) never reach the audit log. Machine bookkeeping
// (InsertEvents, TouchAPIToken, DeleteExpiredSessions) is not audited.
package admin
