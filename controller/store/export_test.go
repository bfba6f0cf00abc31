package store

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	"github.com/varco-access/varco"
)

// Test helpers shared by the internal tests (codec, benchmarks) and the
// external ones (package store_test, which can use storetest).

// testKeys are a few real RSA-2048 public keys, DER PKCS#1: 270 bytes,
// the size of a CIE's "servizi" key. Generating a million would take hours;
// grants share them.
var testKeys = sync.OnceValue(func() [][]byte {
	keys := make([][]byte, 2)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = x509.MarshalPKCS1PublicKey(&k.PublicKey)
	}
	return keys
})

// T0 is the tests' reference time.
var T0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// FixtureNIS returns the i-th test NIS (12 digits).
func FixtureNIS(i int) string { return fmt.Sprintf("%012d", i) }

// FixtureGrant returns a realistic valid grant for FixtureNIS(i), with name as
// its display name.
func FixtureGrant(i int, name string) varco.Grant {
	return varco.Grant{
		NIS:         FixtureNIS(i),
		PersonID:    fmt.Sprintf("person-%07d", i),
		DisplayName: name,
		PublicKey:   testKeys()[i%len(testKeys())],
		ValidFrom:   T0.AddDate(0, -1, 0),
		ValidUntil:  T0.AddDate(1, 0, 0),
		ScheduleIDs: []string{"office"},
		Flags:       varco.Flags(i % 2),
	}
}

// FixtureGrants returns FixtureGrant(from..from+n-1, name).
func FixtureGrants(from, n int, name string) []varco.Grant {
	gs := make([]varco.Grant, n)
	for i := range gs {
		gs[i] = FixtureGrant(from+i, name)
	}
	return gs
}

// EncodeGrant and DecodeGrant expose the codec to the external tests.
func EncodeGrant(g varco.Grant) []byte          { return appendGrant(nil, &g) }
func DecodeGrant(b []byte) (varco.Grant, error) { return decodeGrant(b) }
