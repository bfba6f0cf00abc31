package virtcie

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco/reader"
)

func TestParseQuirks(t *testing.T) {
	tests := []struct {
		in      string
		want    Quirks
		wantErr string // substring of the error; "" for success
	}{
		{in: "", want: Quirks{}},
		{in: "none", want: Quirks{}},
		{in: "  ", want: Quirks{}},
		{in: "cap231", want: Quirks{}},
		{in: "nocap", want: Quirks{NoCap: true}},
		{in: "ias-6a82", want: Quirks{IAS6A82: true}},
		{in: "getresponse", want: Quirks{GetResponse: true}},
		{in: "getresponse=64", want: Quirks{GetResponse: true, GetResponseChunk: 64}},
		{in: "getresponse=256", want: Quirks{GetResponse: true}},
		{in: "padded-key", want: Quirks{PaddedKey: true}},
		{in: "wrong-le", want: Quirks{WrongLe: true}},
		{in: "delay=150ms", want: Quirks{Delay: 150 * time.Millisecond}},
		{in: "delay=0s", want: Quirks{}},
		{in: " ias-6a82 , getresponse=100,padded-key,wrong-le,nocap,delay=1s ", want: Quirks{
			IAS6A82: true, GetResponse: true, GetResponseChunk: 100, PaddedKey: true, WrongLe: true, NoCap: true, Delay: time.Second,
		}},
		{in: "bogus", wantErr: `"bogus": unknown`},
		{in: "ias-6a82,bogus=1", wantErr: `"bogus=1": unknown`},
		{in: "IAS-6A82", wantErr: `"IAS-6A82": unknown`},
		{in: "nocap,cap231", wantErr: `"cap231": cap231 and nocap contradict`},
		{in: "padded-key,padded-key", wantErr: `"padded-key": given twice`},
		{in: "getresponse,getresponse=8", wantErr: `"getresponse=8": given twice`},
		{in: "getresponse=0", wantErr: `"getresponse=0": chunk size must be 1..256`},
		{in: "getresponse=257", wantErr: `"getresponse=257"`},
		{in: "getresponse=x", wantErr: `"getresponse=x"`},
		{in: "delay", wantErr: `"delay": delay needs a duration`},
		{in: "delay=fast", wantErr: `"delay=fast": delay must be a duration`},
		{in: "delay=-1s", wantErr: `"delay=-1s"`},
		{in: "delay=5m", wantErr: `"delay=5m"`},
		{in: "nocap=1", wantErr: `"nocap=1": nocap takes no value`},
		{in: "nocap,,wrong-le", wantErr: "empty item"},
		{in: "nocap,", wantErr: "empty item"},
		{in: "none,nocap", wantErr: `"none": none must stand alone`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseQuirks(tt.in)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrQuirk) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseQuirks(%q) = %+v, %v; want an ErrQuirk containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseQuirks(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			// String reads back to the same quirks.
			again, err := ParseQuirks(got.String())
			if err != nil || again != got {
				t.Errorf("ParseQuirks(%q.String() = %q) = %+v, %v", tt.in, got.String(), again, err)
			}
		})
	}
}

func TestQuirksString(t *testing.T) {
	tests := []struct {
		q    Quirks
		want string
	}{
		{Quirks{}, "none"},
		{Quirks{GetResponse: true, GetResponseChunk: 256}, "getresponse"},
		{Quirks{GetResponse: true, GetResponseChunk: 999}, "getresponse"}, // out of range means 256
		{Quirks{GetResponseChunk: 8}, "none"},                             // chunk without getresponse does nothing
		{Quirks{Delay: -time.Second}, "none"},
		{Quirks{IAS6A82: true, NoCap: true, GetResponse: true, GetResponseChunk: 8, PaddedKey: true, WrongLe: true, Delay: 20 * time.Millisecond},
			"ias-6a82,nocap,getresponse=8,padded-key,wrong-le,delay=20ms"},
	}
	for _, tt := range tests {
		if got := tt.q.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.q, got, tt.want)
		}
	}
	// Quirks works as a flag through encoding.TextUnmarshaler.
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var q Quirks
	fs.TextVar(&q, "quirks", Quirks{}, "quirks: "+QuirkNames())
	if err := fs.Parse([]string{"--quirks", "wrong-le,nocap"}); err != nil {
		t.Fatal(err)
	}
	if q != (Quirks{WrongLe: true, NoCap: true}) {
		t.Errorf("flag parsed %+v", q)
	}
	fs.SetOutput(new(bytes.Buffer))
	if err := fs.Parse([]string{"--quirks", "oops"}); err == nil || !strings.Contains(err.Error(), `"oops"`) {
		t.Errorf("bad flag value: %v", err)
	}
}

func TestQuirkIAS6A82(t *testing.T) {
	// The select sequence of CIE.md section 3 for a chip that does not know
	// the IAS AID: 6A82, then SELECT MF, then DF_CIE as usual.
	run(t, genuine(t, "ias-6a82"), []step{
		{cmd: selIAS, sw: 0x6A82},
		ok(selMF),
		ok(selCIE),
		{cmd: "00 B0 81 00 0C", sw: 0x9000, data: nisData(0, -1)},
		ok(mse),
		{cmd: auth16, sw: 0x9000, data: sig(chal16, 0, -1)},
	})
	// Without the MF select, DF_CIE is selectable too.
	run(t, genuine(t, "ias-6a82"), []step{{cmd: selIAS, sw: 0x6A82}, ok(selCIE), ok(mse)})
}

func TestQuirkWrongLe(t *testing.T) {
	run(t, genuine(t, "wrong-le"), []step{
		ok(selCIE),
		{cmd: "00 B0 81 00 00", sw: 0x6C0C}, // NIS, Le 256: "use Le 0C"
		{cmd: "00 B0 81 00 0C", sw: 0x9000, data: nisData(0, -1)},                // repeated with Le 0C
		{cmd: "00 B0 81 00 04", sw: 0x9000, data: nisData(0, 4)},                 // smaller Le is fine
		{cmd: "00 B0 85 00 00", sw: 0x9000, data: keyData(0, 231)},               // more than the cap left: capped, no 6C
		{cmd: "00 B0 85 E7 00", sw: 0x6C27},                                      // 39 bytes left
		{cmd: "00 B0 85 E7 27", sw: 0x9000, data: keyData(231, -1)},              // repeated with Le 27
		{cmd: "00 B0 85 F0 01", sw: 0x9000, data: keyData(240, 241)},             // inside the file
		{cmd: "00 B0 81 0C 01", sw: 0x6B00},                                      // at the end stays 6B00
		{cmdf: sodOffsetCmd(5, "00 B1 00 06 04 54 02 %02X %02X E7"), sw: 0x6C07}, // 53 05 + 5 bytes
		{cmdf: sodOffsetCmd(5, "00 B1 00 06 04 54 02 %02X %02X 07"), sw: 0x9000, data: sodTail53(5)},
	})
}

func TestQuirkPaddedKey(t *testing.T) {
	c := genuine(t, "padded-key")
	kf := c.KeyFile()
	tlv := c.KeyFileTLV()
	if len(kf) != len(tlv)+keyPadding || !bytes.Equal(kf[:len(tlv)], tlv) || !bytes.Equal(kf[len(tlv):], make([]byte, keyPadding)) {
		t.Fatalf("padded key file: %d bytes, TLV %d bytes", len(kf), len(tlv))
	}
	_, der, err := reader.ParsePublicKeyFile(kf)
	if err != nil || !bytes.Equal(der, tlv) {
		t.Fatalf("ParsePublicKeyFile(padded) = %d bytes, %v", len(der), err)
	}
	run(t, c, []step{
		ok(selCIE),
		{cmd: "00 B0 85 00 00", sw: 0x9000, data: keyData(0, 231)},
		{cmd: "00 B0 85 E7 00", sw: 0x6282, data: keyData(231, -1)}, // 39 + 32 padding bytes
	})
	if n := len(keyData(231, -1)(c)); n != 39+keyPadding {
		t.Errorf("second chunk %d bytes, want %d", n, 39+keyPadding)
	}
	// SetQuirks takes the padding away again.
	c.SetQuirks(Quirks{})
	if !bytes.Equal(c.KeyFile(), tlv) {
		t.Error("KeyFile still padded after SetQuirks(Quirks{})")
	}
}

func TestQuirkDelay(t *testing.T) {
	c := genuine(t, "delay=80ms,getresponse")
	var slept []time.Duration
	c.SetSleep(func(d time.Duration) { slept = append(slept, d) })
	run(t, c, []step{
		ok(selCIE), ok(mse),
		{cmd: auth16, sw: 0x6100},
		{cmd: "00 C0 00 00 00", sw: 0x9000, data: sig(chal16, 0, -1)},
		{cmd: "FF", sw: 0x6700}, // malformed commands take the time too
	})
	want := []time.Duration{80 * time.Millisecond, 80 * time.Millisecond, 80 * time.Millisecond, 80 * time.Millisecond, 80 * time.Millisecond}
	if fmt.Sprint(slept) != fmt.Sprint(want) {
		t.Errorf("slept %v, want %v", slept, want)
	}
	// A card without the quirk never sleeps (fresh fails the test if it does).
	run(t, genuine(t, ""), []step{ok(selCIE)})
}

// readFile reads a whole file the way a careful reader does: offsets
// advance by what came back, 6Cxx repeats with Le xx, 6282 and 6B00 end
// the file. cmd builds the command for an offset and an Le ("" ends the
// read: the offset cannot be addressed); unwrap strips
// the 53 object of odd-INS answers. It returns the bytes and the size of
// each answer's data.
func readFile(t *testing.T, c *Card, le byte, cmd func(off int, le byte) string, unwrap bool) ([]byte, []int) {
	t.Helper()
	var out []byte
	var sizes []int
	for off, tries := 0, 0; tries < 100; tries++ {
		apdu := cmd(off, le)
		if apdu == "" {
			return out, sizes
		}
		data, sw := transmit(t, c, h(apdu))
		if sw>>8 == 0x6C {
			le = byte(sw)
			continue
		}
		if sw == 0x6B00 {
			return out, sizes
		}
		if sw != 0x9000 && sw != 0x6282 {
			t.Fatalf("read at %d: SW %04X", off, sw)
		}
		sizes = append(sizes, len(data))
		if unwrap {
			tag, v, rest, err := reader.ParseTLV(data)
			if err != nil || tag != 0x53 || len(rest) != 0 {
				t.Fatalf("read at %d: answer % X is not one 53 object", off, short(data))
			}
			data = v
		}
		out = append(out, data...)
		off += len(data)
		if sw == 0x6282 {
			return out, sizes
		}
	}
	t.Fatal("read does not end")
	return nil, nil
}

func b0SFI(sfi byte) func(int, byte) string {
	return func(off int, le byte) string {
		if off > 0xFF {
			return "" // an SFI read cannot address it: the reader stops
		}
		return fmt.Sprintf("00 B0 %02X %02X %02X", 0x80|sfi, off, le)
	}
}

func b0(off int, le byte) string { return fmt.Sprintf("00 B0 %02X %02X %02X", off>>8, off&0xFF, le) }

func b1(p1p2 uint16) func(int, byte) string {
	return func(off int, le byte) string {
		return fmt.Sprintf("00 B1 %02X %02X 04 54 02 %02X %02X %02X", p1p2>>8, p1p2&0xFF, off>>8, off&0xFF, le)
	}
}

// TestReassemble reads whole files with every method, quirk and Le a reader
// might use and checks the bytes are exactly the file and each answer
// respects the cap.
func TestReassemble(t *testing.T) {
	tests := []struct {
		name    string
		quirks  string
		file    uint16 // FID
		selEF   string // select before reading, "" for none
		le      byte
		cmd     func(int, byte) string
		unwrap  bool
		maxResp int   // largest answer data allowed
		sizes   []int // expected answer sizes, nil to skip
	}{
		{name: "key by SFI, Le 00", file: reader.FIDKey, le: 0, cmd: b0SFI(5), maxResp: 231, sizes: []int{231, 39}},
		{name: "key by SFI, nocap, Le E7", quirks: "nocap", file: reader.FIDKey, le: 0xE7, cmd: b0SFI(5), maxResp: 231, sizes: []int{231, 39}},
		{name: "key by FID, nocap", quirks: "nocap", file: reader.FIDKey, selEF: selKey, le: 0, cmd: b0, maxResp: 256, sizes: []int{256, 14}},
		{name: "key by SFI, wrong-le", quirks: "wrong-le", file: reader.FIDKey, le: 0, cmd: b0SFI(5), maxResp: 231, sizes: []int{231, 39}},
		{name: "key by SFI, padded", quirks: "padded-key", file: reader.FIDKey, le: 0, cmd: b0SFI(5), maxResp: 231, sizes: []int{231, 71}},
		{name: "NIS by SFI", file: reader.FIDNIS, le: 0, cmd: b0SFI(1), maxResp: 231, sizes: []int{12}},
		{name: "SOD by FID, Le 00", file: reader.FIDSOD, selEF: selSOD, le: 0, cmd: b0, maxResp: 231},
		{name: "SOD by FID, Le E7", file: reader.FIDSOD, selEF: selSOD, le: 0xE7, cmd: b0, maxResp: 231},
		{name: "SOD by FID, Le 80", file: reader.FIDSOD, selEF: selSOD, le: 0x80, cmd: b0, maxResp: 128},
		{name: "SOD by FID, nocap", quirks: "nocap", file: reader.FIDSOD, selEF: selSOD, le: 0, cmd: b0, maxResp: 256},
		{name: "SOD by FID, wrong-le", quirks: "wrong-le", file: reader.FIDSOD, selEF: selSOD, le: 0, cmd: b0, maxResp: 231},
		{name: "SOD odd INS by SFI, Le E7", file: reader.FIDSOD, le: 0xE7, cmd: b1(0x0006), unwrap: true, maxResp: 231},
		{name: "SOD odd INS by FID, Le E7", file: reader.FIDSOD, le: 0xE7, cmd: b1(0x1006), unwrap: true, maxResp: 231},
		{name: "SOD odd INS, Le 00", file: reader.FIDSOD, le: 0, cmd: b1(0x0006), unwrap: true, maxResp: 231},
		{name: "SOD odd INS, nocap", quirks: "nocap", file: reader.FIDSOD, le: 0, cmd: b1(0x0006), unwrap: true, maxResp: 256},
		{name: "SOD odd INS, wrong-le", quirks: "wrong-le", file: reader.FIDSOD, le: 0xE7, cmd: b1(0x0006), unwrap: true, maxResp: 231},
		{name: "SOD odd INS current EF", file: reader.FIDSOD, selEF: selSOD, le: 0xE7, cmd: b1(0), unwrap: true, maxResp: 231},
	}
	for _, gen := range []reader.Generation{reader.Gen2016, reader.Gen2022} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%v/%s", gen, tt.name), func(t *testing.T) {
				c := fresh(t, mustCard(t, gen, Genuine), mustQuirks(t, tt.quirks))
				run(t, c, []step{ok(selCIE)})
				if tt.selEF != "" {
					run(t, c, []step{ok(tt.selEF)})
				}
				got, sizes := readFile(t, c, tt.le, tt.cmd, tt.unwrap)
				want := c.file(tt.file)
				if !bytes.Equal(got, want) {
					t.Fatalf("read %d bytes, file has %d; equal prefix: %v", len(got), len(want), bytes.HasPrefix(want, got))
				}
				for i, n := range sizes {
					if n > tt.maxResp {
						t.Errorf("answer %d has %d data bytes, more than %d", i, n, tt.maxResp)
					}
				}
				if tt.sizes != nil && fmt.Sprint(sizes) != fmt.Sprint(tt.sizes) {
					t.Errorf("answer sizes %v, want %v", sizes, tt.sizes)
				}
			})
		}
	}
}

// TestReaderAgainstCard runs the reader package's door and enrolment reads
// against the emulator with every quirk: both ends must agree byte for byte.
func TestReaderAgainstCard(t *testing.T) {
	quirkLists := []string{"none", "nocap", "ias-6a82", "getresponse", "getresponse=100", "padded-key", "wrong-le",
		"ias-6a82,getresponse=64,padded-key,wrong-le"}
	methods := []reader.SODMethod{reader.SODAuto, reader.SODReadBinary, reader.SODOddINS}
	for _, gen := range []reader.Generation{reader.Gen2016, reader.Gen2022} {
		for _, ql := range quirkLists {
			for _, m := range methods {
				t.Run(fmt.Sprintf("%v/%s/%v", gen, ql, m), func(t *testing.T) {
					c := fresh(t, mustCard(t, gen, Genuine), mustQuirks(t, ql))
					er, err := reader.ReadEnrol(c, &reader.EnrolOptions{SODMethod: m})
					if err != nil {
						t.Fatalf("ReadEnrol: %v", err)
					}
					if er.NIS != c.NIS() || !bytes.Equal(er.KeyFile, c.KeyFileTLV()) || !bytes.Equal(er.SOD, c.SOD()) {
						t.Fatalf("ReadEnrol read NIS %q, %d key bytes, %d SOD bytes; card has %q, %d, %d",
							er.NIS, len(er.KeyFile), len(er.SOD), c.NIS(), len(c.KeyFileTLV()), len(c.SOD()))
					}
					if err := reader.VerifyChallenge(er.PublicKey, er.Challenge, er.Signature); err != nil {
						t.Errorf("enrolment challenge: %v", err)
					}
					c.Reset()
					dr, err := reader.ReadDoor(c, nil)
					if err != nil {
						t.Fatalf("ReadDoor: %v", err)
					}
					if err := reader.VerifyChallenge(c.PublicKey(), dr.Challenge, dr.Signature); err != nil {
						t.Errorf("door challenge: %v", err)
					}
				})
			}
		}
	}
}
