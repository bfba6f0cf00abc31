package syncer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/wire"
)

// Transport is the broker connection the syncer needs.
type Transport interface {
	// Publish sends payload and returns once the broker has it (QoS 1) or
	// ctx ends.
	Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error
	// Subscribe delivers every message matching filter to h, in order,
	// one at a time.
	Subscribe(ctx context.Context, filter string, h func(topic string, payload []byte)) error
}

// Options configure a Syncer. Store, Site, Signer and Transport are
// required.
type Options struct {
	Store     admin.Store
	Site      string
	Signer    *wire.Signer
	Transport Transport
	// Debounce is the quiet time after a change before the syncer
	// publishes: each further change within it restarts the wait, up to
	// MaxDelay after the first, so a burst of writes becomes one delta
	// per door. Defaults 50 ms and 500 ms.
	Debounce time.Duration
	MaxDelay time.Duration
	// Poll is how often door revisions are checked without a Changed
	// call (writes by another admin process sharing the database).
	// Default 2 s.
	Poll time.Duration
	// ChunkBytes bounds a snapshot chunk. Default wire.DefaultChunkBytes.
	ChunkBytes int
	// CmdTTL is how long a command stays valid. Default 30 s.
	CmdTTL time.Duration
	// CSCAs are the trust anchors enrolment stations' cards are verified
	// against (reader.LoadCSCAs); with none, every card is refused with
	// a reason that says so.
	CSCAs []*x509.Certificate
	// EnrolTTL is how long a station has to answer an enrolment
	// challenge. Default DefaultEnrolTTL.
	EnrolTTL time.Duration
	Log      *slog.Logger
	Now      func() time.Time
}

// DoorStatus is what the syncer knows of a door from its retained status
// and Last Will.
type DoorStatus struct {
	Online       bool           `json:"online"`
	Rev          uint64         `json:"rev"`
	OutboxLen    int            `json:"outbox_len"`
	ClockTrusted bool           `json:"clock_trusted"`
	Mode         varco.DoorMode `json:"mode,omitempty"`
	DoorState    string         `json:"door_state,omitempty"`
	Version      string         `json:"version,omitempty"`
	// Seen is when the admin received the status.
	Seen time.Time `json:"seen"`
}

// Syncer publishes allowlists and ingests events for one site.
type Syncer struct {
	o     Options
	log   *slog.Logger
	nudge chan struct{}

	mu        sync.Mutex
	announced map[int64]int64 // door id → revision last sent as head
	status    map[string]DoorStatus
	cmdSeq    uint64
	enrol     map[string]*enrolSession // by session id

	wmu      sync.Mutex
	watchers map[chan Update]struct{}
}

// New checks o and returns a Syncer; Run starts it.
func New(o Options) (*Syncer, error) {
	switch {
	case o.Store == nil, o.Signer == nil, o.Transport == nil:
		return nil, errors.New("syncer: Store, Signer and Transport are required")
	case !wire.ValidID(o.Site):
		return nil, fmt.Errorf("syncer: site %q is not a valid id", o.Site)
	}
	if o.Debounce <= 0 {
		o.Debounce = 50 * time.Millisecond
	}
	if o.MaxDelay < o.Debounce {
		o.MaxDelay = max(10*o.Debounce, 500*time.Millisecond)
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.ChunkBytes <= 0 {
		o.ChunkBytes = wire.DefaultChunkBytes
	}
	if o.CmdTTL <= 0 {
		o.CmdTTL = 30 * time.Second
	}
	if o.EnrolTTL <= 0 {
		o.EnrolTTL = DefaultEnrolTTL
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Syncer{o: o, log: o.Log, nudge: make(chan struct{}, 1),
		announced: map[int64]int64{}, status: map[string]DoorStatus{}, enrol: map[string]*enrolSession{}}, nil
}

// Changed tells the syncer that door views may have moved. It never
// blocks.
func (s *Syncer) Changed() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

// Status returns the last status of the door with controller id door.
func (s *Syncer) Status(door string) (DoorStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.status[door]
	return st, ok
}

// Run subscribes to the doors' messages and publishes changes until ctx
// ends.
func (s *Syncer) Run(ctx context.Context) error {
	// Status last: once a retained status is seen, every other filter is
	// subscribed (tests wait on it).
	for _, k := range []wire.Kind{wire.KindSync, wire.KindEvents, wire.KindEnrollResult, wire.KindStatus} {
		filter := wire.Prefix + s.o.Site + "/door/+/" + string(k)
		if err := s.o.Transport.Subscribe(ctx, filter, func(topic string, payload []byte) { s.receive(ctx, topic, payload) }); err != nil {
			return fmt.Errorf("syncer: subscribe %s: %w", filter, err)
		}
	}
	// Announce every door's head at start: a door that is behind learns
	// it at once.
	if err := s.publishChanges(ctx, true); err != nil {
		s.log.Error("sync: publish heads", "err", err)
	}
	poll := time.NewTicker(s.o.Poll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.nudge:
			if !s.settle(ctx) {
				return nil
			}
		case <-poll.C:
		}
		if err := s.publishChanges(ctx, false); err != nil && ctx.Err() == nil {
			s.log.Error("sync: publish changes", "err", err)
		}
	}
}

// settle waits until no change came for Debounce, or MaxDelay passed;
// false when ctx ended.
func (s *Syncer) settle(ctx context.Context) bool {
	deadline := time.NewTimer(s.o.MaxDelay)
	defer deadline.Stop()
	quiet := time.NewTimer(s.o.Debounce)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return true
		case <-quiet.C:
			return true
		case <-s.nudge:
			quiet.Reset(s.o.Debounce)
		}
	}
}

// publishChanges sends a delta and a head to every door whose revision
// moved past what was announced (every door with all).
func (s *Syncer) publishChanges(ctx context.Context, all bool) error {
	doors, err := s.o.Store.ListDoors(ctx, 0)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range doors {
		s.mu.Lock()
		prev, known := s.announced[d.ID]
		s.mu.Unlock()
		switch {
		case !known || all:
			// Nothing is known of what the door holds: the head makes it
			// ask.
		case d.Revision > prev:
			if err := s.sendDelta(ctx, d, prev); err != nil {
				errs = append(errs, fmt.Errorf("door %s: %w", d.ControllerID, err))
				continue
			}
		default:
			continue
		}
		if err := s.sendHead(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("door %s: %w", d.ControllerID, err))
			continue
		}
		s.mu.Lock()
		s.announced[d.ID] = d.Revision
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}

func (s *Syncer) publish(ctx context.Context, door string, k wire.Kind, body any) error {
	msg, err := s.o.Signer.Seal(k, s.o.Site, door, body)
	if err != nil {
		return err
	}
	return s.o.Transport.Publish(ctx, wire.Topic(s.o.Site, door, k), k.QoS(), k.Retained(), msg)
}

func (s *Syncer) sendHead(ctx context.Context, d admin.Door) error {
	return s.publish(ctx, d.ControllerID, wire.KindHead, wire.Head{Rev: uint64(d.Revision), IssuedAt: s.o.Now().UTC()})
}

// sendDelta sends the door the change from revision from to its current
// one, or a snapshot when the store no longer has that delta.
func (s *Syncer) sendDelta(ctx context.Context, d admin.Door, from int64) error {
	dd, err := s.o.Store.DoorDelta(ctx, d.ID, from)
	if errors.Is(err, admin.ErrRevisionGone) {
		return s.sendSnapshot(ctx, d)
	} else if err != nil {
		return err
	}
	if dd.To <= dd.From {
		return nil // nothing new after all
	}
	delta := wire.Delta{From: uint64(dd.From), To: uint64(dd.To), Upserts: dd.Upserts, Deletes: dd.Deletes,
		Schedules: dd.Schedules, Holidays: dd.Holidays, Mode: dd.Mode, TimeZone: dd.TimeZone, IssuedAt: s.o.Now().UTC()}
	return s.publish(ctx, d.ControllerID, wire.KindGrants, delta)
}

// sendSnapshot sends the door's whole view in chunks.
func (s *Syncer) sendSnapshot(ctx context.Context, d admin.Door) error {
	v, err := s.o.Store.DoorView(ctx, d.ID)
	if err != nil {
		return err
	}
	scheds, hols := v.Schedules, v.Holidays
	if scheds == nil {
		scheds = []varco.Schedule{}
	}
	if hols == nil {
		hols = []varco.Holiday{}
	}
	chunks := wire.SplitSnapshot(wire.NewID(), uint64(v.Revision), v.Grants, scheds, hols, v.Mode, v.TimeZone, s.o.ChunkBytes)
	for _, c := range chunks {
		if err := s.publish(ctx, d.ControllerID, wire.KindSnapshot, c); err != nil {
			return err
		}
	}
	s.log.Info("sync: snapshot sent", "door", d.ControllerID, "rev", v.Revision, "grants", len(v.Grants), "chunks", len(chunks))
	return nil
}

// receive handles one door (or enrolment station) → admin message. The
// door is the one of the topic (the broker's ACL lets a door publish
// only under its own), never the payload's.
func (s *Syncer) receive(ctx context.Context, topic string, payload []byte) {
	site, door, k, err := wire.ParseTopic(topic)
	if err != nil || site != s.o.Site {
		s.log.Warn("sync: message on an unexpected topic", "topic", topic, "err", err)
		return
	}
	if len(payload) == 0 {
		return // a retained message being cleared
	}
	switch k {
	case wire.KindSync:
		var req wire.SyncRequest
		if err := wire.DecodeFor(s.o.Site, door, k, payload, &req); err != nil {
			s.log.Warn("sync: bad sync request", "door", door, "err", err)
			return
		}
		if err := s.answerSync(ctx, door, req); err != nil {
			s.log.Error("sync: answer sync request", "door", door, "rev", req.Rev, "err", err)
		}
	case wire.KindEvents:
		var b wire.EventsBatch
		if err := wire.DecodeFor(s.o.Site, door, k, payload, &b); err != nil {
			s.log.Warn("sync: bad events batch", "door", door, "err", err)
			return
		}
		if err := s.ingest(ctx, door, b); err != nil {
			// No ack: the door sends the batch again.
			s.log.Error("sync: store events", "door", door, "err", err)
		}
	case wire.KindStatus:
		var st wire.Status
		if err := wire.DecodeFor(s.o.Site, door, k, payload, &st); err != nil {
			s.log.Warn("sync: bad status", "door", door, "err", err)
			return
		}
		s.mu.Lock()
		ds := DoorStatus{Online: st.Online, Rev: st.Rev, OutboxLen: st.OutboxLen, ClockTrusted: st.ClockTrusted,
			Mode: st.Mode, DoorState: st.DoorState, Version: st.Version, Seen: s.o.Now().UTC()}
		s.status[door] = ds
		s.mu.Unlock()
		s.broadcast(Update{Door: door, Status: &ds})
	case wire.KindEnrollResult:
		s.enrolResult(ctx, door, payload)
	}
}

func (s *Syncer) answerSync(ctx context.Context, door string, req wire.SyncRequest) error {
	d, err := s.o.Store.GetDoorByControllerID(ctx, door)
	if errors.Is(err, admin.ErrNotFound) {
		s.log.Warn("sync: request from a door the admin does not know", "door", door)
		return nil
	} else if err != nil {
		return err
	}
	switch cur := uint64(d.Revision); {
	case req.Rev == cur:
		return s.sendHead(ctx, d) // confirms the door is current
	case req.Rev == 0 || req.Rev > cur:
		// A new door, or a door ahead of a restored database: start over.
		return s.sendSnapshot(ctx, d)
	default:
		return s.sendDelta(ctx, d, int64(req.Rev))
	}
}

// ingest stores a batch and acknowledges it once stored.
func (s *Syncer) ingest(ctx context.Context, door string, b wire.EventsBatch) error {
	d, err := s.o.Store.GetDoorByControllerID(ctx, door)
	if errors.Is(err, admin.ErrNotFound) {
		s.log.Warn("sync: events from a door the admin does not know", "door", door, "events", len(b.Events))
		return nil
	} else if err != nil {
		return err
	}
	now := s.o.Now().UTC()
	evs := make([]admin.Event, 0, len(b.Events))
	var top uint64
	for _, e := range b.Events {
		evs = append(evs, admin.Event{DoorID: d.ID, Epoch: b.Epoch, Seq: e.Seq, Time: e.Time, ClockTrusted: e.ClockTrusted,
			Kind: e.Kind, Reason: e.Reason, NIS: e.NIS, Detail: clipText(e.Detail), ReceivedAt: now})
		top = max(top, e.Seq)
	}
	n, err := s.o.Store.InsertEvents(ctx, evs)
	if err != nil {
		return err
	}
	if n > 0 && n == len(evs) {
		s.broadcast(Update{Door: door, Events: evs})
	} else if n > 0 {
		// Part of a batch sent again: only the new ones are news, and
		// which they are is not known here; the newest n are the likely.
		s.broadcast(Update{Door: door, Events: evs[len(evs)-n:]})
	}
	return s.publish(ctx, door, wire.KindEventsAck, wire.Ack{Epoch: b.Epoch, Seq: top})
}

func clipText(s string) string {
	if len(s) > admin.MaxDetailLen {
		return s[:admin.MaxDetailLen]
	}
	return s
}

// Command sends a signed command to the door with controller id door.
// Sequence numbers start from the clock in microseconds and only grow,
// so they keep growing across restarts of the admin.
func (s *Syncer) Command(ctx context.Context, door string, action wire.Action, by string) (wire.Cmd, error) {
	now := s.o.Now().UTC()
	s.mu.Lock()
	s.cmdSeq = max(s.cmdSeq+1, uint64(now.UnixMicro()))
	seq := s.cmdSeq
	s.mu.Unlock()
	c := wire.Cmd{Seq: seq, Action: action, IssuedAt: now, ExpiresAt: now.Add(s.o.CmdTTL), By: by}
	return c, s.publish(ctx, door, wire.KindCmd, c)
}

// String is for logs.
func (s DoorStatus) String() string {
	return "online=" + strconv.FormatBool(s.Online) + " rev=" + strconv.FormatUint(s.Rev, 10)
}
