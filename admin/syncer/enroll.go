package syncer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/wire"
)

// Enrolment sessions (ARCHITECTURE.md section 8): HR asks a station to
// read a card; the admin sends the station a fresh challenge, the station
// answers with what it read and the card's signature over the challenge,
// and the admin verifies both before storing the card.

// Defaults and bounds of enrolment sessions.
const (
	// DefaultEnrolTTL is how long a station has to answer a challenge
	// (Options.EnrolTTL): time for the person to present the card.
	DefaultEnrolTTL = 60 * time.Second
	// MaxEnrolSessions bounds the sessions kept in memory, waiting or
	// finished. Finished ones go first when the bound is reached.
	MaxEnrolSessions = 256
	// EnrolKeep is how long a finished or expired session stays
	// readable with EnrolResult.
	EnrolKeep = 15 * time.Minute
)

// EnrolState is where an enrolment session stands.
type EnrolState string

// The states of an enrolment session. Waiting is the only one that
// changes; the others are final.
const (
	// EnrolWaiting: the challenge went to the station, no valid answer
	// yet.
	EnrolWaiting EnrolState = "waiting"
	// EnrolVerified: the card passed every check (EF.SOD against the CSCA
	// set, NIS and key in the SOD, the signature over the challenge) and,
	// when the session names a person, is stored for them.
	EnrolVerified EnrolState = "verified"
	// EnrolRefused: the card failed a check, or could not be stored
	// (already enrolled); Reason says why. Nothing is stored.
	EnrolRefused EnrolState = "refused"
	// EnrolError: the station could not read a card (none presented in
	// time, removed, unreadable), or the admin could not store it.
	EnrolError EnrolState = "error"
	// EnrolExpired: no answer from the station before ExpiresAt.
	EnrolExpired EnrolState = "expired"
)

// EnrolSession is one enrolment as HR sees it.
type EnrolSession struct {
	ID      string `json:"id"`
	Station string `json:"station"`
	// PersonID is the person the card is enrolled for; 0 verifies the
	// card without storing it.
	PersonID  int64      `json:"person_id,omitempty"`
	By        string     `json:"by,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	State     EnrolState `json:"state"`
	// NIS is the NIS the station read (verified and refused cards).
	NIS string `json:"nis,omitempty"`
	// Reason says in plain words why the card was refused, the read
	// failed or the session expired.
	Reason string `json:"reason,omitempty"`
	// Card is the verified card: SOD generation, document signer subject
	// and verification summary; stored (ID set) when PersonID is.
	Card *admin.Card `json:"card,omitempty"`
	// DoneAt is when the session reached its final state.
	DoneAt *time.Time `json:"done_at,omitempty"`
}

// enrolSession is an EnrolSession with what only the syncer sees.
type enrolSession struct {
	EnrolSession
	challenge []byte
	// claimed is set while a result is being verified and stored: a
	// duplicate is ignored and a newer session does not replace it.
	claimed bool
	done    chan struct{} // closed on the final state
}

// finish moves a session to a final state; s.mu held.
func (e *enrolSession) finish(state EnrolState, reason string, now time.Time) {
	if e.State != EnrolWaiting {
		return
	}
	e.State, e.Reason, e.DoneAt = state, reason, &now
	close(e.done)
}

// expire marks a waiting session expired once its time is up; s.mu held.
func (e *enrolSession) expire(now time.Time) {
	if e.State == EnrolWaiting && !e.claimed && !now.Before(e.ExpiresAt) {
		e.finish(EnrolExpired, fmt.Sprintf("no answer from station %s in time: is `varco enroll` running there and connected, and was a card presented?", e.Station), e.ExpiresAt)
	}
}

// snapshot copies the public part; s.mu held.
func (e *enrolSession) snapshot() EnrolSession {
	out := e.EnrolSession
	if e.Card != nil {
		c := *e.Card
		out.Card = &c
	}
	if e.DoneAt != nil {
		t := *e.DoneAt
		out.DoneAt = &t
	}
	return out
}

// StartEnrol opens an enrolment session at station (an enrolment
// station's id: its certificate is "station:<id>"): it publishes a signed
// challenge of wire.ChallengeSize fresh random bytes, valid for
// Options.EnrolTTL, on the station's enroll topic. When the station's
// answer verifies, the card is stored for personID (if not 0), enrolled
// by by (the audit actor).
//
// A station reads one card at a time: a session still waiting at the
// same station ends in the error state, replaced. StartEnrol fails with
// ErrEnrolBusy when MaxEnrolSessions are waiting, and with the
// transport's error (ErrNotConnected) when the challenge could not be
// published; no session is left then.
func (s *Syncer) StartEnrol(ctx context.Context, station string, personID int64, by string) (EnrolSession, error) {
	if !wire.ValidID(station) {
		return EnrolSession{}, fmt.Errorf("syncer: enrol: station %q is not a valid id", station)
	}
	ch := make([]byte, wire.ChallengeSize)
	rand.Read(ch) // never fails (crypto/rand, Go 1.24+)
	now := s.o.Now().UTC()
	e := &enrolSession{
		EnrolSession: EnrolSession{ID: wire.NewID(), Station: station, PersonID: personID, By: by,
			CreatedAt: now, ExpiresAt: now.Add(s.o.EnrolTTL), State: EnrolWaiting},
		challenge: ch,
		done:      make(chan struct{}),
	}
	s.mu.Lock()
	s.pruneEnrol(now)
	if len(s.enrol) >= MaxEnrolSessions {
		s.mu.Unlock()
		return EnrolSession{}, ErrEnrolBusy
	}
	// In before the challenge goes out: the answer may come at once.
	s.enrol[e.ID] = e
	s.mu.Unlock()

	err := s.publish(ctx, station, wire.KindEnroll, wire.EnrollChallenge{ID: e.ID, Challenge: ch, ExpiresAt: e.ExpiresAt})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		delete(s.enrol, e.ID)
		return EnrolSession{}, fmt.Errorf("syncer: enrol at station %s: %w", station, err)
	}
	for _, o := range s.enrol {
		if o != e && o.Station == station && o.State == EnrolWaiting && !o.claimed {
			o.finish(EnrolError, "replaced by a newer enrolment session at station "+station, now)
		}
	}
	s.log.Info("enrol: challenge sent", "station", station, "session", e.ID, "person", personID, "by", by, "expires", e.ExpiresAt)
	return e.snapshot(), nil
}

// pruneEnrol forgets sessions finished more than EnrolKeep ago, and when
// still at MaxEnrolSessions the oldest finished ones; s.mu held.
func (s *Syncer) pruneEnrol(now time.Time) {
	var ended []*enrolSession
	for id, e := range s.enrol {
		e.expire(now)
		if e.State == EnrolWaiting {
			continue
		}
		if now.Sub(*e.DoneAt) > EnrolKeep {
			delete(s.enrol, id)
			continue
		}
		ended = append(ended, e)
	}
	if len(s.enrol) < MaxEnrolSessions {
		return
	}
	slices.SortFunc(ended, func(a, b *enrolSession) int { return a.DoneAt.Compare(*b.DoneAt) })
	for _, e := range ended[:min(len(ended), len(s.enrol)-MaxEnrolSessions+1)] {
		delete(s.enrol, e.ID)
	}
}

// EnrolResult returns the session id as it stands now (a waiting session
// past its expiry is expired), or false when there is no such session
// (never made, or forgotten EnrolKeep after it ended).
func (s *Syncer) EnrolResult(id string) (EnrolSession, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.enrol[id]
	if !ok {
		return EnrolSession{}, false
	}
	e.expire(s.o.Now())
	return e.snapshot(), true
}

// WaitEnrol returns the session id once it is no longer waiting (an
// answer came or it expired), or as it stands when ctx ends first: a
// long poll.
func (s *Syncer) WaitEnrol(ctx context.Context, id string) (EnrolSession, bool) {
	s.mu.Lock()
	e, ok := s.enrol[id]
	var done chan struct{}
	var left time.Duration
	if ok {
		e.expire(s.o.Now())
		done, left = e.done, e.ExpiresAt.Sub(s.o.Now())
	}
	s.mu.Unlock()
	if !ok {
		return EnrolSession{}, false
	}
	t := time.NewTimer(max(left, 0))
	defer t.Stop()
	select {
	case <-done:
	case <-ctx.Done():
	case <-t.C:
		// Expired, or claimed by a result still being verified: a short
		// wait more for the latter.
		select {
		case <-done:
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return s.EnrolResult(id)
}

// enrolResult handles a station's answer. The station is the topic's
// (the broker lets station:X publish only under X); an answer that names
// a session of another station, one that is not waiting, or one past its
// expiry is dropped: a replay, a duplicate or a late answer.
func (s *Syncer) enrolResult(ctx context.Context, station string, payload []byte) {
	var res wire.EnrollResult
	if err := wire.DecodeFor(s.o.Site, station, wire.KindEnrollResult, payload, &res); err != nil {
		s.log.Warn("enrol: bad result", "station", station, "err", err)
		return
	}
	now := s.o.Now().UTC()
	s.mu.Lock()
	e, ok := s.enrol[res.ID]
	var why string
	switch {
	case !ok:
		why = "no such session (never made here, or forgotten)"
	case e.Station != station:
		why = "the session is another station's (" + e.Station + ")"
	case e.claimed || e.State != EnrolWaiting:
		why = "the session already has an answer or ended (" + string(e.State) + ")"
	case !now.Before(e.ExpiresAt):
		e.expire(now)
		why = "the session expired at " + e.ExpiresAt.Format(time.RFC3339)
	}
	if why != "" {
		s.mu.Unlock()
		s.log.Warn("enrol: result ignored", "station", station, "session", res.ID, "why", why)
		return
	}
	e.claimed = true
	sess, challenge := e.snapshot(), e.challenge
	s.mu.Unlock()

	state, nis, reason, card := s.checkEnrol(ctx, sess, challenge, res, now)

	s.mu.Lock()
	e.claimed = false
	e.NIS, e.Card = nis, card
	e.finish(state, reason, s.o.Now().UTC())
	s.mu.Unlock()
	s.log.Info("enrol: result", "station", station, "session", res.ID, "state", state, "nis", nis, "reason", reason)
}

// checkEnrol verifies an answer and stores the card; the session's final
// state with its NIS, reason and card.
func (s *Syncer) checkEnrol(ctx context.Context, sess EnrolSession, challenge []byte, res wire.EnrollResult, now time.Time) (EnrolState, string, string, *admin.Card) {
	if res.Error != "" {
		return EnrolError, "", "the station could not read a card: " + res.Error, nil
	}
	card, err := admin.VerifyCard(admin.CardRead{NIS: res.NIS, PublicKey: res.PublicKey, SOD: res.SOD,
		Challenge: challenge, Signature: res.Signature}, s.o.CSCAs, now)
	var rf *admin.Refusal
	if errors.As(err, &rf) {
		return EnrolRefused, res.NIS, rf.Reason, nil
	} else if err != nil {
		return EnrolError, res.NIS, "verification failed: " + err.Error(), nil
	}
	card.EnrolledAt, card.EnrolledBy, card.Status = now, sess.By, admin.CardActive
	if sess.PersonID == 0 {
		h := sha256.Sum256(card.PublicKey)
		card.KeyHash = hex.EncodeToString(h[:])
		return EnrolVerified, card.NIS, "", &card
	}
	card.PersonID = sess.PersonID
	err = s.o.Store.CreateCard(ctx, admin.Actor{Name: sess.By}, &card)
	switch {
	case err == nil:
		s.Changed() // the person's doors get the card
		return EnrolVerified, card.NIS, "", &card
	case errors.Is(err, admin.ErrConflict):
		reason := "the card is genuine but already enrolled"
		if old, gerr := s.o.Store.GetCardByNIS(ctx, card.NIS); gerr == nil {
			reason += fmt.Sprintf(" (card %d of person %d, %s): revoke or delete that card first, or use it", old.ID, old.PersonID, old.Status)
		}
		return EnrolRefused, card.NIS, reason, nil
	case errors.Is(err, admin.ErrNotFound):
		return EnrolError, card.NIS, fmt.Sprintf("the card is genuine but person %d no longer exists: nothing stored", sess.PersonID), nil
	}
	s.log.Error("enrol: store the card", "station", sess.Station, "session", sess.ID, "err", err)
	return EnrolError, card.NIS, "the card is genuine but could not be stored: " + err.Error(), nil
}
