package server

import (
	"context"
	"time"

	"github.com/varco-access/varco/admin"
)

// housekeeping runs housekeep at once and then on every tick until ctx
// ends.
func (m *Main) housekeeping(ctx context.Context, store admin.Store, met *metrics) {
	ticks, stop := m.opt.NewTicker(HousekeepingInterval)
	defer stop()
	for {
		m.housekeep(ctx, store, met)
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}

// housekeep purges events older than the retention (unless it is 0) and
// deletes expired sessions. Failures are logged and retried at the next
// tick.
func (m *Main) housekeep(ctx context.Context, store admin.Store, met *metrics) {
	now := m.opt.Now()
	if r := m.cfg.Retention.Duration; r > 0 {
		before := now.Add(-r)
		n, err := store.PurgeEventsBefore(ctx, SystemActor, before)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				m.log.Error("retention: purging old events", "err", err)
			}
		case n > 0:
			met.purged.Add(float64(n))
			m.log.Info("retention: purged old events", "deleted", n, "before", before.UTC().Format(time.RFC3339))
		}
	}
	n, err := store.DeleteExpiredSessions(ctx, now)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			m.log.Error("deleting expired sessions", "err", err)
		}
	case n > 0:
		m.log.Debug("deleted expired sessions", "deleted", n)
	}
}
