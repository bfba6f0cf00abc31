package sqlstore

import (
	"context"
	"fmt"

	"github.com/varco-access/varco/admin"
)

// CreateSite implements admin.Store.
func (db *DB) CreateSite(ctx context.Context, a admin.Actor, s *admin.Site) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return db.write(ctx, a, func(t *tx) error {
		id, err := t.insert(nil, `INSERT INTO sites (name, time_zone) VALUES (?, ?)`, s.Name, s.TimeZone)
		if err != nil {
			return fmt.Errorf("sqlstore: create site: %w", err)
		}
		s.ID = id
		return t.audit(admin.ActionCreate, "site", id, nil, s)
	})
}

const siteCols = `id, name, time_zone`

func scanSite(r scanner, s *admin.Site) error { return r.Scan(&s.ID, &s.Name, &s.TimeZone) }

type scanner interface{ Scan(dest ...any) error }

// GetSite implements admin.Store.
func (db *DB) GetSite(ctx context.Context, id int64) (admin.Site, error) {
	return db.getSite(ctx, db.r, id)
}

func (db *DB) getSite(ctx context.Context, q queryer, id int64) (admin.Site, error) {
	var s admin.Site
	if err := scanSite(q.QueryRowContext(ctx, db.q(`SELECT `+siteCols+` FROM sites WHERE id = ?`), id), &s); err != nil {
		return s, fmt.Errorf("sqlstore: site %d: %w", id, mapErr(err, nil))
	}
	return s, nil
}

// ListSites implements admin.Store.
func (db *DB) ListSites(ctx context.Context) ([]admin.Site, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+siteCols+` FROM sites ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list sites: %w", err)
	}
	return collect(rows, scanSite)
}

// UpdateSite implements admin.Store.
func (db *DB) UpdateSite(ctx context.Context, a admin.Actor, s *admin.Site) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getSite(ctx, t.tx, s.ID)
		if err != nil {
			return err
		}
		if old == *s {
			return nil
		}
		if _, err := t.affected(nil, `UPDATE sites SET name = ?, time_zone = ? WHERE id = ?`, s.Name, s.TimeZone, s.ID); err != nil {
			return fmt.Errorf("sqlstore: update site %d: %w", s.ID, err)
		}
		if old.TimeZone != s.TimeZone {
			t.markSite(s.ID, false)
		}
		return t.audit(admin.ActionUpdate, "site", s.ID, old, s)
	})
}

// DeleteSite implements admin.Store.
func (db *DB) DeleteSite(ctx context.Context, a admin.Actor, id int64) error {
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getSite(ctx, t.tx, id)
		if err != nil {
			return err
		}
		if _, err := t.affected(admin.ErrConflict, `DELETE FROM sites WHERE id = ?`, id); err != nil {
			return fmt.Errorf("sqlstore: delete site %d (has doors?): %w", id, err)
		}
		return t.audit(admin.ActionDelete, "site", id, old, nil)
	})
}
