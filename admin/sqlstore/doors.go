package sqlstore

import (
	"context"
	"fmt"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
)

const doorCols = `id, site_id, name, location, controller_id, mode, revision`

func scanDoor(r scanner, d *admin.Door) error {
	return r.Scan(&d.ID, &d.SiteID, &d.Name, &d.Location, &d.ControllerID, &d.Mode, &d.Revision)
}

// doorAudit is a door in the audit log: without the revision, which is the
// store's bookkeeping and not an edit.
func doorAudit(d admin.Door) admin.Door { d.Revision = 0; return d }

// CreateDoor implements admin.Store.
func (db *DB) CreateDoor(ctx context.Context, a admin.Actor, d *admin.Door) error {
	if d.Mode == "" {
		d.Mode = varco.ModeNormal
	}
	if err := d.Validate(); err != nil {
		return err
	}
	return db.write(ctx, a, func(t *tx) error {
		// Revision 1: the view of a new door (no grants, its site's
		// holidays, its mode) against "nothing" at 0.
		id, err := t.insert(admin.ErrNotFound, `INSERT INTO doors (site_id, name, location, controller_id, mode, revision, min_rev, schedules_rev, holidays_rev)
			VALUES (?, ?, ?, ?, ?, 1, 0, 1, 1)`, d.SiteID, d.Name, d.Location, d.ControllerID, string(d.Mode))
		if err != nil {
			return fmt.Errorf("sqlstore: create door %q: %w", d.ControllerID, err)
		}
		d.ID, d.Revision = id, 1
		return t.audit(admin.ActionCreate, "door", id, nil, doorAudit(*d))
	})
}

// GetDoor implements admin.Store.
func (db *DB) GetDoor(ctx context.Context, id int64) (admin.Door, error) {
	return db.getDoor(ctx, db.r, `id = ?`, id)
}

// GetDoorByControllerID implements admin.Store.
func (db *DB) GetDoorByControllerID(ctx context.Context, controllerID string) (admin.Door, error) {
	return db.getDoor(ctx, db.r, `controller_id = ?`, controllerID)
}

func (db *DB) getDoor(ctx context.Context, q queryer, where string, arg any) (admin.Door, error) {
	var d admin.Door
	if err := scanDoor(q.QueryRowContext(ctx, db.q(`SELECT `+doorCols+` FROM doors WHERE `+where), arg), &d); err != nil {
		return d, fmt.Errorf("sqlstore: door %v: %w", arg, mapErr(err, nil))
	}
	return d, nil
}

// ListDoors implements admin.Store.
func (db *DB) ListDoors(ctx context.Context, siteID int64) ([]admin.Door, error) {
	query, args := `SELECT `+doorCols+` FROM doors ORDER BY name, id`, []any(nil)
	if siteID != 0 {
		query, args = `SELECT `+doorCols+` FROM doors WHERE site_id = ? ORDER BY name, id`, []any{siteID}
	}
	rows, err := db.r.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list doors: %w", err)
	}
	return collect(rows, scanDoor)
}

// UpdateDoor implements admin.Store.
func (db *DB) UpdateDoor(ctx context.Context, a admin.Actor, d *admin.Door) error {
	if d.Mode == "" {
		d.Mode = varco.ModeNormal
	}
	if err := d.Validate(); err != nil {
		return err
	}
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getDoor(ctx, t.tx, `id = ?`, d.ID)
		if err != nil {
			return err
		}
		d.Revision = old.Revision
		if old == *d {
			return nil
		}
		if _, err := t.affected(admin.ErrNotFound, `UPDATE doors SET site_id = ?, name = ?, location = ?, controller_id = ?, mode = ? WHERE id = ?`,
			d.SiteID, d.Name, d.Location, d.ControllerID, string(d.Mode), d.ID); err != nil {
			return fmt.Errorf("sqlstore: update door %d: %w", d.ID, err)
		}
		if old.SiteID != d.SiteID || old.Mode != d.Mode {
			t.markDoor(d.ID, old.SiteID != d.SiteID)
		}
		if err := t.audit(admin.ActionUpdate, "door", d.ID, doorAudit(old), doorAudit(*d)); err != nil {
			return err
		}
		return t.afterDoorRefresh(d)
	})
}

// afterDoorRefresh refreshes now so d.Revision can be set to the door's
// revision after the write.
func (t *tx) afterDoorRefresh(d *admin.Door) error {
	if err := t.refresh(); err != nil {
		return err
	}
	return t.queryRow(`SELECT revision FROM doors WHERE id = ?`, d.ID).Scan(&d.Revision)
}

// SetDoorMode implements admin.Store.
func (db *DB) SetDoorMode(ctx context.Context, a admin.Actor, id int64, m varco.DoorMode) error {
	if !admin.ValidMode(m) {
		return &admin.ValidationError{Fields: map[string]string{"mode": "must be normal, lockdown, unlocked_schedule or unlocked_command"}}
	}
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getDoor(ctx, t.tx, `id = ?`, id)
		if err != nil {
			return err
		}
		if old.Mode == m {
			return nil
		}
		if _, err := t.exec(`UPDATE doors SET mode = ? WHERE id = ?`, string(m), id); err != nil {
			return fmt.Errorf("sqlstore: door %d mode: %w", id, err)
		}
		t.markDoor(id, false)
		after := old
		after.Mode = m
		return t.audit(admin.ActionUpdate, "door", id, doorAudit(old), doorAudit(after))
	})
}

// DeleteDoor implements admin.Store.
func (db *DB) DeleteDoor(ctx context.Context, a admin.Actor, id int64) error {
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getDoor(ctx, t.tx, `id = ?`, id)
		if err != nil {
			return err
		}
		// The door's view, group links and tombstones go with it.
		if _, err := t.affected(admin.ErrConflict, `DELETE FROM doors WHERE id = ?`, id); err != nil {
			return fmt.Errorf("sqlstore: delete door %d: %w", id, err)
		}
		return t.audit(admin.ActionDelete, "door", id, doorAudit(old), nil)
	})
}
