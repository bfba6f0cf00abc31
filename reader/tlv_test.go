package reader_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/varco-access/varco/reader"
	. "github.com/varco-access/varco/reader/readertest"
)

func TestParseTLV(t *testing.T) {
	tests := []struct {
		name      string
		in        []byte
		tag       uint32
		value     []byte
		rest      []byte
		wantError bool
	}{
		// 53 = tag, 02 = short length, 2 value bytes, then 1 byte rest.
		{name: "short length", in: H("53 02 AA BB CC"), tag: 0x53, value: H("AA BB"), rest: H("CC")},
		// 77 82 00 03: long form, two length bytes.
		{name: "long form 82", in: H("77 82 00 03 01 02 03"), tag: 0x77, value: H("01 02 03"), rest: []byte{}},
		// 53 81 E4: the odd-INS wrapper of CIE.md section 3.
		{name: "long form 81", in: append(H("53 81 03"), 1, 2, 3), tag: 0x53, value: H("01 02 03"), rest: []byte{}},
		// 5F 1F: high tag number, one continuation byte.
		{name: "two-byte tag", in: H("5F 1F 01 09"), tag: 0x5F1F, value: H("09"), rest: []byte{}},
		// 7F 81 01: continuation bit set on 81, then 01 ends the tag.
		{name: "three-byte tag", in: H("7F 81 01 00"), tag: 0x7F8101, value: []byte{}, rest: []byte{}},
		{name: "empty", in: nil, wantError: true},
		{name: "no length", in: H("30"), wantError: true},
		// 80: indefinite length is not DER.
		{name: "indefinite length", in: H("30 80 00 00"), wantError: true},
		// 84: four length bytes is more than any card file needs.
		{name: "length of length 4", in: H("30 84 00 00 00 01 00"), wantError: true},
		{name: "long form truncated", in: H("30 82 01"), wantError: true},
		{name: "value truncated", in: H("30 05 01 02"), wantError: true},
		// 83 01 00 01: 65537 bytes, over the bound.
		{name: "length over bound", in: H("30 83 01 00 01"), wantError: true},
		{name: "tag truncated", in: H("5F"), wantError: true},
		{name: "tag too long", in: H("5F 81 81 81 81 01 00"), wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag, v, rest, err := reader.ParseTLV(tt.in)
			if tt.wantError {
				if !errors.Is(err, reader.ErrTLV) {
					t.Fatalf("ParseTLV(% X) error = %v, want ErrTLV", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tag != tt.tag || !bytes.Equal(v, tt.value) || !bytes.Equal(rest, tt.rest) {
				t.Errorf("ParseTLV = %X % X | % X, want %X % X | % X", tag, v, rest, tt.tag, tt.value, tt.rest)
			}
		})
	}
}

func TestTLVSizeFromHeaderOnly(t *testing.T) {
	// The first chunk of EF.SOD: 77 82 0B 20 gives 4 + 2848 bytes.
	n, err := reader.TLVSize(H("77 82 0B 20 30 82"))
	if err != nil || n != 2852 {
		t.Fatalf("TLVSize = %d, %v; want 2852", n, err)
	}
}

func FuzzParseTLV(f *testing.F) {
	for _, s := range []string{"53 02 AA BB CC", "77 82 00 03 01 02 03", "5F 1F 01 09", "30 80", "30 84 00 00 00 01", "7F 81 01 00", ""} {
		f.Add(H(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, v, rest, err := reader.ParseTLV(b)
		if err != nil {
			return
		}
		n, err := reader.TLVSize(b)
		if err != nil {
			t.Fatalf("ParseTLV accepted but TLVSize failed: %v", err)
		}
		if n+len(rest) != len(b) || len(v) > n {
			t.Fatalf("sizes disagree: size %d value %d rest %d input %d (tag %X)", n, len(v), len(rest), len(b), tag)
		}
	})
}
