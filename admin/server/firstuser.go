package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/config"
)

// FirstUser is the username of the admin user made at the first start.
const FirstUser = "admin"

// ensureAdmin creates the first admin user when the store has none; see
// the package documentation.
func (m *Main) ensureAdmin(ctx context.Context, store admin.Store) error {
	envPW, fromEnv := m.opt.LookupEnv(config.EnvPassword)
	fromEnv = fromEnv && envPW != ""
	users, err := store.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("server: first start: %w", err)
	}
	if len(users) > 0 {
		if fromEnv {
			m.log.Warn(config.EnvPassword + " is ignored: users exist already; unset it")
		}
		return nil
	}

	pw := envPW
	if fromEnv {
		if err := auth.CheckPasswordPolicy(pw); err != nil {
			return fmt.Errorf("server: first start: %s: %w", config.EnvPassword, err)
		}
	} else {
		pw = rand.Text() // 26 base32 characters, 130 bits
	}
	hash, err := m.opt.Password.Hash(pw)
	if err != nil {
		return fmt.Errorf("server: first start: %w", err)
	}
	u := &admin.User{Username: FirstUser, Role: admin.RoleAdmin, PasswordHash: hash}
	if err := store.CreateUser(ctx, SystemActor, u); err != nil {
		if errors.Is(err, admin.ErrConflict) {
			// Another replica sharing the database won the race; its
			// password is the one that counts.
			m.log.Info("first start: another server created the admin user")
			return nil
		}
		return fmt.Errorf("server: first start: %w", err)
	}
	if fromEnv {
		m.log.Info("first start: created the admin user", "user", FirstUser, "password_from", config.EnvPassword)
		return nil
	}
	m.log.Warn("first start: created the admin user with a generated password, printed once on standard error", "user", FirstUser)
	if _, err := fmt.Fprintf(m.opt.Stderr, "first start: created user %q with password %s — change it after logging in\n", FirstUser, pw); err != nil {
		return fmt.Errorf("server: first start: printing the password: %w", err)
	}
	return nil
}
