// Command varco-admin is the Varco admin server: the people, cards, access
// groups, doors and schedules of a site, the entry log and audit log, a
// JSON API under /api/v1 (and, later, the panel). It runs under systemd
// (systemd/varco-admin.service) with one flag:
//
//	varco-admin -config /etc/varco/varco-admin.toml
//
// Without -config it reads /etc/varco/varco-admin.toml if that exists, and
// otherwise runs on defaults and the environment alone. An example with
// every key is admin/config/testdata/varco-admin.example.toml.
//
// # Environment
//
// Every configuration key can be set as VARCO_ADMIN_ followed by its path
// upper-cased, "." as "_"; the environment wins over the file:
//
//	VARCO_ADMIN_LISTEN           listen (default 127.0.0.1:8080)
//	VARCO_ADMIN_DATA_DIR         data_dir (default /var/lib/varco-admin)
//	VARCO_ADMIN_PUBLIC_URL       public_url
//	VARCO_ADMIN_TLS_CERT         tls.cert
//	VARCO_ADMIN_TLS_KEY          tls.key
//	VARCO_ADMIN_DATABASE_DRIVER  database.driver (sqlite or postgres)
//	VARCO_ADMIN_DATABASE_DSN     database.dsn
//	VARCO_ADMIN_METRICS_LISTEN   metrics_listen (default 127.0.0.1:9466)
//	VARCO_ADMIN_CSCA_DIR         csca_dir (default <data_dir>/csca)
//	VARCO_ADMIN_RETENTION        retention (default 365d)
//	VARCO_ADMIN_SESSION_TTL      session_ttl (default 12h)
//	VARCO_ADMIN_LOG_LEVEL        log.level
//	VARCO_ADMIN_LOG_JSON         log.json
//	VARCO_ADMIN_DEMO             demo
//	VARCO_ADMIN_DEMO_DIR         demo_dir (default <data_dir>)
//	VARCO_ADMIN_MQTT_SITE        mqtt.site (default sede: the site id in topics)
//	VARCO_ADMIN_MQTT_EMBEDDED    mqtt.embedded (default true)
//	VARCO_ADMIN_MQTT_LISTEN      mqtt.listen (default :8883)
//	VARCO_ADMIN_MQTT_HOSTS       mqtt.hosts (comma-separated)
//	VARCO_ADMIN_MQTT_BROKER      mqtt.broker (external broker URL)
//	VARCO_ADMIN_MQTT_CLIENT_CERT mqtt.client_cert
//	VARCO_ADMIN_MQTT_CLIENT_KEY  mqtt.client_key
//	VARCO_ADMIN_MQTT_CA          mqtt.ca
//
// VARCO_ADMIN_PASSWORD is not a setting: at the first start (no users in
// the store) it is the password of the user "admin" created then. Without
// it a random password is generated and printed once on standard error:
//
//	first start: created user "admin" with password XXXX — change it after logging in
//
// An unknown VARCO_ADMIN_ variable is an error, like an unknown key.
//
// # Doors
//
// By default varco-admin runs an MQTT broker (mqtt.listen, TLS with
// client certificates) and syncs every door's allowlist through it. At
// the first start it creates, in data_dir, the site's signing key
// site.key (its public half is logged: each door's site_public_key) and
// the site MQTT CA in mqtt/. `varco door provision` then issues each
// door's certificate from that CA, and `varco station provision` each
// enrolment station's (`varco enroll`, driven by POST /api/v1/enrol/sessions).
//
// # Exit status
//
// 0 after SIGINT or SIGTERM, 1 when the server fails, 2 for a bad flag or
// configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin/config"
	"github.com/varco-access/varco/admin/httpapi"
	"github.com/varco-access/varco/admin/panel"
	"github.com/varco-access/varco/admin/server"
)

// defaultConfig is read when -config is not given, if it exists.
const defaultConfig = "/etc/varco/varco-admin.toml"

func main() {
	path := flag.String("config", defaultConfig, "configuration file (TOML); the default is skipped when missing")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "varco-admin: unexpected argument %q (flag: -config)\n", flag.Arg(0))
		os.Exit(2)
	}
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	if !explicit {
		if _, err := os.Stat(*path); errors.Is(err, fs.ErrNotExist) {
			*path = ""
		}
	}
	os.Exit(run(*path))
}

func run(path string) int {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "varco-admin: %v\n", err)
		return 2
	}
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if cfg.Log.JSON {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	log := slog.New(h)
	slog.SetDefault(log)
	if path == "" {
		log.Info("no configuration file: defaults and environment")
	} else {
		log.Info("configuration read", "file", path)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := server.New(cfg, log, &server.Options{RegisterAPI: registerAPI})
	if err := m.Run(ctx); err != nil {
		log.Error("varco-admin failed", "err", err)
		return 1
	}
	return 0
}

// registerAPI is where the API and the panel are mounted on the
// server's engine: the one place that wires admin/httpapi to the process.
func registerAPI(r *gin.Engine, d server.Deps) error {
	// Without CSCA certificates (d.CSCAs nil) the server still runs; the
	// API and the stations' sessions refuse every card, saying why.
	o := httpapi.Options{
		Store:      d.Store,
		CSRFKey:    d.CSRFKey,
		Secure:     d.Secure,
		CSCAs:      d.CSCAs,
		SessionTTL: d.SessionTTL,
		Password:   d.Password,
		Log:        d.Log,
		Now:        d.Now,
	}
	// Only a non-nil syncer: a nil *syncer.Syncer would make a non-nil
	// interface, and the API would call it instead of answering 503.
	if d.Sync != nil {
		o.Sync, o.Enrol = d.Sync, d.Sync
	}
	api, err := httpapi.New(o)
	if err != nil {
		return err
	}
	api.Register(r)
	po := panel.Options{API: api, Store: d.Store, Secure: d.Secure, Stopping: d.Stopping, Log: d.Log, Now: d.Now,
		Settings: panel.Settings{CSCADir: d.CSCADir, CSCAs: len(d.CSCAs), Retention: d.Config.Retention.Duration,
			Database: d.Config.Database.Driver, Broker: brokerName(d.Config)}}
	if d.Sync != nil {
		po.Sync, po.Enrol = d.Sync, d.Sync
	}
	if d.Config.Demo {
		// The demo page: tap the demo's virtual cards (`make run`).
		po.Demo = newDemo(d.Config.DemoPath())
	}
	p, err := panel.New(po)
	if err != nil {
		return err
	}
	p.Register(r, api)
	return nil
}

// brokerName says where the doors connect, for the settings page.
func brokerName(c config.Config) string {
	if c.MQTT.Broker != "" {
		return c.MQTT.Broker
	}
	if c.MQTT.Embedded {
		return "embedded " + c.MQTT.Listen
	}
	return "off"
}
