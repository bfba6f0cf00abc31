package vpcd

import (
	"net"
	"syscall"
	"testing"
)

// checkSockopts asserts TCP_NODELAY and TCP_QUICKACK are on right after
// Dial (the kernel may clear quick ACK later; Serve re-arms it per read).
func checkSockopts(t *testing.T, tc *net.TCPConn) {
	t.Helper()
	raw, err := tc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var nodelay, quickack int
	var e1, e2 error
	if err := raw.Control(func(fd uintptr) {
		nodelay, e1 = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
		quickack, e2 = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK)
	}); err != nil {
		t.Fatal(err)
	}
	if e1 != nil || e2 != nil {
		t.Fatalf("getsockopt: %v, %v", e1, e2)
	}
	if nodelay != 1 {
		t.Errorf("TCP_NODELAY = %d, want 1", nodelay)
	}
	if quickack != 1 {
		t.Errorf("TCP_QUICKACK = %d, want 1", quickack)
	}
}
