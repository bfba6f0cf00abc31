package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/reader"
)

// Delta moves one door's allowlist from FromRev to ToRev.
type Delta struct {
	Door           string
	FromRev, ToRev uint64
	Upserts        []varco.Grant
	Deletes        []string // NIS
	// Schedules are upserted and DeleteSchedules removed, for the whole
	// controller (schedules are shared by its doors).
	Schedules       []varco.Schedule
	DeleteSchedules []string
	// Holidays are upserted, or replace all holidays when
	// ReplaceHolidays is set.
	Holidays        []varco.Holiday
	ReplaceHolidays bool
	// Mode is the door's configured mode and TimeZone the IANA zone of
	// its schedules, as the admin sets them; empty means unchanged. They
	// are stored with the revision (see DoorSettings); applying the mode
	// to the running door is the caller's.
	Mode     varco.DoorMode
	TimeZone string
}

// Snapshot is one door's complete allowlist at Rev.
type Snapshot struct {
	Door   string        `json:"door"`
	Rev    uint64        `json:"rev"`
	Grants []varco.Grant `json:"grants"`
	// Schedules are upserted (other doors may use others); Holidays
	// replace all holidays.
	Schedules []varco.Schedule `json:"schedules,omitempty"`
	Holidays  []varco.Holiday  `json:"holidays,omitempty"`
	// Mode and TimeZone replace the door's configured mode and zone;
	// empty means the defaults (ModeNormal, the site's zone).
	Mode     varco.DoorMode `json:"mode,omitempty"`
	TimeZone string         `json:"time_zone,omitempty"`
}

// encoded is a validated grant ready to Put.
type encoded struct{ key, val []byte }

// encodeGrants validates and encodes gs into one arena, sorted by NIS so
// bbolt fills pages sequentially.
func encodeGrants(gs []varco.Grant) ([]encoded, error) {
	out := make([]encoded, len(gs))
	size := 0
	for i := range gs {
		if err := gs[i].Validate(); err != nil {
			return nil, fmt.Errorf("%w: grants[%d]: %v", ErrInvalid, i, err)
		}
		size += 32 + len(gs[i].NIS) + len(gs[i].PersonID) + len(gs[i].DisplayName) + len(gs[i].PublicKey)
		for _, id := range gs[i].ScheduleIDs {
			size += 2 + len(id)
		}
	}
	arena := make([]byte, 0, size)
	for i := range gs {
		start := len(arena)
		arena = appendGrant(arena, &gs[i])
		out[i] = encoded{key: []byte(gs[i].NIS), val: arena[start:len(arena):len(arena)]}
	}
	slices.SortFunc(out, func(a, b encoded) int { return strings.Compare(string(a.key), string(b.key)) })
	for i := 1; i < len(out); i++ {
		if string(out[i].key) == string(out[i-1].key) {
			return nil, fmt.Errorf("%w: NIS %s appears twice", ErrInvalid, out[i].key)
		}
	}
	return out, nil
}

func validateShared(schedules []varco.Schedule, holidays []varco.Holiday) error {
	for i := range schedules {
		if err := schedules[i].Validate(); err != nil {
			return fmt.Errorf("%w: schedules[%d]: %v", ErrInvalid, i, err)
		}
	}
	for i, h := range holidays {
		if err := h.Validate(); err != nil {
			return fmt.Errorf("%w: holidays[%d]: %v", ErrInvalid, i, err)
		}
	}
	return nil
}

// ApplyDelta applies d in one transaction, or nothing. d.FromRev must be
// the door's current revision (else ErrStaleRevision or ErrRevisionGap)
// and d.ToRev greater; every grant, schedule and holiday is validated
// before anything is written (ErrInvalid). A NIS may not be both upserted
// and deleted. On success the door is at d.ToRev, last synced at now.
func (s *Store) ApplyDelta(d Delta, now time.Time) error {
	if err := s.applyDelta(d, now); err != nil {
		return fmt.Errorf("store: apply delta %s %d→%d: %w", d.Door, d.FromRev, d.ToRev, err)
	}
	return nil
}

func (s *Store) applyDelta(d Delta, now time.Time) error {
	if d.Door == "" {
		return fmt.Errorf("%w: empty door", ErrInvalid)
	}
	if d.ToRev <= d.FromRev {
		return fmt.Errorf("%w: to_rev must be greater than from_rev", ErrInvalid)
	}
	ups, err := encodeGrants(d.Upserts)
	if err != nil {
		return err
	}
	upserted := make(map[string]bool, len(ups))
	for _, e := range ups {
		upserted[string(e.key)] = true
	}
	for i, nis := range d.Deletes {
		if err := reader.CheckNIS([]byte(nis)); err != nil {
			return fmt.Errorf("%w: deletes[%d]: %v", ErrInvalid, i, err)
		}
		if upserted[nis] {
			return fmt.Errorf("%w: NIS %s both upserted and deleted", ErrInvalid, nis)
		}
	}
	if err := validateShared(d.Schedules, d.Holidays); err != nil {
		return err
	}
	if err := validateSettings(d.Mode, d.TimeZone); err != nil {
		return err
	}
	scheds, hols, err := marshalShared(d.Schedules, d.Holidays)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		door, err := doorBucket(tx, d.Door)
		if err != nil {
			return err
		}
		meta, grants := door.Bucket(bktMeta), door.Bucket(bktGrants)
		switch rev := u64(meta.Get(keyRev)); {
		case d.FromRev < rev:
			return fmt.Errorf("%w: delta starts at %d, door is at %d", ErrStaleRevision, d.FromRev, rev)
		case d.FromRev > rev:
			return fmt.Errorf("%w: delta starts at %d, door is at %d", ErrRevisionGap, d.FromRev, rev)
		}
		count := u64(meta.Get(keyCount))
		for _, nis := range d.Deletes {
			if grants.Get([]byte(nis)) != nil {
				if err := grants.Delete([]byte(nis)); err != nil {
					return err
				}
				count--
			}
		}
		for _, e := range ups {
			if grants.Get(e.key) == nil {
				count++
			}
			if err := grants.Put(e.key, e.val); err != nil {
				return err
			}
		}
		if err := putShared(tx, scheds, d.DeleteSchedules, hols, d.ReplaceHolidays); err != nil {
			return err
		}
		if d.Mode != "" {
			if err := meta.Put(keyMode, []byte(d.Mode)); err != nil {
				return err
			}
		}
		if d.TimeZone != "" {
			if err := meta.Put(keyZone, []byte(d.TimeZone)); err != nil {
				return err
			}
		}
		return putDoorMeta(meta, d.ToRev, now, count)
	})
}

// ApplySnapshot replaces the door's grants with s.Grants at s.Rev in one
// transaction. s.Rev must be greater than the current revision; equal only
// records the sync time (the admin confirmed the door is current); lower
// is ErrStaleRevision.
func (s *Store) ApplySnapshot(snap Snapshot, now time.Time) error {
	if err := s.applySnapshot(snap, now); err != nil {
		return fmt.Errorf("store: apply snapshot %s rev %d: %w", snap.Door, snap.Rev, err)
	}
	return nil
}

func (s *Store) applySnapshot(snap Snapshot, now time.Time) error {
	if snap.Door == "" {
		return fmt.Errorf("%w: empty door", ErrInvalid)
	}
	// Cheap early exit before validating a million grants.
	rev, _, err := s.Revision(snap.Door)
	if err != nil {
		return err
	}
	if snap.Rev < rev {
		return fmt.Errorf("%w: snapshot at %d, door is at %d", ErrStaleRevision, snap.Rev, rev)
	}
	var gs []encoded
	var scheds, hols []encoded
	if snap.Rev > rev {
		if gs, err = encodeGrants(snap.Grants); err != nil {
			return err
		}
		if err := validateShared(snap.Schedules, snap.Holidays); err != nil {
			return err
		}
		if err := validateSettings(snap.Mode, snap.TimeZone); err != nil {
			return err
		}
		if scheds, hols, err = marshalShared(snap.Schedules, snap.Holidays); err != nil {
			return err
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		door, err := doorBucket(tx, snap.Door)
		if err != nil {
			return err
		}
		meta := door.Bucket(bktMeta)
		switch cur := u64(meta.Get(keyRev)); {
		case snap.Rev < cur:
			return fmt.Errorf("%w: snapshot at %d, door is at %d", ErrStaleRevision, snap.Rev, cur)
		case snap.Rev == cur:
			return putTime(meta, keySynced, now)
		}
		// Revisions only grow, so snap.Rev > cur >= rev: gs is built.
		if err := door.DeleteBucket(bktGrants); err != nil {
			return err
		}
		grants, err := door.CreateBucket(bktGrants)
		if err != nil {
			return err
		}
		grants.FillPercent = 1 // keys arrive sorted: pack the pages
		for _, e := range gs {
			if err := grants.Put(e.key, e.val); err != nil {
				return err
			}
		}
		if err := putShared(tx, scheds, nil, hols, true); err != nil {
			return err
		}
		if err := putOrDelete(meta, keyMode, []byte(snap.Mode)); err != nil {
			return err
		}
		if err := putOrDelete(meta, keyZone, []byte(snap.TimeZone)); err != nil {
			return err
		}
		return putDoorMeta(meta, snap.Rev, now, uint64(len(gs)))
	})
}

func marshalShared(schedules []varco.Schedule, holidays []varco.Holiday) (scheds, hols []encoded, err error) {
	for i := range schedules {
		b, err := json.Marshal(&schedules[i])
		if err != nil {
			return nil, nil, fmt.Errorf("%w: schedules[%d]: %v", ErrInvalid, i, err)
		}
		scheds = append(scheds, encoded{key: []byte(schedules[i].ID), val: b})
	}
	for i := range holidays {
		b, err := json.Marshal(holidays[i])
		if err != nil {
			return nil, nil, fmt.Errorf("%w: holidays[%d]: %v", ErrInvalid, i, err)
		}
		hols = append(hols, encoded{key: []byte(holidays[i].Date), val: b})
	}
	return scheds, hols, nil
}

func putShared(tx *bolt.Tx, scheds []encoded, delScheds []string, hols []encoded, replaceHolidays bool) error {
	sb := tx.Bucket(bktSchedules)
	for _, id := range delScheds {
		if err := sb.Delete([]byte(id)); err != nil {
			return err
		}
	}
	for _, e := range scheds {
		if err := sb.Put(e.key, e.val); err != nil {
			return err
		}
	}
	hb := tx.Bucket(bktHolidays)
	if replaceHolidays {
		if err := tx.DeleteBucket(bktHolidays); err != nil {
			return err
		}
		var err error
		if hb, err = tx.CreateBucket(bktHolidays); err != nil {
			return err
		}
	}
	for _, e := range hols {
		if err := hb.Put(e.key, e.val); err != nil {
			return err
		}
	}
	return nil
}

// doorBucket returns doors/<door>, creating it and its sub-buckets.
func doorBucket(tx *bolt.Tx, door string) (*bolt.Bucket, error) {
	b, err := tx.Bucket(bktDoors).CreateBucketIfNotExists([]byte(door))
	if err != nil {
		return nil, err
	}
	for _, name := range [][]byte{bktGrants, bktMeta} {
		if _, err := b.CreateBucketIfNotExists(name); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func putDoorMeta(meta *bolt.Bucket, rev uint64, now time.Time, count uint64) error {
	if err := putU64(meta, keyRev, rev); err != nil {
		return err
	}
	if err := putU64(meta, keyCount, count); err != nil {
		return err
	}
	return putTime(meta, keySynced, now)
}

func putTime(b *bolt.Bucket, key []byte, t time.Time) error {
	if t.IsZero() {
		return b.Delete(key)
	}
	return putU64(b, key, uint64(t.UnixNano()))
}

// door returns doors/<door> or nil.
func (r *ReadTx) door(door string) *bolt.Bucket {
	return r.tx.Bucket(bktDoors).Bucket([]byte(door))
}

// Grant returns the door's grant for nis. This is the tap's lookup.
func (r *ReadTx) Grant(door, nis string) (varco.Grant, bool, error) {
	b := r.door(door)
	if b == nil {
		return varco.Grant{}, false, nil
	}
	v := b.Bucket(bktGrants).Get([]byte(nis))
	if v == nil {
		return varco.Grant{}, false, nil
	}
	g, err := decodeGrant(v)
	if err != nil {
		return varco.Grant{}, false, fmt.Errorf("store: door %s NIS %s: %w", door, nis, err)
	}
	return g, true, nil
}

// Revision returns the door's allowlist revision (0 before the first
// sync) and the time of its last successful sync (zero if never).
func (r *ReadTx) Revision(door string) (uint64, time.Time, error) {
	b := r.door(door)
	if b == nil {
		return 0, time.Time{}, nil
	}
	meta := b.Bucket(bktMeta)
	var synced time.Time
	if v := meta.Get(keySynced); v != nil {
		synced = time.Unix(0, int64(u64(v)))
	}
	return u64(meta.Get(keyRev)), synced, nil
}

// GrantCount returns how many grants the door holds, from a counter.
func (r *ReadTx) GrantCount(door string) (int, error) {
	b := r.door(door)
	if b == nil {
		return 0, nil
	}
	return int(u64(b.Bucket(bktMeta).Get(keyCount))), nil
}

// Schedules returns every schedule by id.
func (r *ReadTx) Schedules() (map[string]varco.Schedule, error) {
	out := make(map[string]varco.Schedule)
	err := r.tx.Bucket(bktSchedules).ForEach(func(k, v []byte) error {
		var sc varco.Schedule
		if err := json.Unmarshal(v, &sc); err != nil {
			return fmt.Errorf("store: schedule %q: %w: %v", k, ErrCorrupt, err)
		}
		out[string(k)] = sc
		return nil
	})
	return out, err
}

// Holidays returns every holiday in date order.
func (r *ReadTx) Holidays() ([]varco.Holiday, error) {
	var out []varco.Holiday
	err := r.tx.Bucket(bktHolidays).ForEach(func(k, v []byte) error {
		var h varco.Holiday
		if err := json.Unmarshal(v, &h); err != nil {
			return fmt.Errorf("store: holiday %q: %w: %v", k, ErrCorrupt, err)
		}
		out = append(out, h)
		return nil
	})
	return out, err
}

// IsHoliday reports whether date (YYYY-MM-DD, site calendar) is a holiday.
func (r *ReadTx) IsHoliday(date string) (bool, error) {
	return r.tx.Bucket(bktHolidays).Get([]byte(date)) != nil, nil
}

// Doors returns the doors that have an allowlist or an outbox, sorted.
func (r *ReadTx) Doors() ([]string, error) {
	seen := map[string]bool{}
	for _, top := range [][]byte{bktDoors, bktOutbox} {
		err := r.tx.Bucket(top).ForEachBucket(func(k []byte) error {
			seen[string(k)] = true
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	slices.Sort(out)
	return out, nil
}

// SiteKey returns the site's public key as set by SetSiteKey, or nil.
func (r *ReadTx) SiteKey() ([]byte, error) {
	return bytesClone(r.tx.Bucket(bktMeta).Get(keySiteKey)), nil
}

// DoorConfig returns the door's configuration overrides (opaque bytes) as
// set by SetDoorConfig, or nil.
func (r *ReadTx) DoorConfig(door string) ([]byte, error) {
	return bytesClone(r.tx.Bucket(bktMeta).Get([]byte(doorConfigPrefix + door))), nil
}

func bytesClone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// SetSiteKey stores the site's public key (the admin's signing key the
// door pins).
func (s *Store) SetSiteKey(key []byte) error {
	return s.setMeta(keySiteKey, key)
}

// SetDoorConfig stores the door's configuration overrides; nil deletes
// them.
func (s *Store) SetDoorConfig(door string, b []byte) error {
	if door == "" {
		return fmt.Errorf("store: set door config: %w: empty door", ErrInvalid)
	}
	return s.setMeta([]byte(doorConfigPrefix+door), b)
}

func (s *Store) setMeta(key, val []byte) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if val == nil {
			return tx.Bucket(bktMeta).Delete(key)
		}
		return tx.Bucket(bktMeta).Put(key, val)
	})
	if err != nil {
		return fmt.Errorf("store: set %s: %w", key, err)
	}
	return nil
}

// Grant is ReadTx.Grant in a transaction of its own.
func (s *Store) Grant(door, nis string) (g varco.Grant, ok bool, err error) {
	err = s.View(func(r *ReadTx) error { g, ok, err = r.Grant(door, nis); return err })
	return g, ok, err
}

// Revision is ReadTx.Revision in a transaction of its own.
func (s *Store) Revision(door string) (rev uint64, synced time.Time, err error) {
	err = s.View(func(r *ReadTx) error { rev, synced, err = r.Revision(door); return err })
	return rev, synced, err
}

// GrantCount is ReadTx.GrantCount in a transaction of its own.
func (s *Store) GrantCount(door string) (n int, err error) {
	err = s.View(func(r *ReadTx) error { n, err = r.GrantCount(door); return err })
	return n, err
}

// Schedules is ReadTx.Schedules in a transaction of its own.
func (s *Store) Schedules() (m map[string]varco.Schedule, err error) {
	err = s.View(func(r *ReadTx) error { m, err = r.Schedules(); return err })
	return m, err
}

// Holidays is ReadTx.Holidays in a transaction of its own.
func (s *Store) Holidays() (hs []varco.Holiday, err error) {
	err = s.View(func(r *ReadTx) error { hs, err = r.Holidays(); return err })
	return hs, err
}

// IsHoliday is ReadTx.IsHoliday in a transaction of its own.
func (s *Store) IsHoliday(date string) (ok bool, err error) {
	err = s.View(func(r *ReadTx) error { ok, err = r.IsHoliday(date); return err })
	return ok, err
}

// Doors is ReadTx.Doors in a transaction of its own.
func (s *Store) Doors() (ds []string, err error) {
	err = s.View(func(r *ReadTx) error { ds, err = r.Doors(); return err })
	return ds, err
}

// SiteKey is ReadTx.SiteKey in a transaction of its own.
func (s *Store) SiteKey() (k []byte, err error) {
	err = s.View(func(r *ReadTx) error { k, err = r.SiteKey(); return err })
	return k, err
}

// DoorConfig is ReadTx.DoorConfig in a transaction of its own.
func (s *Store) DoorConfig(door string) (b []byte, err error) {
	err = s.View(func(r *ReadTx) error { b, err = r.DoorConfig(door); return err })
	return b, err
}
