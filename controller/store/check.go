package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/varco-access/varco"
)

// Check verifies the store's invariants and returns every violation found
// (joined, each wrapping ErrCorrupt), or nil:
//
//   - every grant decodes, validates and is stored under its own NIS, and
//     each door's grant counter matches;
//   - each door's outbox keys are 8-byte sequence numbers, contiguous from
//     the first pending one to next-1, its counter matches, and every event
//     decodes with the Seq and Door of its key and bucket.
//
// It reads everything, so it costs about as much as the data is large: for
// tests (storetest) and for a check at start-up if wanted.
func (s *Store) Check() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...))
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bktDoors).ForEachBucket(func(door []byte) error {
			db := tx.Bucket(bktDoors).Bucket(door)
			grants, meta := db.Bucket(bktGrants), db.Bucket(bktMeta)
			if grants == nil || meta == nil {
				bad("door %s: missing grants or meta bucket", door)
				return nil
			}
			n := uint64(0)
			err := grants.ForEach(func(k, v []byte) error {
				n++
				g, err := decodeGrant(v)
				if err != nil {
					bad("door %s grant %s: %v", door, k, err)
					return nil
				}
				if g.NIS != string(k) {
					bad("door %s: grant for %s stored under %s", door, g.NIS, k)
				}
				if err := g.Validate(); err != nil {
					bad("door %s: %v", door, err)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if c := u64(meta.Get(keyCount)); c != n {
				bad("door %s: grant counter %d, %d grants stored", door, c, n)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bktOutbox).ForEachBucket(func(door []byte) error {
			ob := tx.Bucket(bktOutbox).Bucket(door)
			events := ob.Bucket(bktEvents)
			if events == nil {
				bad("outbox %s: no events bucket", door)
				return nil
			}
			next := max(u64(ob.Get(keyNext)), 1)
			var n, prev uint64
			err := events.ForEach(func(k, v []byte) error {
				if len(k) != 8 {
					bad("outbox %s: key %x is not a sequence number", door, k)
					return nil
				}
				seq := u64(k)
				if n > 0 && seq != prev+1 {
					bad("outbox %s: seq %d follows %d", door, seq, prev)
				}
				n, prev = n+1, seq
				var ev varco.Event
				if err := json.Unmarshal(v, &ev); err != nil {
					bad("outbox %s seq %d: %v", door, seq, err)
					return nil
				}
				if ev.Seq != seq || !bytes.Equal([]byte(ev.Door), door) {
					bad("outbox %s seq %d: holds event %s/%d", door, seq, ev.Door, ev.Seq)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if n > 0 && prev != next-1 {
				bad("outbox %s: last seq %d, next %d", door, prev, next)
			}
			if c := u64(ob.Get(keyCount)); c != n {
				bad("outbox %s: counter %d, %d events stored", door, c, n)
			}
			return nil
		})
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
