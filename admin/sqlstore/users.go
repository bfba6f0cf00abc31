package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/varco-access/varco/admin"
)

const userCols = `id, username, password_hash, role, disabled, created_at, last_login_at`

func scanUser(r scanner, u *admin.User) error {
	return r.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Role, &u.Disabled, tcol{&u.CreatedAt}, ntcol{&u.LastLoginAt})
}

// CreateUser implements admin.Store.
func (db *DB) CreateUser(ctx context.Context, a admin.Actor, u *admin.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	return db.write(ctx, a, func(t *tx) error {
		u.CreatedAt, u.LastLoginAt = t.now, nil
		id, err := t.insert(nil, `INSERT INTO users (username, password_hash, role, disabled, created_at) VALUES (?, ?, ?, ?, ?)`,
			u.Username, u.PasswordHash, u.Role, u.Disabled, t.db.t(t.now))
		if err != nil {
			return fmt.Errorf("sqlstore: create user %q: %w", u.Username, err)
		}
		u.ID = id
		return t.audit(admin.ActionCreate, "user", id, nil, u)
	})
}

// GetUser implements admin.Store.
func (db *DB) GetUser(ctx context.Context, id int64) (admin.User, error) {
	return db.getUser(ctx, db.r, `id = ?`, id)
}

// GetUserByUsername implements admin.Store.
func (db *DB) GetUserByUsername(ctx context.Context, username string) (admin.User, error) {
	return db.getUser(ctx, db.r, `username = ?`, username)
}

func (db *DB) getUser(ctx context.Context, q queryer, where string, arg any) (admin.User, error) {
	var u admin.User
	if err := scanUser(q.QueryRowContext(ctx, db.q(`SELECT `+userCols+` FROM users WHERE `+where), arg), &u); err != nil {
		return u, fmt.Errorf("sqlstore: user %v: %w", arg, mapErr(err, nil))
	}
	return u, nil
}

// ListUsers implements admin.Store.
func (db *DB) ListUsers(ctx context.Context) ([]admin.User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list users: %w", err)
	}
	return collect(rows, scanUser)
}

// UpdateUser implements admin.Store.
func (db *DB) UpdateUser(ctx context.Context, a admin.Actor, u *admin.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getUser(ctx, t.tx, `id = ?`, u.ID)
		if err != nil {
			return err
		}
		u.PasswordHash, u.CreatedAt, u.LastLoginAt = old.PasswordHash, old.CreatedAt, old.LastLoginAt
		if old.Username == u.Username && old.Role == u.Role && old.Disabled == u.Disabled {
			return nil
		}
		if _, err := t.affected(nil, `UPDATE users SET username = ?, role = ?, disabled = ? WHERE id = ?`, u.Username, u.Role, u.Disabled, u.ID); err != nil {
			return fmt.Errorf("sqlstore: update user %d: %w", u.ID, err)
		}
		if u.Disabled && !old.Disabled {
			if _, err := t.exec(`DELETE FROM sessions WHERE user_id = ?`, u.ID); err != nil {
				return err
			}
		}
		return t.audit(admin.ActionUpdate, "user", u.ID, old, u)
	})
}

// SetUserPassword implements admin.Store.
func (db *DB) SetUserPassword(ctx context.Context, a admin.Actor, id int64, passwordHash string) error {
	if passwordHash == "" || len(passwordHash) > admin.MaxSecretHashLen {
		return &admin.ValidationError{Fields: map[string]string{"password_hash": "required"}}
	}
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getUser(ctx, t.tx, `id = ?`, id)
		if err != nil {
			return err
		}
		if old.PasswordHash == passwordHash {
			return nil
		}
		if _, err := t.exec(`UPDATE users SET password_hash = ? WHERE id = ?`, passwordHash, id); err != nil {
			return fmt.Errorf("sqlstore: user %d password: %w", id, err)
		}
		// The hash never reaches the log: only that it changed.
		return t.audit(admin.ActionUpdate, "user", id, nil, map[string]bool{"password_changed": true})
	})
}

// DeleteUser implements admin.Store.
func (db *DB) DeleteUser(ctx context.Context, a admin.Actor, id int64) error {
	return db.write(ctx, a, func(t *tx) error {
		old, err := db.getUser(ctx, t.tx, `id = ?`, id)
		if err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM users WHERE id = ?`, id); err != nil {
			return fmt.Errorf("sqlstore: delete user %d: %w", id, err)
		}
		return t.audit(admin.ActionDelete, "user", id, old, nil)
	})
}

// CreateSession implements admin.Store.
func (db *DB) CreateSession(ctx context.Context, a admin.Actor, s admin.Session) error {
	if err := s.Validate(); err != nil {
		return err
	}
	s.CreatedAt, s.ExpiresAt = normT(s.CreatedAt), normT(s.ExpiresAt)
	return db.write(ctx, a, func(t *tx) error {
		if _, err := t.affected(admin.ErrNotFound, `INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			s.IDHash, s.UserID, t.db.t(s.CreatedAt), t.db.t(s.ExpiresAt)); err != nil {
			return fmt.Errorf("sqlstore: create session for user %d: %w", s.UserID, err)
		}
		if _, err := t.exec(`UPDATE users SET last_login_at = ? WHERE id = ?`, t.db.t(s.CreatedAt), s.UserID); err != nil {
			return err
		}
		return t.audit(admin.ActionLogin, "user", s.UserID, nil, s)
	})
}

// GetSession implements admin.Store.
func (db *DB) GetSession(ctx context.Context, idHash string, now time.Time) (admin.Session, error) {
	var s admin.Session
	err := db.r.QueryRowContext(ctx, db.q(`SELECT id_hash, user_id, created_at, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?`), idHash, db.t(now)).
		Scan(&s.IDHash, &s.UserID, tcol{&s.CreatedAt}, tcol{&s.ExpiresAt})
	if err != nil {
		return s, fmt.Errorf("sqlstore: session: %w", mapErr(err, nil))
	}
	return s, nil
}

// DeleteSession implements admin.Store.
func (db *DB) DeleteSession(ctx context.Context, a admin.Actor, idHash string) error {
	return db.write(ctx, a, func(t *tx) error {
		var s admin.Session
		err := t.queryRow(`SELECT id_hash, user_id, created_at, expires_at FROM sessions WHERE id_hash = ?`, idHash).
			Scan(&s.IDHash, &s.UserID, tcol{&s.CreatedAt}, tcol{&s.ExpiresAt})
		if err != nil {
			return fmt.Errorf("sqlstore: session: %w", mapErr(err, nil))
		}
		if _, err := t.exec(`DELETE FROM sessions WHERE id_hash = ?`, idHash); err != nil {
			return err
		}
		return t.audit(admin.ActionLogout, "user", s.UserID, s, nil)
	})
}

// DeleteUserSessions implements admin.Store.
func (db *DB) DeleteUserSessions(ctx context.Context, a admin.Actor, userID int64) (int64, error) {
	var n int64
	err := db.write(ctx, a, func(t *tx) error {
		var err error
		if n, err = t.affected(nil, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		return t.audit(admin.ActionLogout, "user", userID, map[string]int64{"sessions": n}, nil)
	})
	return n, err
}

// DeleteExpiredSessions implements admin.Store.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM sessions WHERE expires_at <= ?`), db.t(now))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}

const tokenCols = `id, name, user_id, role, hash, created_at, expires_at, revoked_at, last_used_at`

func scanToken(r scanner, k *admin.APIToken) error {
	return r.Scan(&k.ID, &k.Name, &k.UserID, &k.Role, &k.Hash, tcol{&k.CreatedAt}, ntcol{&k.ExpiresAt}, ntcol{&k.RevokedAt}, ntcol{&k.LastUsedAt})
}

// CreateAPIToken implements admin.Store.
func (db *DB) CreateAPIToken(ctx context.Context, a admin.Actor, k *admin.APIToken) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = db.nowT()
	}
	if err := k.Validate(); err != nil {
		return err
	}
	k.CreatedAt = normT(k.CreatedAt)
	if k.ExpiresAt != nil {
		e := normT(*k.ExpiresAt)
		k.ExpiresAt = &e
	}
	k.RevokedAt, k.LastUsedAt = nil, nil
	return db.write(ctx, a, func(t *tx) error {
		id, err := t.insert(admin.ErrNotFound, `INSERT INTO api_tokens (name, user_id, role, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			k.Name, k.UserID, k.Role, k.Hash, t.db.t(k.CreatedAt), t.db.nt(k.ExpiresAt))
		if err != nil {
			return fmt.Errorf("sqlstore: create api token %q: %w", k.Name, err)
		}
		k.ID = id
		return t.audit(admin.ActionCreate, "api_token", id, nil, k)
	})
}

// GetAPITokenByHash implements admin.Store.
func (db *DB) GetAPITokenByHash(ctx context.Context, hash string) (admin.APIToken, error) {
	var k admin.APIToken
	if err := scanToken(db.r.QueryRowContext(ctx, db.q(`SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`), hash), &k); err != nil {
		return k, fmt.Errorf("sqlstore: api token: %w", mapErr(err, nil))
	}
	return k, nil
}

// ListAPITokens implements admin.Store.
func (db *DB) ListAPITokens(ctx context.Context) ([]admin.APIToken, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+tokenCols+` FROM api_tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list api tokens: %w", err)
	}
	return collect(rows, scanToken)
}

// RevokeAPIToken implements admin.Store.
func (db *DB) RevokeAPIToken(ctx context.Context, a admin.Actor, id int64, at time.Time) error {
	at = normT(at)
	return db.write(ctx, a, func(t *tx) error {
		var old admin.APIToken
		if err := scanToken(t.queryRow(`SELECT `+tokenCols+` FROM api_tokens WHERE id = ?`, id), &old); err != nil {
			return fmt.Errorf("sqlstore: api token %d: %w", id, mapErr(err, nil))
		}
		if old.RevokedAt != nil {
			return nil
		}
		if _, err := t.exec(`UPDATE api_tokens SET revoked_at = ? WHERE id = ?`, t.db.t(at), id); err != nil {
			return err
		}
		after := old
		after.RevokedAt = &at
		return t.audit(admin.ActionRevoke, "api_token", id, old, after)
	})
}

// TouchAPIToken implements admin.Store.
func (db *DB) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE api_tokens SET last_used_at = ? WHERE id = ?`), db.t(at), id)
	if err != nil {
		return fmt.Errorf("sqlstore: touch api token %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlstore: api token %d: %w", id, admin.ErrNotFound)
	}
	return nil
}
