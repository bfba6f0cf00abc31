package wire_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/varco-access/varco/wire"
)

// The admin seals a head for one door; the door, which pins the site's
// public key, opens it and decides whether to sync.
func Example() {
	siteKey := ed25519.NewKeyFromSeed(make([]byte, 32)) // GenerateSiteKey / LoadPrivateKey in real life
	signer := wire.NewSigner(siteKey)

	// Admin side.
	topic := wire.Topic("hq", "front", wire.KindHead)
	msg, err := signer.Seal(wire.KindHead, "hq", "front", wire.Head{Rev: 42, IssuedAt: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	fmt.Println("publish", topic, "qos", wire.KindHead.QoS(), "retained", wire.KindHead.Retained())

	// Door side: the public key comes from site_public_key.
	pub, _ := wire.ParsePublicKey(wire.EncodePublicKey(signer.PublicKey()))
	v := wire.NewVerifier(pub, "hq", "front")
	_, _, kind, _ := wire.ParseTopic(topic)
	var h wire.Head
	if err := v.Open(kind, msg, &h); err != nil {
		fmt.Println("reject:", err) // and an event
		return
	}
	var cur uint64 = 40
	if err := wire.CheckHead(cur, h); err == nil {
		fmt.Println("behind: sync from", cur)
	}

	// Door B receives door A's message: refused.
	err = wire.NewVerifier(pub, "hq", "back").Open(wire.KindHead, msg, &h)
	fmt.Println(errors.Is(err, wire.ErrWrongDoor))
	// Output:
	// publish varco/v1/hq/door/front/head qos 1 retained true
	// behind: sync from 40
	// true
}

// The admin decodes door-to-admin messages by topic.
func ExampleDecodeFor() {
	msg, _ := wire.Encode(wire.KindSync, "hq", "front", wire.SyncRequest{Rev: 40, Reason: wire.SyncBoot})

	site, door, kind, err := wire.ParseTopic("varco/v1/hq/door/front/sync")
	if err != nil {
		panic(err)
	}
	body := kind.Payload()
	if err := wire.DecodeFor(site, door, kind, msg, body); err != nil {
		fmt.Println("drop:", err)
		return
	}
	switch b := body.(type) {
	case *wire.SyncRequest:
		fmt.Printf("%s/%s has rev %d (%s)\n", site, door, b.Rev, b.Reason)
	}
	// Output:
	// hq/front has rev 40 (boot)
}
