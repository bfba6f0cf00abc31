package mqttsync

import (
	"errors"
	"fmt"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/metrics"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/wire"
)

// Reasons of the mqtt_rejected_total metric and of the rejection events.
const (
	ReasonStale          = "stale"           // duplicate or replay: dropped silently
	ReasonGap            = "gap"             // a delta after missed ones: sync request
	ReasonSignature      = "signature"       // not signed with the site key
	ReasonWrongDoor      = "wrong_door"      // for another site or door
	ReasonWrongKind      = "wrong_kind"      // a kind on another kind's topic
	ReasonVersion        = "version"         // another major version
	ReasonMalformed      = "malformed"       // bad JSON or a payload that fails validation
	ReasonTooLarge       = "too_large"       // past MaxMessage or the assembler's bounds
	ReasonDigest         = "digest"          // a snapshot whose grants do not match its digest
	ReasonExpired        = "expired"         // a command past its expiry
	ReasonInvalid        = "invalid"         // the store refused it (a zone the door does not know)
	ReasonAckAhead       = "ack_ahead"       // an ack of events the door never wrote
	ReasonAdminBehind    = "admin_behind"    // a head below the door's revision
	ReasonClockUntrusted = "clock_untrusted" // unlock_once while the clock is untrusted
	ReasonReplay         = "replay"          // a command already executed
	ReasonError          = "error"           // the store failed
)

// reasonOf maps an error of wire or store onto a reason.
func reasonOf(err error) string {
	for _, r := range []struct {
		err    error
		reason string
	}{
		{errAdminBehind, ReasonAdminBehind},
		{wire.ErrStale, ReasonStale},
		{wire.ErrGap, ReasonGap},
		{wire.ErrSignature, ReasonSignature},
		{wire.ErrWrongDoor, ReasonWrongDoor},
		{wire.ErrWrongKind, ReasonWrongKind},
		{wire.ErrVersion, ReasonVersion},
		{wire.ErrTooLarge, ReasonTooLarge},
		{wire.ErrDigest, ReasonDigest},
		{wire.ErrIncomplete, ReasonDigest},
		{wire.ErrExpired, ReasonExpired},
		{wire.ErrMalformed, ReasonMalformed},
		{store.ErrStaleRevision, ReasonStale},
		{store.ErrRevisionGap, ReasonGap},
		{store.ErrInvalid, ReasonInvalid},
		{store.ErrAckAhead, ReasonAckAhead},
		{store.ErrStaleCommand, ReasonReplay},
	} {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ReasonError
}

// handle is the transport's message handler: one message at a time, in
// order. It never touches the tap path: allowlist updates go to the store
// in their own transactions, which taps read around.
func (s *Session) handle(m Message) {
	if len(m.Payload) == 0 {
		return // a retained message being cleared
	}
	site, door, k, err := wire.ParseTopic(m.Topic)
	if err != nil || site != s.o.Site || door != s.door || !k.FromAdmin() {
		s.log.Debug("mqtt message ignored", "topic", m.Topic)
		return
	}
	s.o.Metrics.SyncMessage(s.door, metrics.In, string(k))
	switch k {
	case wire.KindGrants:
		s.onDelta(m.Payload)
	case wire.KindHead:
		s.onHead(m.Payload)
	case wire.KindSnapshot:
		s.onChunk(m.Payload)
	case wire.KindEventsAck:
		s.onAck(m.Payload)
	case wire.KindCmd:
		s.onCmd(m.Payload)
	default:
		s.log.Debug("mqtt message of a kind a door does not take", "kind", k)
	}
}

// reject counts a message not acted on and, unless it is a mere duplicate,
// logs it and writes a rate-limited sync event saying why.
func (s *Session) reject(k wire.Kind, err error) {
	reason := reasonOf(err)
	s.o.Metrics.SyncRejected(s.door, reason)
	if reason == ReasonStale {
		s.log.Debug("mqtt message dropped", "kind", k, "err", err)
		return
	}
	s.log.Warn("mqtt message rejected", "kind", k, "reason", reason, "err", err)
	s.limitedEvent(varco.EventSync, reason, fmt.Sprintf("rejected %s (%s): %v", k, reason, err))
}

// limitedEvent writes an event unless one of the same reason was written
// less than EventEvery ago.
func (s *Session) limitedEvent(kind varco.EventKind, reason, detail string) {
	now := s.o.Clock.Now()
	ok, n := s.limit.allow(reason, now)
	if !ok {
		s.o.Metrics.SyncEventSuppressed(s.door, reason)
		return
	}
	if n > 0 {
		detail = fmt.Sprintf("%s (and %d more since the last such event)", detail, n)
	}
	s.event(kind, detail)
}

func (s *Session) event(kind varco.EventKind, detail string) {
	if len(detail) > wire.MaxText {
		detail = detail[:wire.MaxText]
	}
	s.o.Emit(varco.Event{Door: s.door, Time: s.o.Clock.Now(), Kind: kind, Detail: detail})
}

// resyncable reports whether a rejected update calls for a sync request:
// the admin meant to send something this door could not take.
func resyncable(err error) bool {
	return errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrVersion) || errors.Is(err, wire.ErrTooLarge) ||
		errors.Is(err, wire.ErrDigest) || errors.Is(err, wire.ErrIncomplete) || errors.Is(err, store.ErrInvalid)
}

func (s *Session) onDelta(p []byte) {
	var d wire.Delta
	if err := s.verifier.Open(wire.KindGrants, p, &d); err != nil {
		s.reject(wire.KindGrants, err)
		if resyncable(err) {
			s.requestSync(wire.SyncRejected, false)
		}
		return
	}
	cur, _, err := s.o.Store.Revision(s.door)
	if err != nil {
		s.storeFailed("revision", err)
		return
	}
	if err := wire.CheckDelta(cur, d); err != nil {
		s.deltaRefused(d, err)
		return
	}
	now := s.o.Clock.Now()
	err = s.o.Store.ApplyDelta(store.Delta{
		Door: s.door, FromRev: d.From, ToRev: d.To,
		Upserts: d.Upserts, Deletes: d.Deletes,
		// The store's schedules are shared by the controller's doors: a
		// door's complete set is upserted, never used to delete others'.
		Schedules: d.Schedules,
		Holidays:  d.Holidays, ReplaceHolidays: d.Holidays != nil,
		Mode: d.Mode, TimeZone: d.TimeZone,
	}, now)
	if err != nil {
		s.deltaRefused(d, err)
		return
	}
	s.log.Info("delta applied", "from", d.From, "to", d.To, "upserts", len(d.Upserts), "deletes", len(d.Deletes))
	s.applied(d.To, now)
	s.event(varco.EventSync, fmt.Sprintf("delta %d→%d applied: %d upserts, %d deletes", d.From, d.To, len(d.Upserts), len(d.Deletes)))
}

// deltaRefused handles a delta that CheckDelta or the store refused.
func (s *Session) deltaRefused(d wire.Delta, err error) {
	switch reasonOf(err) {
	case ReasonGap:
		s.o.Metrics.SyncRejected(s.door, ReasonGap)
		s.log.Info("delta does not start at this door's revision: asking for a sync", "err", err)
		s.want(d.To)
		s.requestSync(wire.SyncGap, false)
	case ReasonStale:
		s.reject(wire.KindGrants, err)
	case ReasonError:
		s.storeFailed("apply delta", err)
	default:
		s.reject(wire.KindGrants, err)
		s.requestSync(wire.SyncRejected, false)
	}
}

// storeFailed reports a store error: the disk, not the message.
func (s *Session) storeFailed(what string, err error) {
	s.o.Metrics.SyncRejected(s.door, ReasonError)
	s.log.Error("store", "op", what, "err", err)
	s.limitedEvent(varco.EventSync, ReasonError, fmt.Sprintf("store failed (%s): %v", what, err))
}

// want records a revision the admin announced.
func (s *Session) want(rev uint64) {
	s.syncMu.Lock()
	s.wantRev = max(s.wantRev, rev)
	s.syncMu.Unlock()
}

// applied runs after a delta or snapshot moved the door to rev: metrics,
// the door's mode and zone.
func (s *Session) applied(rev uint64, now time.Time) {
	s.o.Metrics.SetRevision(s.door, rev)
	s.o.Metrics.SetLastSync(s.door, now)
	s.applySettings()
}

// applySettings puts the door in the mode its stored settings call for
// and hands a changed zone to the controller.
func (s *Session) applySettings() {
	set, err := s.o.Store.DoorSettings(s.door)
	if err != nil {
		s.storeFailed("door settings", err)
		return
	}
	if m := set.Effective(); s.o.Door.Mode() != m {
		if err := s.o.Door.SetMode(m); err != nil {
			s.log.Error("set mode", "mode", m, "err", err)
		}
	}
	s.syncMu.Lock()
	changed := set.TimeZone != s.zone
	s.zone = set.TimeZone
	s.syncMu.Unlock()
	if changed && set.TimeZone != "" && s.o.SetLocation != nil {
		if loc, err := time.LoadLocation(set.TimeZone); err == nil {
			s.o.SetLocation(loc)
		}
	}
}

func (s *Session) onHead(p []byte) {
	var h wire.Head
	if err := s.verifier.Open(wire.KindHead, p, &h); err != nil {
		s.reject(wire.KindHead, err)
		return
	}
	cur, _, err := s.o.Store.Revision(s.door)
	if err != nil {
		s.storeFailed("revision", err)
		return
	}
	switch {
	case h.Rev > cur:
		s.want(h.Rev)
		s.requestSync(wire.SyncHead, false)
	case h.Rev == cur:
		// The admin confirms the door is current. Its issue time, not
		// the receipt, is the sync time: a retained head is delivered
		// again at every reconnect, long after the admin wrote it.
		t := s.o.Clock.Now()
		if h.IssuedAt.Before(t) {
			t = h.IssuedAt
		}
		if err := s.o.Store.MarkSynced(s.door, t); err != nil {
			s.storeFailed("mark synced", err)
			return
		}
		if _, synced, err := s.o.Store.Revision(s.door); err == nil {
			s.o.Metrics.SetLastSync(s.door, synced)
		}
	default:
		s.reject(wire.KindHead, fmt.Errorf("%w: %w", errAdminBehind, wire.CheckHead(cur, h)))
	}
}

// errAdminBehind marks a head below the door's revision: the admin's
// revisions went backwards (a restored backup).
var errAdminBehind = errors.New("the admin's head is behind this door")

func (s *Session) onChunk(p []byte) {
	var c wire.SnapshotChunk
	if err := s.verifier.Open(wire.KindSnapshot, p, &c); err != nil {
		s.reject(wire.KindSnapshot, err)
		if resyncable(err) {
			s.requestSync(wire.SyncRejected, false)
		}
		return
	}
	cur, _, err := s.o.Store.Revision(s.door)
	if err != nil {
		s.storeFailed("revision", err)
		return
	}
	if err := wire.CheckSnapshot(cur, c); err != nil {
		s.reject(wire.KindSnapshot, err)
		return
	}
	now := s.o.Clock.Now()
	s.syncMu.Lock()
	s.lastChunk = now
	s.syncMu.Unlock()
	snap, err := s.asm.Add(c)
	if err != nil {
		s.reject(wire.KindSnapshot, err)
		if resyncable(err) {
			s.requestSync(wire.SyncRejected, false)
		}
		return
	}
	if snap == nil {
		return // more chunks to come
	}
	s.syncMu.Lock()
	s.lastChunk = time.Time{}
	s.syncMu.Unlock()
	err = s.o.Store.ApplySnapshot(store.Snapshot{
		Door: s.door, Rev: snap.Rev, Grants: snap.Grants,
		Schedules: snap.Schedules, Holidays: snap.Holidays,
		Mode: snap.Mode, TimeZone: snap.TimeZone,
	}, now)
	if err != nil {
		switch reasonOf(err) {
		case ReasonError:
			s.storeFailed("apply snapshot", err)
		case ReasonStale:
			s.reject(wire.KindSnapshot, err)
		default:
			s.reject(wire.KindSnapshot, err)
			s.requestSync(wire.SyncRejected, false)
		}
		return
	}
	s.log.Info("snapshot applied", "id", snap.ID, "rev", snap.Rev, "grants", len(snap.Grants))
	s.applied(snap.Rev, now)
	detail := fmt.Sprintf("snapshot rev %d applied: %d grants", snap.Rev, len(snap.Grants))
	if snap.Rev == cur {
		detail = fmt.Sprintf("snapshot rev %d confirms the allowlist", snap.Rev)
	}
	s.event(varco.EventSync, detail)
}

func (s *Session) onAck(p []byte) {
	var a wire.Ack
	if err := s.verifier.Open(wire.KindEventsAck, p, &a); err != nil {
		s.reject(wire.KindEventsAck, err)
		return
	}
	acked, err := s.o.Store.Acked(s.door)
	if err != nil {
		s.storeFailed("acked", err)
		return
	}
	if err := wire.CheckAck(s.o.Store.Epoch(), acked, a); err != nil {
		s.reject(wire.KindEventsAck, err)
		return
	}
	if err := s.o.Store.Ack(s.door, a.Seq); err != nil {
		if errors.Is(err, store.ErrAckAhead) {
			s.reject(wire.KindEventsAck, err)
		} else {
			s.storeFailed("ack", err)
		}
		return
	}
	select {
	case s.acked <- struct{}{}:
	default:
	}
}

func (s *Session) onCmd(p []byte) {
	var c wire.Cmd
	if err := s.verifier.Open(wire.KindCmd, p, &c); err != nil {
		s.reject(wire.KindCmd, err)
		return
	}
	set, err := s.o.Store.DoorSettings(s.door)
	if err != nil {
		s.storeFailed("door settings", err)
		return
	}
	refuse := func(reason string, err error) {
		s.o.Metrics.SyncRejected(s.door, reason)
		s.log.Warn("command refused", "seq", c.Seq, "action", c.Action, "by", c.By, "reason", reason, "err", err)
		s.limitedEvent(varco.EventController, reason, fmt.Sprintf("cmd %d %s by %q refused (%s): %v", c.Seq, c.Action, c.By, reason, err))
	}
	if err := c.Check(set.LastCmd, s.o.Clock.Now()); err != nil {
		if errors.Is(err, wire.ErrStale) {
			refuse(ReasonReplay, err)
		} else {
			refuse(reasonOf(err), err)
		}
		return
	}
	if c.Action == wire.ActionUnlockOnce && !s.o.ClockTrusted() {
		refuse(ReasonClockUntrusted, errors.New("the door's clock is not trusted: the command's expiry cannot be checked"))
		return
	}
	var lockdown *bool
	switch c.Action {
	case wire.ActionLockdownOn:
		lockdown = new(bool)
		*lockdown = true
	case wire.ActionLockdownOff:
		lockdown = new(bool)
	}
	// Recorded before it runs: a crash or a replay cannot run it twice.
	if err := s.o.Store.RecordCmd(s.door, c.Seq, lockdown); err != nil {
		if errors.Is(err, store.ErrStaleCommand) {
			refuse(ReasonReplay, err)
		} else {
			s.storeFailed("record cmd", err)
		}
		return
	}
	result := "executed"
	switch c.Action {
	case wire.ActionUnlockOnce:
		if !s.o.Door.Grant() {
			result = "not released: the door is in lockdown"
		}
	case wire.ActionLockdownOn, wire.ActionLockdownOff:
		s.applySettings()
	case wire.ActionResync:
		s.requestSync(wire.SyncResync, true)
	}
	s.log.Info("command", "seq", c.Seq, "action", c.Action, "by", c.By, "result", result)
	s.event(varco.EventController, fmt.Sprintf("cmd %d %s by %q: %s", c.Seq, c.Action, c.By, result))
}
