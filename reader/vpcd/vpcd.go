package vpcd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Card is the card side of a vpcd connection: what a virtual card must do
// for pcscd to see it in a reader.
//
// Conn calls the methods from the one goroutine running Serve, never
// concurrently.
type Card interface {
	// ATR returns the card's Answer To Reset. vpcd asks for it on every
	// presence poll, so it must be cheap.
	ATR() []byte
	// Transmit answers one command APDU with a response APDU (data and
	// status bytes). An error means the card is gone: the Conn closes the
	// connection, which pcscd sees as the card leaving the field.
	Transmit(apdu []byte) ([]byte, error)
	// Reset drops the card's volatile state (selected files, security
	// state), as a reset or a power cycle does.
	Reset()
}

// PowerSwitch is an optional interface for a Card that tells power off and
// power on apart from a reset. When a Card implements it, Conn calls
// PowerOff and PowerOn for those control messages; otherwise it calls Reset
// for both.
type PowerSwitch interface {
	PowerOff()
	PowerOn()
}

// Conn is one virtual card inserted in one vpcd reader. Create it with Dial
// (or NewConn over an existing connection), run Serve, and Close it to take
// the card out of the field.
type Conn struct {
	nc   net.Conn
	tcp  *net.TCPConn // nil when nc is not TCP (net.Pipe in tests)
	card Card

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

// Dial connects card to the vpcd reader listening at addr (host:port) with
// TCP_NODELAY and, on Linux, TCP_QUICKACK set. The card is in the field as
// soon as Dial returns, but pcscd only notices at its next presence poll and
// the card only answers once Serve runs.
func Dial(ctx context.Context, addr string, card Card) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("vpcd: dial %s: %w", addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		if err := tc.SetNoDelay(true); err != nil {
			nc.Close()
			return nil, fmt.Errorf("vpcd: set TCP_NODELAY: %w", err)
		}
		if err := setQuickAck(tc); err != nil {
			nc.Close()
			return nil, fmt.Errorf("vpcd: set TCP_QUICKACK: %w", err)
		}
	}
	return NewConn(nc, card), nil
}

// NewConn serves card over an already established connection to vpcd. It
// does not set socket options: use Dial for TCP.
func NewConn(nc net.Conn, card Card) *Conn {
	c := &Conn{nc: nc, card: card}
	c.tcp, _ = nc.(*net.TCPConn)
	return c
}

// Serve answers vpcd until ctx ends, Close is called, vpcd closes the
// connection or the card fails. It returns nil in the first three cases.
// When the card's Transmit fails, Serve closes the connection (the card
// left the field) and returns that error. Any other error is a broken
// connection or a protocol violation by the peer. The connection is closed
// when Serve returns. Call Serve once.
func (c *Conn) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	// Whatever ends Serve also takes the card out of the field: a peer
	// that broke the protocol is not worth talking to again.
	defer c.Close()

	var src io.Reader = c.nc
	if c.tcp != nil {
		src = quickAckReader{c.tcp}
	}
	r := bufio.NewReader(src)
	var out []byte
	for {
		payload, err := readFrame(r)
		if err != nil {
			return c.ioErr("read", err)
		}
		reply, send, err := c.handle(payload)
		if err != nil {
			return fmt.Errorf("vpcd: card transmit: %w", err)
		}
		if !send {
			continue
		}
		if out, err = appendFrame(out[:0], reply); err != nil {
			return err
		}
		if _, err := c.nc.Write(out); err != nil {
			return c.ioErr("write", err)
		}
	}
}

// handle runs one message from vpcd against the card and says whether a
// reply frame is due.
func (c *Conn) handle(payload []byte) (reply []byte, send bool, err error) {
	if len(payload) != 1 {
		reply, err = c.card.Transmit(payload)
		return reply, err == nil, err
	}
	ps, hasPower := c.card.(PowerSwitch)
	switch payload[0] {
	case ctrlPowerOff:
		if hasPower {
			ps.PowerOff()
		} else {
			c.card.Reset()
		}
	case ctrlPowerOn:
		if hasPower {
			ps.PowerOn()
		} else {
			c.card.Reset()
		}
	case ctrlReset:
		c.card.Reset()
	case ctrlGetATR:
		return c.card.ATR(), true, nil
	default:
		// Not defined by vpcd and never sent by it: no reply, as
		// for the other control messages, so the link stays in step.
	}
	return nil, false, nil
}

// quickAckReader re-arms TCP_QUICKACK after every read from the socket.
// vpcd writes a frame's header and payload with two send calls and Nagle
// holds the payload back until the header is acknowledged: without an
// immediate ACK each message from vpcd would wait for the delayed-ACK
// timer (about 40 ms on Linux). Setting the option also flushes an ACK
// that is already pending.
type quickAckReader struct{ tc *net.TCPConn }

func (q quickAckReader) Read(p []byte) (int, error) {
	n, err := q.tc.Read(p)
	if n > 0 {
		_ = setQuickAck(q.tc) // best effort: only latency is at stake
	}
	return n, err
}

// ioErr turns the end of the connection into Serve's result: nil when we
// closed it (Close or ctx) or vpcd closed it cleanly between frames.
func (c *Conn) ioErr(op string, err error) error {
	if c.closed.Load() || errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("vpcd: %s: %w", op, err)
}

// Close takes the card out of the reader's field by closing the
// connection. It may be called at any time and from any goroutine, also
// while Serve is inside the card's Transmit: the answer is then dropped
// and pcscd sees the card removed mid-command. Close is idempotent and
// returns the error of the first close.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.closeErr = c.nc.Close()
	})
	return c.closeErr
}
