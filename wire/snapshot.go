package wire

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/varco-access/varco"
)

// SnapshotChunk is one part of a door's complete allowlist at one revision
// (kind snapshot, admin → door, signed; each chunk is sealed on its own).
// A snapshot is split so that no message is large; the door collects the
// chunks with an Assembler and applies the snapshot only when every chunk
// is in and the last chunk's count and digest match.
type SnapshotChunk struct {
	// ID is a random id of this snapshot (NewID): chunks of two snapshots
	// at the same revision are never mixed.
	ID    string `json:"id"`
	Rev   uint64 `json:"rev"`
	Index int    `json:"index"` // 0..Total-1
	Total int    `json:"total"`
	// Grants are this chunk's part of the allowlist, in NIS order across
	// chunks (as SplitSnapshot cuts them; receivers do not depend on it).
	Grants []varco.Grant `json:"grants,omitempty"`

	// The last chunk (Index == Total-1) alone carries the rest of the
	// door's state: the complete sets of schedules and holidays, the mode
	// and zone (empty: the door's configured default), and the number of
	// grants and their Digest, so the door can check completeness.
	Schedules []varco.Schedule `json:"schedules,omitempty"`
	Holidays  []varco.Holiday  `json:"holidays,omitempty"`
	Mode      varco.DoorMode   `json:"mode,omitempty"`
	TimeZone  string           `json:"time_zone,omitempty"`
	Count     int              `json:"count,omitempty"`
	Digest    string           `json:"digest,omitempty"`
}

// Last reports whether c is the last chunk of its snapshot.
func (c SnapshotChunk) Last() bool { return c.Index == c.Total-1 }

// Validate checks the chunk's header, each of its grants and, in the last
// chunk, the schedules, holidays, mode, zone, count and digest. Only the
// last chunk may carry those.
func (c SnapshotChunk) Validate() error {
	if err := c.validateHeader(); err != nil {
		return err
	}
	if _, err := validateGrants(fmt.Sprintf("snapshot %s chunk %d: grants", c.ID, c.Index), c.Grants); err != nil {
		return err
	}
	if c.Last() {
		return validateShared(fmt.Sprintf("snapshot %s chunk %d", c.ID, c.Index), c.Schedules, c.Holidays, c.Mode, c.TimeZone)
	}
	return nil
}

// validateHeader is the cheap part of Validate, which the Assembler
// repeats on every chunk: Open has validated the grants already.
func (c SnapshotChunk) validateHeader() error {
	if !ValidID(c.ID) {
		return fmt.Errorf("snapshot: id %q is not a valid id", clip(c.ID))
	}
	if c.Rev == 0 {
		return fmt.Errorf("snapshot %s: rev: must be positive", c.ID)
	}
	if c.Total < 1 || c.Index < 0 || c.Index >= c.Total {
		return fmt.Errorf("snapshot %s: index %d, total %d: want 0 <= index < total", c.ID, c.Index, c.Total)
	}
	if !c.Last() {
		if c.Schedules != nil || c.Holidays != nil || c.Mode != "" || c.TimeZone != "" || c.Count != 0 || c.Digest != "" {
			return fmt.Errorf("snapshot %s chunk %d: schedules, holidays, mode, time_zone, count and digest belong in the last chunk", c.ID, c.Index)
		}
		return nil
	}
	if c.Count < 0 {
		return fmt.Errorf("snapshot %s: count %d is negative", c.ID, c.Count)
	}
	if len(c.Digest) != 2*sha256.Size || strings.ToLower(c.Digest) != c.Digest {
		return fmt.Errorf("snapshot %s: digest %q is not a lowercase hex SHA-256", c.ID, clip(c.Digest))
	}
	if _, err := hex.DecodeString(c.Digest); err != nil {
		return fmt.Errorf("snapshot %s: digest %q is not a lowercase hex SHA-256", c.ID, clip(c.Digest))
	}
	return nil
}

// Digest returns the digest a snapshot's last chunk carries: the lowercase
// hex SHA-256 of one line per grant, NIS + "\x00" + KeyHash() + "\n",
// lines sorted bytewise. It covers what identifies an allowlist entry
// (CIE.md section 1); the signatures of the chunks cover the rest.
func Digest(grants []varco.Grant) string {
	lines := make([]string, len(grants))
	for i := range grants {
		lines[i] = grants[i].NIS + "\x00" + grants[i].KeyHash() + "\n"
	}
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// NewID returns a random 128-bit id in lowercase hex (32 bytes, a valid
// id): for snapshot ids, outbox epochs and enrolment sessions.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

// DefaultChunkBytes is SplitSnapshot's chunk size when given 0: a chunk
// body of at most 256 KiB, a message of about 350 KiB once base64 and
// signed, some 500 grants.
const DefaultChunkBytes = 256 << 10

// chunkOverhead estimates a chunk body without its grants and last-chunk
// fields: {"id":"<32 hex>","rev":N,"index":N,"total":N,"grants":[]}.
const chunkOverhead = 128

// SplitSnapshot cuts a door's complete allowlist at rev into chunks whose
// JSON bodies are at most about maxChunkBytes (DefaultChunkBytes if 0 or
// less); a grant larger than that gets a chunk of its own. Grants go in
// NIS order; the last chunk carries schedules, holidays, mode, zone, count
// and digest, and may have no grants. There is always at least one chunk.
// id should come from NewID. Grants must have distinct NIS: the door
// refuses a snapshot with a repeated NIS.
func SplitSnapshot(id string, rev uint64, grants []varco.Grant, scheds []varco.Schedule, hols []varco.Holiday, mode varco.DoorMode, tz string, maxChunkBytes int) []SnapshotChunk {
	if maxChunkBytes <= 0 {
		maxChunkBytes = DefaultChunkBytes
	}
	gs := slices.Clone(grants)
	slices.SortStableFunc(gs, func(a, b varco.Grant) int { return strings.Compare(a.NIS, b.NIS) })

	var chunks []SnapshotChunk
	start, size := 0, chunkOverhead
	for i := range gs {
		n := jsonSize(&gs[i]) + 1
		if i > start && size+n > maxChunkBytes {
			chunks = append(chunks, SnapshotChunk{Grants: gs[start:i:i]})
			start, size = i, chunkOverhead
		}
		size += n
	}
	last := SnapshotChunk{
		Schedules: scheds, Holidays: hols, Mode: mode, TimeZone: tz,
		Count: len(gs), Digest: Digest(gs),
	}
	shared := jsonSize(&last)
	if start < len(gs) && size+shared > maxChunkBytes {
		chunks = append(chunks, SnapshotChunk{Grants: gs[start:len(gs):len(gs)]})
		start = len(gs)
	}
	if start < len(gs) {
		last.Grants = gs[start:len(gs):len(gs)]
	}
	chunks = append(chunks, last)
	for i := range chunks {
		chunks[i].ID, chunks[i].Rev, chunks[i].Index, chunks[i].Total = id, rev, i, len(chunks)
	}
	return chunks
}

func jsonSize(v any) int {
	b, _ := json.Marshal(v) // grants and chunks always marshal
	return len(b)
}

// Snapshot is a door's complete allowlist at one revision, assembled from
// its chunks and checked against their count and digest.
type Snapshot struct {
	ID        string
	Rev       uint64
	Grants    []varco.Grant // in chunk order
	Schedules []varco.Schedule
	Holidays  []varco.Holiday
	Mode      varco.DoorMode // empty: the door's configured default
	TimeZone  string         // empty: the door's configured zone
}

// Assemble builds the snapshot from all of its chunks, in any order;
// duplicates are ignored. It fails with ErrIncomplete if a chunk is
// missing, ErrMalformed if the chunks disagree on id, revision or total or
// a NIS repeats, ErrDigest if the count or digest does not match.
func Assemble(chunks []SnapshotChunk) (*Snapshot, error) {
	if len(chunks) == 0 {
		return nil, fmt.Errorf("wire: assemble: %w: no chunks", ErrIncomplete)
	}
	first := chunks[0]
	byIndex := make(map[int]SnapshotChunk, len(chunks))
	for _, c := range chunks {
		if err := c.validateHeader(); err != nil {
			return nil, fmt.Errorf("wire: assemble: %w: %v", ErrMalformed, err)
		}
		if c.ID != first.ID || c.Rev != first.Rev || c.Total != first.Total {
			return nil, fmt.Errorf("wire: assemble: %w: chunk %d is of snapshot %s rev %d total %d, chunk 0 of %s rev %d total %d",
				ErrMalformed, c.Index, c.ID, c.Rev, c.Total, first.ID, first.Rev, first.Total)
		}
		if _, dup := byIndex[c.Index]; !dup {
			byIndex[c.Index] = c
		}
	}
	ordered := make([]SnapshotChunk, first.Total)
	for i := range ordered {
		c, ok := byIndex[i]
		if !ok {
			return nil, fmt.Errorf("wire: assemble snapshot %s: %w: chunk %d of %d missing", first.ID, ErrIncomplete, i, first.Total)
		}
		ordered[i] = c
	}
	return build(ordered)
}

// build joins a complete, ordered, consistent set of chunks and checks it.
func build(chunks []SnapshotChunk) (*Snapshot, error) {
	last := chunks[len(chunks)-1]
	n := 0
	for _, c := range chunks {
		n += len(c.Grants)
	}
	if n != last.Count {
		return nil, fmt.Errorf("wire: snapshot %s rev %d: %w: %d grants, last chunk says %d", last.ID, last.Rev, ErrDigest, n, last.Count)
	}
	s := &Snapshot{
		ID: last.ID, Rev: last.Rev, Grants: make([]varco.Grant, 0, n),
		Schedules: last.Schedules, Holidays: last.Holidays, Mode: last.Mode, TimeZone: last.TimeZone,
	}
	seen := make(map[string]bool, n)
	for _, c := range chunks {
		for _, g := range c.Grants {
			if seen[g.NIS] {
				return nil, fmt.Errorf("wire: snapshot %s rev %d: %w: NIS %s in two grants", last.ID, last.Rev, ErrMalformed, g.NIS)
			}
			seen[g.NIS] = true
			s.Grants = append(s.Grants, g)
		}
	}
	if d := Digest(s.Grants); d != last.Digest {
		return nil, fmt.Errorf("wire: snapshot %s rev %d: %w: grants hash to %s, last chunk says %s", last.ID, last.Rev, ErrDigest, d, last.Digest)
	}
	return s, nil
}

// Assembler defaults (AssemblerOptions).
const (
	DefaultMaxChunks  = 4096
	DefaultMaxGrants  = 250_000
	DefaultMaxPending = 2
)

// AssemblerOptions bound an Assembler's memory. A zero field means its
// default.
type AssemblerOptions struct {
	// MaxChunks is the largest Total a snapshot may announce
	// (DefaultMaxChunks).
	MaxChunks int
	// MaxGrants is the most grants held at once, over all snapshots being
	// assembled (DefaultMaxGrants).
	MaxGrants int
	// MaxPending is how many snapshots may be assembled at once
	// (DefaultMaxPending): a new snapshot beyond it evicts the one with
	// the lowest revision. Two let a door switch to the answer of a
	// second sync request while a lost chunk keeps the first incomplete.
	MaxPending int
}

// Assembler collects the chunks of snapshots for one door, in any order,
// ignoring duplicates, with bounded memory, and hands out each snapshot
// once it is complete and verified. It is safe for concurrent use.
type Assembler struct {
	opts AssemblerOptions

	mu      sync.Mutex
	pending []*partial
	held    int    // grants in pending
	arrival uint64 // orders partials for eviction
	doneID  string // the last snapshot handed out
	doneRev uint64
}

// partial is a snapshot being assembled.
type partial struct {
	id      string
	rev     uint64
	total   int
	chunks  map[int]SnapshotChunk
	grants  int
	arrival uint64
}

// NewAssembler returns an Assembler bounded by opts; nil means the
// defaults.
func NewAssembler(opts *AssemblerOptions) *Assembler {
	a := &Assembler{opts: AssemblerOptions{DefaultMaxChunks, DefaultMaxGrants, DefaultMaxPending}}
	if opts != nil {
		if opts.MaxChunks > 0 {
			a.opts.MaxChunks = opts.MaxChunks
		}
		if opts.MaxGrants > 0 {
			a.opts.MaxGrants = opts.MaxGrants
		}
		if opts.MaxPending > 0 {
			a.opts.MaxPending = opts.MaxPending
		}
	}
	return a
}

// Add takes one chunk, as opened by Verifier.Open. It returns the
// snapshot when c completes it and it verifies, nil and no error while
// chunks are missing or c is a duplicate. Errors: ErrMalformed (a bad
// header, a chunk disagreeing with earlier chunks of its id, a repeated
// NIS), ErrTooLarge (past the options' bounds: the snapshot is dropped),
// ErrStale (a chunk of the last snapshot handed out, or older than it),
// ErrDigest (the completed snapshot does not match its count or digest:
// it is dropped; the door should sync again). Call CheckSnapshot first to
// drop chunks older than the door's revision.
func (a *Assembler) Add(c SnapshotChunk) (*Snapshot, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := c.validateHeader(); err != nil {
		return nil, fmt.Errorf("wire: assemble: %w: %v", ErrMalformed, err)
	}
	if c.Total > a.opts.MaxChunks {
		return nil, fmt.Errorf("wire: assemble snapshot %s: %w: %d chunks, limit %d", c.ID, ErrTooLarge, c.Total, a.opts.MaxChunks)
	}
	if a.doneID != "" && (c.ID == a.doneID || c.Rev < a.doneRev) {
		return nil, fmt.Errorf("wire: assemble snapshot %s rev %d: %w: snapshot %s rev %d already assembled", c.ID, c.Rev, ErrStale, a.doneID, a.doneRev)
	}
	p := a.find(c.ID)
	switch {
	case p == nil:
		if len(a.pending) >= a.opts.MaxPending {
			a.evict()
		}
		a.arrival++
		p = &partial{id: c.ID, rev: c.Rev, total: c.Total, chunks: map[int]SnapshotChunk{}, arrival: a.arrival}
		a.pending = append(a.pending, p)
	case p.rev != c.Rev || p.total != c.Total:
		return nil, fmt.Errorf("wire: assemble snapshot %s: %w: chunk %d says rev %d total %d, earlier chunks rev %d total %d",
			c.ID, ErrMalformed, c.Index, c.Rev, c.Total, p.rev, p.total)
	}
	if _, dup := p.chunks[c.Index]; dup {
		return nil, nil
	}
	if a.held+len(c.Grants) > a.opts.MaxGrants {
		a.drop(p)
		return nil, fmt.Errorf("wire: assemble snapshot %s: %w: more than %d grants", c.ID, ErrTooLarge, a.opts.MaxGrants)
	}
	p.chunks[c.Index] = c
	p.grants += len(c.Grants)
	a.held += len(c.Grants)
	if len(p.chunks) < p.total {
		return nil, nil
	}
	a.drop(p)
	ordered := make([]SnapshotChunk, p.total)
	for i, c := range p.chunks {
		ordered[i] = c
	}
	s, err := build(ordered)
	if err != nil {
		return nil, err
	}
	a.doneID, a.doneRev = s.ID, s.Rev
	for _, q := range slices.Clone(a.pending) {
		if q.rev <= s.Rev {
			a.drop(q)
		}
	}
	return s, nil
}

// Reset drops every snapshot being assembled: the door gave up waiting
// and asks again. The last snapshot handed out is still remembered.
func (a *Assembler) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending, a.held = nil, 0
}

// Pending returns how many snapshots are being assembled and how many
// grants they hold: for metrics and tests.
func (a *Assembler) Pending() (snapshots, grants int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending), a.held
}

func (a *Assembler) find(id string) *partial {
	for _, p := range a.pending {
		if p.id == id {
			return p
		}
	}
	return nil
}

// evict drops the partial with the lowest revision, the oldest among
// equals.
func (a *Assembler) evict() {
	var victim *partial
	for _, p := range a.pending {
		if victim == nil || p.rev < victim.rev || p.rev == victim.rev && p.arrival < victim.arrival {
			victim = p
		}
	}
	if victim != nil {
		a.drop(victim)
	}
}

func (a *Assembler) drop(p *partial) {
	if i := slices.Index(a.pending, p); i >= 0 {
		a.pending = slices.Delete(a.pending, i, i+1)
		a.held -= p.grants
	}
}
