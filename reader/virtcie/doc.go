// Package virtcie emulates an Italian electronic identity card (CIE 3.0) as
// far as physical access uses it: the selects, the free reads of the NIS, of
// the "servizi" public key and of EF.SOD, MSE SET and INTERNAL AUTHENTICATE
// with the card's private key (CIE.md sections 2, 3 and 7).
//
// A Card implements reader.Transmitter, so protocol code can be tested
// in-process, and vpcd.Card, so Serve can put it in a virtual pcscd reader
// and the real PC/SC stack talks to it. It is byte-exact and strict on
// purpose: wrong lengths, missing selects and missing MSE SET get the status
// words a real card gives, so reader bugs show up against the emulator and
// not at the first real door.
//
// New builds a card with a fresh RSA-2048 key and an EF.SOD signed by a test
// PKI (package reader/testpki), for either card generation. Negative cards
// (clone, NIS changed after signing, untrusted or expired document signer, a
// card that refuses INTERNAL AUTHENTICATE) each break exactly one property a
// verifier must check. Quirks reproduce behaviours of real chips that readers
// must survive: the 231-byte answer cap (on by default), 6A82 to the IAS
// select, 61xx and GET RESPONSE for the signature, a padded key file, 6Cxx
// for a wrong Le, and a per-command delay. Save and Load keep a card in a
// JSON file so the same card can be enrolled once and presented many times.
//
// Caveats: only short APDUs (no extended lengths), CLA 00 only (no logical
// channels, no secure messaging), and only the three free files of DF_CIE
// exist; EF.Seriale, EF.Cert_CIE, EF.Int.Kpub and the ICAO application are
// absent (6A82). SELECT never returns FCI. The private key lives in the card
// file in the clear: these are test cards, never real identities.
package virtcie
