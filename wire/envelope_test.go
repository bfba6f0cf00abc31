package wire

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	for _, g := range goldens(t) {
		if !g.kind.Signed() {
			continue
		}
		t.Run(g.file, func(t *testing.T) {
			msg := mustSeal(t, g.kind, g.body)
			p := g.kind.Payload()
			if err := testVerifier().Open(g.kind, msg, p); err != nil {
				t.Fatal(err)
			}
			if got := reflect.ValueOf(p).Elem().Interface(); !reflect.DeepEqual(got, g.body) {
				t.Errorf("got %#v\nwant %#v", got, g.body)
			}
			// A pointer body seals to the same bytes.
			ptr := reflect.New(reflect.TypeOf(g.body))
			ptr.Elem().Set(reflect.ValueOf(g.body))
			if msg2 := mustSeal(t, g.kind, ptr.Interface()); !bytes.Equal(msg, msg2) {
				t.Error("sealing a pointer gives other bytes")
			}
		})
	}
}

func TestEncodeDecode(t *testing.T) {
	for _, g := range goldens(t) {
		if g.kind.Signed() {
			continue
		}
		t.Run(g.file, func(t *testing.T) {
			msg := mustEncode(t, g.kind, g.body)
			p := g.kind.Payload()
			site, door, err := Decode(g.kind, msg, p)
			if err != nil || site != testSite || door != testDoor {
				t.Fatalf("Decode = %q %q %v", site, door, err)
			}
			if got := reflect.ValueOf(p).Elem().Interface(); !reflect.DeepEqual(got, g.body) {
				t.Errorf("got %#v\nwant %#v", got, g.body)
			}
		})
	}
}

// TestUnknownFields: a newer minor version may add fields anywhere; they
// are ignored.
func TestUnknownFields(t *testing.T) {
	t.Run("signed envelope", func(t *testing.T) {
		msg := rewrite(t, mustSeal(t, KindHead, sampleHead()), func(m map[string]any) {
			m["trace"] = map[string]any{"id": 1}
			m["v"] = "1.3"
		})
		var h Head
		wantErr(t, testVerifier().Open(KindHead, msg, &h), nil, "")
		if h != sampleHead() {
			t.Errorf("got %+v", h)
		}
	})
	t.Run("signed body", func(t *testing.T) {
		msg := mustSealRaw(t, KindHead, testSite, testDoor, `{"rev":42,"issued_at":"2026-03-02T08:00:00Z","priority":"high","extra":{"a":[1,2]}}`)
		var h Head
		wantErr(t, testVerifier().Open(KindHead, msg, &h), nil, "")
		if h != sampleHead() {
			t.Errorf("got %+v", h)
		}
	})
	t.Run("unsigned envelope and body", func(t *testing.T) {
		msg, err := encodeRaw(KindSync, testSite, testDoor, []byte(`{"rev":41,"reason":"boot","uptime":12}`))
		if err != nil {
			t.Fatal(err)
		}
		msg = rewrite(t, msg, func(m map[string]any) { m["hops"] = 2; m["sig"] = "ignored" })
		var s SyncRequest
		wantErr(t, DecodeFor(testSite, testDoor, KindSync, msg, &s), nil, "")
		if s != sampleSync() {
			t.Errorf("got %+v", s)
		}
	})
}

func TestVersion(t *testing.T) {
	for _, tc := range []struct {
		v    any // nil: field removed
		want error
	}{
		{"1.0", nil},
		{"1.7", nil},
		{"1.10", nil},
		{"1.999999", nil},
		{"2.0", ErrVersion},
		{"0.9", ErrVersion},
		{"10.0", ErrVersion},
		{nil, ErrVersion},
		{"", ErrVersion},
		{"1", ErrVersion},
		{"1.", ErrVersion},
		{".1", ErrVersion},
		{"1.0.0", ErrVersion},
		{"01.0", ErrVersion},
		{"1.01", ErrVersion},
		{"+1.0", ErrVersion},
		{"1.x", ErrVersion},
		{"1.1000000", ErrVersion},
		{1.0, ErrMalformed}, // a number: not the envelope's shape
	} {
		t.Run(fmt.Sprint(tc.v), func(t *testing.T) {
			set := func(m map[string]any) {
				if tc.v == nil {
					delete(m, "v")
				} else {
					m["v"] = tc.v
				}
			}
			signed := rewrite(t, mustSeal(t, KindHead, sampleHead()), set)
			wantErr(t, testVerifier().Open(KindHead, signed, new(Head)), tc.want, "")
			unsigned := rewrite(t, mustEncode(t, KindSync, sampleSync()), set)
			_, _, err := Decode(KindSync, unsigned, new(SyncRequest))
			wantErr(t, err, tc.want, "")
		})
	}
}

// flipB64 changes the base64 character at i to another valid one, so the
// decoded bytes change but still decode.
func flipB64(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestOpenTamper(t *testing.T) {
	good := mustSeal(t, KindGrants, sampleDelta())
	otherKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	byOther, err := NewSigner(otherKey).Seal(KindGrants, testSite, testDoor, sampleDelta())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		want error
		sub  string
	}{
		{"good", good, nil, ""},
		{"sig byte", rewrite(t, good, func(m map[string]any) { m["sig"] = flipB64(m["sig"].(string), 10) }), ErrSignature, "does not verify"},
		{"body byte", rewrite(t, good, func(m map[string]any) { m["body"] = flipB64(m["body"].(string), 40) }), ErrSignature, "does not verify"},
		{"body last byte", rewrite(t, good, func(m map[string]any) {
			b := m["body"].(string)
			m["body"] = flipB64(b, len(strings.TrimRight(b, "="))-3)
		}), ErrSignature, ""},
		{"no sig", rewrite(t, good, func(m map[string]any) { delete(m, "sig") }), ErrSignature, "sig is not 64 bytes"},
		{"short sig", rewrite(t, good, func(m map[string]any) { m["sig"] = base64.StdEncoding.EncodeToString(make([]byte, 63)) }), ErrSignature, "sig is not 64 bytes"},
		{"sig not base64", rewrite(t, good, func(m map[string]any) { m["sig"] = "!!" }), ErrSignature, ""},
		{"body not base64", rewrite(t, good, func(m map[string]any) { m["body"] = "{not base64}" }), ErrSignature, "not standard base64"},
		{"unsigned object body", rewrite(t, good, func(m map[string]any) {
			raw, _ := base64.StdEncoding.DecodeString(m["body"].(string))
			m["body"] = json.RawMessage(raw)
		}), ErrSignature, "not a signed base64 string"},
		{"no body", rewrite(t, good, func(m map[string]any) { delete(m, "body") }), ErrSignature, ""},
		{"other key", byOther, ErrSignature, "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Delta
			wantErr(t, testVerifier().Open(KindGrants, tc.msg, &d), tc.want, tc.sub)
		})
	}
}

// TestWrongDoor: a message for door A fails at door B, and rewriting the
// envelope to name B breaks the signature.
func TestWrongDoor(t *testing.T) {
	msg := mustSeal(t, KindCmd, sampleCmd()) // for demo/demo-1
	pub := testSigner().PublicKey()
	doorB := NewVerifier(pub, testSite, "demo-2")
	siteB := NewVerifier(pub, "other", testDoor)

	wantErr(t, doorB.Open(KindCmd, msg, new(Cmd)), ErrWrongDoor, `door "demo-1"`)
	wantErr(t, siteB.Open(KindCmd, msg, new(Cmd)), ErrWrongDoor, `site "demo"`)

	moved := rewrite(t, msg, func(m map[string]any) { m["door"] = "demo-2" })
	wantErr(t, doorB.Open(KindCmd, moved, new(Cmd)), ErrSignature, "")
	moved = rewrite(t, msg, func(m map[string]any) { m["site"] = "other" })
	wantErr(t, siteB.Open(KindCmd, moved, new(Cmd)), ErrSignature, "")

	// Unsigned: DecodeFor compares with the topic's site and door.
	ev := mustEncode(t, KindEvents, sampleEvents())
	wantErr(t, DecodeFor(testSite, "demo-2", KindEvents, ev, new(EventsBatch)), ErrWrongDoor, "")
	wantErr(t, DecodeFor("other", testDoor, KindEvents, ev, new(EventsBatch)), ErrWrongDoor, "")
	wantErr(t, DecodeFor(testSite, testDoor, KindEvents, ev, new(EventsBatch)), nil, "")
}

func TestWrongKind(t *testing.T) {
	head := mustSeal(t, KindHead, sampleHead())
	wantErr(t, testVerifier().Open(KindGrants, head, new(Delta)), ErrWrongKind, `"head", want "grants"`)
	relabelled := rewrite(t, head, func(m map[string]any) { m["kind"] = "grants" })
	wantErr(t, testVerifier().Open(KindGrants, relabelled, new(Delta)), ErrSignature, "")

	wantErr(t, testVerifier().Open(KindStatus, mustEncode(t, KindStatus, sampleStatus()), new(Status)), ErrWrongKind, "use Decode")
	_, _, err := Decode(KindHead, head, new(Head))
	wantErr(t, err, ErrWrongKind, "use Verifier.Open")
	_, _, err = Decode("bogus", head, new(Head))
	wantErr(t, err, ErrWrongKind, "")
	_, err = testSigner().Seal(KindStatus, testSite, testDoor, sampleStatus())
	wantErr(t, err, ErrWrongKind, "use Encode")
	_, err = Encode(KindHead, testSite, testDoor, sampleHead())
	wantErr(t, err, ErrWrongKind, "use Signer.Seal")
	_, err = Encode("bogus", testSite, testDoor, sampleHead())
	wantErr(t, err, ErrWrongKind, "")

	sync := mustEncode(t, KindSync, sampleSync())
	_, _, err = Decode(KindEvents, sync, new(EventsBatch))
	wantErr(t, err, ErrWrongKind, "")
}

func TestTooLarge(t *testing.T) {
	big := append([]byte(`{"v":"1.0","pad":"`), bytes.Repeat([]byte("x"), MaxMessage)...)
	big = append(big, `"}`...)
	wantErr(t, testVerifier().Open(KindHead, big, new(Head)), ErrTooLarge, "")
	_, _, err := Decode(KindSync, big, new(SyncRequest))
	wantErr(t, err, ErrTooLarge, "")

	// Sender side: an enrolment result whose SOD alone is 6 MiB is more
	// than 8 MiB once base64.
	r := sampleResult()
	r.SOD = make([]byte, 6<<20)
	_, err = Encode(KindEnrollResult, testSite, testDoor, r)
	wantErr(t, err, ErrTooLarge, "")
	// And signed: a delta deleting 500000 cards.
	d := sampleDelta()
	d.Upserts = nil
	d.Deletes = make([]string, 500000)
	for i := range d.Deletes {
		d.Deletes[i] = fmt.Sprintf("%012d", i)
	}
	_, err = testSigner().Seal(KindGrants, testSite, testDoor, d)
	wantErr(t, err, ErrTooLarge, "")
}

func TestMalformed(t *testing.T) {
	for _, tc := range []struct{ name, msg, sub string }{
		{"empty", "", "not a JSON object"},
		{"not json", "hello", "not a JSON object"},
		{"array", `[{"v":"1.0"}]`, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"truncated", `{"v":"1.0","kind":"sync"`, "unexpected end"},
		{"kind number", `{"v":"1.0","kind":1}`, "cannot unmarshal"},
		{"bad site", `{"v":"1.0","kind":"sync","site":"a/b","door":"d","body":{}}`, "site"},
		{"no site", `{"v":"1.0","kind":"sync","door":"d","body":{}}`, "site"},
		{"bad door", `{"v":"1.0","kind":"sync","site":"s","door":"+","body":{}}`, "door"},
		{"no body", `{"v":"1.0","kind":"sync","site":"s","door":"d"}`, "body is not a JSON object"},
		{"null body", `{"v":"1.0","kind":"sync","site":"s","door":"d","body":null}`, "body is not a JSON object"},
		{"string body", `{"v":"1.0","kind":"sync","site":"s","door":"d","body":"eyJyZXYiOjF9"}`, "body is not a JSON object"},
		{"body field type", `{"v":"1.0","kind":"sync","site":"s","door":"d","body":{"rev":"one"}}`, "body:"},
		{"body invalid", `{"v":"1.0","kind":"sync","site":"s","door":"d","body":{"rev":1,"reason":"` + strings.Repeat("x", MaxText+1) + `"}}`, "sync: reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode(KindSync, []byte(tc.msg), new(SyncRequest))
			wantErr(t, err, ErrMalformed, tc.sub)
		})
	}
	// Signed: a body that verifies but does not validate is refused.
	msg := mustSealRaw(t, KindCmd, testSite, testDoor, `{"seq":1,"action":"self_destruct","issued_at":"2026-03-02T08:00:00Z","expires_at":"2026-03-02T08:01:00Z"}`)
	wantErr(t, testVerifier().Open(KindCmd, msg, new(Cmd)), ErrMalformed, "self_destruct")
	msg = mustSealRaw(t, KindCmd, testSite, testDoor, `null`)
	wantErr(t, testVerifier().Open(KindCmd, msg, new(Cmd)), ErrMalformed, "not a JSON object")
}

func TestSealRefuses(t *testing.T) {
	s := testSigner()
	_, err := s.Seal(KindHead, "a/b", testDoor, sampleHead())
	wantErr(t, err, ErrMalformed, "site")
	_, err = s.Seal(KindHead, testSite, "", sampleHead())
	wantErr(t, err, ErrMalformed, "door")
	_, err = s.Seal(KindHead, testSite, testDoor, sampleDelta())
	if err == nil || !strings.Contains(err.Error(), "carries wire.Head") {
		t.Errorf("Seal of a Delta as head: %v", err)
	}
	_, err = s.Seal(KindHead, testSite, testDoor, Head{})
	wantErr(t, err, ErrMalformed, "issued_at")
	_, err = s.Seal(KindHead, testSite, testDoor, nil)
	if err == nil {
		t.Error("sealed a nil body")
	}
	_, err = Encode(KindSync, testSite, testDoor, map[string]any{"rev": 1})
	if err == nil || !strings.Contains(err.Error(), "SyncRequest") {
		t.Errorf("Encode of a map: %v", err)
	}
}

func TestConstructorsPanic(t *testing.T) {
	pub := testSigner().PublicKey()
	for name, f := range map[string]func(){
		"short private key": func() { NewSigner(make([]byte, 32)) },
		"short public key":  func() { NewVerifier(pub[:31], testSite, testDoor) },
		"bad site":          func() { NewVerifier(pub, "a+", testDoor) },
		"bad door":          func() { NewVerifier(pub, testSite, "") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

// TestSignedMessage pins the domain-separated message the site key signs.
func TestSignedMessage(t *testing.T) {
	got := signedMessage(KindEventsAck, "s", "d", []byte(`{}`))
	if want := "varco-wire-v1\x00events/ack\x00s\x00d\x00{}"; string(got) != want {
		t.Errorf("signedMessage = %q, want %q", got, want)
	}
	// And the golden head verifies over exactly that, independently of Open.
	msg := mustSeal(t, KindHead, sampleHead())
	var env struct{ Body, Sig string }
	if err := json.Unmarshal(msg, &env); err != nil {
		t.Fatal(err)
	}
	body, _ := base64.StdEncoding.DecodeString(env.Body)
	sig, _ := base64.StdEncoding.DecodeString(env.Sig)
	m := append([]byte("varco-wire-v1\x00head\x00demo\x00demo-1\x00"), body...)
	if !ed25519.Verify(testSigner().PublicKey(), m, sig) {
		t.Error("signature does not cover the documented message")
	}
}
