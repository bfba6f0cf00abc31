package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// connectTimeout bounds the TLS handshake and the wait for CONNECT that
// follows it. mochi sets no deadline of its own until CONNECT has arrived,
// so without this a peer that opens TCP and says nothing would hold a
// goroutine forever and keep Close waiting.
const connectTimeout = 10 * time.Second

// tlsListener is a mochi listener that does the TLS handshake itself,
// under connectTimeout, before it hands the connection to mochi, and that
// tracks every connection so Close can end them all. (mochi's own TCP
// listener hands over connections before the handshake and without a
// deadline.)
type tlsListener struct {
	id      string
	address string
	tls     *tls.Config
	log     *slog.Logger
	timeout time.Duration // connectTimeout; tests shorten it
	ln      net.Listener

	mu     sync.Mutex // guards ln, closed, conns
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup // Serve and every connection's goroutine
}

var _ listeners.Listener = (*tlsListener)(nil)

func newTLSListener(id, address string, cfg *tls.Config, log *slog.Logger) *tlsListener {
	return &tlsListener{id: id, address: address, tls: cfg, log: log, timeout: connectTimeout, conns: map[net.Conn]struct{}{}}
}

// Init binds the address.
func (l *tlsListener) Init(*slog.Logger) error {
	ln, err := net.Listen("tcp", l.address)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	return nil
}

// ID returns the listener's id.
func (l *tlsListener) ID() string { return l.id }

// Address returns the bound address once Init has run.
func (l *tlsListener) Address() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.address
}

// Protocol returns "tcp" (over TLS).
func (l *tlsListener) Protocol() string { return "tcp" }

// track registers c, or reports false once the listener is closed.
func (l *tlsListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	l.wg.Add(1)
	return true
}

func (l *tlsListener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	l.wg.Done()
}

// Serve accepts connections until Close.
func (l *tlsListener) Serve(establish listeners.EstablishFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.wg.Add(1)
	ln := l.ln
	l.mu.Unlock()
	defer l.wg.Done()

	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.log.Error("broker: accept", "error", err)
			}
			return
		}
		if !l.track(c) {
			c.Close()
			return
		}
		go func() {
			defer l.untrack(c)
			l.serveConn(c, establish)
		}()
	}
}

func (l *tlsListener) serveConn(c net.Conn, establish listeners.EstablishFn) {
	remote := c.RemoteAddr().String()
	// The deadline covers the handshake and CONNECT; mochi replaces it
	// with the keep-alive deadline once CONNECT is read.
	if err := c.SetDeadline(time.Now().Add(l.timeout)); err != nil {
		c.Close()
		return
	}
	tc := tls.Server(c, l.tls)
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		// A door with the wrong or an expired certificate shows up here,
		// so say who and why.
		l.log.Info("broker: TLS handshake refused", "remote", remote, "error", err)
		c.Close()
		return
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		tc.Close()
		return
	}
	if err := establish(l.id, tc); err != nil {
		l.log.Debug("broker: connection ended", "remote", remote, "error", err)
	}
}

// Close stops accepting, lets mochi disconnect its clients, then closes
// every connection still open (those in the handshake or before CONNECT)
// and waits for their goroutines, so that no connection reaches mochi
// after Close returns.
func (l *tlsListener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	ln := l.ln
	l.mu.Unlock()

	if ln != nil {
		ln.Close()
	}
	closeClients(l.id)

	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}
