package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/config"
	"github.com/varco-access/varco/controller/store"
)

// maxImport bounds an allowlist file: about 1.5 million grants in JSON.
const maxImport = 1 << 30

// importSnapshot applies an allowlist file (a store.Snapshot in JSON) to
// the door's store in one transaction and records a sync event in the
// door's outbox, then returns. It is for seeding a door that has no
// network yet, and for the demo; the daemon must not be running (the
// store's lock makes a second process fail fast).
func importSnapshot(cfg *config.Config, path string, log *slog.Logger) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, maxImport+1))
	dec.DisallowUnknownFields()
	var snap store.Snapshot
	if err := dec.Decode(&snap); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if dec.More() {
		return fmt.Errorf("%s: data after the snapshot object", path)
	}
	if !slices.ContainsFunc(cfg.Doors, func(d config.Door) bool { return d.ID == snap.Door }) {
		return fmt.Errorf("%s: door %q is not configured in this controller", path, snap.Door)
	}
	if snap.Rev == 0 {
		return fmt.Errorf("%s: rev must be at least 1", path)
	}
	st, err := store.Open(cfg.StorePath(), &store.Options{OutboxCap: cfg.OutboxCap})
	if err != nil {
		return err
	}
	log.Info("applying allowlist", "file", path, "door", snap.Door, "rev", snap.Rev, "grants", len(snap.Grants))
	now := time.Now()
	applyErr := st.ApplySnapshot(snap, now)
	ev := varco.Event{Door: snap.Door, Time: now, Kind: varco.EventSync,
		Detail: fmt.Sprintf("imported %s: rev %d, %d grants", path, snap.Rev, len(snap.Grants))}
	if applyErr != nil {
		ev.Detail = fmt.Sprintf("import of %s rejected: %v", path, applyErr)
	}
	_, evErr := st.Append(ev)
	return errors.Join(applyErr, evErr, st.Close())
}
