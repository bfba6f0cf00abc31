package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/httpapi"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
	"github.com/varco-access/varco/wire"
)

// memBroker is an in-memory syncer.Transport: what the syncer publishes
// goes to out; answer delivers a station's message to its subscription.
type memBroker struct {
	mu   sync.Mutex
	subs map[string]func(string, []byte)
	out  chan []byte // enroll challenges only
}

func (m *memBroker) Publish(_ context.Context, topic string, _ byte, _ bool, payload []byte) error {
	if strings.HasSuffix(topic, "/"+string(wire.KindEnroll)) {
		m.out <- payload
	}
	return nil
}

func (m *memBroker) Subscribe(_ context.Context, filter string, h func(string, []byte)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[filter] = h
	return nil
}

func (m *memBroker) handler(filter string) func(string, []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.subs[filter]
}

const enrolSite = "sede"

// withEnrol serves e's API again with a real syncer (on memBroker) as
// its Enroller; the station's side is played by the returned function,
// which answers the next challenge with what card gives.
func (e *env) withEnrol(t *testing.T) (station func(card *virtcie.Card)) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	mb := &memBroker{subs: map[string]func(string, []byte){}, out: make(chan []byte, 10)}
	s, err := syncer.New(syncer.Options{Store: e.st, Site: enrolSite, Signer: wire.NewSigner(priv), Transport: mb, Poll: time.Hour,
		CSCAs: testpki.Committed(t).TrustedCSCAs(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	filter := wire.Prefix + enrolSite + "/door/+/" + string(wire.KindEnrollResult)
	for deadline := time.Now().Add(5 * time.Second); mb.handler(filter) == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the syncer did not subscribe to the enrolment results")
		}
	}

	e.api, err = httpapi.New(httpapi.Options{
		Store: e.st, CSRFKey: bytes.Repeat([]byte{7}, auth.CSRFKeySize),
		CSCAs: testpki.Committed(t).TrustedCSCAs(), Password: &auth.TestParams,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Sync: e.sync, Enrol: s,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	e.api.Register(r)
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.srv.Close)

	return func(card *virtcie.Card) {
		t.Helper()
		var msg []byte
		select {
		case msg = <-mb.out:
		case <-time.After(5 * time.Second):
			t.Fatal("no challenge published")
		}
		var ch wire.EnrollChallenge
		if err := wire.NewVerifier(pub, enrolSite, "desk-1").Open(wire.KindEnroll, msg, &ch); err != nil {
			t.Fatalf("the challenge does not open at desk-1: %v", err)
		}
		rd, err := reader.ReadEnrol(card, &reader.EnrolOptions{Challenge: ch.Challenge})
		if err != nil {
			t.Fatal(err)
		}
		res, err := wire.Encode(wire.KindEnrollResult, enrolSite, "desk-1",
			wire.EnrollResult{ID: ch.ID, NIS: rd.NIS, PublicKey: rd.KeyFile, SOD: rd.SOD, Signature: rd.Signature})
		if err != nil {
			t.Fatal(err)
		}
		mb.handler(filter)(wire.Topic(enrolSite, "desk-1", wire.KindEnrollResult), res)
	}
}

// TestEnrolSessions: HR opens a session, the station answers, the long
// poll returns the verified card, which is stored for the person; a
// refused card is shown with its reason and not stored; bad input is
// named.
func TestEnrolSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		// Without stations: 503.
		if r := e.as(auth.RoleHR, req{method: "POST", path: "/enrol/sessions", body: map[string]any{"station": "desk-1"}}); r.code != 503 {
			t.Errorf("without an enroller: %d %s", r.code, r.body)
		}
		station := e.withEnrol(t)
		pki := testpki.Committed(t)
		var p admin.Person
		e.must(201, req{method: "POST", path: "/people", body: map[string]any{"employee_no": "9", "name": "Dario", "surname": "Russo", "active": true}}).json(t, &p)

		var s syncer.EnrolSession
		r := e.as(auth.RoleHR, req{method: "POST", path: "/enrol/sessions", body: map[string]any{"station": "desk-1", "person_id": p.ID}})
		if r.code != 201 {
			t.Fatalf("start: %d %s", r.code, r.body)
		}
		r.json(t, &s)
		if s.State != syncer.EnrolWaiting || s.Station != "desk-1" || s.PersonID != p.ID || s.By != "token:hr-token" || s.ExpiresAt.Before(time.Now()) {
			t.Fatalf("new session %+v", s)
		}
		var waiting syncer.EnrolSession
		e.as(auth.RoleHR, req{method: "GET", path: "/enrol/sessions/" + s.ID}).json(t, &waiting)
		if waiting.State != syncer.EnrolWaiting {
			t.Fatalf("before the answer: %+v", waiting)
		}

		card, err := virtcie.New(virtcie.Options{NIS: "909090909090", PKI: pki, Gen: reader.Gen2016})
		if err != nil {
			t.Fatal(err)
		}
		go func() { time.Sleep(100 * time.Millisecond); station(card) }()
		var got syncer.EnrolSession
		r = e.as(auth.RoleHR, req{method: "GET", path: "/enrol/sessions/" + s.ID + "?wait=10s"})
		r.json(t, &got)
		if r.code != 200 || got.State != syncer.EnrolVerified || got.Card == nil || got.Card.ID == 0 || got.NIS != card.NIS() {
			t.Fatalf("long poll: %d %s", r.code, r.body)
		}
		var stored admin.Card
		e.must(200, req{method: "GET", path: fmt.Sprintf("/cards/%d", got.Card.ID)}).json(t, &stored)
		if stored.PersonID != p.ID || stored.NIS != card.NIS() || stored.SODGeneration != "2016" || !strings.Contains(stored.DSSubject, "Document Signer") ||
			!strings.Contains(stored.Verification, "challenge") || stored.EnrolledBy != "token:hr-token" {
			t.Errorf("stored card %+v", stored)
		}

		// A card under a rogue CSCA: refused with the reason, not stored.
		rogue, err := virtcie.New(virtcie.Options{NIS: "909090909091", PKI: pki, Gen: reader.Gen2022, Negative: virtcie.UntrustedDS})
		if err != nil {
			t.Fatal(err)
		}
		e.as(auth.RoleAdmin, req{method: "POST", path: "/enrol/sessions", body: map[string]any{"station": "desk-1", "person_id": p.ID}}).json(t, &s)
		station(rogue)
		got = syncer.EnrolSession{}
		e.as(auth.RoleAdmin, req{method: "GET", path: "/enrol/sessions/" + s.ID + "?wait=5s"}).json(t, &got)
		if got.State != syncer.EnrolRefused || !strings.Contains(got.Reason, "not issued under a trusted CSCA") || got.Card != nil {
			t.Errorf("rogue card: %+v", got)
		}
		var cards []admin.Card
		e.must(200, req{method: "GET", path: "/cards?nis=909090909091"}).json(t, &cards)
		if len(cards) != 0 {
			t.Errorf("refused card stored: %+v", cards)
		}

		// Bad input.
		for _, tc := range []struct {
			name  string
			q     req
			code  int
			field string
		}{
			{"station with a slash", req{method: "POST", path: "/enrol/sessions", body: map[string]any{"station": "desk/1"}}, 400, "station"},
			{"no station", req{method: "POST", path: "/enrol/sessions", body: map[string]any{"person_id": p.ID}}, 400, "station"},
			{"unknown person", req{method: "POST", path: "/enrol/sessions", body: map[string]any{"station": "desk-1", "person_id": 999999}}, 400, "person_id"},
			{"unknown field", req{method: "POST", path: "/enrol/sessions", body: map[string]any{"station": "desk-1", "nis": "x"}}, 400, "nis"},
			{"wait too long", req{method: "GET", path: "/enrol/sessions/" + s.ID + "?wait=1h"}, 400, "wait"},
			{"wait not a duration", req{method: "GET", path: "/enrol/sessions/" + s.ID + "?wait=soon"}, 400, "wait"},
			{"unknown session", req{method: "GET", path: "/enrol/sessions/0123456789abcdef0123456789abcdef"}, 404, ""},
			{"session id with odd characters", req{method: "GET", path: "/enrol/sessions/%24%7B1%7D"}, 404, ""},
		} {
			r := e.as(auth.RoleHR, tc.q)
			if r.code != tc.code {
				t.Errorf("%s: %d %s, want %d", tc.name, r.code, r.body, tc.code)
				continue
			}
			if tc.field != "" {
				if _, ok := r.fields(t)[tc.field]; !ok {
					t.Errorf("%s: %s does not name %s", tc.name, r.body, tc.field)
				}
			}
		}
		// Facilities and viewers may not enrol.
		if r := e.as(auth.RoleFacilities, req{method: "POST", path: "/enrol/sessions", body: map[string]any{"station": "desk-1"}}); r.code != 403 {
			t.Errorf("facilities: %d", r.code)
		}
	})
}
