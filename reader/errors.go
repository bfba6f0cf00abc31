package reader

import "errors"

// Card and transport errors.
var (
	// ErrShortResponse is returned when a transmit returns fewer than the two
	// status bytes, as happens when the card leaves the field mid-command.
	ErrShortResponse = errors.New("reader: response shorter than 2 bytes (card removed mid-command?)")

	// ErrTooManyRetries is returned when a card keeps asking for GET RESPONSE
	// or a different Le past the bound the codec accepts.
	ErrTooManyRetries = errors.New("reader: card kept asking to retry the command")

	// ErrCommand is returned when a Command cannot be encoded (data or Le out
	// of range).
	ErrCommand = errors.New("reader: invalid command APDU")

	// ErrTLV is returned when BER-TLV bytes are malformed or truncated.
	ErrTLV = errors.New("reader: malformed BER-TLV")

	// ErrNISFormat is returned when EF.ID_Servizi does not hold exactly 12
	// ASCII digits.
	ErrNISFormat = errors.New("reader: NIS is not 12 ASCII digits")

	// ErrKeyFile is returned when EF.Servizi_Int.Kpub does not hold a DER
	// PKCS#1 RSAPublicKey.
	ErrKeyFile = errors.New("reader: public key file does not parse")

	// ErrFileTooLarge is returned when a file read goes past the size bound
	// the reader accepts for that file.
	ErrFileTooLarge = errors.New("reader: file larger than allowed")
)

// Verification errors. Each failure of passive authentication or of the
// anti-clone check has its own sentinel so callers (the door, the admin's
// enrolment page) can name it; wrap-check them with errors.Is.
var (
	// ErrChallengeSignature is returned when the INTERNAL AUTHENTICATE answer
	// does not verify with the card's public key: a clone, or a wrong key.
	ErrChallengeSignature = errors.New("reader: challenge signature invalid")

	// ErrSODTruncated is returned when EF.SOD ends before its outer TLV says.
	ErrSODTruncated = errors.New("reader: EF.SOD truncated")

	// ErrSODFormat is returned when EF.SOD is not a CMS SignedData holding an
	// LDSSecurityObject as CIE.md section 5 describes.
	ErrSODFormat = errors.New("reader: EF.SOD malformed")

	// ErrSODUnsupportedAlgorithm is returned when EF.SOD names a digest or
	// signature algorithm the verifier does not accept.
	ErrSODUnsupportedAlgorithm = errors.New("reader: EF.SOD uses an unsupported algorithm")

	// ErrSODDigest is returned when the messageDigest signed attribute does
	// not match the digest of the eContent (the LDSSecurityObject changed).
	ErrSODDigest = errors.New("reader: EF.SOD digest mismatch")

	// ErrSODSignature is returned when the SignerInfo signature over the
	// signed attributes does not verify with the document signer's key.
	ErrSODSignature = errors.New("reader: EF.SOD bad signature")

	// ErrSignerMismatch is returned when the SignerInfo's issuer and serial
	// do not name the embedded document-signer certificate.
	ErrSignerMismatch = errors.New("reader: EF.SOD signer does not match the DS certificate")

	// ErrUnknownCSCA is returned when no configured CSCA matches the document
	// signer's Authority Key Identifier.
	ErrUnknownCSCA = errors.New("reader: unknown CSCA")

	// ErrDSCertSignature is returned when the document-signer certificate is
	// not validly signed by the CSCA its AKI names.
	ErrDSCertSignature = errors.New("reader: DS certificate signature invalid")

	// ErrDSExpired is returned when the verification time is outside the
	// document signer's validity dates.
	ErrDSExpired = errors.New("reader: DS certificate expired or not yet valid")

	// ErrCSCAExpired is returned when the verification time is outside the
	// validity dates of the CSCA that signed the document signer.
	ErrCSCAExpired = errors.New("reader: CSCA certificate expired or not yet valid")

	// ErrNISHash is returned when data group A1 of the SOD does not match the
	// NIS read from the card.
	ErrNISHash = errors.New("reader: NIS hash mismatch")

	// ErrKeyHash is returned when data group A5 of the SOD does not match the
	// public key file read from the card.
	ErrKeyHash = errors.New("reader: key hash mismatch")

	// ErrDataGroupMissing is returned when a data group the caller asked to
	// check is not in the SOD.
	ErrDataGroupMissing = errors.New("reader: data group missing from EF.SOD")

	// ErrCSCAFile is returned when a CSCA file or directory does not hold
	// certificates that parse (a misplaced file, a private key, garbage).
	ErrCSCAFile = errors.New("reader: CSCA file holds no usable certificates")
)
