// Package pcscdtest runs a real pcscd with the vpcd virtual reader driver
// for tests, so PC/SC code is tested against the daemon it meets in
// production rather than a fake.
//
// Use it from a package's TestMain, then start a daemon per test:
//
//	func TestMain(m *testing.M) { pcscdtest.Main(m) }
//
//	func TestRead(t *testing.T) {
//		d := pcscdtest.Start(t)
//		conn := pcscdtest.InsertCard(t, d.VPCDAddrs()[0], card)
//		// ... PC/SC calls see d.ReaderNames()[0] with card in it ...
//		conn.Close() // the card leaves the field
//	}
//
// Two modes, picked once per process:
//
//   - Private (root, and unshare(1) can create a mount namespace): each
//     Start runs its own pcscd in a private mount namespace where
//     /run/pcscd is bind-mounted from a directory of this process, on a
//     free pair of vpcd ports. Several test processes (go test runs
//     packages in parallel) each get their own daemon. Kill and Restart
//     work.
//   - Shared (otherwise): the system pcscd with vpcd on 127.0.0.1:35963
//     and :35964, as `make test` starts it, used under an exclusive flock
//     on /tmp/varco-pcscd.lock for as long as the Daemon lives, so test
//     processes take turns. Kill and Restart skip the test (fail it when
//     CI=true). Set VARCO_PCSCD=system to force this mode.
//
// When pcscd or the vpcd driver is missing, or in shared mode nothing
// listens on the vpcd port, Start skips the test with the apt-get command
// to fix it, and fails it instead when the environment has CI=true.
//
// Caveats, all from libpcsclite and pcscd:
//
//   - libpcsclite reads PCSCLITE_CSOCK_NAME (the daemon's socket path) once
//     per process, at the first PC/SC call. In private mode the first of
//     Main or Start sets it, so call Main from TestMain (or Start before
//     any PC/SC call) and never establish a PC/SC context in init. Every
//     daemon of the process then uses that same socket path, which is why
//     only one Daemon runs per process at a time: Start blocks until the
//     previous Daemon's test has ended.
//   - pcscd polls vpcd for card presence about every 400 ms, so cards
//     appear and disappear in PC/SC with up to that delay; assert on
//     events, not on timings.
//   - After a card left in the middle of a command, insert the next one
//     only once pcscd has reported the reader empty: vpcd accepts a card
//     already waiting in place of the one that left without pcscd ever
//     seeing the reader empty, so PC/SC shows no new card.
//   - In shared mode Start waits until the readers are empty, since the
//     previous test's cards may still look present for one poll.
//   - In private mode pcscd is still in the host's network namespace and
//     could claim a USB reader through udev on a developer machine.
package pcscdtest
