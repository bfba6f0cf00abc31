package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/varco-access/varco"
)

// manyGrants returns n valid grants with distinct NIS, in reverse order.
func manyGrants(n int) []varco.Grant {
	gs := make([]varco.Grant, n)
	for i := range gs {
		gs[i] = grant(fmt.Sprintf("%012d", 100000+n-i))
	}
	return gs
}

func TestDigest(t *testing.T) {
	gs := sampleGrants()
	// Computed independently: sorted lines NIS NUL hex(sha256(key)) LF.
	var lines []string
	for _, g := range gs {
		k := sha256.Sum256(g.PublicKey)
		lines = append(lines, g.NIS+"\x00"+hex.EncodeToString(k[:])+"\n")
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "")))
	if got, want := Digest(gs), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Digest = %s, want %s", got, want)
	}
	rev := slices.Clone(gs)
	slices.Reverse(rev)
	if Digest(rev) != Digest(gs) {
		t.Error("Digest depends on order")
	}
	changed := slices.Clone(gs)
	changed[0].PublicKey = cardKey1
	if changed[0].KeyHash() == gs[0].KeyHash() {
		changed[0].PublicKey = cardKey2
	}
	if Digest(changed) == Digest(gs) {
		t.Error("Digest ignores the key")
	}
	if Digest(nil) != hex.EncodeToString(func() []byte { s := sha256.Sum256(nil); return s[:] }()) {
		t.Error("Digest of nothing")
	}
}

func TestNewID(t *testing.T) {
	a, b := NewID(), NewID()
	if a == b || len(a) != 32 || !ValidID(a) {
		t.Errorf("NewID = %q, %q", a, b)
	}
}

func TestSplitSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name   string
		grants int
		max    int
		chunks int // 0: do not check
	}{
		{"empty", 0, 0, 1},
		{"one", 1, 0, 1},
		{"default size", 2000, 0, 0},
		{"tiny chunks", 10, 1, 11}, // one grant each, then the shared part alone
		{"small chunks", 50, 4000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gs := manyGrants(tc.grants)
			orig := slices.Clone(gs)
			hols := []varco.Holiday{{Date: "2026-12-25"}}
			chunks := SplitSnapshot("snap-1", 9, gs, []varco.Schedule{office}, hols, varco.ModeLockdown, "UTC", tc.max)
			if !reflect.DeepEqual(gs, orig) {
				t.Error("SplitSnapshot reordered its argument")
			}
			if tc.chunks != 0 && len(chunks) != tc.chunks {
				t.Errorf("%d chunks, want %d", len(chunks), tc.chunks)
			}
			max := tc.max
			if max <= 0 {
				max = DefaultChunkBytes
			}
			var all []varco.Grant
			for i, c := range chunks {
				if err := c.Validate(); err != nil {
					t.Fatalf("chunk %d: %v", i, err)
				}
				if c.ID != "snap-1" || c.Rev != 9 || c.Index != i || c.Total != len(chunks) {
					t.Errorf("chunk %d header %s %d %d/%d", i, c.ID, c.Rev, c.Index, c.Total)
				}
				b, _ := json.Marshal(c)
				if len(b) > max && len(c.Grants) > 1 {
					t.Errorf("chunk %d is %d bytes with %d grants, max %d", i, len(b), len(c.Grants), max)
				}
				if len(c.Grants) == 0 && !c.Last() {
					t.Errorf("chunk %d is empty", i)
				}
				all = append(all, c.Grants...)
			}
			if !slices.IsSortedFunc(all, func(a, b varco.Grant) int { return strings.Compare(a.NIS, b.NIS) }) {
				t.Error("grants not in NIS order")
			}
			last := chunks[len(chunks)-1]
			if last.Count != tc.grants || last.Digest != Digest(gs) || last.Mode != varco.ModeLockdown || last.TimeZone != "UTC" || len(last.Holidays) != 1 {
				t.Errorf("last chunk %+v", last)
			}
			s, err := Assemble(chunks)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Grants) != tc.grants || s.Rev != 9 || s.ID != "snap-1" || s.Mode != varco.ModeLockdown {
				t.Errorf("assembled %d grants rev %d", len(s.Grants), s.Rev)
			}
			if tc.max == 0 && tc.grants > 0 {
				// Sealed chunks fit comfortably in a message.
				for _, c := range chunks {
					if msg := mustSeal(t, KindSnapshot, c); len(msg) > DefaultChunkBytes*3/2 {
						t.Errorf("sealed chunk of %d bytes", len(msg))
					}
				}
			}
		})
	}
}

// shuffled returns the chunks in a seeded random order.
func shuffled(chunks []SnapshotChunk, seed uint64) []SnapshotChunk {
	c := slices.Clone(chunks)
	r := rand.New(rand.NewPCG(seed, 1))
	r.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c
}

// addAll feeds chunks to a and returns the snapshot the last one
// completes; every earlier Add must return nothing.
func addAll(t *testing.T, a *Assembler, chunks []SnapshotChunk) (*Snapshot, error) {
	t.Helper()
	for i, c := range chunks[:len(chunks)-1] {
		if s, err := a.Add(c); s != nil || err != nil {
			t.Fatalf("Add #%d (chunk %d): %v, %v", i, c.Index, s, err)
		}
	}
	return a.Add(chunks[len(chunks)-1])
}

func TestAssembler(t *testing.T) {
	gs := manyGrants(40)
	chunks := SplitSnapshot("snap-a", 10, gs, nil, nil, "", "", 2000)
	if len(chunks) < 5 {
		t.Fatalf("only %d chunks", len(chunks))
	}
	want, err := Assemble(chunks)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("in order", func(t *testing.T) {
		s, err := addAll(t, NewAssembler(nil), chunks)
		if err != nil || !reflect.DeepEqual(s, want) {
			t.Fatalf("%v %v", s, err)
		}
	})
	t.Run("out of order", func(t *testing.T) {
		for seed := range uint64(20) {
			s, err := addAll(t, NewAssembler(nil), shuffled(chunks, seed))
			if err != nil || !reflect.DeepEqual(s, want) {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
	})
	t.Run("duplicates", func(t *testing.T) {
		a := NewAssembler(nil)
		dup := append(slices.Clone(chunks[:3]), chunks[0], chunks[2], chunks[1])
		for _, c := range dup {
			if s, err := a.Add(c); s != nil || err != nil {
				t.Fatalf("%v %v", s, err)
			}
		}
		if n, g := a.Pending(); n != 1 || g != len(chunks[0].Grants)+len(chunks[1].Grants)+len(chunks[2].Grants) {
			t.Errorf("pending %d snapshots, %d grants", n, g)
		}
		s, err := addAll(t, a, chunks[3:])
		if err != nil || !reflect.DeepEqual(s, want) {
			t.Fatalf("%v", err)
		}
		// After completion, its chunks are stale.
		_, err = a.Add(chunks[0])
		wantErr(t, err, ErrStale, "already assembled")
		if n, g := a.Pending(); n != 0 || g != 0 {
			t.Errorf("pending %d, %d after completion", n, g)
		}
	})
	t.Run("missing chunk", func(t *testing.T) {
		a := NewAssembler(nil)
		for i, c := range chunks {
			if i == 2 {
				continue
			}
			if s, err := a.Add(c); s != nil || err != nil {
				t.Fatalf("%v %v", s, err)
			}
		}
		_, err := Assemble(slices.Delete(slices.Clone(chunks), 2, 3))
		wantErr(t, err, ErrIncomplete, "chunk 2 of")
		a.Reset()
		if n, g := a.Pending(); n != 0 || g != 0 {
			t.Errorf("Reset left %d, %d", n, g)
		}
	})
	t.Run("wrong digest", func(t *testing.T) {
		bad := slices.Clone(chunks)
		last := bad[len(bad)-1]
		last.Digest = Digest(manyGrants(3))
		bad[len(bad)-1] = last
		a := NewAssembler(nil)
		_, err := addAll(t, a, bad)
		wantErr(t, err, ErrDigest, "grants hash to")
		if n, _ := a.Pending(); n != 0 {
			t.Error("a failed snapshot stays pending")
		}
		_, err = Assemble(bad)
		wantErr(t, err, ErrDigest, "")
	})
	t.Run("swapped grant", func(t *testing.T) {
		// Same count, one grant replaced: the digest catches it.
		bad := slices.Clone(chunks)
		c := bad[1]
		c.Grants = slices.Clone(c.Grants)
		c.Grants[0] = grant("777777777777")
		bad[1] = c
		_, err := addAll(t, NewAssembler(nil), bad)
		wantErr(t, err, ErrDigest, "")
	})
	t.Run("wrong count", func(t *testing.T) {
		bad := slices.Clone(chunks)
		c := bad[1]
		c.Grants = c.Grants[1:]
		bad[1] = c
		_, err := addAll(t, NewAssembler(nil), bad)
		wantErr(t, err, ErrDigest, "last chunk says 40")
	})
	t.Run("repeated NIS across chunks", func(t *testing.T) {
		gs := manyGrants(4)
		gs[3] = gs[0]
		two := SplitSnapshot("snap-d", 10, gs, nil, nil, "", "", 1)
		_, err := addAll(t, NewAssembler(nil), two)
		wantErr(t, err, ErrMalformed, "in two grants")
	})
	t.Run("other snapshot id", func(t *testing.T) {
		// Two snapshots at the same revision, interleaved: they are
		// assembled apart; when one completes, the other is dropped, and
		// chunks older than the completed one are stale.
		other := SplitSnapshot("snap-b", 10, gs, nil, nil, "", "", 2000)
		a := NewAssembler(nil)
		for i := 0; i < len(chunks)-1; i++ {
			for _, c := range []SnapshotChunk{other[i], chunks[i]} {
				if s, err := a.Add(c); s != nil || err != nil {
					t.Fatalf("%v %v", s, err)
				}
			}
		}
		s, err := a.Add(chunks[len(chunks)-1])
		if err != nil || s.ID != "snap-a" {
			t.Fatalf("%v %v", s, err)
		}
		// snap-b at the same revision was dropped with the completion.
		if n, _ := a.Pending(); n != 0 {
			t.Errorf("%d pending", n)
		}
		newer := SplitSnapshot("snap-c", 11, gs, nil, nil, "", "", 2000)
		s, err = addAll(t, a, newer)
		if err != nil || s.Rev != 11 {
			t.Fatalf("%v %v", s, err)
		}
		_, err = a.Add(other[0]) // rev 10 < 11
		wantErr(t, err, ErrStale, "")
	})
	t.Run("inconsistent chunk of one id", func(t *testing.T) {
		a := NewAssembler(nil)
		if _, err := a.Add(chunks[0]); err != nil {
			t.Fatal(err)
		}
		c := chunks[1]
		c.Rev = 11
		_, err := a.Add(c)
		wantErr(t, err, ErrMalformed, "earlier chunks rev 10")
		c = chunks[1]
		c.Total++
		_, err = a.Add(c)
		wantErr(t, err, ErrMalformed, "total")
		_, err = Assemble([]SnapshotChunk{chunks[0], c})
		wantErr(t, err, ErrMalformed, "")
	})
	t.Run("bad header", func(t *testing.T) {
		c := chunks[0]
		c.Index = c.Total
		_, err := NewAssembler(nil).Add(c)
		wantErr(t, err, ErrMalformed, "index")
		_, err = Assemble(nil)
		wantErr(t, err, ErrIncomplete, "")
	})
	t.Run("too many chunks", func(t *testing.T) {
		a := NewAssembler(&AssemblerOptions{MaxChunks: 4})
		_, err := a.Add(chunks[0])
		wantErr(t, err, ErrTooLarge, "limit 4")
		c := chunks[0]
		c.Total = DefaultMaxChunks + 1
		_, err = NewAssembler(nil).Add(c)
		wantErr(t, err, ErrTooLarge, "")
	})
	t.Run("too many grants", func(t *testing.T) {
		a := NewAssembler(&AssemblerOptions{MaxGrants: 25})
		var err error
		for _, c := range chunks {
			if _, err = a.Add(c); err != nil {
				break
			}
		}
		wantErr(t, err, ErrTooLarge, "more than 25 grants")
		if n, g := a.Pending(); n != 0 || g != 0 {
			t.Errorf("pending %d, %d after overflow", n, g)
		}
	})
	t.Run("eviction", func(t *testing.T) {
		a := NewAssembler(&AssemblerOptions{MaxPending: 2})
		s11 := SplitSnapshot("snap-11", 11, gs, nil, nil, "", "", 2000)
		s12 := SplitSnapshot("snap-12", 12, gs, nil, nil, "", "", 2000)
		for _, c := range []SnapshotChunk{s12[0], chunks[0], s11[0]} { // rev 12, 10, 11: 10 goes
			if _, err := a.Add(c); err != nil {
				t.Fatal(err)
			}
		}
		if n, g := a.Pending(); n != 2 || g != len(s12[0].Grants)+len(s11[0].Grants) {
			t.Errorf("pending %d, %d", n, g)
		}
		// snap-a (rev 10) starts again from scratch and evicts snap-11.
		s, err := addAll(t, a, chunks)
		if err != nil || s.ID != "snap-a" {
			t.Fatalf("%v %v", s, err)
		}
		// snap-12 survived (rev above 10) and completes.
		s, err = addAll(t, a, s12[1:])
		if err != nil || s.ID != "snap-12" {
			t.Fatalf("%v %v", s, err)
		}
	})
}

// TestAssemblerConcurrent: Add from several goroutines (run with -race).
func TestAssemblerConcurrent(t *testing.T) {
	chunks := SplitSnapshot("snap-a", 10, manyGrants(60), nil, nil, "", "", 1500)
	a := NewAssembler(nil)
	done := make(chan *Snapshot, len(chunks)*2)
	for _, c := range append(slices.Clone(chunks), chunks...) {
		go func() {
			s, _ := a.Add(c)
			done <- s
		}()
	}
	got := 0
	for range len(chunks) * 2 {
		if s := <-done; s != nil {
			got++
		}
	}
	if got != 1 {
		t.Errorf("snapshot handed out %d times", got)
	}
}
