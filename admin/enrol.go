package admin

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/varco-access/varco/reader"
)

// CardRead is what an enrolment station read from a card (CIE.md
// section 6, the enrolment read), for VerifyCard.
type CardRead struct {
	NIS string
	// PublicKey is EF.Servizi_Int.Kpub cut at its TLV length.
	PublicKey []byte
	SOD       []byte
	// Challenge is what the admin asked the card to sign, and Signature
	// the card's answer (INTERNAL AUTHENTICATE). With Challenge nil the
	// anti-clone check is not made: the card was read by a station the
	// admin did not give a challenge to (POST /api/v1/cards).
	Challenge, Signature []byte
}

// Refusal is returned by VerifyCard when a card fails a check at
// enrolment. Reason says why in plain words, for the HR person at the
// station; Err is the check's error (a reader sentinel, for errors.Is).
// A refused card is never stored.
type Refusal struct {
	Reason string
	Err    error
}

func (r *Refusal) Error() string { return "card refused: " + r.Reason }

// Unwrap returns the check's error.
func (r *Refusal) Unwrap() error { return r.Err }

// noCSCAs is the refusal when the server has no trust anchors at all.
const noCSCAs = "no CSCA certificates are configured on the server (csca_dir): cannot verify any card"

// VerifyCard verifies a card read at enrolment: the public key file
// parses; passive authentication of EF.SOD against cscas as of now, with
// the NIS and the key file checked against the data groups the State
// signed (CIE.md section 5); and, when r.Challenge is set, the card's
// signature over it with that key (step 7, the anti-clone check). It
// returns the card's verified fields (NIS, PublicKey, SODGeneration,
// DSSubject, Verification); the caller sets the person, the enrolment
// time and who enrolled it. Every failure is a *Refusal whose Reason is
// worded by SODReason or says which other check failed.
func VerifyCard(r CardRead, cscas []*x509.Certificate, now time.Time) (Card, error) {
	card := Card{NIS: r.NIS, PublicKey: r.PublicKey}
	if len(cscas) == 0 {
		return card, &Refusal{Reason: noCSCAs}
	}
	if err := reader.CheckNIS([]byte(r.NIS)); err != nil {
		return card, &Refusal{Reason: "the NIS read is not 12 digits: " + err.Error(), Err: err}
	}
	pub, der, err := reader.ParsePublicKeyFile(r.PublicKey)
	if err != nil {
		return card, &Refusal{Reason: "the card's public key file does not hold an RSA key: " + err.Error(), Err: err}
	}
	if len(der) != len(r.PublicKey) {
		return card, &Refusal{Reason: "the card's public key file has bytes after the key", Err: reader.ErrKeyFile}
	}
	if len(r.SOD) == 0 {
		return card, &Refusal{Reason: "no EF.SOD was read: the card cannot be checked against the State's signature", Err: reader.ErrSODFormat}
	}
	res, err := reader.VerifySOD(r.SOD, reader.VerifyOptions{CSCAs: cscas, Time: now, NIS: []byte(r.NIS), PublicKeyFile: r.PublicKey})
	if err != nil {
		return card, &Refusal{Reason: SODReason(err), Err: err}
	}
	signed := ""
	if r.Challenge != nil {
		if err := reader.VerifyChallenge(pub, r.Challenge, r.Signature); err != nil {
			return card, &Refusal{Reason: ChallengeReason(err), Err: err}
		}
		signed = "; the card signed the admin's challenge with that key"
	}
	card.SODGeneration = res.Generation.String()
	card.DSSubject = res.DSSubject
	card.Verification = fmt.Sprintf("ok: EF.SOD %s signed by DS serial %s, chained to %s; NIS and key match%s",
		res.SignatureAlgorithm, res.DSSerial, res.CSCASubject, signed)
	return card, nil
}

// SODReason says in plain words why a card failed passive
// authentication: the same words on every enrolment path.
func SODReason(err error) string {
	switch {
	case errors.Is(err, reader.ErrUnknownCSCA), errors.Is(err, reader.ErrDSCertSignature):
		return "the card was not issued under a trusted CSCA (not a genuine CIE, or the CSCA set is out of date): " + err.Error()
	case errors.Is(err, reader.ErrDSExpired), errors.Is(err, reader.ErrCSCAExpired):
		return "a certificate in the card's chain is expired or not yet valid: " + err.Error()
	case errors.Is(err, reader.ErrNISHash):
		return "the NIS read does not match the one the State signed: " + err.Error()
	case errors.Is(err, reader.ErrKeyHash):
		return "the public key read does not match the one the State signed: " + err.Error()
	}
	return "EF.SOD does not verify: " + err.Error()
}

// ChallengeReason says in plain words why the card's answer to the
// admin's challenge was refused.
func ChallengeReason(err error) string {
	return "the card did not sign the challenge with the key the State signed (a clone of another card's data, or a card swapped during the read): " + err.Error()
}
