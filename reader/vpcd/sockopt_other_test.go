//go:build !linux

package vpcd

import (
	"net"
	"testing"
)

func checkSockopts(t *testing.T, tc *net.TCPConn) {}
