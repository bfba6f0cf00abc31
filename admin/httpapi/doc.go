// Package httpapi is varco-admin's JSON API under /api/v1 (gin): CRUD for
// people, cards, access groups, doors, schedules, holidays, sites, admin
// users and API tokens; CSV import and export of people; the entry log
// with keyset pagination and streaming CSV export; door status; the audit
// log; login, logout and the current user; enrolment sessions at the
// stations.
//
// Enrolment: POST /enrol/sessions sends the station (`varco enroll`) a
// fresh challenge; GET /enrol/sessions/{id} (with ?wait= as a long poll)
// shows the outcome. The card is stored for the session's person as soon
// as it passes every check, so "verified" means stored (the card's id is
// in the answer); a refused card is never stored and the answer says
// why. POST /cards stays for cards read elsewhere: it verifies EF.SOD but
// cannot check the card against a challenge of the admin's.
//
// Every route is declared once, in the table of routes.go, with the
// permission it needs (package admin/auth decides which roles hold it).
// The same table registers the gin handlers and generates the OpenAPI 3
// document served at /api/v1/openapi.json, so the two cannot drift; a
// golden copy in testdata/openapi.json shows every change in review
// (refresh it with go test ./admin/httpapi -run OpenAPIGolden -args -update).
//
// Errors have one shape, {"error": "...", "fields": {...}}, chosen in one
// place (fail): 400 for bad input with the JSON names of the bad fields,
// 401 without credentials, 403 for a role without the permission or a
// missing CSRF token, 404, 409 for conflicts, 413 for an oversized body,
// 422 for a card refused at enrolment, 429 for a locked-out login, 503
// when the doors or stations cannot be reached, 500
// (logged, never detailed to the client) otherwise.
//
// Browsers authenticate with a session cookie (HttpOnly, SameSite=Lax,
// Secure under TLS) and send the CSRF token from /auth/login or /auth/me
// in X-CSRF-Token on every write; scripts use bearer API tokens, which
// need no CSRF token. Every write is recorded in the audit log by the
// store, in the transaction of the write, with the actor: the username,
// or "token:NAME".
package httpapi
