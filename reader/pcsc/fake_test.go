package pcsc

import (
	"slices"
	"sync"
	"time"

	"github.com/ebfe/scard"
)

// fakePCSC is an in-memory pcscd for the Monitor's unit tests: readers can
// be unplugged, the service can die and come back, and every call is
// scripted. It follows pcsc-lite where the tests depend on it: an unknown
// reader is marked StateUnknown, the upper 16 bits of a reader's event
// state count insertions and removals, a dead service fails
// GetStatusChange with ErrCommError and the rest with ErrNoService, and
// Cancel only interrupts a GetStatusChange that is waiting. Unlike pcscd it
// never times out a GetStatusChange, so a Run that stops proves Cancel
// works.
type fakePCSC struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	up      bool
	epoch   int // moves when the service dies; older contexts are dead
	list    int // reader list version, reported by the PnP pseudo-reader
	readers []*fakeReader

	// establishErrs makes the next n establishes fail with ErrNoService;
	// when it reaches zero while the service is down, it comes back.
	establishErrs int
	establishes   int
	// unknownReaderErr makes GetStatusChange fail with ErrUnknownReader
	// for a missing reader, as some PC/SC stacks do.
	unknownReaderErr bool

	connects     []scard.ShareMode
	dispositions []scard.Disposition
}

type fakeReader struct {
	name      string
	present   bool
	counter   uint16
	insertion int // moves on every insertion: handles of older ones are stale
	atr       []byte
	card      func(apdu []byte) ([]byte, error)
	exclusive bool
	extra     scard.StateFlag // flags a test toggles to cause a spurious change
}

func newFake(readers ...string) *fakePCSC {
	f := &fakePCSC{changed: make(chan struct{}), up: true}
	for _, n := range readers {
		f.readers = append(f.readers, &fakeReader{name: n})
	}
	return f
}

// signal wakes waiting GetStatusChange calls; f.mu is held.
func (f *fakePCSC) signal() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakePCSC) reader(name string) *fakeReader {
	for _, r := range f.readers {
		if r.name == name {
			return r
		}
	}
	return nil
}

func (f *fakePCSC) addReader(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readers = append(f.readers, &fakeReader{name: name})
	f.list++
	f.signal()
}

func (f *fakePCSC) removeReader(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readers = slices.DeleteFunc(f.readers, func(r *fakeReader) bool { return r.name == name })
	f.list++
	f.signal()
}

// insert presents a card answering with card (nil: echo plus 90 00).
func (f *fakePCSC) insert(name string, atr []byte, card func([]byte) ([]byte, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reader(name)
	r.present, r.atr, r.card = true, atr, card
	r.counter++
	r.insertion++
	r.exclusive = false
	f.signal()
}

func (f *fakePCSC) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reader(name)
	r.present, r.atr = false, nil
	r.counter++
	r.exclusive = false
	f.signal()
}

// swap removes the card and presents another between two waits: the
// reader stays present, only the counter shows it.
func (f *fakePCSC) swap(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reader(name)
	r.counter += 2
	r.insertion++
	r.exclusive = false
	f.signal()
}

// touch changes a reader's state without a new card (as the in-use bits
// do when someone connects).
func (f *fakePCSC) touch(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reader(name).extra ^= scard.StateInuse
	f.signal()
}

// hold makes another program hold the card exclusively (or release it).
func (f *fakePCSC) hold(name string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reader(name).exclusive = on
}

// kill stops the service; it comes back after n failed establishes.
func (f *fakePCSC) kill(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.up = false
	f.epoch++
	f.establishErrs = n
	f.signal()
}

func (f *fakePCSC) establish() (pcscContext, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.establishes++
	if f.establishErrs > 0 {
		f.establishErrs--
		return nil, scard.ErrNoService
	}
	if !f.up {
		f.up = true
		f.epoch++
	}
	return &fakeCtx{f: f, epoch: f.epoch}, nil
}

func (f *fakePCSC) stats() (connects []scard.ShareMode, disp []scard.Disposition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.connects), slices.Clone(f.dispositions)
}

type fakeCtx struct {
	f       *fakePCSC
	epoch   int
	mu      sync.Mutex
	waiting chan struct{} // set while GetStatusChange waits; Cancel closes it
}

// dead reports whether the service this context talks to is gone; f.mu
// is held.
func (c *fakeCtx) dead() bool { return !c.f.up || c.epoch != c.f.epoch }

func (c *fakeCtx) ListReaders() ([]string, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if c.dead() {
		return nil, scard.ErrNoService
	}
	if len(c.f.readers) == 0 {
		return nil, scard.ErrNoReadersAvailable
	}
	var out []string
	for _, r := range c.f.readers {
		out = append(out, r.name)
	}
	return out, nil
}

func (c *fakeCtx) GetStatusChange(states []scard.ReaderState, _ time.Duration) error {
	for {
		c.f.mu.Lock()
		if c.dead() {
			c.f.mu.Unlock()
			return scard.ErrCommError
		}
		changed := false
		for i := range states {
			st := &states[i]
			cur := st.CurrentState &^ scard.StateChanged
			var ev scard.StateFlag
			var atr []byte
			if st.Reader == pnpReader {
				ev = scard.StateFlag(c.f.list << 16)
			} else if r := c.f.reader(st.Reader); r == nil {
				if c.f.unknownReaderErr {
					c.f.mu.Unlock()
					return scard.ErrUnknownReader
				}
				ev = scard.StateUnknown
				if cur&scard.StateUnknown != 0 {
					cur = ev // no news
				}
			} else {
				ev = scard.StateFlag(r.counter)<<16 | r.extra
				if r.present {
					ev |= scard.StatePresent
					atr = r.atr
				} else {
					ev |= scard.StateEmpty
				}
			}
			if ev != cur {
				changed = true
				st.EventState = ev | scard.StateChanged
			} else {
				st.EventState = ev
			}
			st.Atr = slices.Clone(atr)
		}
		if changed {
			c.f.mu.Unlock()
			return nil
		}
		wake := c.f.changed
		c.f.mu.Unlock()

		c.mu.Lock()
		cancel := make(chan struct{})
		c.waiting = cancel
		c.mu.Unlock()
		select {
		case <-wake:
		case <-cancel:
			return scard.ErrCancelled
		}
		c.mu.Lock()
		c.waiting = nil
		c.mu.Unlock()
	}
}

func (c *fakeCtx) Cancel() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting != nil {
		close(c.waiting)
		c.waiting = nil
	}
	return nil
}

func (c *fakeCtx) Connect(name string, mode scard.ShareMode, _ scard.Protocol) (cardHandle, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.connects = append(c.f.connects, mode)
	if c.dead() {
		return nil, scard.ErrNoService
	}
	r := c.f.reader(name)
	switch {
	case r == nil:
		return nil, scard.ErrUnknownReader
	case !r.present:
		return nil, scard.ErrNoSmartcard
	case r.exclusive:
		return nil, scard.ErrSharingViolation
	}
	r.exclusive = mode == scard.ShareExclusive
	return &fakeHandle{f: c.f, r: r, insertion: r.insertion, card: r.card}, nil
}

func (c *fakeCtx) Release() error { return nil }

type fakeHandle struct {
	f         *fakePCSC
	r         *fakeReader
	insertion int
	card      func([]byte) ([]byte, error)
}

// gone reports whether the card of this handle has left; f.mu is held.
func (h *fakeHandle) gone() bool {
	return h.f.reader(h.r.name) != h.r || !h.r.present || h.r.insertion != h.insertion
}

func (h *fakeHandle) Transmit(apdu []byte) ([]byte, error) {
	h.f.mu.Lock()
	gone := h.gone()
	h.f.mu.Unlock()
	if gone {
		return nil, scard.ErrRemovedCard
	}
	if h.card != nil {
		return h.card(apdu)
	}
	return append(slices.Clone(apdu), 0x90, 0x00), nil
}

func (h *fakeHandle) Disconnect(d scard.Disposition) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	h.f.dispositions = append(h.f.dispositions, d)
	if h.gone() {
		return scard.ErrRemovedCard
	}
	h.r.exclusive = false
	return nil
}

var (
	_ pcscContext = (*fakeCtx)(nil)
	_ cardHandle  = (*fakeHandle)(nil)
)

// fakeClock returns a new instant on every Now and fires every After at
// once, recording the durations asked for.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}
