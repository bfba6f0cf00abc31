package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/varco-access/varco/admin"
)

// ListAudit implements admin.Store.
func (db *DB) ListAudit(ctx context.Context, f admin.AuditFilter) ([]admin.AuditEntry, error) {
	var conds []string
	var args []any
	add := func(c string, v any) { conds = append(conds, c); args = append(args, v) }
	if !f.From.IsZero() {
		add(`time >= ?`, db.t(f.From))
	}
	if !f.To.IsZero() {
		add(`time < ?`, db.t(f.To))
	}
	if f.Actor != "" {
		add(`actor = ?`, f.Actor)
	}
	if f.Action != "" {
		add(`action = ?`, f.Action)
	}
	if f.Entity != "" {
		add(`entity = ?`, f.Entity)
	}
	if f.EntityID != "" {
		add(`entity_id = ?`, f.EntityID)
	}
	if f.BeforeID > 0 {
		add(`id < ?`, f.BeforeID)
	}
	q := `SELECT id, time, actor, action, entity, entity_id, before, after FROM audit`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, ` AND `)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit(f.Limit, 100, 1000))
	rows, err := db.r.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list audit: %w", err)
	}
	return collect(rows, func(r scanner, e *admin.AuditEntry) error {
		var before, after *string
		if err := r.Scan(&e.ID, tcol{&e.Time}, &e.Actor, &e.Action, &e.Entity, &e.EntityID, &before, &after); err != nil {
			return err
		}
		if before != nil {
			e.Before = json.RawMessage(*before)
		}
		if after != nil {
			e.After = json.RawMessage(*after)
		}
		return nil
	})
}
