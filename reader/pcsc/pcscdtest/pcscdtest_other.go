//go:build !linux

package pcscdtest

import (
	"os"
	"testing"

	"github.com/varco-access/varco/reader/vpcd"
)

// AptHint is the command that installs what the tests need on Debian.
const AptHint = "apt-get install -y pcscd vsmartcard-vpcd"

// Main runs the tests.
func Main(m *testing.M) { os.Exit(m.Run()) }

// Daemon is a pcscd for tests; on this system there is none.
type Daemon struct{}

// Start skips tb (fails it under CI=true): the helper needs Linux.
func Start(tb testing.TB) *Daemon {
	tb.Helper()
	msg := "pcscdtest: needs Linux with " + AptHint
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return nil
}

// VPCDAddrs returns nil.
func (d *Daemon) VPCDAddrs() []string { return nil }

// ReaderNames returns nil.
func (d *Daemon) ReaderNames() []string { return nil }

// Private reports false.
func (d *Daemon) Private() bool { return false }

// LogPath returns "".
func (d *Daemon) LogPath() string { return "" }

// Kill does nothing.
func (d *Daemon) Kill() {}

// Restart does nothing.
func (d *Daemon) Restart() {}

// Stop does nothing.
func (d *Daemon) Stop() {}

// InsertCard skips tb.
func InsertCard(tb testing.TB, addr string, card vpcd.Card) *vpcd.Conn {
	tb.Helper()
	tb.Skip("pcscdtest: needs Linux")
	return nil
}
