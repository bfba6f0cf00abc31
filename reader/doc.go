// Package reader reads and verifies the Italian electronic identity card
// (CIE 3.0) for physical access.
//
// It holds the pure-Go parts of the card protocol described in the design
// document CIE.md: the ISO 7816-4 APDU codec with the retry rules real
// readers need (61xx, 6Cxx, end of file), BER-TLV, the two reads a door and an
// enrolment station perform (ReadDoor, ReadEnrol), the anti-clone check of the
// INTERNAL AUTHENTICATE answer (VerifyChallenge) and passive authentication
// of EF.SOD (ParseSOD, SOD.Verify) for both card generations.
//
// Everything talks to the card through the small Transmitter interface, so
// the same code runs over PC/SC (package reader/pcsc), over the virtual CIE
// (package reader/virtcie) and over recorded transcripts in tests.
//
// Caveats: the reads never use the ISO 14443 UID (chips randomise it), never
// ask for a PIN and never touch the ICAO eMRTD application. The door read
// does not read EF.SOD: the key stored at enrolment binds the card to what
// enrolment verified.
package reader
