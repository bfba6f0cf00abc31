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

	"github.com/ebfe/scard"

	"github.com/varco-access/varco/reader"
)

var cieATR = []byte{0x3B, 0x8B, 0x80, 0x01, 0x80, 0x66, 0x47, 0x50, 0x00, 0xB8, 0x00, 0x94, 0x82, 0x90, 0x00, 0xC5}

// selectDFCIE is the second select of CIE.md section 3.
var selectDFCIE = []byte{0x00, 0xA4, 0x04, 0x0C, 0x06, 0xA0, 0x00, 0x00, 0x00, 0x00, 0x39}

// echoOnCard transmits selectDFCIE and checks the echo card's answer.
func echoOnCard(calls *atomic.Int32) func(context.Context, string, reader.Transmitter) error {
	return func(_ context.Context, _ string, card reader.Transmitter) error {
		calls.Add(1)
		resp, err := card.Transmit(selectDFCIE)
		if err != nil {
			return err
		}
		if want := append(slices.Clone(selectDFCIE), 0x90, 0x00); !bytes.Equal(resp, want) {
			return errors.New("echo card answered wrongly")
		}
		return nil
	}
}

func fakeMonitor(f *fakePCSC, opts Options) (*Monitor, *recorder, *fakeClock) {
	rec := newRecorder()
	clk := &fakeClock{}
	opts.OnEvent = rec.OnEvent
	opts.Clock = clk
	return newMonitor(opts, f.establish), rec, clk
}

func TestMonitorReadsOncePerPresentation(t *testing.T) {
	f := newFake("R")
	f.insert("R", cieATR, nil)
	var calls atomic.Int32
	m, rec, _ := fakeMonitor(f, Options{OnCard: echoOnCard(&calls)})
	runMonitor(t, m)

	i := rec.expect(t, 0, "", ServiceUp)
	i = rec.expect(t, i, "R", ReaderAdded, CardPresent, ReadDone)
	if e := rec.all()[rec.next(t, 0, "CardPresent", func(e Event) bool { return e.Kind == CardPresent })]; !bytes.Equal(e.ATR, cieATR) {
		t.Errorf("CardPresent ATR = % X, want % X", e.ATR, cieATR)
	}

	// The state changes (someone uses the reader) but the card is the
	// same: no second read. The removal is then the next card event.
	f.touch("R")
	f.touch("R")
	f.remove("R")
	j := rec.expect(t, i, "R", CardRemoved)
	if n := rec.count(i, "R", CardPresent); n != 0 {
		t.Fatalf("%d CardPresent events for an unchanged card; events:\n%s", n, rec.dump())
	}
	if calls.Load() != 1 {
		t.Fatalf("OnCard called %d times for one presentation", calls.Load())
	}

	f.insert("R", cieATR, nil)
	rec.expect(t, j, "R", CardPresent, ReadDone)
	if calls.Load() != 2 {
		t.Fatalf("OnCard called %d times for two presentations", calls.Load())
	}
	connects, disp := f.stats()
	if !slices.Equal(connects, []scard.ShareMode{scard.ShareExclusive, scard.ShareExclusive}) {
		t.Errorf("connect modes = %v, want exclusive twice", connects)
	}
	if !slices.Equal(disp, []scard.Disposition{scard.ResetCard, scard.ResetCard}) {
		t.Errorf("dispositions = %v, want ResetCard twice", disp)
	}
}

// TestMonitorQuickSwap: a card removed and another presented between two
// waits only shows in pcscd's counter; it is still a new presentation.
func TestMonitorQuickSwap(t *testing.T) {
	f := newFake("R")
	f.insert("R", cieATR, nil)
	var calls atomic.Int32
	m, rec, _ := fakeMonitor(f, Options{OnCard: echoOnCard(&calls)})
	runMonitor(t, m)
	i := rec.expect(t, 0, "R", CardPresent, ReadDone)
	f.swap("R")
	rec.expect(t, i, "R", CardRemoved, CardPresent, ReadDone)
	if calls.Load() != 2 {
		t.Fatalf("OnCard called %d times, want 2", calls.Load())
	}
}

func TestMonitorReaderUnplugged(t *testing.T) {
	f := newFake("A", "B")
	f.insert("A", cieATR, nil)
	f.insert("B", cieATR, nil)
	var calls atomic.Int32
	m, rec, _ := fakeMonitor(f, Options{OnCard: echoOnCard(&calls)})
	runMonitor(t, m)
	rec.expect(t, 0, "A", ReaderAdded, CardPresent, ReadDone)
	i := rec.expect(t, 0, "B", ReaderAdded, CardPresent, ReadDone)

	f.removeReader("A")
	i = rec.expect(t, i, "A", CardRemoved, ReaderRemoved)
	f.addReader("A")
	i = rec.expect(t, i, "A", ReaderAdded)
	f.insert("A", cieATR, nil)
	rec.expect(t, i, "A", CardPresent, ReadDone)
	if n := rec.count(0, "B", ReadDone); n != 1 {
		t.Errorf("B read %d times, want 1", n)
	}
	if n := rec.count(0, "", ServiceDown); n != 0 {
		t.Errorf("%d ServiceDown events for a reader unplugged; events:\n%s", n, rec.dump())
	}
}

// TestMonitorUnknownReaderError: with a PC/SC stack that fails the wait for
// a missing reader instead of flagging it, the reader is dropped and the
// service is not reported down.
func TestMonitorUnknownReaderError(t *testing.T) {
	f := newFake("A", "B")
	f.unknownReaderErr = true
	m, rec, _ := fakeMonitor(f, Options{OnCard: echoOnCard(new(atomic.Int32))})
	runMonitor(t, m)
	i := rec.expect(t, 0, "A", ReaderAdded)
	i = max(i, rec.expect(t, 0, "B", ReaderAdded))
	f.removeReader("A")
	i = rec.expect(t, i, "A", ReaderRemoved)
	f.insert("B", cieATR, nil)
	rec.expect(t, i, "B", CardPresent, ReadDone)
	if n := rec.count(0, "", ServiceDown); n != 0 {
		t.Errorf("%d ServiceDown events; events:\n%s", n, rec.dump())
	}
}

// TestMonitorReaderGoneMidRead: unplugging the reader during OnCard cancels
// OnCard's context and its card fails with ErrCardRemoved.
//
// The watch loop reports CardRemoved and ReaderRemoved while the reader's
// goroutine reports the end of the cancelled read: the ReadFailed may come
// before or after the ReaderRemoved, so only the order within each
// goroutine is asserted.
func TestMonitorReaderGoneMidRead(t *testing.T) {
	f := newFake("R")
	f.insert("R", cieATR, nil)
	entered := make(chan struct{})
	m, rec, _ := fakeMonitor(f, Options{OnCard: func(ctx context.Context, _ string, card reader.Transmitter) error {
		close(entered)
		<-ctx.Done()
		_, err := card.Transmit(selectDFCIE)
		return err
	}})
	runMonitor(t, m)
	<-entered
	f.removeReader("R")
	present := rec.expect(t, 0, "R", CardPresent)
	rec.expect(t, present, "R", CardRemoved, ReaderRemoved)
	failed := rec.expect(t, present, "R", ReadFailed)
	if n := rec.count(0, "R", ReadDone) + rec.count(0, "R", ReadFailed); n != 1 {
		t.Errorf("%d reads reported, want 1; events:\n%s", n, rec.dump())
	}
	e := rec.all()[failed-1]
	if !errors.Is(e.Err, ErrCardRemoved) || !errors.Is(e.Err, scard.ErrRemovedCard) {
		t.Errorf("ReadFailed error = %v, want ErrCardRemoved wrapping scard.ErrRemovedCard", e.Err)
	}
}

// TestMonitorBackoff: pcscd not running at start: one ServiceDown, waits
// doubling from MinBackoff to the MaxBackoff cap, then ServiceUp.
func TestMonitorBackoff(t *testing.T) {
	f := newFake("R")
	f.establishErrs = 9
	m, rec, clk := fakeMonitor(f, Options{OnCard: echoOnCard(new(atomic.Int32))})
	runMonitor(t, m)
	i := rec.expect(t, 0, "", ServiceDown, ServiceUp)
	rec.expect(t, i, "R", ReaderAdded)
	if n := rec.count(0, "", ServiceDown); n != 1 {
		t.Errorf("%d ServiceDown events for one outage, want 1", n)
	}
	ms := time.Millisecond
	want := []time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5000 * ms, 5000 * ms}
	if got := clk.Waits(); !slices.Equal(got, want) {
		t.Errorf("back-off waits = %v, want %v", got, want)
	}
	e := rec.all()[rec.next(t, 0, "ServiceDown", func(e Event) bool { return e.Kind == ServiceDown })]
	if !errors.Is(e.Err, scard.ErrNoService) {
		t.Errorf("ServiceDown error = %v, want scard.ErrNoService", e.Err)
	}
}

func TestMonitorCustomBackoff(t *testing.T) {
	f := newFake()
	f.establishErrs = 4
	m, rec, clk := fakeMonitor(f, Options{
		OnCard:     echoOnCard(new(atomic.Int32)),
		MinBackoff: time.Second,
		MaxBackoff: 3 * time.Second,
	})
	runMonitor(t, m)
	rec.expect(t, 0, "", ServiceDown, ServiceUp)
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
	if got := clk.Waits(); !slices.Equal(got, want) {
		t.Errorf("back-off waits = %v, want %v", got, want)
	}
}

// TestMonitorServiceLost: pcscd dies while a card is in the reader: the
// loss is reported once with the reader and card removed, the context is
// re-established with a back-off that starts again from the minimum, and
// the card still there is read again.
func TestMonitorServiceLost(t *testing.T) {
	f := newFake("R")
	f.insert("R", cieATR, nil)
	var calls atomic.Int32
	m, rec, clk := fakeMonitor(f, Options{OnCard: echoOnCard(&calls)})
	runMonitor(t, m)
	i := rec.expect(t, 0, "R", ReadDone)

	f.kill(3)
	i = rec.expect(t, i, "", ServiceDown)
	i = rec.expect(t, i, "R", CardRemoved, ReaderRemoved)
	i = rec.expect(t, i, "", ServiceUp)
	rec.expect(t, i, "R", ReaderAdded, CardPresent, ReadDone)
	if n := rec.count(0, "", ServiceDown); n != 1 {
		t.Errorf("%d ServiceDown events for one outage, want 1; events:\n%s", n, rec.dump())
	}
	e := rec.all()[rec.next(t, 0, "ServiceDown", func(e Event) bool { return e.Kind == ServiceDown })]
	if !errors.Is(e.Err, scard.ErrCommError) {
		t.Errorf("ServiceDown error = %v, want scard.ErrCommError", e.Err)
	}
	ms := time.Millisecond
	if got, want := clk.Waits(), []time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms}; !slices.Equal(got, want) {
		t.Errorf("back-off waits = %v, want %v", got, want)
	}
	if calls.Load() != 2 {
		t.Errorf("OnCard called %d times, want 2", calls.Load())
	}
}

// TestMonitorConnectRefused: another program holds the card exclusively:
// the read fails once (no shared fallback, no retry) and the next
// presentation is read.
func TestMonitorConnectRefused(t *testing.T) {
	f := newFake("R")
	f.insert("R", cieATR, nil)
	f.hold("R", true)
	var calls atomic.Int32
	m, rec, _ := fakeMonitor(f, Options{OnCard: echoOnCard(&calls)})
	runMonitor(t, m)
	i := rec.expect(t, 0, "R", CardPresent, ReadFailed)
	e := rec.all()[i-1]
	if !errors.Is(e.Err, scard.ErrSharingViolation) {
		t.Errorf("ReadFailed error = %v, want scard.ErrSharingViolation", e.Err)
	}
	f.touch("R")
	f.remove("R")
	i = rec.expect(t, i, "R", CardRemoved)
	f.insert("R", cieATR, nil)
	rec.expect(t, i, "R", CardPresent, ReadDone)
	if calls.Load() != 1 {
		t.Errorf("OnCard called %d times, want 1", calls.Load())
	}
	if n := rec.count(0, "R", ReadFailed); n != 1 {
		t.Errorf("%d ReadFailed events, want 1", n)
	}
}

func TestMonitorOnCardError(t *testing.T) {
	f := newFake("R")
	f.insert("R", cieATR, nil)
	errBad := errors.New("not a CIE")
	var calls atomic.Int32
	m, rec, _ := fakeMonitor(f, Options{OnCard: func(context.Context, string, reader.Transmitter) error {
		if calls.Add(1) == 1 {
			return errBad
		}
		return nil
	}})
	runMonitor(t, m)
	i := rec.expect(t, 0, "R", ReadFailed)
	if e := rec.all()[i-1]; !errors.Is(e.Err, errBad) {
		t.Errorf("ReadFailed error = %v, want %v", e.Err, errBad)
	}
	f.remove("R")
	f.insert("R", cieATR, nil)
	rec.expect(t, i, "R", ReadDone)
}

// TestMonitorReadersConcurrent: a slow read on one reader does not hold up
// the other reader.
func TestMonitorReadersConcurrent(t *testing.T) {
	f := newFake("slow", "fast")
	release := make(chan struct{})
	m, rec, _ := fakeMonitor(f, Options{OnCard: func(ctx context.Context, name string, _ reader.Transmitter) error {
		if name == "slow" {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return nil
	}})
	runMonitor(t, m)
	f.insert("slow", cieATR, nil)
	rec.expect(t, 0, "slow", CardPresent)
	f.insert("fast", cieATR, nil)
	rec.expect(t, 0, "fast", ReadDone)
	if n := rec.count(0, "slow", ReadDone); n != 0 {
		t.Fatalf("slow read finished before release")
	}
	close(release)
	rec.expect(t, 0, "slow", ReadDone)
}

func TestMonitorMatch(t *testing.T) {
	f := newFake("door 1", "desk")
	f.insert("door 1", cieATR, nil)
	f.insert("desk", cieATR, nil)
	var seen sync.Map
	m, rec, _ := fakeMonitor(f, Options{
		Match: func(name string) bool { return name == "desk" },
		OnCard: func(_ context.Context, name string, _ reader.Transmitter) error {
			seen.Store(name, true)
			return nil
		},
	})
	runMonitor(t, m)
	rec.expect(t, 0, "desk", ReaderAdded, ReadDone)
	for _, e := range rec.all() {
		if e.Reader == "door 1" {
			t.Errorf("event for an unmatched reader: %v", e)
		}
	}
	if _, ok := seen.Load("door 1"); ok {
		t.Error("unmatched reader read")
	}
}

// TestMonitorCancel: the fake never times out a wait, so Run returning
// proves the wait is cancelled when ctx ends; a read in progress sees its
// ctx cancelled and Run waits for it.
func TestMonitorCancel(t *testing.T) {
	f := newFake("R", "S")
	f.insert("R", cieATR, nil)
	entered := make(chan struct{})
	var finished atomic.Bool
	m, rec, _ := fakeMonitor(f, Options{OnCard: func(ctx context.Context, _ string, _ reader.Transmitter) error {
		close(entered)
		<-ctx.Done()
		finished.Store(true)
		return ctx.Err()
	}})
	stop := runMonitor(t, m)
	<-entered
	rec.expect(t, 0, "S", ReaderAdded)
	stop()
	if !finished.Load() {
		t.Error("Run returned before OnCard did")
	}
}

// TestMonitorIdle: a Monitor with nothing happening waits in
// GetStatusChange instead of spinning.
func TestMonitorIdle(t *testing.T) {
	f := newFake("R")
	f.insert("R", cieATR, nil)
	m, rec, _ := fakeMonitor(f, Options{OnCard: echoOnCard(new(atomic.Int32))})
	runMonitor(t, m)
	rec.expect(t, 0, "R", ReadDone)
	before := m.statusCalls.Load()
	time.Sleep(200 * time.Millisecond)
	if n := m.statusCalls.Load() - before; n > 2 {
		t.Errorf("%d GetStatusChange calls in 200 ms with nothing happening", n)
	}
}

func TestMonitorRunErrors(t *testing.T) {
	if err := NewMonitor(Options{}).Run(context.Background()); !errors.Is(err, ErrNoOnCard) {
		t.Errorf("Run without OnCard = %v, want ErrNoOnCard", err)
	}
	f := newFake()
	m, rec, _ := fakeMonitor(f, Options{OnCard: echoOnCard(new(atomic.Int32))})
	runMonitor(t, m)
	rec.expect(t, 0, "", ServiceUp)
	if err := m.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
}

func TestEventString(t *testing.T) {
	tests := []struct {
		e    Event
		want string
	}{
		{Event{Kind: ServiceUp}, "ServiceUp"},
		{Event{Kind: CardPresent, Reader: "R", ATR: []byte{0x3B, 0x80}}, `CardPresent "R" atr=3B80`},
		{Event{Kind: ReadFailed, Reader: "R", Err: errors.New("boom"), Duration: time.Second}, `ReadFailed "R" in 1s: boom`},
		{Event{Kind: EventKind(99)}, "EventKind(99)"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
