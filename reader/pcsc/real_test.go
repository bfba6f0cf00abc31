package pcsc

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/pcsc/pcscdtest"
	"github.com/varco-access/varco/reader/vpcd"
)

// The tests named TestReal* run against a real pcscd with vpcd readers
// (package pcscdtest) and a tiny card served over vpcd.

func TestMain(m *testing.M) { pcscdtest.Main(m) }

// echoCard is a vpcd card that answers every APDU with itself plus 90 00.
// When block is set, Transmit signals entered and waits for release.
type echoCard struct {
	block   bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

var echoATR = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}

func (c *echoCard) ATR() []byte { return echoATR }
func (c *echoCard) Reset()      {}

func (c *echoCard) Transmit(apdu []byte) ([]byte, error) {
	if c.block {
		c.once.Do(func() { close(c.entered) })
		<-c.release
	}
	return append(slices.Clone(apdu), 0x90, 0x00), nil
}

func blockingCard() *echoCard {
	return &echoCard{block: true, entered: make(chan struct{}), release: make(chan struct{})}
}

var _ vpcd.Card = (*echoCard)(nil)

// realMonitor starts a pcscd and a Monitor watching its two readers.
func realMonitor(t *testing.T, onCard func(context.Context, string, reader.Transmitter) error) (*pcscdtest.Daemon, *Monitor, *recorder, func()) {
	t.Helper()
	d := pcscdtest.Start(t)
	names := d.ReaderNames()
	rec := newRecorder()
	m := NewMonitor(Options{
		OnCard:     onCard,
		OnEvent:    rec.OnEvent,
		Match:      func(n string) bool { return slices.Contains(names, n) },
		MinBackoff: 20 * time.Millisecond,
		MaxBackoff: 500 * time.Millisecond,
	})
	stop := runMonitor(t, m)
	return d, m, rec, stop
}

func TestRealCardRead(t *testing.T) {
	var calls atomic.Int32
	var atrSeen atomic.Value
	d, _, rec, _ := realMonitor(t, func(ctx context.Context, name string, card reader.Transmitter) error {
		atrSeen.Store(card.(*Card).ATR())
		return echoOnCard(&calls)(ctx, name, card)
	})
	r0 := d.ReaderNames()[0]
	i := rec.expect(t, 0, "", ServiceUp)
	i = rec.expect(t, i, r0, ReaderAdded)

	conn := pcscdtest.InsertCard(t, d.VPCDAddrs()[0], &echoCard{})
	i = rec.expect(t, i, r0, CardPresent, ReadDone)
	if e := rec.all()[rec.next(t, 0, "CardPresent", func(e Event) bool { return e.Kind == CardPresent })]; !bytes.Equal(e.ATR, echoATR) {
		t.Errorf("CardPresent ATR = % X, want % X", e.ATR, echoATR)
	}
	if got, _ := atrSeen.Load().([]byte); !bytes.Equal(got, echoATR) {
		t.Errorf("Card.ATR() = % X, want % X", got, echoATR)
	}

	conn.Close()
	i = rec.expect(t, i, r0, CardRemoved)
	if calls.Load() != 1 {
		t.Fatalf("OnCard called %d times for one presentation; events:\n%s", calls.Load(), rec.dump())
	}

	pcscdtest.InsertCard(t, d.VPCDAddrs()[0], &echoCard{})
	rec.expect(t, i, r0, CardPresent, ReadDone)
	if calls.Load() != 2 {
		t.Fatalf("OnCard called %d times for two presentations", calls.Load())
	}
}

func TestRealTwoReaders(t *testing.T) {
	var calls atomic.Int32
	d, m, rec, _ := realMonitor(t, echoOnCard(&calls))
	names, addrs := d.ReaderNames(), d.VPCDAddrs()
	pcscdtest.InsertCard(t, addrs[0], &echoCard{})
	pcscdtest.InsertCard(t, addrs[1], &echoCard{})
	rec.expect(t, 0, names[0], CardPresent, ReadDone)
	rec.expect(t, 0, names[1], CardPresent, ReadDone)
	if n := rec.count(0, "", ReadFailed); n != 0 {
		t.Errorf("%d ReadFailed events; events:\n%s", n, rec.dump())
	}

	// With both cards read and left in place, the loop waits in
	// GetStatusChange rather than spinning (the fake cannot prove this
	// for pcsc-lite's PnP and state-flag semantics). A spin would make
	// thousands of calls; pcscd powering the idle cards down may wake it
	// a few times.
	before := m.statusCalls.Load()
	time.Sleep(time.Second)
	n := m.statusCalls.Load() - before
	if n > 10 {
		t.Errorf("%d GetStatusChange calls in 1 s with nothing happening", n)
	}
	t.Logf("%d GetStatusChange calls in 1 s idle", n)
}

// TestRealRemovedMidCommand: the card leaves while pcscd waits for its
// answer: OnCard gets an error, the loop goes on and reads the next card.
func TestRealRemovedMidCommand(t *testing.T) {
	d, _, rec, _ := realMonitor(t, func(_ context.Context, _ string, card reader.Transmitter) error {
		_, err := card.Transmit(selectDFCIE)
		return err
	})
	r0, addr := d.ReaderNames()[0], d.VPCDAddrs()[0]
	slow := blockingCard()
	conn := pcscdtest.InsertCard(t, addr, slow)
	<-slow.entered
	conn.Close()
	close(slow.release)

	present := rec.expect(t, 0, r0, CardPresent)
	i := rec.expect(t, present, r0, ReadFailed)
	e := rec.all()[i-1]
	if !errors.Is(e.Err, reader.ErrShortResponse) && !errors.Is(e.Err, ErrCardRemoved) {
		t.Errorf("ReadFailed error = %v, want ErrShortResponse or ErrCardRemoved", e.Err)
	}
	t.Logf("card removed mid-command: %v", e.Err)
	// Only then the next card: one dialled before pcscd's next presence
	// poll replaces the old one in vpcd without pcscd ever seeing the
	// reader empty, so it would not be a new presentation.
	i = max(i, rec.expect(t, present, r0, CardRemoved))

	pcscdtest.InsertCard(t, addr, &echoCard{})
	rec.expect(t, i, r0, CardPresent, ReadDone)
}

// TestRealServiceRestart: pcscd is killed and started again: the Monitor
// reports the outage once, comes back by itself and reads the next card.
func TestRealServiceRestart(t *testing.T) {
	var calls atomic.Int32
	d, _, rec, _ := realMonitor(t, echoOnCard(&calls))
	if !d.Private() {
		d.Kill() // skips (or fails under CI) with the reason
	}
	r0, addr := d.ReaderNames()[0], d.VPCDAddrs()[0]
	pcscdtest.InsertCard(t, addr, &echoCard{})
	i := rec.expect(t, 0, r0, ReadDone)

	d.Kill()
	i = rec.expect(t, i, "", ServiceDown)
	i = rec.expect(t, i, r0, ReaderRemoved)
	e := rec.all()[rec.next(t, 0, "ServiceDown", func(e Event) bool { return e.Kind == ServiceDown })]
	t.Logf("pcscd killed: %v", e.Err)

	d.Restart()
	i = rec.expect(t, i, "", ServiceUp)
	i = rec.expect(t, i, r0, ReaderAdded)
	// The first card's connection died with pcscd: present a new one.
	pcscdtest.InsertCard(t, addr, &echoCard{})
	rec.expect(t, i, r0, CardPresent, ReadDone)
	if n := rec.count(0, "", ServiceDown); n != 1 {
		t.Errorf("%d ServiceDown events for one outage; events:\n%s", n, rec.dump())
	}
}

// TestRealCancel: Run returns once ctx ends, long before the
// GetStatusChange timeout it would otherwise wait out, and after the read
// in progress has seen its ctx end.
func TestRealCancel(t *testing.T) {
	var sawCancel atomic.Bool
	entered := make(chan struct{})
	d, _, rec, stop := realMonitor(t, func(ctx context.Context, _ string, _ reader.Transmitter) error {
		close(entered)
		<-ctx.Done()
		sawCancel.Store(true)
		return ctx.Err()
	})
	names := d.ReaderNames()
	rec.expect(t, 0, names[1], ReaderAdded)
	pcscdtest.InsertCard(t, d.VPCDAddrs()[0], &echoCard{})
	<-entered
	start := time.Now()
	stop()
	if el := time.Since(start); el >= statusTimeout {
		t.Errorf("Run took %v to return after cancel, the whole GetStatusChange timeout", el)
	}
	if !sawCancel.Load() {
		t.Error("Run returned before OnCard saw its context end")
	}
}
