package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
)

// TestVirtualDesk: a card handed to the desk while a read waits is read
// (the challenge signed by the card), one handed with no read waiting is
// refused saying why, junk is refused naming the problem, and the desk
// only listens on loopback.
func TestVirtualDesk(t *testing.T) {
	if _, err := listenDesk("0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("listenDesk on every address: %v, want a refusal naming loopback", err)
	}
	desk, err := listenDesk("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go desk.serve(ctx)
	addr := desk.ln.Addr().String()
	card, err := virtcie.New(virtcie.Options{NIS: "100000000031", Gen: reader.Gen2022, PKI: testpki.Committed(t)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := card.Marshal()
	if err != nil {
		t.Fatal(err)
	}

	challenge := bytes.Repeat([]byte{0x5a}, 32)
	type readResult struct {
		rd  *reader.EnrolRead
		err error
	}
	got := make(chan readResult, 1)
	go func() {
		rd, _, err := desk.read(ctx, challenge)
		got <- readResult{rd, err}
	}()
	msg, err := handToDesk(ctx, addr, b)
	if err != nil || msg != "read NIS 100000000031" {
		t.Fatalf("hand over while a read waits: %q, %v", msg, err)
	}
	r := <-got
	if r.err != nil || r.rd.NIS != card.NIS() || !bytes.Equal(r.rd.KeyFile, card.KeyFileTLV()) {
		t.Fatalf("read: %+v, %v", r.rd, r.err)
	}
	if err := reader.VerifyChallenge(r.rd.PublicKey, challenge, r.rd.Signature); err != nil {
		t.Fatalf("the card's signature over the challenge: %v", err)
	}

	idle, err := listenDesk("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	idle.wait = 200 * time.Millisecond
	go idle.serve(ctx)
	if _, err := handToDesk(ctx, idle.ln.Addr().String(), b); err == nil || !strings.Contains(err.Error(), "no enrolment request") {
		t.Fatalf("hand over with no read waiting: %v", err)
	}
	if _, err := handToDesk(ctx, addr, []byte("{not a card")); err == nil || !strings.Contains(err.Error(), "card handed to the desk") {
		t.Fatalf("junk: %v", err)
	}
}
