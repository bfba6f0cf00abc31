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
// invalidates the CSRF tokens of open sessions.
//
// The data directory also holds what the door sync needs, made at the
// first start and never replaced (a new one would cut off every door):
// site.key, the site's Ed25519 signing key (PKCS#8 PEM, mode 0600, hard-
// linked into place so a concurrent start cannot overwrite it), whose
// public key is logged at every start for the doors' site_public_key; and
// mqtt/, the site's MQTT CA (wire/sitepki), when the broker is embedded.
//
// # Doors
//
// With mqtt.embedded (the default) Run starts the site's broker
// (wire/broker) on mqtt.listen with a server certificate issued at each
// start for config.Config.BrokerHosts, connects to it with an "admin"
// certificate that exists only in memory, and runs the syncer
// (admin/syncer) over that connection; Deps.Sync hands it to the API. The
// broker admits a door identity "door:<id>" only while the store has a
// door with controller id <id> (there is no revocation list: deleting
// the door is how its certificate is shut out, from its next
// connection). With an external broker (mqtt.embedded false,
// mqtt.broker) the admin connects with mqtt.client_cert, which must name
// "admin", and keeps retrying in the background while the broker is
// down. Without either the sync is off: Deps.Sync is nil and the API
// answers door commands with 503. Certificates follow the wall clock,
// not Options.Now.
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
// get up to ShutdownTimeout to finish, the housekeeping stops, then the
// syncer, its MQTT connection and the embedded broker stop in that order
// (the syncer outlives the HTTP server so commands in flight can go out),
// and the store is closed last.
//
// # Caveats
//
// The engine trusts no proxy headers: behind a reverse proxy every client
// has the proxy's address (login throttling per address then throttles
// the proxy). The TLS certificate is read once at start; restart to renew
// it.
package server
