package syncer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"net"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/admin"
	"github.com/varco-access/varco/admin/sqlstore"
	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
	"github.com/varco-access/varco/wire"
	"github.com/varco-access/varco/wire/mqtttest"
)

// TestSyncerOverBroker runs the syncer on a real SQLite store and the
// Paho transport, against each real broker, with a door that is a plain
// paho client holding a door certificate: the retained head, a signed
// delta after a revocation, events stored once and acknowledged, and the
// door's status and Last Will.
func TestSyncerOverBroker(t *testing.T) {
	const doorID = "ingresso"
	mqtttest.Each(t, site, []string{doorID}, func(t *testing.T, b mqtttest.Broker) {
		ctx := t.Context()
		st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "a.db"), nil)
		must(t, err)
		t.Cleanup(func() { st.Close() })
		a := admin.Actor{Name: "test"}
		sites, err := st.ListSites(ctx)
		must(t, err)
		door := admin.Door{SiteID: sites[0].ID, Name: "Ingresso", ControllerID: doorID}
		must(t, st.CreateDoor(ctx, a, &door))
		p := admin.Person{EmployeeNo: "1", Name: "Anna", Surname: "Bianchi", Active: true}
		must(t, st.CreatePerson(ctx, a, &p))
		vc, err := virtcie.New(virtcie.Options{NIS: "123456789012", PKI: testpki.Committed(t), Gen: reader.Gen2022})
		must(t, err)
		card := admin.Card{PersonID: p.ID, NIS: vc.NIS(), PublicKey: vc.KeyFileTLV(), EnrolledAt: time.Now()}
		must(t, st.CreateCard(ctx, a, &card))
		must(t, st.CreateGroup(ctx, a, &admin.Group{Name: "Tutti", DoorIDs: []int64{door.ID}, PersonIDs: []int64{p.ID}}))

		// The door first, with its Last Will, so that it sees the head the
		// syncer announces at start (it is retained anyway).
		var conn net.Conn
		will, err := wire.OfflineWill(site, doorID)
		must(t, err)
		d := connectDoor(t, b, doorID, func(o *paho.ClientOptions) {
			o.SetBinaryWill(wire.Topic(site, doorID, wire.KindStatus), will, 1, true)
			o.SetCustomOpenConnectionFn(func(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
				c, err := tls.DialWithDialer(&net.Dialer{Timeout: wait}, "tcp", u.Host, o.TLSConfig)
				if err == nil {
					conn = c
				}
				return c, err
			})
		})

		tr, _ := newPaho(t, b)
		pub, priv, err := ed25519.GenerateKey(nil)
		must(t, err)
		log, _ := testLog(t, "syncer")
		s, err := syncer.New(syncer.Options{Store: st, Site: site, Signer: wire.NewSigner(priv), Transport: tr,
			Debounce: 10 * time.Millisecond, Poll: time.Hour, Log: log})
		must(t, err)
		runCtx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })

		v := wire.NewVerifier(pub, site, doorID)
		open := func(k wire.Kind, body any) paho.Message {
			t.Helper()
			m := d.next(wire.Topic(site, doorID, k))
			if err := v.Open(k, m.Payload(), body); err != nil {
				t.Fatalf("%s: %v", m.Topic(), err)
			}
			return m
		}
		rev, err := st.DoorRevision(ctx, door.ID)
		must(t, err)
		var h wire.Head
		if open(wire.KindHead, &h); h.Rev != uint64(rev) {
			t.Fatalf("head %d, door at %d", h.Rev, rev)
		}

		// The door reports itself online.
		send := func(k wire.Kind, retained bool, body any) {
			t.Helper()
			msg, err := wire.Encode(k, site, doorID, body)
			must(t, err)
			d.publish(wire.Topic(site, doorID, k), retained, msg)
		}
		t0 := time.Now().UTC().Truncate(time.Second)
		send(wire.KindStatus, true, wire.Status{Online: true, Rev: h.Rev, OutboxLen: 2, ClockTrusted: true, Mode: varco.ModeNormal, DoorState: wire.DoorClosed, Time: t0})
		waitStatus(t, s, doorID, func(st syncer.DoorStatus) bool { return st.Online && st.Rev == h.Rev && st.OutboxLen == 2 })

		// Revoking the card: a signed delta the door can open.
		must(t, st.SetCardStatus(ctx, admin.Actor{Name: "hr"}, card.ID, admin.CardRevoked))
		s.Changed()
		var delta wire.Delta
		open(wire.KindGrants, &delta)
		if delta.From != uint64(rev) || delta.To <= delta.From || len(delta.Deletes) != 1 || delta.Deletes[0] != vc.NIS() {
			t.Fatalf("delta after the revocation: %+v", delta)
		}

		// An events batch, sent twice (a reconnect): stored once, acked
		// each time.
		batch := wire.EventsBatch{Epoch: "e1", Events: []varco.Event{
			{Seq: 1, Door: doorID, Time: t0, Kind: varco.EventGranted, NIS: vc.NIS(), ClockTrusted: true},
			{Seq: 2, Door: doorID, Time: t0.Add(time.Second), Kind: varco.EventDenied, Reason: varco.ReasonRevoked, NIS: vc.NIS(), ClockTrusted: true},
		}}
		for range 2 {
			send(wire.KindEvents, false, batch)
			var ack wire.Ack
			if open(wire.KindEventsAck, &ack); ack.Epoch != "e1" || ack.Seq != 2 {
				t.Fatalf("ack %+v", ack)
			}
		}
		evs, _, err := st.SearchEvents(ctx, admin.EventFilter{})
		must(t, err)
		if len(evs) != 2 {
			t.Fatalf("%d events stored, want 2", len(evs))
		}
		for _, e := range evs {
			if e.DoorID != door.ID {
				t.Errorf("event %+v not at the door", e)
			}
		}

		// The door dies without DISCONNECT: its Will says offline.
		must(t, conn.Close())
		waitStatus(t, s, doorID, func(st syncer.DoorStatus) bool { return !st.Online })
	})
}

func waitStatus(t *testing.T, s *syncer.Syncer, door string, ok func(syncer.DoorStatus) bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		st, found := s.Status(door)
		if found && ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status of %s: %+v (found %v)", door, st, found)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
