package vpcd

import (
	"net"
	"syscall"
)

// setQuickAck turns on TCP_QUICKACK. Linux clears the flag again whenever
// the connection falls back to delayed ACKs, so the caller re-arms it after
// every read: otherwise each APDU waits out the ~40 ms delayed-ACK timer.
func setQuickAck(tc *net.TCPConn) error {
	raw, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
