package server

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/varco-access/varco/wire/atomicfile"
)

// SecretFile is the site secret's file name in the data directory.
const SecretFile = "site.secret"

// SecretSize is the site secret's length in bytes.
const SecretSize = 32

func secretPath(dataDir string) string { return filepath.Join(dataDir, SecretFile) }

// loadOrCreateSecret reads the site secret at path, or makes one. A file
// of the wrong size is an error, never replaced: it may be a restore gone
// wrong, and a new secret would silently invalidate what the old one
// keyed.
func loadOrCreateSecret(path string, log *slog.Logger) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(b) != SecretSize {
			return nil, fmt.Errorf("server: %s: %d bytes, want %d (restore it from a backup, or delete it to make a new one)", path, len(b), SecretSize)
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the site secret is readable by other users: chmod 600 it", "path", path, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
		}
		return b, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("server: site secret: %w", err)
	}
	b = make([]byte, SecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("server: site secret: %w", err)
	}
	if err := atomicfile.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("server: site secret: %w", err)
	}
	log.Info("created the site secret", "path", path)
	return b, nil
}
