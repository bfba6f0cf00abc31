// Package server is the varco-admin process: it turns a config.Config
// into a running server and back. It holds no domain logic: it opens the
// store, makes sure the first admin user exists, builds the gin engine
// with logging, recovery, metrics and /healthz, mounts the API handed to
// it through Options.RegisterAPI, serves HTTP or HTTPS, runs the hourly
// housekeeping (event retention, expired sessions) and speaks sd_notify.
//
// Main is shared by cmd/varco-admin and the end-to-end tests, which
// listen on 127.0.0.1:0 and read the bound address from Main.URL once
// Main.Ready is closed:
//
//	m := server.New(cfg, log, &server.Options{RegisterAPI: register})
//	go func() { errc <- m.Run(ctx) }()
//	<-m.Ready()
//	http.Get(m.URL() + "healthz")
//
// # Data directory
//
// data_dir is created with mode 0700 when missing (systemd's
// StateDirectory= creates it otherwise). It holds the SQLite database
// (unless database.driver is postgres), the CSCA directory by default and
// site.secret: 32 random bytes made at the first start (mode 0600,
// written to a temporary file and renamed into place, so a crash never
// leaves a short secret). The secret keys the CSRF tokens; losing it only
// invalidates the CSRF tokens of open sessions. The Ed25519 key that signs
// messages to the doors is a separate file, added with the MQTT sync.
//
// # First start
//
// When the store has no users, Run creates the user "admin" with role
// admin. Its password is VARCO_ADMIN_PASSWORD when that is set and not
// empty (it must pass auth.CheckPasswordPolicy, or Run fails naming the
// variable); otherwise a random one (26 base32 characters, 130 bits) is
// generated and written once, as one plain line on Options.Stderr:
//
//	first start: created user "admin" with password XXXX — change it after logging in
//
// The log records that the user was created and where the password came
// from, never the password. Later starts find the user and print nothing;
// VARCO_ADMIN_PASSWORD is then ignored (with a warning in the log).
//
// # Health, metrics, systemd
//
// GET /healthz answers 200 {"status":"ok"} when the store answers within
// 2 s and 503 {"status":"unavailable"} otherwise. Prometheus metrics are
// served on metrics_listen only, from a private registry: Go and process
// collectors, varco_admin_http_requests_total{method,route,code},
// varco_admin_http_request_duration_seconds{route},
// varco_admin_events_purged_total and varco_admin_build_info. route is
// gin's route pattern ("/api/v1/people/:id"), or "unmatched", so its
// cardinality is bounded by the route table.
//
// Under systemd (Type=notify) Run sends READY=1 once both listeners are
// bound, WATCHDOG=1 at half of WatchdogSec, and STOPPING=1 when shutdown
// begins. Without NOTIFY_SOCKET these are no-ops.
//
// # Shutdown
//
// When the context of Run ends, the listeners close, requests in flight
// get up to ShutdownTimeout to finish, the housekeeping stops, and the
// store is closed last.
//
// # Caveats
//
// The engine trusts no proxy headers: behind a reverse proxy every client
// has the proxy's address (login throttling per address then throttles
// the proxy). The TLS certificate is read once at start; restart to renew
// it.
package server
