package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/varco-access/varco"
)

// Outbox is what the sync code needs to drain a door's events: read them in
// order, then drop those the admin stored durably. Declared here for
// documentation; the sync package declares its own copy where it consumes
// it.
type Outbox interface {
	Pending(door string, after uint64, limit int) ([]varco.Event, error)
	Ack(door string, upTo uint64) error
}

var _ Outbox = (*Store)(nil)

// dropFraction: when the cap is hit, at least cap/dropFraction of the
// oldest events go at once, so a flood writes one EventDropped per batch
// rather than one per event.
const dropFraction = 100

// outboxBucket returns outbox/<door> and its events bucket, creating them.
func outboxBucket(tx *bolt.Tx, door string) (ob, events *bolt.Bucket, err error) {
	ob, err = tx.Bucket(bktOutbox).CreateBucketIfNotExists([]byte(door))
	if err != nil {
		return nil, nil, err
	}
	events, err = ob.CreateBucketIfNotExists(bktEvents)
	if err != nil {
		return nil, nil, err
	}
	events.FillPercent = 1 // append-only keys: pack the pages
	return ob, events, nil
}

// Append stores ev in its door's outbox and returns it with Seq set to the
// door's next sequence number, assigned in the same transaction. ev.Seq is
// ignored. With Options.OutboxCap reached, the oldest events are dropped,
// the door's Dropped counter grows and an EventDropped event saying how
// many is stored before ev: Append does not fail because of the cap.
func (s *Store) Append(ev varco.Event) (varco.Event, error) {
	out, err := s.AppendBatch([]varco.Event{ev})
	if err != nil {
		return varco.Event{}, err
	}
	return out[len(out)-1], nil
}

// AppendBatch is Append for several events (of any doors) in one
// transaction. It returns the stored events in order, including any
// EventDropped notices the cap caused.
func (s *Store) AppendBatch(evs []varco.Event) ([]varco.Event, error) {
	for i, ev := range evs {
		if ev.Door == "" {
			return nil, fmt.Errorf("store: append: %w: events[%d]: empty door", ErrInvalid, i)
		}
		if ev.Kind == "" {
			return nil, fmt.Errorf("store: append: %w: events[%d]: empty kind", ErrInvalid, i)
		}
	}
	out := make([]varco.Event, 0, len(evs))
	err := s.db.Update(func(tx *bolt.Tx) error {
		out = out[:0] // bbolt may not retry, but stay correct if it did
		for _, ev := range evs {
			var err error
			if out, err = s.appendTx(tx, ev, out); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: append: %w", err)
	}
	return out, nil
}

func (s *Store) appendTx(tx *bolt.Tx, ev varco.Event, out []varco.Event) ([]varco.Event, error) {
	ob, events, err := outboxBucket(tx, ev.Door)
	if err != nil {
		return out, err
	}
	next := max(u64(ob.Get(keyNext)), 1)
	count := u64(ob.Get(keyCount))
	if s.cap > 0 && count+1 > uint64(s.cap) {
		// Room for ev and the notice.
		n := max(count+2-uint64(s.cap), uint64(s.cap/dropFraction))
		n = min(n, count)
		first, last, err := dropOldest(events, n)
		if err != nil {
			return out, err
		}
		count -= n
		dropped := u64(ob.Get(keyDropped)) + n
		if err := putU64(ob, keyDropped, dropped); err != nil {
			return out, err
		}
		notice := varco.Event{
			Seq: next, Door: ev.Door, Time: ev.Time, Kind: varco.EventDropped,
			Detail: fmt.Sprintf("outbox cap %d reached: dropped %d events (seq %d-%d), %d in total", s.cap, n, first, last, dropped),
		}
		if err := putEvent(events, notice); err != nil {
			return out, err
		}
		out = append(out, notice)
		next++
		count++
	}
	ev.Seq = next
	if err := putEvent(events, ev); err != nil {
		return out, err
	}
	if err := putU64(ob, keyNext, next+1); err != nil {
		return out, err
	}
	if err := putU64(ob, keyCount, count+1); err != nil {
		return out, err
	}
	return append(out, ev), nil
}

func putEvent(events *bolt.Bucket, ev varco.Event) error {
	b, err := json.Marshal(&ev)
	if err != nil {
		return fmt.Errorf("%w: event: %v", ErrInvalid, err)
	}
	return events.Put(seqKey(ev.Seq), b)
}

// dropOldest deletes the n oldest events and returns their seq range.
func dropOldest(events *bolt.Bucket, n uint64) (first, last uint64, err error) {
	k, _ := events.Cursor().First()
	if k == nil || n == 0 {
		return 0, 0, nil
	}
	first = u64(k)
	last = first + n - 1
	return first, last, deleteRange(events, first, last)
}

// deleteRange deletes events first..last, which are contiguous (Check).
// Deleting by key, not by cursor.First + Delete: within one transaction
// bbolt keeps emptied leaves until commit and First walks over all of
// them, which made acknowledging a million events quadratic.
func deleteRange(events *bolt.Bucket, first, last uint64) error {
	key := make([]byte, 8)
	for seq := first; seq <= last && seq >= first; seq++ {
		binary.BigEndian.PutUint64(key, seq)
		if err := events.Delete(key); err != nil {
			return err
		}
	}
	return nil
}

// Pending returns up to limit of the door's events with Seq > after, in
// sequence order (limit <= 0 means all).
func (s *Store) Pending(door string, after uint64, limit int) ([]varco.Event, error) {
	var out []varco.Event
	err := s.db.View(func(tx *bolt.Tx) error {
		ob := tx.Bucket(bktOutbox).Bucket([]byte(door))
		if ob == nil {
			return nil
		}
		c := ob.Bucket(bktEvents).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			var ev varco.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("%w: event %d: %v", ErrCorrupt, u64(k), err)
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: pending %s after %d: %w", door, after, err)
	}
	return out, nil
}

// Ack deletes the door's events with Seq <= upTo: the admin has stored
// them durably. Acknowledging again is a no-op; acknowledging a sequence
// number not yet assigned is ErrAckAhead and deletes nothing.
func (s *Store) Ack(door string, upTo uint64) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		ob := tx.Bucket(bktOutbox).Bucket([]byte(door))
		next := uint64(1)
		if ob != nil {
			next = max(u64(ob.Get(keyNext)), 1)
		}
		if upTo >= next {
			return fmt.Errorf("%w: last assigned is %d", ErrAckAhead, next-1)
		}
		if ob == nil {
			return nil
		}
		events := ob.Bucket(bktEvents)
		k, _ := events.Cursor().First()
		if k == nil || u64(k) > upTo {
			return nil // already acknowledged
		}
		first := u64(k)
		if err := deleteRange(events, first, upTo); err != nil {
			return err
		}
		return putU64(ob, keyCount, u64(ob.Get(keyCount))-(upTo-first+1))
	})
	if err != nil {
		return fmt.Errorf("store: ack %s up to %d: %w", door, upTo, err)
	}
	return nil
}

// Len returns how many events the door's outbox holds, from a counter.
func (s *Store) Len(door string) (n int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if ob := tx.Bucket(bktOutbox).Bucket([]byte(door)); ob != nil {
			n = int(u64(ob.Get(keyCount)))
		}
		return nil
	})
	return n, err
}

// Dropped returns how many of the door's events the cap has discarded
// since the file was created.
func (s *Store) Dropped(door string) (n uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if ob := tx.Bucket(bktOutbox).Bucket([]byte(door)); ob != nil {
			n = u64(ob.Get(keyDropped))
		}
		return nil
	})
	return n, err
}

// LastSeq returns the door's last assigned sequence number (0 if none).
func (s *Store) LastSeq(door string) (seq uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if ob := tx.Bucket(bktOutbox).Bucket([]byte(door)); ob != nil {
			seq = max(u64(ob.Get(keyNext)), 1) - 1
		}
		return nil
	})
	return seq, err
}
