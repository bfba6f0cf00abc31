package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// sentinels are every error a receiver may get: each failure must wrap
// one, so that the door can map it to an action (doc.go).
var sentinels = []error{
	ErrVersion, ErrSignature, ErrWrongDoor, ErrWrongKind, ErrMalformed, ErrTooLarge,
	ErrStale, ErrGap, ErrExpired, ErrIncomplete, ErrDigest, ErrTopic,
}

func classified(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func kindsWhere(signed bool) []Kind {
	var ks []Kind
	for _, k := range kinds {
		if k.Signed() == signed {
			ks = append(ks, k)
		}
	}
	return ks
}

// seedGoldens adds every golden file of the given direction, with its
// kind's index among kindsWhere(signed), to f's corpus.
func seedGoldens(f *testing.F, signed bool) {
	ks := kindsWhere(signed)
	for _, g := range goldens(f) {
		if g.kind.Signed() != signed {
			continue
		}
		msg, err := os.ReadFile(filepath.Join(goldenDir, g.file))
		if err != nil {
			f.Fatal(err)
		}
		for i, k := range ks {
			if k == g.kind {
				f.Add(uint8(i), msg)
			}
		}
	}
}

// FuzzOpen: Verifier.Open on arbitrary bytes never panics, every error is
// classified, and what it accepts validates, seals again and opens to the
// same value.
func FuzzOpen(f *testing.F) {
	seedGoldens(f, true)
	f.Add(uint8(0), []byte(`{"v":"1.0","kind":"grants","site":"demo","door":"demo-1","body":{},"sig":""}`))
	f.Add(uint8(1), []byte(`{"v":"1.9","kind":"head","site":"demo","door":"demo-1","body":"e30=","sig":"AAAA"}`))
	ks := kindsWhere(true)
	v, s := testVerifier(), testSigner()
	f.Fuzz(func(t *testing.T, ki uint8, msg []byte) {
		k := ks[int(ki)%len(ks)]
		p := k.Payload()
		err := v.Open(k, msg, p)
		if err != nil {
			if !classified(err) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if err := p.(validator).Validate(); err != nil {
			t.Fatalf("opened a body that does not validate: %v", err)
		}
		again, err := s.Seal(k, testSite, testDoor, p)
		if err != nil {
			t.Fatalf("re-seal: %v", err)
		}
		q := k.Payload()
		if err := v.Open(k, again, q); err != nil {
			t.Fatalf("re-open: %v", err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the body:\n%#v\n%#v", p, q)
		}
	})
}

// FuzzDecode: Decode on arbitrary bytes never panics, every error is
// classified, and what it accepts encodes again to a fixed point.
func FuzzDecode(f *testing.F) {
	seedGoldens(f, false)
	f.Add(uint8(0), []byte(`{"v":"1.0","kind":"sync","site":"s","door":"d","body":{"rev":1}}`))
	f.Add(uint8(2), []byte(`{"v":"1.0","kind":"status","site":"s","door":"d","body":null}`))
	ks := kindsWhere(false)
	f.Fuzz(func(t *testing.T, ki uint8, msg []byte) {
		k := ks[int(ki)%len(ks)]
		p := k.Payload()
		site, door, err := Decode(k, msg, p)
		if err != nil {
			if !classified(err) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if !ValidID(site) || !ValidID(door) {
			t.Fatalf("decoded invalid ids %q %q", site, door)
		}
		once, err := Encode(k, site, door, p)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		q := k.Payload()
		if _, _, err := Decode(k, once, q); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		twice, err := Encode(k, site, door, q)
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("not a fixed point (%v):\n%s\n%s", err, once, twice)
		}
	})
}

// FuzzParseTopic: ParseTopic never panics, and what it accepts is exactly
// what Topic builds.
func FuzzParseTopic(f *testing.F) {
	for _, k := range kinds {
		f.Add(Topic(testSite, testDoor, k))
	}
	f.Add("varco/v1/s/door/d/events/ack/")
	f.Add("varco/v1/+/door/#")
	f.Add("varco/v1/s/door/d/\x00")
	f.Fuzz(func(t *testing.T, topic string) {
		site, door, k, err := ParseTopic(topic)
		if err != nil {
			if !errors.Is(err, ErrTopic) {
				t.Fatalf("error not ErrTopic: %v", err)
			}
			return
		}
		if !ValidID(site) || !ValidID(door) || !k.Valid() {
			t.Fatalf("accepted %q %q %q", site, door, k)
		}
		if got := Topic(site, door, k); got != topic {
			t.Fatalf("Topic(ParseTopic(%q)) = %q", topic, got)
		}
	})
}

// FuzzAssembler feeds an Assembler with tight limits a sequence of chunks
// picked (and bent) by ops from a pool: the golden chunks, two other
// snapshots, and one chunk decoded from extra. It never panics, stays
// within its limits, classifies every error, and what it returns matches
// its digest.
func FuzzAssembler(f *testing.F) {
	var golden [][]byte
	for _, name := range []string{"snapshot-0.json", "snapshot-1.json"} {
		msg, err := os.ReadFile(filepath.Join(goldenDir, name))
		if err != nil {
			f.Fatal(err)
		}
		var c SnapshotChunk
		if err := testVerifier().Open(KindSnapshot, msg, &c); err != nil {
			f.Fatal(err)
		}
		body, _ := json.Marshal(c)
		golden = append(golden, body)
	}
	f.Add([]byte{0, 1}, golden[0])
	f.Add([]byte{1, 0, 1, 0}, golden[1])
	f.Add([]byte{2, 3, 4, 5, 6, 7, 8}, golden[0])
	f.Add([]byte{0x12, 0x21, 0x30, 9, 9, 0}, []byte(`{"id":"x","rev":1,"index":0,"total":1,"count":0,"digest":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`))

	pool := sampleSnapshot()
	pool = append(pool, SplitSnapshot("snap-b", 43, manyGrants(6), nil, nil, "", "", 1200)...)
	pool = append(pool, SplitSnapshot("snap-c", 41, manyGrants(3), nil, nil, "", "", 1)...)
	opts := AssemblerOptions{MaxChunks: 8, MaxGrants: 10, MaxPending: 2}

	f.Fuzz(func(t *testing.T, ops []byte, extra []byte) {
		p := pool
		var x SnapshotChunk
		if json.Unmarshal(extra, &x) == nil {
			p = append(p[:len(p):len(p)], x)
		}
		a := NewAssembler(&opts)
		for _, op := range ops {
			c := p[int(op&0x0f)%len(p)]
			switch op >> 4 { // bend the chunk
			case 1:
				c.Index++
			case 2:
				c.Rev++
			case 3:
				c.Total++
			case 4:
				c.Grants = nil
			case 5:
				c.ID = "other"
			case 6:
				c.Digest = Digest(nil)
			}
			s, err := a.Add(c)
			if err != nil && !classified(err) {
				t.Fatalf("unclassified error: %v", err)
			}
			if n, g := a.Pending(); n > opts.MaxPending || g > opts.MaxGrants || g < 0 {
				t.Fatalf("pending %d snapshots, %d grants", n, g)
			}
			if s != nil {
				if err != nil {
					t.Fatalf("snapshot and error %v", err)
				}
				seen := map[string]bool{}
				for _, g := range s.Grants {
					if seen[g.NIS] {
						t.Fatalf("NIS %s twice", g.NIS)
					}
					seen[g.NIS] = true
				}
			}
		}
	})
}
