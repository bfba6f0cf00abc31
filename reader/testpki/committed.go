package testpki

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// CommittedDir is where the repository keeps its test PKI, relative to the
// module root.
const CommittedDir = "testdata/pki"

var (
	committedOnce sync.Once
	committed     *PKI
	committedErr  error
)

// Committed returns the test PKI committed under CommittedDir, loaded once
// per process; it fails tb if the PKI is missing or broken. Tests share it
// so that cards and SODs made in different packages chain to the same test
// CSCA, and no test pays for RSA key generation.
func Committed(tb testing.TB) *PKI {
	tb.Helper()
	committedOnce.Do(func() {
		var root string
		root, committedErr = moduleRoot()
		if committedErr == nil {
			committed, committedErr = Load(filepath.Join(root, CommittedDir))
		}
	})
	if committedErr != nil {
		tb.Fatalf("testpki: committed PKI (regenerate with 'go run ./cmd/varco card pki -out %s'): %v", CommittedDir, committedErr)
	}
	return committed
}

// moduleRoot walks up from the working directory (a test's package
// directory) to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
