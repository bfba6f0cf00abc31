package store

import "errors"

var (
	// ErrLocked is returned by Open when the file is locked by another
	// process (another varco-door) for longer than Options.LockTimeout.
	ErrLocked = errors.New("store: database file is locked by another varco-door")

	// ErrStaleRevision is returned when a delta starts before, or a
	// snapshot is older than, the door's current revision: the update was
	// already applied or superseded.
	ErrStaleRevision = errors.New("store: stale revision")

	// ErrRevisionGap is returned when a delta starts after the door's
	// current revision: deltas were missed and the door must resync.
	ErrRevisionGap = errors.New("store: revision gap")

	// ErrInvalid is returned when a delta, snapshot, event or argument
	// fails validation; nothing has been written. The message names the
	// offending field.
	ErrInvalid = errors.New("store: invalid input")

	// ErrAckAhead is returned by Ack when the acknowledged sequence number
	// was never assigned: the admin and the door disagree about the
	// outbox, and nothing has been deleted.
	ErrAckAhead = errors.New("store: ack beyond the last sequence number")

	// ErrStaleCommand is returned by RecordCmd when a remote command's
	// sequence number is not greater than the last one executed: a
	// duplicate or a replay.
	ErrStaleCommand = errors.New("store: command already executed")

	// ErrCorrupt is returned when bytes read from the file do not decode
	// or break an invariant (see Check).
	ErrCorrupt = errors.New("store: corrupt data")
)
