package server

import (
	"context"
	"log/slog"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notify sends state to systemd (sd_notify(3)); a no-op without
// NOTIFY_SOCKET. A failure is logged: systemd then times the start out,
// which says more than an error here could.
func notify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// watchdog sends WATCHDOG=1 at once and then at half the interval systemd
// asks for (WATCHDOG_USEC, from WatchdogSec=), until ctx ends. It returns
// at once when the watchdog is off for this process.
func (m *Main) watchdog(ctx context.Context) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		m.log.Warn("watchdog: bad WATCHDOG_USEC or WATCHDOG_PID", "err", err)
		return
	}
	if interval <= 0 {
		return
	}
	ticks, stop := m.opt.NewTicker(interval / 2)
	defer stop()
	for {
		notify(m.log, daemon.SdNotifyWatchdog)
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}
