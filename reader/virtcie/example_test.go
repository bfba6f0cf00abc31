package virtcie_test

import (
	"crypto/rand"
	"fmt"
	"log"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
)

// A door read against an emulated card: the reader package sees a card that
// needs GET RESPONSE for the signature and checks the answer with the key
// that enrolment stored.
func ExampleNew() {
	pki, err := testpki.Generate(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	card, err := virtcie.New(virtcie.Options{
		NIS:    "123456789012",
		Gen:    reader.Gen2022,
		PKI:    pki,
		Quirks: virtcie.Quirks{GetResponse: true},
	})
	if err != nil {
		log.Fatal(err)
	}
	enrolledKey := card.PublicKey()

	read, err := reader.ReadDoor(card, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(read.NIS, reader.VerifyChallenge(enrolledKey, read.Challenge, read.Signature))
	fmt.Println(card.Stats().APDUs, "APDUs")
}
