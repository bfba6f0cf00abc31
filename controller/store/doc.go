// Package store is the door controller's persistent state: one bbolt file
// holding, per door, the allowlist the admin pushed (grants and their
// revision) and the outbox of door events waiting for the admin, plus the
// controller-wide schedules, holidays and settings.
//
// # Layout
//
//	doors/<door>/grants      NIS → grant, compact binary (see codec.go)
//	doors/<door>/meta        rev, last sync, grant count, configured mode and
//	                         zone, lockdown flag, last executed command
//	schedules                id → varco.Schedule JSON
//	holidays                 YYYY-MM-DD → varco.Holiday JSON
//	meta                     outbox epoch, site public key, per-door config overrides
//	outbox/<door>            next seq, live count, dropped counter
//	outbox/<door>/events     seq (big-endian uint64) → varco.Event JSON
//
// # Guarantees
//
// A delta or a snapshot is validated completely before anything is
// written, then applied in one bbolt transaction: a reader (View, Grant,
// Revision) sees either the old or the new revision, never a mix, and a
// crash leaves one or the other. An event gets its per-door sequence number
// in the transaction that stores it, so sequence numbers have no gaps and
// are never reused while the file lives. The outbox epoch (Epoch), a
// random id made with the file, tells the admin which life of the file a
// sequence number belongs to.
//
// A remote command's sequence number is stored (RecordCmd) before the
// command runs, so a replay, also after a reboot, is refused. A door's
// mode (the admin's configured mode, overridden by a lockdown command) is
// stored too, so a reboot keeps a lockdown (DoorSettings).
//
// The file is opened with a lock timeout: a second varco-door on the same
// file fails with ErrLocked instead of hanging.
//
// # Caveats
//
// Schedules and holidays are shared by all doors of the controller: a
// delta or snapshot for one door upserts schedules for everybody, and
// deleting a schedule one door still names makes that door's grants never
// open on it. Sequence numbers restart at 1 if the file is deleted, in a
// new epoch.
//
// The sync code consumes the outbox through the Outbox interface:
//
//	type Outbox interface {
//		Pending(door string, after uint64, limit int) ([]varco.Event, error)
//		Ack(door string, upTo uint64) error
//	}
package store
