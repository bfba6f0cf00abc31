// Package sdnotify tells systemd how varco-door is doing: READY=1 once the
// doors are driven, STOPPING=1 on shutdown and WATCHDOG=1 keep-alives while
// the unit has WatchdogSec= set (systemd/varco-door.service).
//
// It wraps github.com/coreos/go-systemd/v22/daemon. Everything is a no-op
// when NOTIFY_SOCKET is unset (a run from a shell or a test), so callers do
// not need to know whether they run under systemd.
//
// The protocol is sd_notify(3); the watchdog is described in
// systemd.service(5), WatchdogSec=.
package sdnotify

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready tells systemd that start-up is complete (READY=1). With Type=notify
// systemd orders dependent units after this, not after exec.
func Ready() error { return send(daemon.SdNotifyReady) }

// Stopping tells systemd that shutdown has begun (STOPPING=1).
func Stopping() error { return send(daemon.SdNotifyStopping) }

// Status sets the free-form status line shown by systemctl status.
func Status(s string) error { return send("STATUS=" + s) }

func send(state string) error {
	if _, err := daemon.SdNotify(false, state); err != nil {
		return fmt.Errorf("sdnotify: %s: %w", state, err)
	}
	return nil
}

// Watchdog sends WATCHDOG=1 keep-alives with the default [Watchdogger].
func Watchdog(ctx context.Context) error {
	var w Watchdogger
	return w.Run(ctx)
}

// Watchdogger sends WATCHDOG=1 at half the interval systemd asks for
// (WATCHDOG_USEC), as sd_watchdog_enabled(3) recommends. The zero value is
// ready to use.
type Watchdogger struct {
	// NewTicker returns a channel that delivers a tick every d and a
	// function that stops it. Nil uses time.NewTicker; tests inject a
	// channel they drive by hand.
	NewTicker func(d time.Duration) (<-chan time.Time, func())
	// Healthy, when not nil, is asked before each keep-alive; a false skips
	// it, so a wedged daemon is restarted by systemd instead of kept alive
	// by a goroutine that still runs.
	Healthy func() bool
	// OnError, when not nil, receives errors from sending a keep-alive. The
	// loop carries on: a missed keep-alive is recovered by the next one.
	OnError func(error)
}

// Run sends keep-alives until ctx ends, then returns nil. It returns at once
// (nil) when NOTIFY_SOCKET is unset or the watchdog is not enabled for this
// process, and an error when the WATCHDOG_USEC environment is malformed.
func (w *Watchdogger) Run(ctx context.Context) error {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return nil
	}
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return fmt.Errorf("sdnotify: watchdog: %w", err)
	}
	if interval <= 0 {
		return nil
	}
	newTicker := w.NewTicker
	if newTicker == nil {
		newTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	ticks, stop := newTicker(interval / 2)
	defer stop()
	for {
		// First keep-alive at once: start-up may have used part of the
		// interval already.
		if w.Healthy == nil || w.Healthy() {
			if err := send(daemon.SdNotifyWatchdog); err != nil && w.OnError != nil {
				w.OnError(err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
		}
	}
}
