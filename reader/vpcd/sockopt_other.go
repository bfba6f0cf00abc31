//go:build !linux

package vpcd

import "net"

// setQuickAck does nothing: TCP_QUICKACK exists only on Linux.
func setQuickAck(*net.TCPConn) error { return nil }
