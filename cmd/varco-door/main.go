// Command varco-door is the door controller daemon: it reads CIE cards at
// each configured door's PC/SC reader, decides from the local allowlist and
// drives the strike relay. It runs under systemd (systemd/varco-door.service)
// with one flag:
//
//	varco-door -config /etc/varco/varco-door.toml
//
// An installer can seed a door that has no network yet with an allowlist
// file (a store.Snapshot in JSON: door, rev, grants, schedules, holidays,
// optionally mode and time_zone) while the daemon is stopped:
//
//	varco-door -config /etc/varco/varco-door.toml -import allowlist.json
//
// The file is applied in one transaction: a crash leaves the old or the
// new allowlist, never a mix.
//
// With an [mqtt] broker in the configuration, each door keeps its own MQTT
// session to varco-admin's broker (controller/mqttsync): signed allowlist
// updates and commands in, events and status out; without one the doors
// run offline from their stored allowlists.
//
// The configuration is described in firmware-config/README.md; examples are
// in firmware-config/*.toml. SIGINT or SIGTERM stops it with every relay in
// its safe state.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/varco-access/varco/controller"
	"github.com/varco-access/varco/controller/config"
)

func main() {
	path := flag.String("config", "/etc/varco/varco-door.toml", "configuration file (TOML)")
	imp := flag.String("import", "", "apply this allowlist file (JSON snapshot) to the store and exit")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "varco-door: unexpected argument %q (flags: -config, -import)\n", flag.Arg(0))
		os.Exit(2)
	}
	os.Exit(run(*path, *imp))
}

func run(path, imp string) int {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "varco-door: %v\n", err)
		return 2
	}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()})
	if cfg.Log.JSON {
		h = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()})
	}
	log := slog.New(h)
	slog.SetDefault(log)

	if imp != "" {
		if err := importSnapshot(&cfg, imp, log); err != nil {
			log.Error("import failed", "err", err)
			return 1
		}
		log.Info("allowlist imported", "file", imp)
		return 0
	}

	c, err := controller.New(cfg, log)
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runErr := c.Run(ctx)
	if err := c.Close(); err != nil {
		log.Error("close", "err", err)
	}
	if runErr != nil {
		log.Error("stopped", "err", runErr)
		return 1
	}
	log.Info("stopped")
	return 0
}
