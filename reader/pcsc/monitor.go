package pcsc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebfe/scard"

	"github.com/varco-access/varco/reader"
)

// pnpReader is the pseudo-reader whose state changes when a reader is
// added or removed (PC/SC part 5, and pcsc-lite's PnP notification).
const pnpReader = `\\?PnP?\Notification`

// statusTimeout bounds each GetStatusChange wait. The Monitor does not rely
// on it to stop (it cancels the call when ctx ends); it only re-lists the
// readers at this pace in case a PnP notification was missed.
const statusTimeout = 5 * time.Second

// cancelRetry paces repeated Cancel calls while Run stops: SCardCancel only
// interrupts a GetStatusChange that is already waiting, so one call can
// fall in the gap before the next wait starts.
const cancelRetry = 20 * time.Millisecond

// Default back-off for re-establishing the PC/SC context.
const (
	DefaultMinBackoff = 50 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event.
const (
	// ReaderAdded: a reader appeared (or was there when the Monitor
	// connected to pcscd).
	ReaderAdded EventKind = iota + 1
	// ReaderRemoved: a reader went away, or pcscd did.
	ReaderRemoved
	// CardPresent: a card was presented; ATR is set. A read follows.
	CardPresent
	// CardRemoved: the card left the reader.
	CardRemoved
	// ServiceDown: pcscd is not reachable; Err says why. Reported once per
	// outage, including when pcscd is not running at start.
	ServiceDown
	// ServiceUp: the Monitor has a PC/SC context, at start or after
	// ServiceDown.
	ServiceUp
	// ReadDone: OnCard returned nil.
	ReadDone
	// ReadFailed: connecting failed or OnCard returned an error (Err).
	ReadFailed
)

var kindNames = [...]string{
	ReaderAdded:   "ReaderAdded",
	ReaderRemoved: "ReaderRemoved",
	CardPresent:   "CardPresent",
	CardRemoved:   "CardRemoved",
	ServiceDown:   "ServiceDown",
	ServiceUp:     "ServiceUp",
	ReadDone:      "ReadDone",
	ReadFailed:    "ReadFailed",
}

// String returns the kind's name, e.g. "CardPresent".
func (k EventKind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is something the Monitor saw or did.
type Event struct {
	Time   time.Time // from Options.Clock
	Kind   EventKind
	Reader string // empty for ServiceDown and ServiceUp
	ATR    []byte // CardPresent
	Err    error  // ServiceDown, ReadFailed
	// Duration is, for ReadDone and ReadFailed, the time from the start
	// of the connection to the end of the disconnection.
	Duration time.Duration
}

// String formats e for logs, e.g. "CardPresent "Virtual PCD 00 00" atr=3B8B...".
func (e Event) String() string {
	s := e.Kind.String()
	if e.Reader != "" {
		s += fmt.Sprintf(" %q", e.Reader)
	}
	if e.ATR != nil {
		s += fmt.Sprintf(" atr=%X", e.ATR)
	}
	if e.Kind == ReadDone || e.Kind == ReadFailed {
		s += " in " + e.Duration.String()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Clock is the time source of the Monitor: event times and back-off waits.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configure a Monitor. Only OnCard is required; zero values of the
// other fields mean the documented defaults.
type Options struct {
	// OnCard is called, in a goroutine of the card's reader, with each
	// card presented, connected in exclusive mode. It must return when ctx
	// ends (Run waits for it) and must not use card after returning: the
	// Monitor then disconnects, resetting the card. Its error is reported
	// in a ReadFailed event. Readers are read concurrently.
	OnCard func(ctx context.Context, readerName string, card reader.Transmitter) error

	// OnEvent receives every Event, one call at a time, from the Monitor's
	// goroutines. It must not block for long: it holds up the reader loop.
	// Nil discards events.
	//
	// A read's ReadDone or ReadFailed comes after its CardPresent, but
	// from the reader's own goroutine: a read cut short because the card
	// or the reader went away (or pcscd did) may report before or after
	// the CardRemoved and ReaderRemoved (or ServiceDown) that caused it.
	OnEvent func(Event)

	// Match selects the readers to watch. Nil watches every reader.
	Match func(readerName string) bool

	// MinBackoff and MaxBackoff bound the wait before re-establishing the
	// PC/SC context after pcscd went away: it starts at MinBackoff and
	// doubles up to MaxBackoff. Defaults: DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration

	// Clock defaults to the system clock.
	Clock Clock
}

// Monitor watches PC/SC readers and reads each card presented once per
// presentation. Create it with NewMonitor and call Run.
type Monitor struct {
	opts      Options
	establish establishFunc
	running   atomic.Bool
	evMu      sync.Mutex // serialises OnEvent

	statusCalls atomic.Int64 // GetStatusChange calls, for tests
}

// NewMonitor returns a Monitor over the system's PC/SC service.
func NewMonitor(opts Options) *Monitor {
	return newMonitor(opts, establishSCard)
}

func newMonitor(opts Options, est establishFunc) *Monitor {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	return &Monitor{opts: opts, establish: est}
}

// Run watches the readers until ctx ends, then waits for the reads in
// progress and returns nil. It returns an error at once only when
// Options.OnCard is nil or Run is already running.
//
// Run never gives up on pcscd: when a PC/SC call fails the way a stopped
// or restarted pcscd makes it fail, Run reports ServiceDown (and every
// reader removed), releases its context and establishes a new one after a
// back-off, then reports ServiceUp.
func (m *Monitor) Run(ctx context.Context) error {
	if m.opts.OnCard == nil {
		return ErrNoOnCard
	}
	if !m.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer m.running.Store(false)

	r := &runState{m: m, ctx: ctx, slots: make(map[string]*slot)}
	defer r.wg.Wait()     // second: the reads in progress
	defer r.stopReaders() // first: cancel them

	const (
		unknown = iota
		up
		down
	)
	service := unknown
	backoff := m.opts.MinBackoff
	for ctx.Err() == nil {
		c, err := m.establish()
		if err != nil {
			if service != down {
				m.emit(Event{Kind: ServiceDown, Err: fmt.Errorf("pcsc: establish context: %w", err)})
				service = down
			}
		} else {
			if service != up {
				m.emit(Event{Kind: ServiceUp})
				service = up
			}
			progressed, err := r.watch(c)
			if ctx.Err() != nil {
				// Stopping: let the reads in progress disconnect their
				// cards before this context is released. A CI run crashed
				// (SIGSEGV inside libpcsclite's SCardDisconnect) while
				// the watch context was being cancelled and released on
				// another thread; keep the library's calls apart here.
				r.stopReaders()
				r.wg.Wait()
				c.Release()
				break
			}
			c.Release()
			m.emit(Event{Kind: ServiceDown, Err: err})
			service = down
			r.dropReaders()
			if progressed {
				backoff = m.opts.MinBackoff
			}
		}
		if !r.sleep(backoff) {
			break
		}
		backoff = min(2*backoff, m.opts.MaxBackoff)
	}
	return nil
}

func (m *Monitor) emit(e Event) {
	if m.opts.OnEvent == nil {
		return
	}
	m.evMu.Lock()
	defer m.evMu.Unlock()
	e.Time = m.opts.Clock.Now()
	m.opts.OnEvent(e)
}

// runState is the state of one Run. slots and order belong to Run's
// goroutine; the reader goroutines only read slot.name and slot.gen.
type runState struct {
	m     *Monitor
	ctx   context.Context
	wg    sync.WaitGroup
	slots map[string]*slot
	order []string // watched readers, in ListReaders order
}

// slot is one watched reader.
type slot struct {
	name    string
	state   scard.StateFlag // last event state: the next CurrentState
	present bool
	counter uint16 // pcscd's insertion/removal counter at presentation
	// gen numbers presentations; it moves on every arrival and removal
	// so a queued read of a card that already left is dropped.
	gen    atomic.Uint64
	kicks  chan kick // to the reader's goroutine; capacity 1
	cancel context.CancelFunc
}

// kick asks the reader's goroutine to read presentation gen.
type kick struct {
	gen uint64
	atr []byte
}

func (r *runState) sleep(d time.Duration) bool {
	select {
	case <-r.ctx.Done():
		return false
	case <-r.m.opts.Clock.After(d):
		return true
	}
}

// watch runs the GetStatusChange loop on c until ctx ends (nil error) or a
// PC/SC call fails. progressed says whether any GetStatusChange succeeded,
// which resets the back-off.
func (r *runState) watch(c pcscContext) (progressed bool, err error) {
	stop := r.cancelOnDone(c)
	defer stop()

	pnp := scard.ReaderState{Reader: pnpReader, CurrentState: scard.StateUnaware}
	relist := true
	unknownReader := 0
	var states []scard.ReaderState
	for {
		if r.ctx.Err() != nil {
			return progressed, nil
		}
		if relist {
			names, err := c.ListReaders()
			if errors.Is(err, scard.ErrNoReadersAvailable) {
				names, err = nil, nil
			}
			if err != nil {
				if r.ctx.Err() != nil {
					return progressed, nil
				}
				return progressed, fmt.Errorf("pcsc: list readers: %w", err)
			}
			r.syncReaders(names)
			relist = false
		}
		states = append(states[:0], pnp)
		for _, name := range r.order {
			states = append(states, scard.ReaderState{Reader: name, CurrentState: r.slots[name].state})
		}
		r.m.statusCalls.Add(1)
		err := c.GetStatusChange(states, statusTimeout)
		switch {
		case err == nil:
		case errors.Is(err, scard.ErrTimeout):
			progressed, relist = true, true
			continue
		case errors.Is(err, scard.ErrCancelled) && r.ctx.Err() != nil:
			return progressed, nil
		case errors.Is(err, scard.ErrUnknownReader) && unknownReader < 3:
			// A reader left between ListReaders and this call
			// (pcsc-lite marks it StateUnknown instead; other
			// stacks fail the call).
			unknownReader++
			relist = true
			continue
		default:
			if r.ctx.Err() != nil {
				return progressed, nil
			}
			return progressed, fmt.Errorf("pcsc: get status change: %w", err)
		}
		progressed, unknownReader = true, 0
		if states[0].EventState&scard.StateChanged != 0 {
			relist = true
		}
		pnp.CurrentState = states[0].EventState &^ scard.StateChanged
		for _, st := range states[1:] {
			if r.update(st) {
				relist = true
			}
		}
	}
}

// cancelOnDone interrupts c's GetStatusChange when ctx ends. The returned
// function stops it and must be called before c is released.
func (r *runState) cancelOnDone(c pcscContext) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-done:
			return
		case <-r.ctx.Done():
		}
		// Real time on purpose: this paces retries of a C call, it is
		// not a timing the Monitor's logic depends on.
		t := time.NewTicker(cancelRetry)
		defer t.Stop()
		for {
			c.Cancel()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// update applies one reader's new state and reports whether the reader
// list must be read again.
func (r *runState) update(st scard.ReaderState) (relist bool) {
	s := r.slots[st.Reader]
	if s == nil {
		return false
	}
	ev := st.EventState &^ scard.StateChanged
	s.state = ev
	if ev&scard.StateUnknown != 0 {
		return true // the reader is gone
	}
	present := ev&scard.StatePresent != 0
	counter := uint16(ev >> 16)
	switch {
	case present && (!s.present || counter != s.counter):
		if s.present {
			// Removed and presented again between two waits.
			r.cardRemoved(s)
		}
		s.present, s.counter = true, counter
		g := s.gen.Add(1)
		atr := slices.Clone(st.Atr)
		r.m.emit(Event{Kind: CardPresent, Reader: s.name, ATR: atr})
		// Replace a read still queued for an older presentation.
		select {
		case <-s.kicks:
		default:
		}
		s.kicks <- kick{gen: g, atr: atr}
	case !present && s.present:
		r.cardRemoved(s)
	}
	return false
}

func (r *runState) cardRemoved(s *slot) {
	s.present = false
	s.gen.Add(1)
	r.m.emit(Event{Kind: CardRemoved, Reader: s.name})
}

// syncReaders makes the watched readers those of names that Match accepts.
func (r *runState) syncReaders(names []string) {
	var keep []string
	for _, n := range names {
		if n == pnpReader || (r.m.opts.Match != nil && !r.m.opts.Match(n)) || slices.Contains(keep, n) {
			continue
		}
		keep = append(keep, n)
	}
	for _, n := range r.order {
		if !slices.Contains(keep, n) {
			r.removeReader(n)
		}
	}
	for _, n := range keep {
		if r.slots[n] == nil {
			r.addReader(n)
		}
	}
	r.order = keep
}

func (r *runState) addReader(name string) {
	ctx, cancel := context.WithCancel(r.ctx)
	s := &slot{name: name, state: scard.StateUnaware, kicks: make(chan kick, 1), cancel: cancel}
	r.slots[name] = s
	r.m.emit(Event{Kind: ReaderAdded, Reader: name})
	r.wg.Add(1)
	go r.readLoop(ctx, s)
}

func (r *runState) removeReader(name string) {
	s := r.slots[name]
	if s.present {
		r.cardRemoved(s)
	}
	s.cancel()
	delete(r.slots, name)
	r.m.emit(Event{Kind: ReaderRemoved, Reader: name})
}

// dropReaders reports every reader removed: they went with the context.
func (r *runState) dropReaders() {
	for _, n := range r.order {
		r.removeReader(n)
	}
	r.order = nil
}

// stopReaders cancels the readers' goroutines without events: Run is
// returning.
func (r *runState) stopReaders() {
	for _, s := range r.slots {
		s.cancel()
	}
}

// readLoop is a reader's goroutine: it reads each presentation it is
// kicked for, one at a time, so a slow card on one reader never delays
// another reader.
func (r *runState) readLoop(ctx context.Context, s *slot) {
	defer r.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case k := <-s.kicks:
			if ctx.Err() != nil {
				return
			}
			if s.gen.Load() != k.gen {
				continue // that card has left already
			}
			r.read(ctx, s.name, k.atr)
		}
	}
}

// read connects to the card in readerName, runs OnCard and disconnects.
//
// It uses a context of its own: pcsc-lite serialises the calls on one
// context, and the watching context is busy in GetStatusChange.
//
// It disconnects with ResetCard rather than LeaveCard: the next session
// (the next presentation, or another program) starts from a card with no
// application selected and no key chosen by our MSE SET, and nothing of
// this session's state lingers on the card. The reset costs a round trip
// after OnCard has returned, off the door's critical path, and does not
// move pcscd's insertion counter, so the card is not read again.
func (r *runState) read(ctx context.Context, readerName string, atr []byte) {
	m := r.m
	start := m.opts.Clock.Now()
	done := func(err error) {
		e := Event{Kind: ReadDone, Reader: readerName, Duration: m.opts.Clock.Now().Sub(start)}
		if err != nil {
			e.Kind, e.Err = ReadFailed, err
		}
		m.emit(e)
	}
	c, err := m.establish()
	if err != nil {
		done(fmt.Errorf("pcsc: establish context to read %q: %w", readerName, err))
		return
	}
	defer c.Release()
	h, err := c.Connect(readerName, scard.ShareExclusive, scard.ProtocolAny)
	if err != nil {
		done(fmt.Errorf("pcsc: connect %q: %w", readerName, mapError(err)))
		return
	}
	card := newCard(h, readerName, atr)
	err = m.opts.OnCard(ctx, readerName, card)
	// A failed disconnect does not undo a read that succeeded; releasing
	// the context frees the handle in pcscd anyway.
	_ = card.Close(scard.ResetCard)
	done(err)
}
