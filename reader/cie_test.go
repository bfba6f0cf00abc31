package reader_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/varco-access/varco/reader"
	. "github.com/varco-access/varco/reader/readertest"
)

// Commands of the door read, byte for byte as CIE.md section 3 gives them.
var (
	apduSelectIAS = H("00 A4 04 0C 0D A0 00 00 00 30 80 00 00 00 09 81 60 01")
	apduSelectMF  = H("00 A4 00 00")
	apduSelectCIE = H("00 A4 04 0C 06 A0 00 00 00 00 39")
	apduReadNIS   = H("00 B0 81 00 0C")
	apduMSESet    = H("00 22 41 A4 06 80 01 02 84 01 83")
	sw9000        = H("90 00")
)

func apduIntAuth(challenge []byte) []byte {
	return append(append(append(H("00 88 00 00"), byte(len(challenge))), challenge...), 0x00)
}

func ok(data []byte) []byte { return append(append([]byte(nil), data...), 0x90, 0x00) }

func sign(tb testing.TB, k *rsa.PrivateKey, challenge []byte) []byte {
	tb.Helper()
	s, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.Hash(0), challenge)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestReadDoorTranscripts(t *testing.T) {
	k := mustKey(t)
	ch := bytes.Repeat([]byte{0xC7}, 32)
	sig := sign(t, k, ch)
	nis := []byte("123456789012")
	tests := []struct {
		name    string
		ops     []Op
		wantErr string
		is      error
	}{
		{
			name: "five APDUs",
			ops: []Op{
				{Cmd: apduSelectIAS, Resp: sw9000},
				{Cmd: apduSelectCIE, Resp: sw9000},
				{Cmd: apduReadNIS, Resp: ok(nis)},
				{Cmd: apduMSESet, Resp: sw9000},
				{Cmd: apduIntAuth(ch), Resp: ok(sig)},
			},
		},
		{
			name: "6A82 to the IAS select falls back to the MF",
			ops: []Op{
				{Cmd: apduSelectIAS, Resp: H("6A 82")},
				{Cmd: apduSelectMF, Resp: sw9000},
				{Cmd: apduSelectCIE, Resp: sw9000},
				{Cmd: apduReadNIS, Resp: ok(nis)},
				{Cmd: apduMSESet, Resp: sw9000},
				{Cmd: apduIntAuth(ch), Resp: ok(sig)},
			},
		},
		{
			name: "other IAS status words do not stop the read",
			ops: []Op{
				{Cmd: apduSelectIAS, Resp: H("6D 00")},
				{Cmd: apduSelectCIE, Resp: sw9000},
				{Cmd: apduReadNIS, Resp: ok(nis)},
				{Cmd: apduMSESet, Resp: sw9000},
				{Cmd: apduIntAuth(ch), Resp: ok(sig)},
			},
		},
		{
			name: "signature through GET RESPONSE",
			ops: []Op{
				{Cmd: apduSelectIAS, Resp: sw9000},
				{Cmd: apduSelectCIE, Resp: sw9000},
				{Cmd: apduReadNIS, Resp: ok(nis)},
				{Cmd: apduMSESet, Resp: sw9000},
				{Cmd: apduIntAuth(ch), Resp: H("61 00")},
				{Cmd: H("00 C0 00 00 00"), Resp: ok(sig)},
			},
		},
		{
			name: "DF_CIE missing",
			ops: []Op{
				{Cmd: apduSelectIAS, Resp: sw9000},
				{Cmd: apduSelectCIE, Resp: H("6A 82")},
			},
			wantErr: "select DF_CIE: card answered 6A82",
		},
		{
			name: "NIS with a letter",
			ops: []Op{
				{Cmd: apduSelectIAS, Resp: sw9000},
				{Cmd: apduSelectCIE, Resp: sw9000},
				{Cmd: apduReadNIS, Resp: ok([]byte("12345678901X"))},
			},
			is: reader.ErrNISFormat, wantErr: "byte 11 is 0x58",
		},
		{
			name: "NIS too short",
			ops: []Op{
				{Cmd: apduSelectIAS, Resp: sw9000},
				{Cmd: apduSelectCIE, Resp: sw9000},
				{Cmd: apduReadNIS, Resp: append([]byte("1234"), 0x62, 0x82)},
			},
			is: reader.ErrNISFormat, wantErr: "got 4 bytes",
		},
		{
			name: "MSE SET refused",
			ops: []Op{
				{Cmd: apduSelectIAS, Resp: sw9000},
				{Cmd: apduSelectCIE, Resp: sw9000},
				{Cmd: apduReadNIS, Resp: ok(nis)},
				{Cmd: apduMSESet, Resp: H("6A 88")},
			},
			wantErr: "MSE SET: card answered 6A88",
		},
		{
			name: "card without INTERNAL AUTHENTICATE",
			ops: []Op{
				{Cmd: apduSelectIAS, Resp: sw9000},
				{Cmd: apduSelectCIE, Resp: sw9000},
				{Cmd: apduReadNIS, Resp: ok(nis)},
				{Cmd: apduMSESet, Resp: sw9000},
				{Cmd: apduIntAuth(ch), Resp: H("69 82")},
			},
			wantErr: "internal authenticate: card answered 6982",
		},
		{
			name: "card leaves mid-command",
			ops: []Op{
				{Cmd: apduSelectIAS, Resp: sw9000},
				{Cmd: apduSelectCIE, Resp: sw9000},
				{Cmd: apduReadNIS, Resp: H("90")},
			},
			is: reader.ErrShortResponse,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Playback{Ops: tt.ops}
			got, err := reader.ReadDoor(p, ch)
			if tt.wantErr != "" || tt.is != nil {
				if err == nil {
					t.Fatal("ReadDoor succeeded")
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("error = %v, want %v", err, tt.is)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not say %q", err, tt.wantErr)
				}
				if cerr := p.Close(); cerr != nil {
					t.Errorf("transcript: %v", cerr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if got.NIS != string(nis) || !bytes.Equal(got.Challenge, ch) || !bytes.Equal(got.Signature, sig) {
				t.Errorf("ReadDoor = %+v", got)
			}
			if err := reader.VerifyChallenge(&k.PublicKey, got.Challenge, got.Signature); err != nil {
				t.Errorf("signature of the transcript does not verify: %v", err)
			}
		})
	}
}

func TestReadDoorFreshChallenge(t *testing.T) {
	var seen [][]byte
	tr := reader.TransmitFunc(func(apdu []byte) ([]byte, error) {
		switch {
		case bytes.Equal(apdu, apduReadNIS):
			return ok([]byte("000000000001")), nil
		case apdu[1] == 0x88:
			if apdu[4] != 32 || len(apdu) != 5+32+1 {
				return nil, fmt.Errorf("INTERNAL AUTHENTICATE with Lc %d, want 32", apdu[4])
			}
			seen = append(seen, append([]byte(nil), apdu[5:37]...))
			return ok(make([]byte, 256)), nil
		}
		return sw9000, nil
	})
	for i := 0; i < 2; i++ {
		if _, err := reader.ReadDoor(tr, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 2 || bytes.Equal(seen[0], seen[1]) || bytes.Equal(seen[0], make([]byte, 32)) {
		t.Errorf("challenges not fresh: % X", seen)
	}
	if _, err := reader.ReadDoor(tr, make([]byte, 8)); !errors.Is(err, reader.ErrCommand) {
		t.Errorf("8-byte challenge: error = %v, want ErrCommand", err)
	}
}

// TestReadEnrolKeyChunks replays the key read a real card gave: 231 bytes
// to Le=256, then the rest at offset 231 (E7).
func TestReadEnrolKeyChunks(t *testing.T) {
	k := mustKey(t)
	der := x509.MarshalPKCS1PublicKey(&k.PublicKey) // 270 bytes
	ch := bytes.Repeat([]byte{1}, 32)
	sod := append(H("77 82 01 2C"), bytes.Repeat([]byte{0x42}, 300)...) // 304 bytes, shape only
	chunk := func(off int) []byte {
		end := min(off+228, len(sod))
		d := append(H("53 81"), byte(end-off))
		d = append(d, sod[off:end]...)
		if end == len(sod) {
			return append(d, 0x62, 0x82)
		}
		return append(d, 0x90, 0x00)
	}
	ops := []Op{
		{Cmd: apduSelectIAS, Resp: sw9000},
		{Cmd: apduSelectCIE, Resp: sw9000},
		{Cmd: apduReadNIS, Resp: ok([]byte("123456789012"))},
		{Cmd: H("00 B0 85 00 00"), Resp: ok(der[:231])},
		{Cmd: H("00 B0 85 E7 00"), Resp: append(append([]byte(nil), der[231:]...), 0xFF, 0xFF, 0x62, 0x82)}, // padding after the key
		{Cmd: H("00 B1 00 06 04 54 02 00 00 E7"), Resp: chunk(0)},
		{Cmd: H("00 B1 00 06 04 54 02 00 E4 E7"), Resp: chunk(228)},
		{Cmd: apduMSESet, Resp: sw9000},
		{Cmd: apduIntAuth(ch), Resp: ok(sign(t, k, ch))},
	}
	p := &Playback{Ops: ops}
	got, err := reader.ReadEnrol(p, &reader.EnrolOptions{Challenge: ch, SODMethod: reader.SODOddINS})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.KeyFile, der) || !got.PublicKey.Equal(&k.PublicKey) || !bytes.Equal(got.SOD, sod) {
		t.Errorf("key %d bytes, SOD %d bytes: content differs", len(got.KeyFile), len(got.SOD))
	}
}

func TestReadEnrolTruncatedSOD(t *testing.T) {
	k := mustKey(t)
	der := x509.MarshalPKCS1PublicKey(&k.PublicKey)
	ops := []Op{
		{Cmd: apduSelectIAS, Resp: sw9000},
		{Cmd: apduSelectCIE, Resp: sw9000},
		{Cmd: apduReadNIS, Resp: ok([]byte("123456789012"))},
		{Cmd: H("00 B0 85 00 00"), Resp: ok(der[:231])},
		{Cmd: H("00 B0 85 E7 00"), Resp: append(append([]byte(nil), der[231:]...), 0x62, 0x82)},
		{Cmd: H("00 A4 02 0C 02 10 06"), Resp: sw9000},
		// The outer TLV promises 0x0B20 bytes; the card has 10.
		{Cmd: H("00 B0 00 00 E7"), Resp: append(H("77 82 0B 20 30 82 0B 1C 06 09"), 0x62, 0x82)},
	}
	p := &Playback{Ops: ops}
	_, err := reader.ReadEnrol(p, &reader.EnrolOptions{Challenge: make([]byte, 32), SODMethod: reader.SODReadBinary})
	if !errors.Is(err, reader.ErrSODTruncated) || !strings.Contains(err.Error(), "10 of 2852 bytes") {
		t.Fatalf("error = %v, want ErrSODTruncated after 10 of 2852 bytes", err)
	}
}

func TestReadEnrolBadKeyFile(t *testing.T) {
	ops := []Op{
		{Cmd: apduSelectIAS, Resp: sw9000},
		{Cmd: apduSelectCIE, Resp: sw9000},
		{Cmd: apduReadNIS, Resp: ok([]byte("123456789012"))},
		// A SEQUENCE of 4 bytes that is no RSAPublicKey.
		{Cmd: H("00 B0 85 00 00"), Resp: append(H("30 04 02 01 01 05"), 0x62, 0x82)},
	}
	p := &Playback{Ops: ops}
	_, err := reader.ReadEnrol(p, &reader.EnrolOptions{Challenge: make([]byte, 32)})
	if !errors.Is(err, reader.ErrKeyFile) {
		t.Fatalf("error = %v, want ErrKeyFile", err)
	}
}

// FuzzReadEnrol answers every command of the enrolment read with bytes from
// the fuzzer: whatever a hostile card says, the read must end and not panic.
func FuzzReadEnrol(f *testing.F) {
	f.Add([]byte{0x90, 0x00}, []byte("123456789012\x90\x00"), H("30 82 01 0A 62 82"), H("53 05 77 03 01 02 03 62 82"), uint8(3))
	f.Add([]byte{0x61, 0x00}, []byte{0x6C, 0x05}, H("6B 00"), H("62 82"), uint8(0))
	f.Fuzz(func(t *testing.T, a, b, c, d []byte, seed uint8) {
		n := 0
		tr := reader.TransmitFunc(func(apdu []byte) ([]byte, error) {
			n++
			if n > 2000 {
				t.Fatal("read does not end")
			}
			switch {
			case bytes.Equal(apdu, apduReadNIS):
				return b, nil
			case apdu[1] == 0xB0 && apdu[2] == 0x85:
				return c, nil
			case apdu[1] == 0xB1 || apdu[1] == 0xB0:
				return d, nil
			}
			return a, nil
		})
		reader.ReadEnrol(tr, &reader.EnrolOptions{Challenge: make([]byte, 32), SODMethod: reader.SODMethod(seed % 3)})
	})
}
