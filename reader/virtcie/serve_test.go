package virtcie

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// TestServeBackoff drives Serve's loop with a fake dialer and clock: dial
// failures back off 250 ms doubling to 8 s, a connection resets the back-off,
// every lost connection resets the card, and ctx ends the loop with nil.
func TestServeBackoff(t *testing.T) {
	c := genuine(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Script of dial outcomes: "fail", "drop" (connects, then vpcd closes),
	// "block" (connects and serves until ctx ends).
	script := []string{"fail", "fail", "drop", "fail", "fail", "fail", "fail", "fail", "fail", "fail", "drop", "block"}
	var dials int
	var waits []time.Duration
	s := server{
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		dial: func(ctx context.Context, addr string, card *Card) (func(context.Context) error, error) {
			if addr != "vpcd:1" || card != c {
				t.Errorf("dial(%q, %p)", addr, card)
			}
			step := script[dials]
			dials++
			switch step {
			case "fail":
				return nil, errors.New("connection refused")
			case "drop":
				return func(context.Context) error { return nil }, nil
			}
			return func(ctx context.Context) error {
				cancel()
				<-ctx.Done()
				return nil
			}, nil
		},
		wait: func(ctx context.Context, d time.Duration) bool {
			waits = append(waits, d)
			return true
		},
	}
	if err := s.run(ctx, "vpcd:1", c); err != nil {
		t.Fatalf("run = %v, want nil when ctx ends", err)
	}
	ms := time.Millisecond
	want := []time.Duration{250 * ms, 500 * ms, 250 * ms, // fail, fail, drop: reset by the connection
		500 * ms, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second, // capped
		250 * ms} // drop
	if dials != len(script) || fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("%d dials, waits %v; want %d, %v", dials, waits, len(script), want)
	}
	if got := c.Stats().Resets; got != 3 {
		t.Errorf("card reset %d times, want 3 (one per connection)", got)
	}

	// ctx ending during a back-off wait ends the loop too.
	ctx2, cancel2 := context.WithCancel(context.Background())
	s.dial = func(context.Context, string, *Card) (func(context.Context) error, error) {
		return nil, errors.New("refused")
	}
	s.wait = func(ctx context.Context, d time.Duration) bool { cancel2(); return waitCtx(ctx, time.Hour) }
	if err := s.run(ctx2, "vpcd:1", c); err != nil {
		t.Errorf("run = %v", err)
	}
}

func TestServeNilCard(t *testing.T) {
	if err := Serve(context.Background(), DefaultVPCDAddr, nil); err == nil {
		t.Error("Serve(nil card) = nil")
	}
}

// fakeVPCD is the pcscd side of the vpcd protocol: 2-byte big-endian length
// frames; a 1-byte frame is a control message.
type fakeVPCD struct {
	t  *testing.T
	nc net.Conn
}

func (v fakeVPCD) send(payload []byte) {
	v.t.Helper()
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(payload)))
	if _, err := v.nc.Write(append(frame, payload...)); err != nil {
		v.t.Fatal(err)
	}
}

func (v fakeVPCD) recv() []byte {
	v.t.Helper()
	v.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(v.nc, hdr[:]); err != nil {
		v.t.Fatal(err)
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(v.nc, b); err != nil {
		v.t.Fatal(err)
	}
	return b
}

func (v fakeVPCD) exchange(apdu string) string {
	v.t.Helper()
	v.send(h(apdu))
	return fmt.Sprintf("% X", v.recv())
}

// TestServeOverTCP serves a card to a fake vpcd on a real socket: ATR,
// APDUs, then vpcd drops the connection and the card comes back, reset, on
// the next connection.
func TestServeOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := genuine(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln.Addr().String(), c) }()

	accept := func() fakeVPCD {
		t.Helper()
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return fakeVPCD{t, nc}
	}
	v := accept()
	v.send([]byte{0x01}) // power on: no answer
	v.send([]byte{0x04}) // get ATR
	if got := fmt.Sprintf("% X", v.recv()); got != "3B 8B 80 01 80 66 47 50 00 B8 00 94 82 90 00 C5" {
		t.Errorf("ATR %s", got)
	}
	if got := v.exchange(selCIE); got != "90 00" {
		t.Errorf("select DF_CIE: %s", got)
	}
	if got, want := v.exchange("00 B0 81 00 0C"), fmt.Sprintf("% X 90 00", testNIS); got != want {
		t.Errorf("read NIS: %s, want %s", got, want)
	}
	v.nc.Close() // pcscd goes away

	v = accept() // Serve dials again after its back-off
	if got := v.exchange("00 B0 81 00 0C"); got != "6A 82" {
		t.Errorf("read NIS on the new connection without select: %s, want 6A 82 (card was reset)", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after ctx ended")
	}
	v.nc.Close()
}
