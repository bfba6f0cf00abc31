package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
)

const scheduleCols = `id, name, days, open_on_holidays`

func scanSchedule(r scanner, s *admin.Schedule) error {
	var days string
	if err := r.Scan(&s.ID, &s.Name, &days, &s.OpenOnHolidays); err != nil {
		return err
	}
	d, err := admin.ParseDays([]byte(days))
	if err != nil {
		return fmt.Errorf("schedule %d: stored days: %w", s.ID, err)
	}
	s.Days = d
	return nil
}

// daysJSON encodes the days with [] (not null) for a day without windows.
func daysJSON(days [7][]varco.Window) string {
	var v [7][]varco.Window
	for i, ws := range days {
		v[i] = ws
		if v[i] == nil {
			v[i] = []varco.Window{}
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// normDays drops empty-but-non-nil days so comparisons and JSON agree.
func normDays(s *admin.Schedule) {
	for i := range s.Days {
		if len(s.Days[i]) == 0 {
			s.Days[i] = nil
		}
	}
}

// CreateSchedule implements admin.Store.
func (db *DB) CreateSchedule(ctx context.Context, a admin.Actor, s *admin.Schedule) error {
	if err := s.Validate(); err != nil {
		return err
	}
	normDays(s)
	return db.write(ctx, a, func(t *tx) error {
		id, err := t.insert(nil, `INSERT INTO schedules (name, days, open_on_holidays) VALUES (?, ?, ?)`, s.Name, daysJSON(s.Days), s.OpenOnHolidays)
		if err != nil {
			return fmt.Errorf("sqlstore: create schedule %q: %w", s.Name, err)
		}
		s.ID = id
		return t.audit(admin.ActionCreate, "schedule", id, nil, s)
	})
}

// GetSchedule implements admin.Store.
func (db *DB) GetSchedule(ctx context.Context, id int64) (admin.Schedule, error) {
	return db.getSchedule(ctx, db.r, id)
}

func (db *DB) getSchedule(ctx context.Context, q queryer, id int64) (admin.Schedule, error) {
	var s admin.Schedule
	if err := scanSchedule(q.QueryRowContext(ctx, db.q(`SELECT `+scheduleCols+` FROM schedules WHERE id = ?`), id), &s); err != nil {
		return s, fmt.Errorf("sqlstore: schedule %d: %w", id, mapErr(err, nil))
	}
	return s, nil
}

// ListSchedules implements admin.Store.
func (db *DB) ListSchedules(ctx context.Context) ([]admin.Schedule, error) {
	return db.listSchedules(ctx, db.r, "")
}

func (db *DB) listSchedules(ctx context.Context, q queryer, where string, args ...any) ([]admin.Schedule, error) {
	rows, err := q.QueryContext(ctx, db.q(`SELECT `+scheduleCols+` FROM schedules `+where+` ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list schedules: %w", err)
	}
	return collect(rows, scanSchedule)
}

// UpdateSchedule implements admin.Store.
func (db *DB) UpdateSchedule(ctx context.Context, a admin.Actor, s *admin.Schedule) error {
	if err := s.Validate(); err != nil {
		return err
	}
	normDays(s)
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getSchedule(ctx, t.tx, s.ID)
		if err != nil {
			return err
		}
		if reflect.DeepEqual(old, *s) {
			return nil
		}
		if _, err := t.affected(nil, `UPDATE schedules SET name = ?, days = ?, open_on_holidays = ? WHERE id = ?`, s.Name, daysJSON(s.Days), s.OpenOnHolidays, s.ID); err != nil {
			return fmt.Errorf("sqlstore: update schedule %d: %w", s.ID, err)
		}
		// Grants name the schedule by id: only the doors' schedule sets
		// change, no grant row is rewritten.
		t.markSchedule(s.ID)
		return t.audit(admin.ActionUpdate, "schedule", s.ID, old, s)
	})
}

// DeleteSchedule implements admin.Store.
func (db *DB) DeleteSchedule(ctx context.Context, a admin.Actor, id int64) error {
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getSchedule(ctx, t.tx, id)
		if err != nil {
			return err
		}
		if _, err := t.affected(admin.ErrConflict, `DELETE FROM schedules WHERE id = ?`, id); err != nil {
			return fmt.Errorf("sqlstore: delete schedule %d (a group uses it?): %w", id, err)
		}
		return t.audit(admin.ActionDelete, "schedule", id, old, nil)
	})
}
