package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/varco-access/varco/admin"
)

const cardCols = `id, person_id, nis, public_key, key_hash, sod_generation, ds_subject, verification, enrolled_at, enrolled_by, status, replaced_by`

func scanCard(r scanner, c *admin.Card) error {
	return r.Scan(&c.ID, &c.PersonID, &c.NIS, &c.PublicKey, &c.KeyHash, &c.SODGeneration, &c.DSSubject, &c.Verification,
		tcol{&c.EnrolledAt}, &c.EnrolledBy, &c.Status, &c.ReplacedBy)
}

// CreateCard implements admin.Store.
func (db *DB) CreateCard(ctx context.Context, a admin.Actor, c *admin.Card) error {
	if c.Status == "" {
		c.Status = admin.CardActive
	}
	if err := c.Validate(); err != nil {
		return err
	}
	return db.write(ctx, a, func(t *tx) error { return t.createCard(c) })
}

func (t *tx) createCard(c *admin.Card) error {
	h := sha256.Sum256(c.PublicKey)
	c.KeyHash = hex.EncodeToString(h[:])
	if c.EnrolledAt.IsZero() {
		c.EnrolledAt = t.now
	}
	c.EnrolledAt = normT(c.EnrolledAt)
	c.ReplacedBy = nil
	id, err := t.insert(admin.ErrNotFound, `INSERT INTO cards (person_id, nis, public_key, key_hash, sod_generation, ds_subject, verification, enrolled_at, enrolled_by, status)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.PersonID, c.NIS, c.PublicKey, c.KeyHash, c.SODGeneration, c.DSSubject, c.Verification, t.db.t(c.EnrolledAt), c.EnrolledBy, string(c.Status))
	if err != nil {
		return fmt.Errorf("sqlstore: create card %s for person %d: %w", c.NIS, c.PersonID, err)
	}
	c.ID = id
	if err := t.affect(all, ids(c.PersonID)); err != nil {
		return err
	}
	return t.audit(admin.ActionCreate, "card", id, nil, c)
}

// GetCard implements admin.Store.
func (db *DB) GetCard(ctx context.Context, id int64) (admin.Card, error) {
	return db.getCard(ctx, db.r, `id = ?`, id)
}

// GetCardByNIS implements admin.Store.
func (db *DB) GetCardByNIS(ctx context.Context, nis string) (admin.Card, error) {
	return db.getCard(ctx, db.r, `nis = ?`, nis)
}

func (db *DB) getCard(ctx context.Context, q queryer, where string, arg any) (admin.Card, error) {
	var c admin.Card
	if err := scanCard(q.QueryRowContext(ctx, db.q(`SELECT `+cardCols+` FROM cards WHERE `+where), arg), &c); err != nil {
		return c, fmt.Errorf("sqlstore: card %v: %w", arg, mapErr(err, nil))
	}
	return c, nil
}

// ListCards implements admin.Store.
func (db *DB) ListCards(ctx context.Context, personID int64) ([]admin.Card, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT `+cardCols+` FROM cards WHERE person_id = ? ORDER BY enrolled_at DESC, id DESC`), personID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list cards: %w", err)
	}
	return collect(rows, scanCard)
}

// SetCardStatus implements admin.Store.
func (db *DB) SetCardStatus(ctx context.Context, a admin.Actor, id int64, s admin.CardStatus) error {
	if !s.Valid() {
		return &admin.ValidationError{Fields: map[string]string{"status": "must be active, suspended or revoked"}}
	}
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getCard(ctx, t.tx, `id = ?`, id)
		if err != nil {
			return err
		}
		if old.Status == s {
			return nil
		}
		if _, err := t.exec(`UPDATE cards SET status = ? WHERE id = ?`, string(s), id); err != nil {
			return fmt.Errorf("sqlstore: card %d status: %w", id, err)
		}
		if err := t.affect(all, ids(old.PersonID)); err != nil {
			return err
		}
		after := old
		after.Status = s
		return t.audit(admin.ActionUpdate, "card", id, old, after)
	})
}

// ReplaceCard implements admin.Store.
func (db *DB) ReplaceCard(ctx context.Context, a admin.Actor, oldID int64, c *admin.Card) error {
	if c.Status == "" {
		c.Status = admin.CardActive
	}
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getCard(ctx, t.tx, `id = ?`, oldID)
		if err != nil {
			return err
		}
		c.PersonID = old.PersonID
		if err := c.Validate(); err != nil {
			return err
		}
		if err := t.createCard(c); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE cards SET status = ?, replaced_by = ? WHERE id = ?`, string(admin.CardRevoked), c.ID, oldID); err != nil {
			return fmt.Errorf("sqlstore: card %d replaced: %w", oldID, err)
		}
		after := old
		after.Status, after.ReplacedBy = admin.CardRevoked, &c.ID
		return t.audit(admin.ActionUpdate, "card", oldID, old, after)
	})
}

// DeleteCard implements admin.Store.
func (db *DB) DeleteCard(ctx context.Context, a admin.Actor, id int64) error {
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getCard(ctx, t.tx, `id = ?`, id)
		if err != nil {
			return err
		}
		if _, err := t.affected(admin.ErrConflict, `DELETE FROM cards WHERE id = ?`, id); err != nil {
			return fmt.Errorf("sqlstore: delete card %d: %w", id, err)
		}
		if err := t.affect(all, ids(old.PersonID)); err != nil {
			return err
		}
		return t.audit(admin.ActionDelete, "card", id, old, nil)
	})
}
