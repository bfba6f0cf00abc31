// Package panel is varco-admin's web panel: server-rendered HTML pages
// (html/template, embedded with their CSS and small scripts, no build
// step) for HR, facilities and administrators, next to the JSON API of
// package httpapi and sharing its sessions, login limiter and CSRF
// tokens.
//
// Every page and form action is declared once in the route table with
// the permission it needs (auth's role matrix); an anonymous visitor is
// sent to /login, a role without the permission gets a 403 page. Every
// form that changes something carries the session's CSRF token, checked
// by auth.CSRFProtect. Output is escaped by html/template.
//
// Texts are Italian by default and English on request (the "lang"
// cookie, set from the header's switch); each area keeps its messages in
// its own msgs_*.go file, and TestCatalog checks that every key a
// template uses exists in both languages. Times are shown in the site's
// time zone.
//
// Live views (door status, entry feed, enrolment results) are fed by
// server-sent events from /live, which relays the syncer's Watch; pages
// work without JavaScript and simply show the state at load time then.
package panel
