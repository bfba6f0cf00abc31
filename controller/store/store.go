package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Options tune Open. A nil *Options means the defaults documented on each
// field.
type Options struct {
	// LockTimeout bounds the wait for the file lock; a second instance
	// on the same file gets ErrLocked after it. Default 1 s.
	LockTimeout time.Duration
	// OutboxCap is the most events kept per door; when it is reached the
	// oldest are dropped and counted (see Append). 0, the default, means
	// unlimited; otherwise it must be at least 2 (room for the new event
	// and the notice of the drop). Production configs should keep it at
	// 1,000,000 or more.
	OutboxCap int
	// InitialMmapSize is the size bbolt maps at open (virtual address
	// space, not memory). When a transaction grows the file past the
	// map, bbolt remaps inside the commit and first copies every node
	// the transaction touched to the heap: most of the time of a big
	// snapshot into a small file. Set it above the expected file size
	// (about 550 bytes per grant) to avoid that. 0, the default, lets
	// bbolt start small and grow.
	InitialMmapSize int
	// NoSync skips fsync on commit: a crash of the machine (not just of
	// the process) may lose or corrupt data. For tests and benchmarks only.
	NoSync bool
}

// DefaultLockTimeout is Options.LockTimeout when it is zero.
const DefaultLockTimeout = time.Second

// Store is the open bbolt file. Its methods are safe for concurrent use.
type Store struct {
	db    *bolt.DB
	path  string
	cap   int
	epoch string
}

// Bucket and key names (see the layout in doc.go).
var (
	bktDoors     = []byte("doors")
	bktGrants    = []byte("grants")
	bktMeta      = []byte("meta")
	bktSchedules = []byte("schedules")
	bktHolidays  = []byte("holidays")
	bktOutbox    = []byte("outbox")
	bktEvents    = []byte("events")

	keyRev     = []byte("rev")
	keySynced  = []byte("synced")
	keyCount   = []byte("count")
	keyNext    = []byte("next")
	keyDropped = []byte("dropped")
	keySiteKey = []byte("site_key")

	doorConfigPrefix = "door_config/"
)

// Open opens or creates the store at path.
func Open(path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.OutboxCap < 0 || o.OutboxCap == 1 {
		return nil, fmt.Errorf("%w: OutboxCap %d: want 0 (unlimited) or at least 2", ErrInvalid, o.OutboxCap)
	}
	// A first start creates the state directory (systemd's
	// StateDirectory does it too, with the same mode).
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         o.LockTimeout,
		NoSync:          o.NoSync,
		InitialMmapSize: o.InitialMmapSize,
		// The hashmap freelist keeps commits fast when a snapshot frees
		// hundreds of thousands of pages.
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s (gave up after %v): is another varco-door running?", ErrLocked, path, o.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	var epoch string
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bktDoors, bktSchedules, bktHolidays, bktMeta, bktOutbox} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		var err error
		epoch, err = initEpoch(tx)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	return &Store{db: db, path: path, cap: o.OutboxCap, epoch: epoch}, nil
}

// Close closes the file, waiting for transactions in flight.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// Path returns the file name given to Open.
func (s *Store) Path() string { return s.path }

// View runs fn in a read-only transaction: everything fn reads through r
// belongs to one consistent state (one revision of every door). r must not
// be used after fn returns. Keep fn short: a long reader holds back the
// reuse of freed pages.
func (s *Store) View(fn func(r *ReadTx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&ReadTx{tx: tx}) })
}

// ReadTx reads one consistent state of the store; see View.
type ReadTx struct {
	tx *bolt.Tx
}

func u64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func putU64(b *bolt.Bucket, key []byte, v uint64) error {
	return b.Put(key, binary.BigEndian.AppendUint64(nil, v))
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq) }
