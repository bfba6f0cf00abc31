package reader_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/varco-access/varco/reader"
	. "github.com/varco-access/varco/reader/readertest"
)

func TestCommandBytes(t *testing.T) {
	long := bytes.Repeat([]byte{0xAB}, 300)
	tests := []struct {
		name string
		cmd  reader.Command
		want []byte
	}{
		// CLA INS P1 P2 only.
		{"case 1", reader.Command{INS: 0xA4}, H("00 A4 00 00")},
		// Le 0C: read the 12 NIS bytes.
		{"case 2 short", reader.Command{INS: 0xB0, P1: 0x81, Ne: 12}, H("00 B0 81 00 0C")},
		// Ne 256 encodes as Le 00.
		{"case 2 short Ne 256", reader.Command{INS: 0xB0, P1: 0x85, Ne: 256}, H("00 B0 85 00 00")},
		// Lc 06 + DF_CIE AID, no Le.
		{"case 3 short", reader.Command{INS: 0xA4, P1: 4, P2: 0x0C, Data: reader.AIDCIE}, H("00 A4 04 0C 06 A0 00 00 00 00 39")},
		// Lc 04, offset object 54 02 0000, Le E7.
		{"case 4 short", reader.Command{INS: 0xB1, P2: 6, Data: H("54 02 00 00"), Ne: 0xE7}, H("00 B1 00 06 04 54 02 00 00 E7")},
		// 00 marker, Le 01 01 (257).
		{"case 2 extended", reader.Command{INS: 0xB0, Ne: 257}, H("00 B0 00 00 00 01 01")},
		// 00 marker, Le 00 00 = 65536.
		{"case 2 extended Ne 65536", reader.Command{INS: 0xB0, Ne: 65536}, H("00 B0 00 00 00 00 00")},
		// 00 marker, Lc 01 2C (300), data.
		{"case 3 extended", reader.Command{INS: 0xD6, Data: long}, append(H("00 D6 00 00 00 01 2C"), long...)},
		// 00 marker, Lc 01 2C, data, Le 00 00 (65536 is not needed: Ne 256 becomes 01 00).
		{"case 4 extended", reader.Command{INS: 0x88, Data: long, Ne: 256}, append(append(H("00 88 00 00 00 01 2C"), long...), 0x01, 0x00)},
		// short data but Ne > 256 forces extended Lc too.
		{"case 4 extended by Ne", reader.Command{INS: 0x88, Data: H("01 02"), Ne: 300}, H("00 88 00 00 00 00 02 01 02 01 2C")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cmd.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("Bytes() = % X, want % X", got, tt.want)
			}
		})
	}
}

func TestCommandBytesErrors(t *testing.T) {
	for name, c := range map[string]reader.Command{
		"negative Ne":   {Ne: -1},
		"Ne too large":  {Ne: 65537},
		"data too long": {Data: make([]byte, 65536)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.Bytes(); !errors.Is(err, reader.ErrCommand) {
				t.Errorf("Bytes() error = %v, want ErrCommand", err)
			}
		})
	}
}

func TestParseResponse(t *testing.T) {
	r, err := reader.ParseResponse(H("31 32 90 00"))
	if err != nil || !bytes.Equal(r.Data, []byte("12")) || r.SW != reader.SWOK {
		t.Fatalf("ParseResponse = %+v, %v", r, err)
	}
	r, err = reader.ParseResponse(H("6A 82"))
	if err != nil || len(r.Data) != 0 || r.SW != reader.SWNotFound {
		t.Fatalf("ParseResponse(6A82) = %+v, %v", r, err)
	}
	for _, b := range [][]byte{nil, {0x90}} {
		if _, err := reader.ParseResponse(b); !errors.Is(err, reader.ErrShortResponse) {
			t.Errorf("ParseResponse(% X) error = %v, want ErrShortResponse", b, err)
		}
	}
}

func TestStatusWordString(t *testing.T) {
	tests := []struct {
		sw   reader.StatusWord
		want string
	}{
		{0x9000, "9000 (ok)"},
		{0x6282, "6282 (end of file reached)"},
		{0x6A82, "6A82 (file or application not found)"},
		{0x6B00, "6B00 (offset outside the file)"},
		{0x6110, "6110 (16 more bytes available (GET RESPONSE))"},
		{0x6100, "6100 (256 more bytes available (GET RESPONSE))"},
		{0x6CE7, "6CE7 (wrong Le, exact length 231)"},
		{0x1234, "1234 (unknown status)"},
	}
	for _, tt := range tests {
		if got := tt.sw.String(); got != tt.want {
			t.Errorf("%04X.String() = %q, want %q", uint16(tt.sw), got, tt.want)
		}
	}
}

func TestExchange(t *testing.T) {
	sig := bytes.Repeat([]byte{0x5A}, 256)
	tests := []struct {
		name     string
		cmd      reader.Command
		ops      []Op
		wantData []byte
		wantSW   reader.StatusWord
		wantErr  error
	}{
		{
			name:     "plain",
			cmd:      reader.Command{INS: 0xB0, P1: 0x81, Ne: 12},
			ops:      []Op{{Cmd: H("00 B0 81 00 0C"), Resp: append([]byte("012345678901"), 0x90, 0x00)}},
			wantData: []byte("012345678901"), wantSW: reader.SWOK,
		},
		{
			name: "61xx then GET RESPONSE for all of it",
			cmd:  reader.Command{INS: 0x88, Data: H("0102030405060708090A0B0C0D0E0F10"), Ne: 256},
			ops: []Op{
				{Cmd: H("00 88 00 00 10 0102030405060708090A0B0C0D0E0F10 00"), Resp: H("61 00")},
				{Cmd: H("00 C0 00 00 00"), Resp: append(append([]byte(nil), sig...), 0x90, 0x00)},
			},
			wantData: sig, wantSW: reader.SWOK,
		},
		{
			name: "61xx chained: data accumulates",
			cmd:  reader.Command{INS: 0x88, Data: H("0102030405060708090A0B0C0D0E0F10"), Ne: 256},
			ops: []Op{
				{Cmd: H("00 88 00 00 10 0102030405060708090A0B0C0D0E0F10 00"), Resp: H("61 80")},
				{Cmd: H("00 C0 00 00 80"), Resp: append(append([]byte(nil), sig[:128]...), 0x61, 0x80)},
				{Cmd: H("00 C0 00 00 80"), Resp: append(append([]byte(nil), sig[128:]...), 0x90, 0x00)},
			},
			wantData: sig, wantSW: reader.SWOK,
		},
		{
			name: "6Cxx repeats with the exact Le",
			cmd:  reader.Command{INS: 0xB0, P1: 0x85, Ne: 256},
			ops: []Op{
				{Cmd: H("00 B0 85 00 00"), Resp: H("6C 27")},
				{Cmd: H("00 B0 85 00 27"), Resp: append(bytes.Repeat([]byte{1}, 0x27), 0x90, 0x00)},
			},
			wantData: bytes.Repeat([]byte{1}, 0x27), wantSW: reader.SWOK,
		},
		{
			name:     "other status words go back to the caller",
			cmd:      reader.Command{INS: 0xA4, P1: 4, P2: 0x0C, Data: reader.AIDIAS},
			ops:      []Op{{Cmd: H("00 A4 04 0C 0D A0 00 00 00 30 80 00 00 00 09 81 60 01"), Resp: H("6A 82")}},
			wantData: []byte{}, wantSW: reader.SWNotFound,
		},
		{
			name:    "one byte is a failure",
			cmd:     reader.Command{INS: 0xB0, P1: 0x81, Ne: 12},
			ops:     []Op{{Cmd: H("00 B0 81 00 0C"), Resp: H("90")}},
			wantErr: reader.ErrShortResponse,
		},
		{
			name:    "empty is a failure",
			cmd:     reader.Command{INS: 0xB0, P1: 0x81, Ne: 12},
			ops:     []Op{{Cmd: H("00 B0 81 00 0C"), Resp: nil}},
			wantErr: reader.ErrShortResponse,
		},
		{
			name:    "transport error is wrapped",
			cmd:     reader.Command{INS: 0xB0, P1: 0x81, Ne: 12},
			ops:     []Op{{Cmd: H("00 B0 81 00 0C"), Err: errCardGone}},
			wantErr: errCardGone,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Playback{Ops: tt.ops}
			r, err := reader.Exchange(p, tt.cmd)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Exchange error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.SW != tt.wantSW || !bytes.Equal(r.Data, tt.wantData) {
				t.Errorf("Exchange = % X %v, want % X %v", r.Data, r.SW, tt.wantData, tt.wantSW)
			}
			if err := p.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

var errCardGone = errors.New("card gone")

func TestExchangeGivesUpOnEndlessRetries(t *testing.T) {
	n := 0
	tr := reader.TransmitFunc(func(apdu []byte) ([]byte, error) {
		n++
		return H("61 10"), nil // always "more data"
	})
	_, err := reader.Exchange(tr, reader.Command{INS: 0x88, Ne: 256})
	if !errors.Is(err, reader.ErrTooManyRetries) {
		t.Fatalf("error = %v, want ErrTooManyRetries", err)
	}
	if n > 40 {
		t.Errorf("sent %d commands before giving up", n)
	}
}

func TestStatusError(t *testing.T) {
	err := error(&reader.StatusError{Step: "select DF_CIE", SW: reader.SWNotFound})
	if !reader.IsStatus(err, reader.SWNotFound) || reader.IsStatus(err, reader.SWOK) {
		t.Error("IsStatus does not match the status word")
	}
	if !strings.Contains(err.Error(), "select DF_CIE") || !strings.Contains(err.Error(), "6A82") {
		t.Errorf("error %q does not name the step and status", err)
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{"", "90", "9000", "31 32 90 00", "61 00", "6C E7", "6A 82"} {
		f.Add(H(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := reader.ParseResponse(b)
		if len(b) < 2 {
			if err == nil {
				t.Fatal("short response accepted")
			}
			return
		}
		if err != nil || len(r.Data) != len(b)-2 {
			t.Fatalf("ParseResponse(% X) = %+v, %v", b, r, err)
		}
		_ = r.SW.String()
	})
}

// FuzzExchange feeds arbitrary card answers to Exchange: it must end (the
// retry bound) and never panic.
func FuzzExchange(f *testing.F) {
	f.Add(H("61 00"), H("90 00"))
	f.Add(H("6C 10"), H("01 02 90 00"))
	f.Add(H("61"), H(""))
	f.Fuzz(func(t *testing.T, first, rest []byte) {
		n := 0
		tr := reader.TransmitFunc(func([]byte) ([]byte, error) {
			n++
			if n == 1 {
				return first, nil
			}
			return rest, nil
		})
		reader.Exchange(tr, reader.Command{INS: 0xB0, Ne: 256})
		if n > 40 {
			t.Fatalf("%d transmits", n)
		}
	})
}
