package reader_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/varco-access/varco/reader"
)

var (
	testKeyOnce sync.Once
	testKey     *rsa.PrivateKey
)

// mustKey returns an RSA-2048 key shared by the tests of this package.
func mustKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	testKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

func TestParsePublicKeyFile(t *testing.T) {
	k := mustKey(t)
	der := x509.MarshalPKCS1PublicKey(&k.PublicKey)
	if !bytes.HasPrefix(der, []byte{0x30, 0x82, 0x01, 0x0A, 0x02, 0x82, 0x01, 0x01, 0x00}) {
		t.Fatalf("test key DER starts % X, not the CIE layout", der[:9])
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      []byte
		wantErr string // substring of the error; "" = must parse
	}{
		{"exact", der, ""},
		{"padded with FF", append(append([]byte(nil), der...), bytes.Repeat([]byte{0xFF}, 20)...), ""},
		{"padded with 00", append(append([]byte(nil), der...), make([]byte, 5)...), ""},
		{"truncated", der[:200], "truncated"},
		{"wrong outer tag", append([]byte{0x31}, der[1:]...), "outer tag 31"},
		{"empty", nil, "empty"},
		{"SubjectPublicKeyInfo instead of PKCS#1", mustSPKI(t, &k.PublicKey), "x509"},
		{"1024-bit key", x509.MarshalPKCS1PublicKey(&small.PublicKey), "1024 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, cut, err := reader.ParsePublicKeyFile(tt.in)
			if tt.wantErr != "" {
				if !errors.Is(err, reader.ErrKeyFile) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want ErrKeyFile mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !pub.Equal(&k.PublicKey) || !bytes.Equal(cut, der) {
				t.Errorf("key or cut DER differ (cut %d bytes, want %d)", len(cut), len(der))
			}
		})
	}
}

func mustSPKI(tb testing.TB, pub *rsa.PublicKey) []byte {
	tb.Helper()
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func FuzzParsePublicKeyFile(f *testing.F) {
	k := mustKey(f)
	der := x509.MarshalPKCS1PublicKey(&k.PublicKey)
	f.Add(der)
	f.Add(append(append([]byte(nil), der...), 0xFF, 0xFF))
	f.Add(der[:100])
	f.Add([]byte{0x30, 0x82, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, cut, err := reader.ParsePublicKeyFile(b)
		if err != nil {
			if !errors.Is(err, reader.ErrKeyFile) {
				t.Fatalf("error %v does not wrap ErrKeyFile", err)
			}
			return
		}
		if pub == nil || len(cut) > len(b) || !bytes.Equal(cut, b[:len(cut)]) {
			t.Fatal("accepted key with inconsistent output")
		}
	})
}
