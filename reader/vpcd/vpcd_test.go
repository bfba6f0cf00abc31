package vpcd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// testATR is the ATR of a real contactless CIE (CIE.md section 7).
var testATR = []byte{0x3B, 0x8B, 0x80, 0x01, 0x80, 0x66, 0x47, 0x50, 0x00, 0xB8, 0x00, 0x94, 0x82, 0x90, 0x00, 0xC5}

// recCard is a Card that records every call and answers a command APDU with
// the APDU itself followed by 90 00.
type recCard struct {
	mu    sync.Mutex
	calls []string
	err   error // returned by Transmit when set
	resp  []byte
}

func (c *recCard) log(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, s)
}

func (c *recCard) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

func (c *recCard) ATR() []byte { c.log("atr"); return testATR }
func (c *recCard) Reset()      { c.log("reset") }

func (c *recCard) Transmit(apdu []byte) ([]byte, error) {
	c.log(fmt.Sprintf("tx % X", apdu))
	if c.err != nil {
		return nil, c.err
	}
	if c.resp != nil {
		return c.resp, nil
	}
	return append(slices.Clone(apdu), 0x90, 0x00), nil
}

// powerCard also tells power off and on apart from reset.
type powerCard struct{ recCard }

func (c *powerCard) PowerOff() { c.log("off") }
func (c *powerCard) PowerOn()  { c.log("on") }

var (
	_ Card        = (*recCard)(nil)
	_ PowerSwitch = (*powerCard)(nil)
)

// step is one message from vpcd and the bytes the card must answer (nil:
// no answer).
type step struct {
	send []byte
	want []byte
}

// atrFrame is the reply to get ATR: length 16, then the ATR.
var atrFrame = append([]byte{0x00, 0x10}, testATR...)

func TestServe(t *testing.T) {
	tests := []struct {
		name      string
		power     bool // use powerCard
		steps     []step
		wantCalls []string
	}{
		{
			name: "get ATR",
			steps: []step{{
				send: []byte{
					0x00, 0x01, // length 1: control message
					0x04, // get ATR
				},
				want: atrFrame,
			}},
			wantCalls: []string{"atr"},
		},
		{
			name: "power on, reset and off without PowerSwitch",
			steps: []step{
				{send: []byte{
					0x00, 0x01, // length 1
					0x01, // power on: no reply
				}},
				{send: []byte{
					0x00, 0x01, // length 1
					0x02, // reset: no reply
				}},
				{send: []byte{
					0x00, 0x01, // length 1
					0x00, // power off: no reply
				}},
				{send: []byte{
					0x00, 0x01, // length 1
					0x04, // get ATR: the first reply proves none came before
				}, want: atrFrame},
			},
			wantCalls: []string{"reset", "reset", "reset", "atr"},
		},
		{
			name:  "power on, reset and off with PowerSwitch",
			power: true,
			steps: []step{
				{send: []byte{0x00, 0x01, 0x01}},                 // length 1, power on
				{send: []byte{0x00, 0x01, 0x02}},                 // length 1, reset
				{send: []byte{0x00, 0x01, 0x00}},                 // length 1, power off
				{send: []byte{0x00, 0x01, 0x04}, want: atrFrame}, // length 1, get ATR
			},
			wantCalls: []string{"on", "reset", "off", "atr"},
		},
		{
			name: "unknown control message is ignored",
			steps: []step{
				{send: []byte{
					0x00, 0x01, // length 1
					0x03, // not defined by vpcd: no reply, no card call
				}},
				{send: []byte{0x00, 0x01, 0x04}, want: atrFrame}, // length 1, get ATR
			},
			wantCalls: []string{"atr"},
		},
		{
			name: "select DF_CIE",
			steps: []step{{
				send: []byte{
					0x00, 0x0B, // length 11
					0x00, 0xA4, 0x04, 0x0C, // CLA INS P1 P2: SELECT by AID, no answer data
					0x06,                               // Lc 6
					0xA0, 0x00, 0x00, 0x00, 0x00, 0x39, // AID of DF_CIE
				},
				want: []byte{
					0x00, 0x0D, // length 13
					0x00, 0xA4, 0x04, 0x0C, 0x06, 0xA0, 0x00, 0x00, 0x00, 0x00, 0x39, // echo of the command
					0x90, 0x00, // SW 9000
				},
			}},
			wantCalls: []string{"tx 00 A4 04 0C 06 A0 00 00 00 00 39"},
		},
		{
			name: "two-byte payload is an APDU, not a control message",
			steps: []step{{
				send: []byte{
					0x00, 0x02, // length 2
					0x00, 0x04, // too short for an APDU, but passed to the card
				},
				want: []byte{
					0x00, 0x04, // length 4
					0x00, 0x04, // echo
					0x90, 0x00, // SW 9000
				},
			}},
			wantCalls: []string{"tx 00 04"},
		},
		{
			name: "two frames in one write",
			steps: []step{{
				send: []byte{
					0x00, 0x01, 0x01, // length 1, power on
					0x00, 0x05, // length 5
					0x00, 0xB0, 0x81, 0x00, 0x0C, // READ BINARY SFI 1, 12 bytes
				},
				want: []byte{
					0x00, 0x07, // length 7
					0x00, 0xB0, 0x81, 0x00, 0x0C, // echo
					0x90, 0x00, // SW 9000
				},
			}},
			wantCalls: []string{"reset", "tx 00 B0 81 00 0C"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var card Card
			var rec *recCard
			if tt.power {
				pc := &powerCard{}
				card, rec = pc, &pc.recCard
			} else {
				rec = &recCard{}
				card = rec
			}
			peer, done := startServe(t, card)
			for i, s := range tt.steps {
				mustWrite(t, peer, s.send)
				if s.want == nil {
					continue
				}
				got := make([]byte, len(s.want))
				if _, err := io.ReadFull(peer, got); err != nil {
					t.Fatalf("step %d: read reply: %v", i, err)
				}
				if !bytes.Equal(got, s.want) {
					t.Fatalf("step %d: reply\n got % X\nwant % X", i, got, s.want)
				}
			}
			peer.Close()
			if err := waitServe(t, done); err != nil {
				t.Fatalf("Serve after peer close = %v, want nil", err)
			}
			if got := rec.Calls(); !slices.Equal(got, tt.wantCalls) {
				t.Errorf("card calls = %q, want %q", got, tt.wantCalls)
			}
		})
	}
}

func TestServeErrors(t *testing.T) {
	tests := []struct {
		name    string
		card    *recCard
		send    []byte
		wantErr error // nil: Serve must return nil
	}{
		{
			name:    "empty frame",
			card:    &recCard{},
			send:    []byte{0x00, 0x00}, // length 0: never sent by vpcd
			wantErr: ErrEmptyFrame,
		},
		{
			name: "peer closes inside a frame",
			card: &recCard{},
			send: []byte{
				0x00, 0x05, // length 5
				0x00, 0xA4, // only 2 of the 5 bytes, then close
			},
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name: "peer closes inside the header",
			card: &recCard{},
			send: []byte{
				0x00, // half a length, then close
			},
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "peer closes between frames",
			card:    &recCard{},
			send:    []byte{0x00, 0x01, 0x01}, // length 1, power on; then close
			wantErr: nil,
		},
		{
			name:    "card transmit fails",
			card:    &recCard{err: errCardGone},
			send:    []byte{0x00, 0x04, 0x00, 0xB0, 0x00, 0x00}, // length 4, READ BINARY case 1
			wantErr: errCardGone,
		},
		{
			name:    "response too large",
			card:    &recCard{resp: make([]byte, MaxFrame+1)},
			send:    []byte{0x00, 0x04, 0x00, 0xB0, 0x00, 0x00}, // length 4, READ BINARY case 1
			wantErr: ErrFrameTooLarge,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer, done := startServe(t, tt.card)
			mustWrite(t, peer, tt.send)
			if tt.wantErr == nil || tt.wantErr == io.ErrUnexpectedEOF {
				peer.Close()
			}
			err := waitServe(t, done)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Serve = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Serve = %v, want %v", err, tt.wantErr)
			}
			// Serve must have closed its side: the card left the field.
			peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := peer.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
				t.Fatalf("peer read after Serve error = %v, want EOF", err)
			}
		})
	}
}

var errCardGone = errors.New("card gone")

// blockingCard blocks in Transmit until release is closed.
type blockingCard struct {
	recCard
	entered chan struct{}
	release chan struct{}
}

func (c *blockingCard) Transmit(apdu []byte) ([]byte, error) {
	close(c.entered)
	<-c.release
	return []byte{0x90, 0x00}, nil
}

func TestCloseMidCommand(t *testing.T) {
	card := &blockingCard{entered: make(chan struct{}), release: make(chan struct{})}
	vpcdSide, cardSide := net.Pipe()
	t.Cleanup(func() { vpcdSide.Close() })
	conn := NewConn(cardSide, card)
	done := make(chan error, 1)
	go func() { done <- conn.Serve(context.Background()) }()

	mustWrite(t, vpcdSide, []byte{0x00, 0x04, 0x00, 0x88, 0x00, 0x00}) // length 4, INTERNAL AUTHENTICATE
	<-card.entered
	if err := conn.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// vpcd sees the card leave while the command is pending.
	if _, err := vpcdSide.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("vpcd read after Close = %v, want EOF", err)
	}
	close(card.release)
	if err := waitServe(t, done); err != nil {
		t.Fatalf("Serve after Close = %v, want nil", err)
	}
	if err := conn.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
}

func TestServeContextCancel(t *testing.T) {
	vpcdSide, cardSide := net.Pipe()
	t.Cleanup(func() { vpcdSide.Close() })
	conn := NewConn(cardSide, &recCard{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- conn.Serve(ctx) }()
	cancel()
	if err := waitServe(t, done); err != nil {
		t.Fatalf("Serve after cancel = %v, want nil", err)
	}
}

// TestDial plays vpcd on a loopback listener: the card connects as a TCP
// client with TCP_NODELAY set and answers an APDU.
func TestDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := Dial(ctx, ln.Addr().String(), &recCard{})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if conn.tcp == nil {
		t.Fatal("Dial did not keep the *net.TCPConn")
	}
	checkSockopts(t, conn.tcp)
	done := make(chan error, 1)
	go func() { done <- conn.Serve(ctx) }()

	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	defer peer.Close()
	mustWrite(t, peer, []byte{0x00, 0x01, 0x04}) // length 1, get ATR
	got := make([]byte, len(atrFrame))
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, atrFrame) {
		t.Fatalf("ATR frame = % X, want % X", got, atrFrame)
	}
	mustWrite(t, peer, []byte{0x00, 0x04, 0x00, 0xC0, 0x00, 0x00}) // length 4, GET RESPONSE case 1
	want := []byte{0x00, 0x06, 0x00, 0xC0, 0x00, 0x00, 0x90, 0x00} // length 6, echo, SW 9000
	got = make([]byte, len(want))
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("reply = % X, want % X", got, want)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := waitServe(t, done); err != nil {
		t.Fatalf("Serve after Close = %v, want nil", err)
	}
}

func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Dial(context.Background(), addr, &recCard{}); err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
}

// startServe runs Serve for card over net.Pipe and returns the vpcd end.
func startServe(t *testing.T, card Card) (net.Conn, <-chan error) {
	t.Helper()
	vpcdSide, cardSide := net.Pipe()
	t.Cleanup(func() { vpcdSide.Close() })
	conn := NewConn(cardSide, card)
	t.Cleanup(func() { conn.Close() })
	done := make(chan error, 1)
	go func() { done <- conn.Serve(context.Background()) }()
	return vpcdSide, done
}

func mustWrite(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(b); err != nil {
		t.Fatalf("write % X: %v", b, err)
	}
}

func waitServe(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}
