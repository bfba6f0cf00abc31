package wire

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/wire")

// goldenDir holds one file per message kind: the exact bytes on the wire.
const goldenDir = "../testdata/wire"

type golden struct {
	file string
	kind Kind
	body any // the payload value (not a pointer)
}

func goldens(tb testing.TB) []golden {
	chunks := sampleSnapshot()
	if len(chunks) != 2 {
		tb.Fatalf("sample snapshot has %d chunks, want 2: adjust sampleChunkBytes", len(chunks))
	}
	return []golden{
		{"grants.json", KindGrants, sampleDelta()},
		{"head.json", KindHead, sampleHead()},
		{"sync.json", KindSync, sampleSync()},
		{"snapshot-0.json", KindSnapshot, chunks[0]},
		{"snapshot-1.json", KindSnapshot, chunks[1]},
		{"events.json", KindEvents, sampleEvents()},
		{"ack.json", KindEventsAck, sampleAck()},
		{"status.json", KindStatus, sampleStatus()},
		{"status-will.json", KindStatus, Status{}},
		{"cmd.json", KindCmd, sampleCmd()},
		{"enroll.json", KindEnroll, sampleChallenge()},
		{"enroll-result.json", KindEnrollResult, sampleResult()},
	}
}

func (g golden) encode(tb testing.TB) []byte {
	tb.Helper()
	if g.file == "status-will.json" {
		msg, err := OfflineWill(testSite, testDoor)
		if err != nil {
			tb.Fatal(err)
		}
		return msg
	}
	if g.kind.Signed() {
		return mustSeal(tb, g.kind, g.body)
	}
	return mustEncode(tb, g.kind, g.body)
}

// decode opens or decodes msg into a new value of g's payload type.
func (g golden) decode(msg []byte) (any, error) {
	p := g.kind.Payload()
	if g.kind.Signed() {
		return p, testVerifier().Open(g.kind, msg, p)
	}
	return p, DecodeFor(testSite, testDoor, g.kind, msg, p)
}

// TestGolden pins the bytes of every message kind. Refresh with
// go test ./wire -run Golden -args -update (and review the diff: a change
// here is a change of the contract).
func TestGolden(t *testing.T) {
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range goldens(t) {
		t.Run(g.file, func(t *testing.T) {
			msg := g.encode(t)
			path := filepath.Join(goldenDir, g.file)
			if *update {
				if err := os.WriteFile(path, msg, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -args -update to create)", err)
			}
			if !bytes.Equal(msg, want) {
				t.Errorf("%s differs from the encoding:\n got %s\nwant %s", path, msg, want)
			}

			got, err := g.decode(want)
			if err != nil {
				t.Fatal(err)
			}
			if v := reflect.ValueOf(got).Elem().Interface(); !reflect.DeepEqual(v, g.body) {
				t.Errorf("decoded %s:\n got %#v\nwant %#v", g.file, v, g.body)
			}
		})
	}
}

// TestGoldenSnapshot: the two golden chunks assemble to the sample
// allowlist, in either order.
func TestGoldenSnapshot(t *testing.T) {
	var chunks []SnapshotChunk
	for _, f := range []string{"snapshot-1.json", "snapshot-0.json"} {
		msg, err := os.ReadFile(filepath.Join(goldenDir, f))
		if err != nil {
			t.Fatal(err)
		}
		var c SnapshotChunk
		if err := testVerifier().Open(KindSnapshot, msg, &c); err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, c)
	}
	a := NewAssembler(nil)
	if s, err := a.Add(chunks[0]); s != nil || err != nil {
		t.Fatalf("first chunk: %v, %v", s, err)
	}
	s, err := a.Add(chunks[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Grants) != 3 || s.Grants[0].NIS != "100000000001" || s.Rev != 42 || len(s.Holidays) != 1 || s.TimeZone != "Europe/Rome" {
		t.Errorf("assembled %+v", s)
	}
	if s.Grants[2].NIS != "300000000003" {
		t.Errorf("grants not in NIS order: %v", s.Grants)
	}
}

// TestGoldenReadme: testdata/wire/README.md names the golden key, so that
// door-side tests can open the golden files.
func TestGoldenReadme(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(goldenDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	pub := EncodePublicKey(testSigner().PublicKey())
	for _, s := range []string{pub, testSeed, testSite, testDoor} {
		if !strings.Contains(string(b), s) {
			t.Errorf("README.md does not mention %q", s)
		}
	}
}
