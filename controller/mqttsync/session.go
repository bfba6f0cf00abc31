package mqttsync

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/door"
	"github.com/varco-access/varco/controller/metrics"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/wire"
)

// Door is what a session needs of the door it syncs: *door.Door.
type Door interface {
	ID() string
	Mode() varco.DoorMode
	SetMode(varco.DoorMode) error
	// Grant releases the strike once (unlock_once); false in lockdown.
	Grant() bool
	State() door.State
}

var _ Door = (*door.Door)(nil)

// Session defaults (Options).
const (
	DefaultBatchEvents    = 500
	DefaultBatchBytes     = 256 << 10
	DefaultAckTimeout     = 30 * time.Second
	DefaultAckTimeoutMin  = 5 * time.Second
	DefaultStatusInterval = time.Second
	DefaultEventEvery     = time.Minute
	DefaultSyncTimeout    = time.Minute
	DefaultSyncEvery      = time.Hour
	DefaultSyncRetry      = 5 * time.Second
	// ShutdownTimeout bounds the wait for the broker to take the offline
	// status before DISCONNECT.
	ShutdownTimeout = 2 * time.Second
)

// SyncReconnect and SyncPeriodic are the reasons of the sync requests a
// door sends after a reconnect (the first connection says
// wire.SyncBoot) and every Options.SyncEvery.
const (
	SyncReconnect = "reconnect"
	SyncPeriodic  = "periodic"
)

// Options configure a Session. Site, SiteKey, Door, Store, Transport and
// Emit are required; zero tuning fields take their defaults.
type Options struct {
	Site    string
	SiteKey ed25519.PublicKey // verifies every admin-to-door message
	Door    Door
	Store   *store.Store
	// Transport is the door's own MQTT session; the Session subscribes
	// to the door's admin-to-door topics on it.
	Transport Transport
	// Emit stores a door event in the outbox (the controller's emit path,
	// which then calls Notify). It must not block for long.
	Emit func(varco.Event)
	// ClockTrusted reports whether the clock is trusted; nil means never
	// (unlock_once is refused while it is not).
	ClockTrusted func() bool
	// SetLocation is called with the door's schedule zone when the admin
	// changes it; nil ignores it.
	SetLocation func(*time.Location)
	// Clock drives the status, the batch and sync timeouts and the event
	// rate limit; nil is the system clock.
	Clock   door.Clock
	Metrics *metrics.Metrics // nil records nothing
	Log     *slog.Logger
	// Version is the varco-door build, for Status.Version.
	Version string

	// BatchEvents and BatchBytes bound an events batch (500 events,
	// 256 KiB of event JSON).
	BatchEvents int
	BatchBytes  int
	// AckTimeout is the longest a batch waits for the admin's ack before
	// it is sent again (30s). The first wait after a connect or an ack is
	// AckTimeoutMin (5s), doubled at each batch sent again up to
	// AckTimeout: a batch the broker took while the admin was not
	// subscribed (both coming back from an outage) goes again within
	// seconds, and a slow admin is not flooded.
	AckTimeout    time.Duration
	AckTimeoutMin time.Duration
	// StatusInterval is the least time between two status messages, and
	// the period at which the door's state is looked at (1s).
	StatusInterval time.Duration
	// EventEvery is the least time between two sync events of one
	// rejection reason (1m); the ones in between are only counted.
	EventEvery time.Duration
	// SyncTimeout is how long a requested update or an incomplete
	// snapshot may take before the door asks again (1m).
	SyncTimeout time.Duration
	// SyncEvery is the period of the sync request a connected door sends
	// even when nothing happens (1h), so the admin's answer keeps the
	// last-sync time, and with it max_offline, fresh. Negative disables.
	SyncEvery time.Duration
	// SyncRetry is the least time between two sync requests at one
	// revision, except on connect and on the resync command (5s).
	SyncRetry time.Duration
	// Assembler bounds snapshot assembly; nil means wire's defaults.
	Assembler *wire.AssemblerOptions
}

// Session syncs one door with the admin over its own MQTT session: it
// applies the signed allowlist updates and commands the admin sends,
// drains the door's outbox, and publishes the door's status. Create it
// with New and Run it; its methods are safe for concurrent use.
type Session struct {
	o        Options
	door     string
	verifier *wire.Verifier
	asm      *wire.Assembler
	log      *slog.Logger
	limit    *limiter

	wake    chan struct{} // Notify: new events
	acked   chan struct{} // an ack was applied
	conn    chan bool     // transport up/down
	pubDone chan pubResult
	do      chan func()   // calls run on the loop: ticks, tests
	stopped chan struct{} // closed when Run's loop has ended

	// Shared by the message handler and the loop.
	syncMu     sync.Mutex
	lastReq    time.Time // when the last sync request went out
	lastReqRev uint64    // at which revision
	wantRev    uint64    // the highest revision the admin announced
	lastChunk  time.Time // when the last snapshot chunk arrived
	zone       string    // the door's zone as last applied
	connected  atomic.Bool
	everUp     atomic.Bool

	// Owned by the loop.
	gen        uint64 // connection generation
	sent       uint64 // highest seq published on this connection
	inflight   *batch
	ackWait    time.Duration // how long the batch in flight waits for its ack
	lastStatus statusKey
	lastPeriod time.Time
}

// batch is the events batch waiting for the admin's ack.
type batch struct {
	first, last uint64
	at          time.Time
	gen         uint64
}

type pubResult struct {
	gen uint64
	err error
}

// statusKey is what makes a new status worth sending.
type statusKey struct {
	rev     uint64
	outbox  int // order of magnitude
	trusted bool
	mode    varco.DoorMode
	state   string
}

// New checks o and returns a Session subscribed on o.Transport to the
// door's admin-to-door topics.
func New(o Options) (*Session, error) {
	switch {
	case !wire.ValidID(o.Site):
		return nil, fmt.Errorf("mqttsync: site %q is not a valid id", o.Site)
	case o.Door == nil || !wire.ValidID(o.Door.ID()):
		return nil, errors.New("mqttsync: no door, or a door id that is not valid")
	case len(o.SiteKey) != ed25519.PublicKeySize:
		return nil, fmt.Errorf("mqttsync: site key is %d bytes, want %d", len(o.SiteKey), ed25519.PublicKeySize)
	case o.Store == nil || o.Transport == nil || o.Emit == nil:
		return nil, errors.New("mqttsync: Store, Transport and Emit are required")
	}
	setDefault(&o.BatchEvents, DefaultBatchEvents)
	setDefault(&o.BatchBytes, DefaultBatchBytes)
	setDefault(&o.AckTimeout, DefaultAckTimeout)
	setDefault(&o.AckTimeoutMin, DefaultAckTimeoutMin)
	o.AckTimeoutMin = min(o.AckTimeoutMin, o.AckTimeout)
	setDefault(&o.StatusInterval, DefaultStatusInterval)
	setDefault(&o.EventEvery, DefaultEventEvery)
	setDefault(&o.SyncTimeout, DefaultSyncTimeout)
	setDefault(&o.SyncRetry, DefaultSyncRetry)
	if o.SyncEvery == 0 {
		o.SyncEvery = DefaultSyncEvery
	}
	if o.Clock == nil {
		o.Clock = door.SystemClock()
	}
	if o.ClockTrusted == nil {
		o.ClockTrusted = func() bool { return false }
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	id := o.Door.ID()
	settings, err := o.Store.DoorSettings(id)
	if err != nil {
		return nil, fmt.Errorf("mqttsync: door %s: %w", id, err)
	}
	s := &Session{
		o:        o,
		door:     id,
		verifier: wire.NewVerifier(o.SiteKey, o.Site, id),
		asm:      wire.NewAssembler(o.Assembler),
		log:      o.Log.With("door", id),
		limit:    newLimiter(o.EventEvery),
		wake:     make(chan struct{}, 1),
		acked:    make(chan struct{}, 1),
		conn:     make(chan bool),
		pubDone:  make(chan pubResult),
		do:       make(chan func()),
		stopped:  make(chan struct{}),
		zone:     settings.TimeZone,
	}
	for _, f := range wire.DoorFilters(o.Site, id) {
		o.Transport.Subscribe(f, s.handle)
	}
	o.Metrics.AddSyncDoor(id)
	if _, synced, err := o.Store.Revision(id); err == nil {
		o.Metrics.SetLastSync(id, synced)
	}
	return s, nil
}

func setDefault[T int | time.Duration](p *T, def T) {
	if *p <= 0 {
		*p = def
	}
}

// WillFor returns the Last Will topic and payload of a door's session:
// wire.OfflineWill, retained on its status topic.
func WillFor(site, door string) (topic string, payload []byte, err error) {
	payload, err = wire.OfflineWill(site, door)
	return wire.Topic(site, door, wire.KindStatus), payload, err
}

// ClientID returns the fixed MQTT client id of a door's session: its
// identity, "door:<id>" (wire/sitepki.DoorIdentity).
func ClientID(door string) string { return "door:" + door }

// Notify tells the session that the door's outbox has new events. It
// never blocks: the controller's emit path calls it.
func (s *Session) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Connected reports whether the door's MQTT session is up.
func (s *Session) Connected() bool { return s.connected.Load() }

// Run runs the transport and the session until ctx ends; then it
// publishes the offline status (retained) and disconnects cleanly, so the
// admin sees the door go offline without waiting for the Last Will.
func (s *Session) Run(ctx context.Context) error {
	// stopped is closed as soon as the loop ends, before the transport
	// is waited for: a transport that reports its connection lost while
	// stopping must not wait for a loop that is gone.
	var once sync.Once
	end := func() { once.Do(func() { close(s.stopped) }) }
	defer end()
	tctx, tcancel := context.WithCancel(context.Background())
	terr := make(chan error, 1)
	go func() {
		terr <- s.o.Transport.Run(tctx, func() { s.signalConn(true) }, func(error) { s.signalConn(false) })
	}()
	// The tick is handed to the loop as a call, synchronously: with a
	// fake clock, the test's Advance returns once the loop has it.
	var arm func()
	tick := func() { s.onTick(); arm() }
	arm = func() {
		s.o.Clock.AfterFunc(s.o.StatusInterval, func() {
			select {
			case s.do <- tick:
			case <-s.stopped:
			}
		})
	}
	arm()
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			end()
			tcancel()
			return <-terr
		case err := <-terr:
			end()
			tcancel()
			return err
		case up := <-s.conn:
			if up {
				s.onUp()
			} else {
				s.onDown()
			}
		case <-s.wake:
			s.drain()
		case <-s.acked:
			s.onAcked()
		case r := <-s.pubDone:
			s.onPublished(r)
		case f := <-s.do:
			f()
		}
	}
}

// signalConn hands a transport up/down to the loop; after the loop ended
// it is dropped.
func (s *Session) signalConn(up bool) {
	select {
	case s.conn <- up:
	case <-s.stopped:
	}
}

func (s *Session) onUp() {
	now := s.o.Clock.Now()
	s.gen++
	s.connected.Store(true)
	s.o.Metrics.SetConnected(s.door, true)
	s.inflight = nil
	s.ackWait = s.o.AckTimeoutMin
	s.sent, _ = s.o.Store.Acked(s.door)
	s.o.Metrics.SetOutboxInFlight(s.door, 0)
	s.log.Info("mqtt session up")
	s.publishStatus(true)
	reason := SyncReconnect
	if !s.everUp.Swap(true) {
		reason = wire.SyncBoot
	}
	s.requestSync(reason, true)
	s.lastPeriod = now
	s.drain()
}

func (s *Session) onDown() {
	s.gen++
	s.connected.Store(false)
	s.o.Metrics.SetConnected(s.door, false)
	s.inflight = nil
	s.o.Metrics.SetOutboxInFlight(s.door, 0)
	s.log.Info("mqtt session down")
}

// shutdown publishes the offline status while the link is up.
func (s *Session) shutdown() {
	if !s.connected.Load() {
		return
	}
	st := s.status()
	st.Online = false
	c := s.publish(wire.KindStatus, st)
	wait := make(chan struct{})
	t := s.o.Clock.AfterFunc(ShutdownTimeout, func() { close(wait) })
	defer t.Stop()
	select {
	case <-c.Done():
		if err := c.Err(); err != nil {
			s.log.Warn("offline status not delivered", "err", err)
		}
	case <-wait:
		s.log.Warn("offline status not acknowledged in time")
	}
	s.connected.Store(false)
	s.o.Metrics.SetConnected(s.door, false)
}

// publish encodes body as a door-to-admin message of kind k and publishes
// it (QoS 1, retained for status).
func (s *Session) publish(k wire.Kind, body any) Completion {
	msg, err := wire.Encode(k, s.o.Site, s.door, body)
	if err != nil {
		s.log.Error("encode", "kind", k, "err", err)
		return Completed(err)
	}
	s.o.Metrics.SyncMessage(s.door, metrics.Out, string(k))
	return s.o.Transport.Publish(wire.Topic(s.o.Site, s.door, k), k.QoS(), k.Retained(), msg)
}

// requestSync sends SyncRequest{Rev: current}. Unless force, a request at
// the same revision less than SyncRetry after the last one is skipped: a
// flood of gaps or bad chunks asks once.
func (s *Session) requestSync(reason string, force bool) {
	rev, _, err := s.o.Store.Revision(s.door)
	if err != nil {
		s.log.Error("sync request: revision", "err", err)
		return
	}
	now := s.o.Clock.Now()
	s.syncMu.Lock()
	if !force && rev == s.lastReqRev && !s.lastReq.IsZero() && now.Sub(s.lastReq) < s.o.SyncRetry {
		s.syncMu.Unlock()
		return
	}
	s.lastReq, s.lastReqRev = now, rev
	s.syncMu.Unlock()
	if !s.connected.Load() {
		return // the connect sends one
	}
	s.log.Debug("sync request", "rev", rev, "reason", reason)
	s.publish(wire.KindSync, wire.SyncRequest{Rev: rev, Reason: reason})
}

// onTick runs every StatusInterval: status, batch and sync timeouts.
func (s *Session) onTick() {
	if !s.connected.Load() {
		return
	}
	now := s.o.Clock.Now()
	if b := s.inflight; b != nil && now.Sub(b.at) >= s.ackWait {
		s.log.Warn("events batch not acknowledged: sending again", "first", b.first, "last", b.last, "after", now.Sub(b.at))
		s.inflight = nil
		s.sent, _ = s.o.Store.Acked(s.door)
		s.ackWait = min(2*s.ackWait, s.o.AckTimeout)
	}
	s.drain()
	s.publishStatus(false)

	rev, _, _ := s.o.Store.Revision(s.door)
	s.syncMu.Lock()
	stalled := !s.lastChunk.IsZero() && now.Sub(s.lastChunk) >= s.o.SyncTimeout
	if stalled {
		s.lastChunk = time.Time{}
	}
	behind := s.wantRev > rev && now.Sub(s.lastReq) >= s.o.SyncTimeout
	s.syncMu.Unlock()
	switch {
	case stalled:
		if n, _ := s.asm.Pending(); n > 0 {
			s.asm.Reset()
			s.log.Warn("snapshot incomplete: asking again")
			s.requestSync(wire.SyncTimeout, true)
		}
	case behind:
		s.requestSync(wire.SyncTimeout, true)
	case s.o.SyncEvery > 0 && now.Sub(s.lastPeriod) >= s.o.SyncEvery:
		s.lastPeriod = now
		s.requestSync(SyncPeriodic, true)
	}
}

// status returns the door's current status (online).
func (s *Session) status() wire.Status {
	rev, _, _ := s.o.Store.Revision(s.door)
	n, _ := s.o.Store.Len(s.door)
	return wire.Status{
		Online:       true,
		Rev:          rev,
		OutboxLen:    n,
		ClockTrusted: s.o.ClockTrusted(),
		Version:      s.o.Version,
		Mode:         s.o.Door.Mode(),
		DoorState:    doorState(s.o.Door.State()),
		Time:         s.o.Clock.Now(),
	}
}

// publishStatus publishes the status when it changed (or always).
func (s *Session) publishStatus(always bool) {
	st := s.status()
	key := statusKey{rev: st.Rev, outbox: magnitude(st.OutboxLen), trusted: st.ClockTrusted, mode: st.Mode, state: st.DoorState}
	if !always && key == s.lastStatus {
		return
	}
	s.lastStatus = key
	s.publish(wire.KindStatus, st)
}

// magnitude buckets an outbox length coarsely (0, 1-9, 10-99, ...), so
// that a busy door does not publish a status for every event.
func magnitude(n int) int {
	m := 0
	for ; n > 0; n /= 10 {
		m++
	}
	return m
}

// doorState maps the door's state machine onto Status.DoorState.
func doorState(st door.State) string {
	switch st {
	case door.StateOpen:
		return wire.DoorOpen
	case door.StateForced:
		return wire.DoorForced
	case door.StateHeldOpen:
		return wire.DoorHeldOpen
	}
	return wire.DoorClosed
}
