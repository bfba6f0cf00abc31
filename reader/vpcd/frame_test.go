package vpcd

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

var frameTests = []struct {
	name    string
	in      []byte
	want    []byte // payload; nil when err is set
	wantErr error
}{
	{
		name: "control message",
		in: []byte{
			0x00, 0x01, // length 1
			0x04, // get ATR
		},
		want: []byte{0x04},
	},
	{
		name: "APDU",
		in: []byte{
			0x00, 0x05, // length 5
			0x00, 0xB0, 0x81, 0x00, 0x0C, // READ BINARY SFI 1, 12 bytes
		},
		want: []byte{0x00, 0xB0, 0x81, 0x00, 0x0C},
	},
	{
		name: "trailing bytes stay unread",
		in: []byte{
			0x00, 0x01, // length 1
			0x01,             // power on
			0x00, 0x01, 0x00, // next frame: length 1, power off
		},
		want: []byte{0x01},
	},
	{
		name:    "no bytes",
		in:      []byte{},
		wantErr: io.EOF,
	},
	{
		name:    "half a header",
		in:      []byte{0x01}, // high length byte only
		wantErr: io.ErrUnexpectedEOF,
	},
	{
		name:    "zero length",
		in:      []byte{0x00, 0x00}, // length 0
		wantErr: ErrEmptyFrame,
	},
	{
		name: "short payload",
		in: []byte{
			0xFF, 0xFF, // length 65535
			0x00, 0xA4, // 2 bytes only
		},
		wantErr: io.ErrUnexpectedEOF,
	},
	{
		name:    "header only",
		in:      []byte{0x00, 0x02}, // length 2, nothing follows
		wantErr: io.ErrUnexpectedEOF,
	},
}

func TestReadFrame(t *testing.T) {
	for _, tt := range frameTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readFrame(bytes.NewReader(tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("readFrame = %X, %v; want error %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("readFrame = % X, %v; want % X", got, err, tt.want)
			}
		})
	}
}

func TestAppendFrame(t *testing.T) {
	got, err := appendFrame([]byte{0xEE}, []byte{0x90, 0x00})
	want := []byte{
		0xEE,       // what dst held
		0x00, 0x02, // length 2
		0x90, 0x00, // SW 9000
	}
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("appendFrame = % X, %v; want % X", got, err, want)
	}
	if _, err := appendFrame(nil, make([]byte, MaxFrame)); err != nil {
		t.Fatalf("appendFrame(MaxFrame bytes) = %v", err)
	}
	if _, err := appendFrame(nil, make([]byte, MaxFrame+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("appendFrame(MaxFrame+1 bytes) = %v, want ErrFrameTooLarge", err)
	}
}

// FuzzReadFrame checks that readFrame never panics, never returns more than
// MaxFrame bytes or an empty payload, and consumes exactly the frame it
// returns: re-encoding the payload gives back the input's prefix.
func FuzzReadFrame(f *testing.F) {
	for _, tt := range frameTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		got, err := readFrame(r)
		if err != nil {
			if got != nil {
				t.Fatalf("payload % X returned with error %v", got, err)
			}
			return
		}
		if len(got) == 0 || len(got) > MaxFrame {
			t.Fatalf("payload length %d out of range", len(got))
		}
		enc, err := appendFrame(nil, got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(in, enc) {
			t.Fatalf("re-encoded frame % X is not a prefix of the input", enc)
		}
		if consumed := len(in) - r.Len(); consumed != len(enc) {
			t.Fatalf("consumed %d bytes, frame is %d", consumed, len(enc))
		}
	})
}
