package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
	"github.com/varco-access/varco/wire"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// enrolFixture is a syncer on the fake broker with the test CSCA set and
// a clock the test moves; person is a person without a card.
func enrolFixture(t *testing.T, adjust ...func(*syncer.Options)) (*fixture, *fakeClock, admin.Person) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	fx := setupWith(t, 10*time.Millisecond, 0, append([]func(*syncer.Options){func(o *syncer.Options) {
		o.CSCAs, o.Now, o.EnrolTTL = testpki.Committed(t).TrustedCSCAs(), clk.Now, 30*time.Second
	}}, adjust...)...)
	p := admin.Person{EmployeeNo: "2", Name: "Carla", Surname: "Neri", Active: true}
	must(t, fx.st.CreatePerson(t.Context(), admin.Actor{Name: "test"}, &p))
	return fx, clk, p
}

func newCard(t *testing.T, nis string, gen reader.Generation, neg virtcie.Negative) *virtcie.Card {
	t.Helper()
	c, err := virtcie.New(virtcie.Options{NIS: nis, PKI: testpki.Committed(t), Gen: gen, Negative: neg})
	must(t, err)
	return c
}

// challenge is the next challenge the syncer sent station, opened with
// the site key as the station does.
func (fx *fixture) challenge(t *testing.T, station string) wire.EnrollChallenge {
	t.Helper()
	var ch wire.EnrollChallenge
	fx.f.next(t, fx.pub, station, wire.KindEnroll, &ch)
	return ch
}

// read is what a station reads from card when asked to sign challenge.
func read(t *testing.T, card *virtcie.Card, ch wire.EnrollChallenge) wire.EnrollResult {
	t.Helper()
	r, err := reader.ReadEnrol(card, &reader.EnrolOptions{Challenge: ch.Challenge})
	must(t, err)
	return wire.EnrollResult{ID: ch.ID, NIS: r.NIS, PublicKey: r.KeyFile, SOD: r.SOD, Signature: r.Signature}
}

func (fx *fixture) session(t *testing.T, id string) syncer.EnrolSession {
	t.Helper()
	s, ok := fx.s.EnrolResult(id)
	if !ok {
		t.Fatalf("session %s not found", id)
	}
	return s
}

func (fx *fixture) noCard(t *testing.T, nis string) {
	t.Helper()
	if c, err := fx.st.GetCardByNIS(t.Context(), nis); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("card %s stored: %+v %v", nis, c, err)
	}
}

// TestEnrolVerifiesAndStores: a genuine card answering the admin's own
// challenge is verified and stored for the session's person, with its
// SOD generation, document signer and verification summary; without a
// person it is only verified.
func TestEnrolVerifiesAndStores(t *testing.T) {
	fx, clk, p := enrolFixture(t)
	ctx := t.Context()
	for _, gen := range []reader.Generation{reader.Gen2016, reader.Gen2022} {
		t.Run(gen.String(), func(t *testing.T) {
			nis := "55550000" + gen.String()
			card := newCard(t, nis, gen, virtcie.Genuine)
			sess, err := fx.s.StartEnrol(ctx, "desk-1", p.ID, "hr-user")
			must(t, err)
			if sess.State != syncer.EnrolWaiting || sess.Station != "desk-1" || !sess.ExpiresAt.Equal(clk.Now().Add(30*time.Second)) {
				t.Fatalf("new session %+v", sess)
			}
			ch := fx.challenge(t, "desk-1")
			if ch.ID != sess.ID || len(ch.Challenge) != wire.ChallengeSize || !ch.ExpiresAt.Equal(sess.ExpiresAt) {
				t.Fatalf("challenge %+v for session %+v", ch, sess)
			}
			fx.f.door(t, "desk-1", wire.KindEnrollResult, read(t, card, ch))

			got := fx.session(t, sess.ID)
			if got.State != syncer.EnrolVerified || got.NIS != nis || got.Card == nil || got.Card.ID == 0 || got.Reason != "" {
				t.Fatalf("after the answer: %+v", got)
			}
			c, err := fx.st.GetCardByNIS(ctx, nis)
			must(t, err)
			if c.ID != got.Card.ID || c.PersonID != p.ID || c.SODGeneration != gen.String() || !strings.Contains(c.DSSubject, "Document Signer") ||
				!strings.HasPrefix(c.Verification, "ok:") || !strings.Contains(c.Verification, "challenge") || c.EnrolledBy != "hr-user" || c.Status != admin.CardActive {
				t.Errorf("stored card %+v", c)
			}
		})
	}

	// Without a person: verified, not stored.
	card := newCard(t, "555500009999", reader.Gen2022, virtcie.Genuine)
	sess, err := fx.s.StartEnrol(ctx, "desk-1", 0, "hr-user")
	must(t, err)
	fx.f.door(t, "desk-1", wire.KindEnrollResult, read(t, card, fx.challenge(t, "desk-1")))
	if got := fx.session(t, sess.ID); got.State != syncer.EnrolVerified || got.Card == nil || got.Card.ID != 0 || got.Card.KeyHash == "" || got.Card.SODGeneration != "2022" {
		t.Errorf("verify-only session: %+v", got)
	}
	fx.noCard(t, card.NIS())
}

// TestEnrolRefusals: every failing card is refused with the reason in
// plain words, and nothing is stored.
func TestEnrolRefusals(t *testing.T) {
	fx, _, p := enrolFixture(t)
	ctx := t.Context()
	genuine := newCard(t, "666600000001", reader.Gen2022, virtcie.Genuine)
	clone, err := virtcie.NewClone(genuine)
	must(t, err)
	enrolled := newCard(t, "666600000002", reader.Gen2016, virtcie.Genuine)
	must(t, fx.st.CreateCard(ctx, admin.Actor{Name: "test"}, &admin.Card{PersonID: p.ID, NIS: enrolled.NIS(), PublicKey: enrolled.KeyFileTLV()}))

	tests := []struct {
		name   string
		card   *virtcie.Card
		answer func(wire.EnrollResult) wire.EnrollResult // nil: as read
		state  syncer.EnrolState
		reason string
		stored bool // the NIS is in the store (before the test)
	}{
		{name: "clone: right NIS, key and SOD, wrong private key", card: clone, state: syncer.EnrolRefused, reason: "did not sign the challenge"},
		{name: "untrusted document signer", card: newCard(t, "666600000003", reader.Gen2022, virtcie.UntrustedDS), state: syncer.EnrolRefused, reason: "not issued under a trusted CSCA"},
		{name: "expired document signer", card: newCard(t, "666600000004", reader.Gen2016, virtcie.ExpiredDS), state: syncer.EnrolRefused, reason: "expired or not yet valid"},
		{name: "NIS not the signed one", card: newCard(t, "666600000005", reader.Gen2022, virtcie.NISChanged), state: syncer.EnrolRefused, reason: "NIS read does not match"},
		{name: "key swapped for another card's", card: newCard(t, "666600000006", reader.Gen2022, virtcie.Genuine), answer: func(r wire.EnrollResult) wire.EnrollResult {
			r.PublicKey = genuine.KeyFileTLV()
			return r
		}, state: syncer.EnrolRefused, reason: "public key read does not match"},
		{name: "signature over another challenge", card: newCard(t, "666600000007", reader.Gen2022, virtcie.Genuine), answer: func(r wire.EnrollResult) wire.EnrollResult {
			r.Signature[0] ^= 1
			return r
		}, state: syncer.EnrolRefused, reason: "did not sign the challenge"},
		{name: "already enrolled", card: enrolled, state: syncer.EnrolRefused, reason: "already enrolled", stored: true},
		{name: "station could not read", card: nil, answer: func(r wire.EnrollResult) wire.EnrollResult {
			return wire.EnrollResult{ID: r.ID, Error: "no card presented within 25s"}
		}, state: syncer.EnrolError, reason: "could not read a card: no card presented within 25s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess, err := fx.s.StartEnrol(ctx, "desk-1", p.ID, "hr-user")
			must(t, err)
			ch := fx.challenge(t, "desk-1")
			var res wire.EnrollResult
			if tt.card != nil {
				res = read(t, tt.card, ch)
			} else {
				res.ID = ch.ID
			}
			if tt.answer != nil {
				res = tt.answer(res)
			}
			fx.f.door(t, "desk-1", wire.KindEnrollResult, res)
			got := fx.session(t, sess.ID)
			if got.State != tt.state || !strings.Contains(got.Reason, tt.reason) || got.Card != nil {
				t.Errorf("session %+v, want %s with %q", got, tt.state, tt.reason)
			}
			if tt.card != nil && !tt.stored {
				fx.noCard(t, tt.card.NIS())
			}
		})
	}
	cards, err := fx.st.ListCards(ctx, p.ID)
	must(t, err)
	if len(cards) != 1 {
		t.Errorf("person has %d cards, want only the one enrolled before", len(cards))
	}
}

// TestEnrolIgnoresForeignAndLateResults: an answer naming another
// station's session, or coming after the session expired, or repeating
// an answer already taken, changes nothing; a replayed card answer
// presented for a new session fails its challenge.
func TestEnrolIgnoresForeignAndLateResults(t *testing.T) {
	fx, clk, p := enrolFixture(t)
	ctx := t.Context()
	card := newCard(t, "777700000001", reader.Gen2022, virtcie.Genuine)

	a, err := fx.s.StartEnrol(ctx, "desk-1", p.ID, "hr-user")
	must(t, err)
	chA := fx.challenge(t, "desk-1")
	resA := read(t, card, chA)

	// desk-2 answers desk-1's session: ignored.
	fx.f.door(t, "desk-2", wire.KindEnrollResult, resA)
	if got := fx.session(t, a.ID); got.State != syncer.EnrolWaiting {
		t.Fatalf("after another station's answer: %+v", got)
	}
	fx.noCard(t, card.NIS())
	// An answer to a session that does not exist: ignored.
	fx.f.door(t, "desk-1", wire.KindEnrollResult, wire.EnrollResult{ID: "nosuchsession", Error: "x"})

	// The right answer after the expiry: ignored, the session expired.
	clk.Add(30 * time.Second)
	fx.f.door(t, "desk-1", wire.KindEnrollResult, resA)
	if got := fx.session(t, a.ID); got.State != syncer.EnrolExpired || !strings.Contains(got.Reason, "no answer from station desk-1") {
		t.Fatalf("after a late answer: %+v", got)
	}
	fx.noCard(t, card.NIS())

	// A new session: its own answer is taken once; repeating it later
	// (a replay, a QoS 1 duplicate) changes nothing.
	b, err := fx.s.StartEnrol(ctx, "desk-1", p.ID, "hr-user")
	must(t, err)
	chB := fx.challenge(t, "desk-1")
	// The old answer with the new session's id: the signature is over
	// the old challenge.
	replay := resA
	replay.ID = chB.ID
	fx.f.door(t, "desk-1", wire.KindEnrollResult, replay)
	if got := fx.session(t, b.ID); got.State != syncer.EnrolRefused || !strings.Contains(got.Reason, "did not sign the challenge") {
		t.Fatalf("replayed answer for a new session: %+v", got)
	}

	c, err := fx.s.StartEnrol(ctx, "desk-1", p.ID, "hr-user")
	must(t, err)
	resC := read(t, card, fx.challenge(t, "desk-1"))
	fx.f.door(t, "desk-1", wire.KindEnrollResult, resC)
	if got := fx.session(t, c.ID); got.State != syncer.EnrolVerified {
		t.Fatalf("session c: %+v", got)
	}
	clk.Add(time.Hour)
	fx.f.door(t, "desk-1", wire.KindEnrollResult, resC)
	if got := fx.session(t, c.ID); got.State != syncer.EnrolVerified {
		t.Errorf("session c after the replay: %+v", got)
	}
	cards, err := fx.st.ListCards(ctx, p.ID)
	must(t, err)
	if len(cards) != 1 {
		t.Errorf("%d cards stored, want 1", len(cards))
	}
}

// TestEnrolSessionLifecycle: a newer session at a station replaces the
// waiting one; WaitEnrol returns on the answer; without CSCAs every card
// is refused; the number of waiting sessions is bounded.
func TestEnrolSessionLifecycle(t *testing.T) {
	t.Run("replaced", func(t *testing.T) {
		fx, _, p := enrolFixture(t)
		a, err := fx.s.StartEnrol(t.Context(), "desk-1", p.ID, "hr")
		must(t, err)
		other, err := fx.s.StartEnrol(t.Context(), "desk-2", p.ID, "hr")
		must(t, err)
		b, err := fx.s.StartEnrol(t.Context(), "desk-1", p.ID, "hr")
		must(t, err)
		if got := fx.session(t, a.ID); got.State != syncer.EnrolError || !strings.Contains(got.Reason, "replaced") {
			t.Errorf("older session: %+v", got)
		}
		for _, id := range []string{b.ID, other.ID} {
			if got := fx.session(t, id); got.State != syncer.EnrolWaiting {
				t.Errorf("session %+v", got)
			}
		}
	})
	t.Run("wait", func(t *testing.T) {
		fx, _, p := enrolFixture(t)
		sess, err := fx.s.StartEnrol(t.Context(), "desk-1", p.ID, "hr")
		must(t, err)
		ch := fx.challenge(t, "desk-1")
		got := make(chan syncer.EnrolSession, 1)
		go func() { s, _ := fx.s.WaitEnrol(context.Background(), sess.ID); got <- s }()
		select {
		case s := <-got:
			t.Fatalf("WaitEnrol returned before the answer: %+v", s)
		case <-time.After(50 * time.Millisecond):
		}
		fx.f.door(t, "desk-1", wire.KindEnrollResult, read(t, newCard(t, "888800000001", reader.Gen2022, virtcie.Genuine), ch))
		select {
		case s := <-got:
			if s.State != syncer.EnrolVerified {
				t.Errorf("WaitEnrol: %+v", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("WaitEnrol did not return after the answer")
		}
		// A context that ends returns the session as it stands.
		s2, err := fx.s.StartEnrol(t.Context(), "desk-1", p.ID, "hr")
		must(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		if s, ok := fx.s.WaitEnrol(ctx, s2.ID); !ok || s.State != syncer.EnrolWaiting {
			t.Errorf("WaitEnrol with a short context: %+v %v", s, ok)
		}
		if _, ok := fx.s.WaitEnrol(ctx, "nosuchsession"); ok {
			t.Error("WaitEnrol found a session that does not exist")
		}
	})
	t.Run("no CSCAs", func(t *testing.T) {
		fx, _, p := enrolFixture(t, func(o *syncer.Options) { o.CSCAs = nil })
		sess, err := fx.s.StartEnrol(t.Context(), "desk-1", p.ID, "hr")
		must(t, err)
		card := newCard(t, "888800000002", reader.Gen2022, virtcie.Genuine)
		fx.f.door(t, "desk-1", wire.KindEnrollResult, read(t, card, fx.challenge(t, "desk-1")))
		if got := fx.session(t, sess.ID); got.State != syncer.EnrolRefused || !strings.Contains(got.Reason, "no CSCA certificates") {
			t.Errorf("without CSCAs: %+v", got)
		}
		fx.noCard(t, card.NIS())
	})
	t.Run("bounded", func(t *testing.T) {
		fx, clk, p := enrolFixture(t)
		for i := range syncer.MaxEnrolSessions {
			if _, err := fx.s.StartEnrol(t.Context(), fmt.Sprintf("desk-%d", i), p.ID, "hr"); err != nil {
				t.Fatalf("session %d: %v", i, err)
			}
		}
		if _, err := fx.s.StartEnrol(t.Context(), "one-more", p.ID, "hr"); !errors.Is(err, syncer.ErrEnrolBusy) {
			t.Fatalf("past the bound: %v", err)
		}
		// Once they expire there is room again.
		clk.Add(time.Minute)
		if _, err := fx.s.StartEnrol(t.Context(), "one-more", p.ID, "hr"); err != nil {
			t.Fatalf("after the expiry: %v", err)
		}
		if _, err := fx.s.StartEnrol(t.Context(), "bad/station", p.ID, "hr"); err == nil {
			t.Error("a station id with a slash was accepted")
		}
	})
}
