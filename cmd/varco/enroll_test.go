package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/auth"
	"github.com/varco-access/varco/admin/httpapi"
	"github.com/varco-access/varco/admin/sqlstore"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/pcsc/pcscdtest"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/mqtttest"
	"github.com/varco-access/varco/wire/sitepki"
)

// syncBuf is a bytes.Buffer safe for concurrent use.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

const enrolSite = "sede"

// TestEnrollStation runs the whole enrolment over each real broker: the
// admin's syncer on a real SQLite store and the Paho transport,
// 'varco enroll' in-process with its Paho transport and a real pcscd
// whose vpcd reader holds virtual CIEs, and the API through httptest.
func TestEnrollStation(t *testing.T) {
	mqtttest.Each(t, enrolSite, []string{"desk-1", "desk-2"}, func(t *testing.T, b mqtttest.Broker) {
		d := pcscdtest.Start(t)
		addr, readerName := d.VPCDAddrs()[0], d.ReaderNames()[0]
		pki := testpki.Committed(t)
		ctx := t.Context()
		log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))

		st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "admin.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		p := admin.Person{EmployeeNo: "1", Name: "Anna", Surname: "Bianchi", Active: true}
		if err := st.CreatePerson(ctx, admin.Actor{Name: "test"}, &p); err != nil {
			t.Fatal(err)
		}

		// The admin.
		adminTr, err := syncer.NewPaho(syncer.PahoOptions{URL: b.URL(), TLS: b.ClientTLS(sitepki.AdminIdentity), Log: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { adminTr.Close() })
		sitePub, siteKey, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := syncer.New(syncer.Options{Store: st, Site: enrolSite, Signer: wire.NewSigner(siteKey), Transport: adminTr,
			CSCAs: pki.TrustedCSCAs(), EnrolTTL: 8 * time.Second, Poll: time.Hour, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		go func() { ran <- s.Run(runCtx) }()
		t.Cleanup(func() { stop(); <-ran })

		// The station, as 'varco enroll' runs it.
		stationTr, err := syncer.NewPaho(syncer.PahoOptions{URL: b.URL(), TLS: b.ClientTLS(sitepki.StationIdentity("desk-1")),
			ClientID: sitepki.StationIdentity("desk-1"), Log: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stationTr.Close() })
		var out, rlog syncBuf
		stCtx, stStop := context.WithCancel(context.Background())
		stDone := make(chan error, 1)
		go func() {
			stDone <- runStation(stCtx, stationOptions{Site: enrolSite, Station: "desk-1", SitePub: sitePub, Transport: stationTr,
				Read: pcscReadCard(readerName, false, &rlog), Out: &out})
		}()
		t.Cleanup(func() {
			stStop()
			if err := <-stDone; err != nil {
				t.Errorf("runStation: %v", err)
			}
			t.Logf("station output:\n%s%s", out.String(), rlog.String())
		})
		waitFor(t, "the station to subscribe", func() bool { return strings.Contains(out.String(), "ready") })
		// A retained status from the station: once the admin has it, the
		// admin is subscribed to the results too.
		status := func(tr *syncer.Paho, station string) {
			t.Helper()
			msg, err := wire.Encode(wire.KindStatus, enrolSite, station, wire.Status{Online: true, Time: time.Now().UTC()})
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Publish(ctx, wire.Topic(enrolSite, station, wire.KindStatus), 1, true, msg); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the admin to see "+station, func() bool { _, ok := s.Status(station); return ok })
		}
		status(stationTr, "desk-1")

		// enrol presents card (nil: none) and runs a session to its end.
		enrol := func(t *testing.T, card *virtcie.Card) syncer.EnrolSession {
			t.Helper()
			if card != nil {
				conn := pcscdtest.InsertCard(t, addr, card)
				defer func() { conn.Close(); d.WaitEmpty(t, 10*time.Second) }()
			}
			sess, err := s.StartEnrol(ctx, "desk-1", p.ID, "hr-user")
			if err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			got, ok := s.WaitEnrol(wctx, sess.ID)
			if !ok || got.State == syncer.EnrolWaiting {
				t.Fatalf("session %+v did not end", got)
			}
			return got
		}
		genuine, err := virtcie.New(virtcie.Options{NIS: "100000000001", PKI: pki, Gen: reader.Gen2022})
		if err != nil {
			t.Fatal(err)
		}

		t.Run("genuine card verified and stored", func(t *testing.T) {
			got := enrol(t, genuine)
			if got.State != syncer.EnrolVerified || got.Card == nil || got.Card.ID == 0 {
				t.Fatalf("session %+v", got)
			}
			c, err := st.GetCardByNIS(ctx, genuine.NIS())
			if err != nil {
				t.Fatal(err)
			}
			if c.PersonID != p.ID || c.SODGeneration != "2022" || !strings.Contains(c.DSSubject, "Document Signer") ||
				!strings.Contains(c.Verification, "challenge") || c.EnrolledBy != "hr-user" || !bytes.Equal(c.PublicKey, genuine.KeyFileTLV()) {
				t.Errorf("stored card %+v", c)
			}
		})
		t.Run("clone refused: the challenge signature fails", func(t *testing.T) {
			clone, err := virtcie.NewClone(genuine)
			if err != nil {
				t.Fatal(err)
			}
			got := enrol(t, clone)
			if got.State != syncer.EnrolRefused || !strings.Contains(got.Reason, "did not sign the challenge") || got.NIS != genuine.NIS() {
				t.Errorf("session %+v", got)
			}
		})
		t.Run("untrusted document signer refused", func(t *testing.T) {
			rogue, err := virtcie.New(virtcie.Options{NIS: "100000000002", PKI: pki, Gen: reader.Gen2016, Negative: virtcie.UntrustedDS})
			if err != nil {
				t.Fatal(err)
			}
			got := enrol(t, rogue)
			if got.State != syncer.EnrolRefused || !strings.Contains(got.Reason, "not issued under a trusted CSCA") {
				t.Errorf("session %+v", got)
			}
			if _, err := st.GetCardByNIS(ctx, rogue.NIS()); !errors.Is(err, admin.ErrNotFound) {
				t.Errorf("refused card stored: %v", err)
			}
		})
		t.Run("another station's answer ignored", func(t *testing.T) {
			other, err := syncer.NewPaho(syncer.PahoOptions{URL: b.URL(), TLS: b.ClientTLS(sitepki.StationIdentity("desk-2")),
				ClientID: sitepki.StationIdentity("desk-2"), Log: log})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			sess, err := s.StartEnrol(ctx, "desk-1", p.ID, "hr-user")
			if err != nil {
				t.Fatal(err)
			}
			// desk-2 answers desk-1's session with a card that would pass
			// every check but the challenge's, then reports its status.
			card, err := virtcie.New(virtcie.Options{NIS: "100000000003", PKI: pki, Gen: reader.Gen2022})
			if err != nil {
				t.Fatal(err)
			}
			rd, err := reader.ReadEnrol(card, nil)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := wire.Encode(wire.KindEnrollResult, enrolSite, "desk-2",
				wire.EnrollResult{ID: sess.ID, NIS: rd.NIS, PublicKey: rd.KeyFile, SOD: rd.SOD, Signature: rd.Signature})
			if err != nil {
				t.Fatal(err)
			}
			if err := other.Publish(ctx, wire.Topic(enrolSite, "desk-2", wire.KindEnrollResult), 1, false, msg); err != nil {
				t.Fatal(err)
			}
			status(other, "desk-2")
			if got, _ := s.EnrolResult(sess.ID); got.State != syncer.EnrolWaiting {
				t.Fatalf("after desk-2's answer: %+v", got)
			}
			// desk-1 itself then answers with that card.
			conn := pcscdtest.InsertCard(t, addr, card)
			defer func() { conn.Close(); d.WaitEmpty(t, 10*time.Second) }()
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if got, _ := s.WaitEnrol(wctx, sess.ID); got.State != syncer.EnrolVerified || got.NIS != card.NIS() {
				t.Errorf("desk-1's own answer: %+v", got)
			}
		})
		t.Run("no card in time", func(t *testing.T) {
			got := enrol(t, nil)
			if got.State != syncer.EnrolError || !strings.Contains(got.Reason, "no card was presented in time") {
				t.Errorf("session %+v", got)
			}
		})
		t.Run("API end to end", func(t *testing.T) {
			srv, token := enrolAPI(t, st, s)
			card, err := virtcie.New(virtcie.Options{NIS: "100000000004", PKI: pki, Gen: reader.Gen2016})
			if err != nil {
				t.Fatal(err)
			}
			conn := pcscdtest.InsertCard(t, addr, card)
			defer func() { conn.Close(); d.WaitEmpty(t, 10*time.Second) }()

			var sess syncer.EnrolSession
			if code := apiDo(t, srv, token, "POST", "/enrol/sessions", map[string]any{"station": "desk-1", "person_id": p.ID}, &sess); code != 201 || sess.State != syncer.EnrolWaiting {
				t.Fatalf("POST /enrol/sessions: %d %+v", code, sess)
			}
			var got syncer.EnrolSession
			for got.State == "" || got.State == syncer.EnrolWaiting {
				if code := apiDo(t, srv, token, "GET", "/enrol/sessions/"+sess.ID+"?wait=20s", nil, &got); code != 200 {
					t.Fatalf("GET: %d", code)
				}
			}
			if got.State != syncer.EnrolVerified || got.Card == nil || got.Card.ID == 0 {
				t.Fatalf("session %+v", got)
			}
			var stored admin.Card
			if code := apiDo(t, srv, token, "GET", fmt.Sprintf("/cards/%d", got.Card.ID), nil, &stored); code != 200 ||
				stored.PersonID != p.ID || stored.NIS != card.NIS() || stored.SODGeneration != "2016" || stored.EnrolledBy != "token:hr-token" {
				t.Errorf("GET /cards/%d: %d %+v", got.Card.ID, code, stored)
			}
		})
	})
}

// enrolAPI serves the API over st with s as its Enroller and returns an
// HR API token.
func enrolAPI(t *testing.T, st admin.Store, s *syncer.Syncer) (*httptest.Server, string) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	api, err := httpapi.New(httpapi.Options{Store: st, CSRFKey: bytes.Repeat([]byte{7}, auth.CSRFKeySize), Password: &auth.TestParams,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Sync: s, Enrol: s})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	api.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	sys := admin.Actor{Name: "test"}
	h, err := auth.TestParams.Hash("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	u := admin.User{Username: "hr-user", PasswordHash: h, Role: string(auth.RoleHR)}
	if err := st.CreateUser(t.Context(), sys, &u); err != nil {
		t.Fatal(err)
	}
	plain, hash, err := auth.NewSecret(auth.TokenPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAPIToken(t.Context(), sys, &admin.APIToken{Name: "hr-token", UserID: u.ID, Role: string(auth.RoleHR), Hash: hash, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	return srv, plain
}

// apiDo sends a JSON request with a bearer token and decodes the answer
// into out; it returns the status code.
func apiDo(t *testing.T, srv *httptest.Server, token, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+httpapi.Prefix+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, res.StatusCode, b, err)
		}
	}
	if res.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	return res.StatusCode
}
