package sqlstore

import (
	"context"
	"fmt"

	"github.com/varco-access/varco/admin"
)

const holidayCols = `id, site_id, date, name`

func scanHoliday(r scanner, h *admin.Holiday) error {
	return r.Scan(&h.ID, &h.SiteID, &h.Date, &h.Name)
}

// CreateHoliday implements admin.Store.
func (db *DB) CreateHoliday(ctx context.Context, a admin.Actor, h *admin.Holiday) error {
	if err := h.Validate(); err != nil {
		return err
	}
	return db.write(ctx, a, func(t *tx) error {
		id, err := t.insert(admin.ErrNotFound, `INSERT INTO holidays (site_id, date, name) VALUES (?, ?, ?)`, h.SiteID, h.Date, h.Name)
		if err != nil {
			return fmt.Errorf("sqlstore: create holiday %s: %w", h.Date, err)
		}
		h.ID = id
		t.markSite(h.SiteID, true)
		return t.audit(admin.ActionCreate, "holiday", id, nil, h)
	})
}

// GetHoliday implements admin.Store.
func (db *DB) GetHoliday(ctx context.Context, id int64) (admin.Holiday, error) {
	return db.getHoliday(ctx, db.r, id)
}

func (db *DB) getHoliday(ctx context.Context, q queryer, id int64) (admin.Holiday, error) {
	var h admin.Holiday
	if err := scanHoliday(q.QueryRowContext(ctx, db.q(`SELECT `+holidayCols+` FROM holidays WHERE id = ?`), id), &h); err != nil {
		return h, fmt.Errorf("sqlstore: holiday %d: %w", id, mapErr(err, nil))
	}
	return h, nil
}

// ListHolidays implements admin.Store.
func (db *DB) ListHolidays(ctx context.Context, siteID int64) ([]admin.Holiday, error) {
	return db.listHolidays(ctx, db.r, siteID)
}

func (db *DB) listHolidays(ctx context.Context, q queryer, siteID int64) ([]admin.Holiday, error) {
	query, args := `SELECT `+holidayCols+` FROM holidays ORDER BY date, site_id`, []any(nil)
	if siteID != 0 {
		query, args = `SELECT `+holidayCols+` FROM holidays WHERE site_id = ? ORDER BY date`, []any{siteID}
	}
	rows, err := q.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list holidays: %w", err)
	}
	return collect(rows, scanHoliday)
}

// UpdateHoliday implements admin.Store.
func (db *DB) UpdateHoliday(ctx context.Context, a admin.Actor, h *admin.Holiday) error {
	if err := h.Validate(); err != nil {
		return err
	}
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getHoliday(ctx, t.tx, h.ID)
		if err != nil {
			return err
		}
		if old == *h {
			return nil
		}
		if _, err := t.affected(admin.ErrNotFound, `UPDATE holidays SET site_id = ?, date = ?, name = ? WHERE id = ?`, h.SiteID, h.Date, h.Name, h.ID); err != nil {
			return fmt.Errorf("sqlstore: update holiday %d: %w", h.ID, err)
		}
		t.markSite(old.SiteID, true)
		if h.SiteID != old.SiteID {
			t.markSite(h.SiteID, true)
		}
		return t.audit(admin.ActionUpdate, "holiday", h.ID, old, h)
	})
}

// DeleteHoliday implements admin.Store.
func (db *DB) DeleteHoliday(ctx context.Context, a admin.Actor, id int64) error {
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getHoliday(ctx, t.tx, id)
		if err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM holidays WHERE id = ?`, id); err != nil {
			return fmt.Errorf("sqlstore: delete holiday %d: %w", id, err)
		}
		t.markSite(old.SiteID, true)
		return t.audit(admin.ActionDelete, "holiday", id, old, nil)
	})
}
