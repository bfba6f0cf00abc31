package mqttsync

import (
	"encoding/json"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/wire"
)

// The outbox drain. One batch is in flight at a time: sent, then held
// until the admin's ack covers it (flow control end to end: a door does
// not pile its million events on a broker whose admin is away). After a
// reconnect, or the ack wait (AckTimeoutMin, doubling to AckTimeout)
// without an ack, the drain starts again from
// the last acknowledged sequence number; the admin drops what it already
// has, by (door, epoch, seq).

// drain sends the next batch if the link is up and none is in flight.
func (s *Session) drain() {
	if !s.connected.Load() || s.inflight != nil {
		return
	}
	acked, err := s.o.Store.Acked(s.door)
	if err != nil {
		s.log.Error("outbox", "err", err)
		return
	}
	s.sent = max(s.sent, acked)
	evs, err := s.o.Store.Pending(s.door, s.sent, s.o.BatchEvents)
	if err != nil {
		s.log.Error("outbox", "err", err)
		return
	}
	evs = trimBatch(evs, s.o.BatchBytes)
	if len(evs) == 0 {
		return
	}
	first, last := evs[0].Seq, evs[len(evs)-1].Seq
	s.inflight = &batch{first: first, last: last, at: s.o.Clock.Now(), gen: s.gen}
	s.sent = last
	s.o.Metrics.SetOutboxInFlight(s.door, int(last-acked))
	c := s.publish(wire.KindEvents, wire.EventsBatch{Epoch: s.o.Store.Epoch(), Events: evs})
	gen := s.gen
	go func() {
		<-c.Done()
		select {
		case s.pubDone <- pubResult{gen: gen, err: c.Err()}:
		case <-s.stopped:
		}
	}()
}

// trimBatch keeps the longest prefix of evs whose JSON fits in limit
// bytes, and at least one event.
func trimBatch(evs []varco.Event, limit int) []varco.Event {
	size := 0
	for i := range evs {
		b, _ := json.Marshal(&evs[i]) // events always marshal
		size += len(b) + 1
		if size > limit && i > 0 {
			return evs[:i]
		}
	}
	return evs
}

// onPublished handles the broker's answer to an events batch: on failure
// the batch is forgotten and sent again from the last ack.
func (s *Session) onPublished(r pubResult) {
	if r.gen != s.gen || r.err == nil || s.inflight == nil || s.inflight.gen != r.gen {
		return
	}
	s.log.Warn("events batch not delivered", "first", s.inflight.first, "last", s.inflight.last, "err", r.err)
	s.inflight = nil
	s.sent, _ = s.o.Store.Acked(s.door)
	s.o.Metrics.SetOutboxInFlight(s.door, 0)
	// Sent again on the next tick or reconnect, not at once: a publish
	// that failed while connected would fail again in a tight loop.
}

// onAcked runs after the message handler applied an ack to the store.
func (s *Session) onAcked() {
	acked, err := s.o.Store.Acked(s.door)
	if err != nil {
		return
	}
	if n, err := s.o.Store.Len(s.door); err == nil {
		s.o.Metrics.SetOutboxLen(s.door, n)
	}
	if b := s.inflight; b != nil {
		if acked < b.last {
			s.o.Metrics.SetOutboxInFlight(s.door, int(b.last-acked))
			return // part of the batch: wait for the rest
		}
		s.inflight = nil
		s.ackWait = s.o.AckTimeoutMin // the admin answers: back to a short wait
	}
	s.o.Metrics.SetOutboxInFlight(s.door, 0)
	s.drain()
}
