// Package testpki makes the test PKI of the virtual CIE: a test CSCA, the
// document signers (DS) it certifies for both card generations, an expired
// DS, and a rogue CSCA with its own DS that no verifier trusts. BuildSOD
// then signs an EF.SOD over any card files with one of those signers, in the
// format of CIE.md section 5, so that reader.VerifySOD can be exercised on
// cards whose NIS and key are known.
//
// Every subject says "Varco TEST": none of this is a real authority, and the
// private keys are committed to the repository (testdata/pki). A verifier
// configured with the real Italian CSCAs rejects everything signed here with
// reader.ErrUnknownCSCA; only a test configuration trusts testdata/pki/trusted.
//
// Caveat: since Go 1.26 crypto/rsa ignores the random source it is given,
// so Generate is not reproducible even with a fixed reader; regenerating
// testdata/pki changes every key.
package testpki
