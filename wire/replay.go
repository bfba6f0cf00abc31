package wire

import (
	"fmt"
	"time"
)

// The receiver checks. A signature proves who wrote a message, not that it
// is new: QoS 1 redelivers, a retained head lingers, an attacker on the
// broker can replay anything it saw. Each check compares a message with
// the door's durable state and says what to do: nil means act on it;
// ErrStale means drop it silently (a duplicate or a replay, nothing lost);
// ErrGap and ErrExpired mean drop it and report it in an event (and, for
// a gap, send a SyncRequest).

// CheckDelta decides whether a door at revision cur can apply d: nil when
// d starts at cur; ErrStale when d.To <= cur (already applied: a duplicate
// or a replay); ErrGap otherwise (d starts after cur, deltas were missed;
// or d starts before cur and ends after it, and a net delta cannot be
// applied halfway). On ErrGap the door sends SyncRequest{Rev: cur}.
func CheckDelta(cur uint64, d Delta) error {
	switch {
	case d.From == cur:
		return nil
	case d.To <= cur:
		return fmt.Errorf("wire: delta %d→%d at revision %d: %w", d.From, d.To, cur, ErrStale)
	default:
		return fmt.Errorf("wire: delta %d→%d at revision %d: %w", d.From, d.To, cur, ErrGap)
	}
}

// CheckSnapshot decides whether a door at revision cur takes a chunk of a
// snapshot: nil when c.Rev >= cur, ErrStale when it is older. A snapshot
// at the door's own revision is accepted: revisions are never reused, so
// it holds what the door holds and confirms the door is current (the
// door's store then records the sync time and rewrites nothing).
func CheckSnapshot(cur uint64, c SnapshotChunk) error {
	if c.Rev < cur {
		return fmt.Errorf("wire: snapshot %s at revision %d, door at %d: %w", c.ID, c.Rev, cur, ErrStale)
	}
	return nil
}

// CheckHead decides whether a door at revision cur must sync: nil when
// h.Rev > cur (the door is behind and sends SyncRequest{Rev: cur}),
// ErrStale otherwise. A head below cur means the admin's revisions went
// backwards (a restored backup): the error says so, and the door should
// report it in an event.
func CheckHead(cur uint64, h Head) error {
	switch {
	case h.Rev > cur:
		return nil
	case h.Rev == cur:
		return fmt.Errorf("wire: head %d at revision %d: %w: up to date", h.Rev, cur, ErrStale)
	default:
		return fmt.Errorf("wire: head %d at revision %d: %w: the door is ahead of the admin (did the admin's revision go backwards?)", h.Rev, cur, ErrStale)
	}
}

// CheckAck decides whether a door whose outbox is epoch, with events up
// to acked already dropped, acts on a: nil when a is for this epoch and
// acknowledges more; ErrStale when it is for another epoch (an ack of the
// outbox the door had before its store was wiped) or acknowledges nothing
// new. The door's store still refuses an ack beyond its last sequence.
func CheckAck(epoch string, acked uint64, a Ack) error {
	switch {
	case a.Epoch != epoch:
		return fmt.Errorf("wire: ack of epoch %q, outbox is %q: %w", clip(a.Epoch), epoch, ErrStale)
	case a.Seq <= acked:
		return fmt.Errorf("wire: ack of %d, already at %d: %w", a.Seq, acked, ErrStale)
	}
	return nil
}

// Check decides whether a door that last executed command lastSeq runs c
// at now: ErrStale when c.Seq <= lastSeq (a duplicate or a replay),
// ErrExpired when now is not before c.ExpiresAt, else nil. The door
// stores c.Seq durably before acting, so a crash cannot run it twice.
// With an untrusted clock the expiry check means little: a door should
// refuse unlock_once until its clock is trusted.
func (c Cmd) Check(lastSeq uint64, now time.Time) error {
	switch {
	case c.Seq <= lastSeq:
		return fmt.Errorf("wire: cmd %d %s, last executed %d: %w", c.Seq, c.Action, lastSeq, ErrStale)
	case !now.Before(c.ExpiresAt):
		return fmt.Errorf("wire: cmd %d %s: %w at %s", c.Seq, c.Action, ErrExpired, c.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}
