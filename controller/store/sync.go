package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/wire"

	// A door's zone comes from the admin and is checked here; keep the
	// check independent of the board's /usr/share/zoneinfo (config embeds
	// the same database).
	_ "time/tzdata"
)

// What the sync code keeps besides the allowlist and the outbox: the
// outbox epoch, each door's configured mode and zone, its lockdown flag
// and the sequence number of the last remote command it executed.

var (
	keyEpoch    = []byte("epoch")    // meta: the outbox epoch
	keyMode     = []byte("mode")     // doors/<door>/meta: the admin's configured mode
	keyZone     = []byte("tz")       // doors/<door>/meta: the admin's zone
	keyLockdown = []byte("lockdown") // doors/<door>/meta: 1 while a lockdown command holds
	keyCmdSeq   = []byte("cmd_seq")  // doors/<door>/meta: last executed command
)

// initEpoch gives a new file its outbox epoch (and a file written before
// epochs existed one at its first open) and returns it.
func initEpoch(tx *bolt.Tx) (string, error) {
	meta := tx.Bucket(bktMeta)
	if e := meta.Get(keyEpoch); e != nil {
		return string(e), nil
	}
	e := wire.NewID()
	return e, meta.Put(keyEpoch, []byte(e))
}

// Epoch returns the outbox epoch: a random id (wire.NewID) made when the
// file was created and never changed. Sequence numbers are unique only
// within an epoch: a door whose file is deleted starts a new epoch at
// seq 1, and the admin keys events on (door, epoch, seq).
func (s *Store) Epoch() string { return s.epoch }

// Acked returns the highest sequence number of the door's outbox that is
// gone: acknowledged by the admin (Ack) or dropped by the cap. The outbox
// holds exactly the events after it, up to LastSeq.
func (s *Store) Acked(door string) (seq uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		ob := tx.Bucket(bktOutbox).Bucket([]byte(door))
		if ob == nil {
			return nil
		}
		if k, _ := ob.Bucket(bktEvents).Cursor().First(); k != nil {
			seq = u64(k) - 1
			return nil
		}
		seq = max(u64(ob.Get(keyNext)), 1) - 1
		return nil
	})
	return seq, err
}

// DoorSettings is what the admin and its commands set on a door besides
// the allowlist.
type DoorSettings struct {
	// Mode is the door's configured mode as the last delta or snapshot
	// set it; empty means ModeNormal.
	Mode varco.DoorMode
	// TimeZone is the zone of the door's schedules as the admin set it;
	// empty means the site's zone from the configuration.
	TimeZone string
	// Lockdown is set by a lockdown_on command and cleared by
	// lockdown_off; it overrides Mode (see Effective).
	Lockdown bool
	// LastCmd is the sequence number of the last remote command the door
	// executed (RecordCmd), 0 if none.
	LastCmd uint64
}

// Effective returns the mode the door must be in: lockdown while a
// lockdown command holds, else the configured mode.
func (d DoorSettings) Effective() varco.DoorMode {
	switch {
	case d.Lockdown:
		return varco.ModeLockdown
	case d.Mode == "":
		return varco.ModeNormal
	}
	return d.Mode
}

// DoorSettings returns the door's settings (zero for a door never synced).
func (r *ReadTx) DoorSettings(door string) (DoorSettings, error) {
	b := r.door(door)
	if b == nil {
		return DoorSettings{}, nil
	}
	meta := b.Bucket(bktMeta)
	return DoorSettings{
		Mode:     varco.DoorMode(meta.Get(keyMode)),
		TimeZone: string(meta.Get(keyZone)),
		Lockdown: u64(meta.Get(keyLockdown)) == 1,
		LastCmd:  u64(meta.Get(keyCmdSeq)),
	}, nil
}

// DoorSettings is ReadTx.DoorSettings in a transaction of its own.
func (s *Store) DoorSettings(door string) (d DoorSettings, err error) {
	err = s.View(func(r *ReadTx) error { d, err = r.DoorSettings(door); return err })
	return d, err
}

// RecordCmd stores seq as the last remote command executed at door and,
// when lockdown is not nil, sets the door's lockdown flag, in one
// transaction. The caller records a command before executing it, so a
// crash or a replay after a reboot cannot run it twice. A seq not greater
// than the stored one is ErrStaleCommand and changes nothing.
func (s *Store) RecordCmd(door string, seq uint64, lockdown *bool) error {
	if door == "" {
		return fmt.Errorf("store: record cmd: %w: empty door", ErrInvalid)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := doorBucket(tx, door)
		if err != nil {
			return err
		}
		meta := b.Bucket(bktMeta)
		if last := u64(meta.Get(keyCmdSeq)); seq <= last {
			return fmt.Errorf("%w: cmd %d, last executed %d", ErrStaleCommand, seq, last)
		}
		if err := putU64(meta, keyCmdSeq, seq); err != nil {
			return err
		}
		if lockdown != nil {
			v := uint64(0)
			if *lockdown {
				v = 1
			}
			return putU64(meta, keyLockdown, v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: record cmd %s %d: %w", door, seq, err)
	}
	return nil
}

// MarkSynced records t as the door's last successful sync when it is
// later than the one recorded: the admin confirmed that the door's
// allowlist is current (a head at the door's revision). It keeps
// max_offline from denying taps at a door that is up to date.
func (s *Store) MarkSynced(door string, t time.Time) error {
	if door == "" {
		return fmt.Errorf("store: mark synced: %w: empty door", ErrInvalid)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := doorBucket(tx, door)
		if err != nil {
			return err
		}
		meta := b.Bucket(bktMeta)
		if v := meta.Get(keySynced); v != nil && int64(u64(v)) >= t.UnixNano() {
			return nil
		}
		return putTime(meta, keySynced, t)
	})
	if err != nil {
		return fmt.Errorf("store: mark synced %s: %w", door, err)
	}
	return nil
}

// validateSettings checks a delta's or snapshot's mode and zone.
func validateSettings(mode varco.DoorMode, tz string) error {
	switch mode {
	case "", varco.ModeNormal, varco.ModeLockdown, varco.ModeUnlockedSchedule, varco.ModeUnlockedCommand:
	default:
		return fmt.Errorf("%w: mode %q: unknown", ErrInvalid, mode)
	}
	if tz != "" {
		if tz == "Local" {
			return fmt.Errorf("%w: time zone %q: want an IANA name", ErrInvalid, tz)
		}
		if _, err := time.LoadLocation(tz); err != nil {
			return fmt.Errorf("%w: time zone %q: %v", ErrInvalid, tz, err)
		}
	}
	return nil
}

// putOrDelete puts val under key, or deletes key when val is empty.
func putOrDelete(b *bolt.Bucket, key, val []byte) error {
	if len(val) == 0 {
		return b.Delete(key)
	}
	return b.Put(key, val)
}
