package virtcie

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

type cardTest struct {
	name   string
	quirks string // quirk list of the card
	steps  []step
}

func runCardTests(t *testing.T, tests []cardTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, genuine(t, tt.quirks), tt.steps)
		})
	}
}

func TestSelect(t *testing.T) {
	runCardTests(t, []cardTest{
		{name: "IAS AID", steps: []step{ok(selIAS)}},
		{name: "DF_CIE AID", steps: []step{ok(selCIE)}},
		{name: "DF_CIE AID without IAS first", steps: []step{
			ok(selCIE),
			{cmd: "00 B0 81 00 0C", sw: 0x9000, data: nisData(0, -1)}, // SFI 1 readable
		}},
		{name: "DF_CIE AID, P2 00 asks FCI but gets none", steps: []step{ok("00 A4 04 00 06 A0 00 00 00 00 39")}},
		{name: "DF_CIE AID with Le", steps: []step{ok("00 A4 04 00 06 A0 00 00 00 00 39 00")}},
		{name: "ICAO eMRTD AID is absent", steps: []step{
			{cmd: "00 A4 04 0C 07 A0 00 00 02 47 10 01", sw: 0x6A82},
		}},
		{name: "AID prefix is not a match", steps: []step{
			{cmd: "00 A4 04 0C 05 A0 00 00 00 00", sw: 0x6A82},
		}},
		{name: "select by AID without AID", steps: []step{{cmd: "00 A4 04 0C", sw: 0x6700}}},
		{name: "Lc longer than data", steps: []step{
			{cmd: "00 A4 04 0C 08 A0 00 00 00 00 39", sw: 0x6700}, // Lc 8, 6 bytes follow
		}},
		{name: "Lc shorter than data", steps: []step{
			{cmd: "00 A4 04 0C 04 A0 00 00 00 00 39", sw: 0x6700}, // Lc 4, 6 bytes follow
		}},
		{name: "MF", steps: []step{ok(selMF)}},
		{name: "MF by FID 3F00", steps: []step{ok("00 A4 00 0C 02 3F 00")}},
		{name: "EF by FID in DF_CIE", steps: []step{
			ok(selCIE), ok(selNIS),
			{cmd: "00 B0 00 00 0C", sw: 0x9000, data: nisData(0, -1)},
		}},
		{name: "EF by FID with P1 00", steps: []step{
			ok(selCIE), ok("00 A4 00 0C 02 10 06"),
			{cmd: "00 B0 00 00 04", sw: 0x9000, data: sodData(0, 4)},
		}},
		{name: "EF without DF_CIE", steps: []step{{cmd: selNIS, sw: 0x6A82}}},
		{name: "EF under IAS only", steps: []step{ok(selIAS), {cmd: selNIS, sw: 0x6A82}}},
		{name: "EF under MF", steps: []step{ok(selMF), {cmd: selNIS, sw: 0x6A82}}},
		{name: "EF.Seriale is absent", steps: []step{ok(selCIE), {cmd: "00 A4 02 0C 02 10 02", sw: 0x6A82}}},
		{name: "ICAO EF.SOD 011D is absent", steps: []step{ok(selCIE), {cmd: "00 A4 02 0C 02 01 1D", sw: 0x6A82}}},
		{name: "FID of 3 bytes", steps: []step{ok(selCIE), {cmd: "00 A4 02 0C 03 10 01 00", sw: 0x6700}}},
		{name: "FID of 1 byte", steps: []step{ok(selCIE), {cmd: "00 A4 02 0C 01 10", sw: 0x6700}}},
		{name: "select by path is not supported", steps: []step{{cmd: "00 A4 08 0C 02 10 01", sw: 0x6A86}}},
		{name: "next occurrence is not supported", steps: []step{{cmd: "00 A4 04 02 06 A0 00 00 00 00 39", sw: 0x6A86}}},
		{name: "failed select keeps the current DF", steps: []step{
			ok(selCIE),
			{cmd: "00 A4 04 0C 07 A0 00 00 02 47 10 01", sw: 0x6A82},
			{cmd: "00 B0 81 00 0C", sw: 0x9000, data: nisData(0, -1)},
		}},
		{name: "failed EF select keeps the current EF", steps: []step{
			ok(selCIE), ok(selNIS),
			{cmd: "00 A4 02 0C 02 10 03", sw: 0x6A82},
			{cmd: "00 B0 00 00 0C", sw: 0x9000, data: nisData(0, -1)},
		}},
		{name: "selecting an application drops the current EF", steps: []step{
			ok(selCIE), ok(selNIS), ok(selCIE),
			{cmd: "00 B0 00 00 0C", sw: 0x6986},
		}},
	})
}

func TestReadBinary(t *testing.T) {
	runCardTests(t, []cardTest{
		{name: "NIS by SFI", steps: []step{
			ok(selCIE),
			{cmd: "00 B0 81 00 0C", sw: 0x9000, data: nisData(0, -1)}, // P1 81: SFI 1, offset 0, Le 12
		}},
		{name: "NIS by SFI with Le 00", steps: []step{
			ok(selCIE),
			{cmd: "00 B0 81 00 00", sw: 0x6282, data: nisData(0, -1)}, // 12 bytes before Le: end of file
		}},
		{name: "Le smaller than the file", steps: []step{
			ok(selCIE),
			{cmd: "00 B0 81 00 04", sw: 0x9000, data: nisData(0, 4)},
		}},
		{name: "short read at end", steps: []step{
			ok(selCIE),
			{cmd: "00 B0 81 0A 05", sw: 0x6282, data: nisData(10, -1)}, // offset 10: 2 bytes left
		}},
		{name: "exact read at end", steps: []step{
			ok(selCIE),
			{cmd: "00 B0 81 0A 02", sw: 0x9000, data: nisData(10, -1)},
		}},
		{name: "offset at end", steps: []step{ok(selCIE), {cmd: "00 B0 81 0C 01", sw: 0x6B00}}},
		{name: "offset past end", steps: []step{ok(selCIE), {cmd: "00 B0 81 40 01", sw: 0x6B00}}},
		{name: "key first read capped at 231", steps: []step{
			ok(selCIE),
			{cmd: "00 B0 85 00 00", sw: 0x9000, data: keyData(0, 231)}, // SFI 5, Le 256: 231 come back
		}},
		{name: "key second read", steps: []step{
			ok(selCIE),
			{cmd: "00 B0 85 E7 00", sw: 0x6282, data: keyData(231, -1)}, // offset 231: the last 39 bytes
		}},
		{name: "key second read with exact Le", steps: []step{
			ok(selCIE),
			{cmd: "00 B0 85 E7 27", sw: 0x9000, data: keyData(231, -1)},
		}},
		{name: "key Le E8 is capped too", steps: []step{
			ok(selCIE),
			{cmd: "00 B0 85 00 E8", sw: 0x9000, data: keyData(0, 231)},
		}},
		{name: "nocap returns 256", quirks: "nocap", steps: []step{
			ok(selCIE),
			{cmd: "00 B0 85 00 00", sw: 0x9000, data: keyData(0, 256)},
		}},
		{name: "SOD by SFI 6", steps: []step{
			ok(selCIE),
			{cmd: "00 B0 86 00 10", sw: 0x9000, data: sodData(0, 16)},
		}},
		{name: "SFI 2 is absent", steps: []step{ok(selCIE), {cmd: "00 B0 82 00 00", sw: 0x6A82}}},
		{name: "SFI without any select", steps: []step{{cmd: "00 B0 81 00 0C", sw: 0x6A82}}},
		{name: "SFI under IAS", steps: []step{ok(selIAS), {cmd: "00 B0 81 00 0C", sw: 0x6A82}}},
		{name: "P1 101x xxxx is not an SFI", steps: []step{ok(selCIE), {cmd: "00 B0 A1 00 0C", sw: 0x6A86}}},
		{name: "current EF without select", steps: []step{ok(selCIE), {cmd: "00 B0 00 00 0C", sw: 0x6986}}},
		{name: "SFI read makes the file current", steps: []step{
			ok(selCIE),
			{cmd: "00 B0 81 00 01", sw: 0x9000, data: nisData(0, 1)},
			{cmd: "00 B0 00 01 0B", sw: 0x9000, data: nisData(1, -1)},
		}},
		{name: "SOD by FID at a 15-bit offset", steps: []step{
			ok(selCIE), ok(selSOD),
			{cmdf: sodOffsetCmd(10, "00 B0 %02X %02X 20"), sw: 0x6282, data: sodTail(10)},
		}},
		{name: "SOD by FID past end", steps: []step{
			ok(selCIE), ok(selSOD),
			{cmd: "00 B0 7F FF 01", sw: 0x6B00},
		}},
		{name: "key by FID", steps: []step{
			ok(selCIE), ok(selKey),
			{cmd: "00 B0 00 00 04", sw: 0x9000, data: keyData(0, 4)}, // 30 82 01 0A
		}},
		{name: "Lc on READ BINARY", steps: []step{ok(selCIE), {cmd: "00 B0 81 00 01 00 0C", sw: 0x6700}}},
		{name: "no Le", steps: []step{ok(selCIE), {cmd: "00 B0 81 00", sw: 0x6700}}},
		{name: "extended Le", steps: []step{ok(selCIE), {cmd: "00 B0 81 00 00 00 0C", sw: 0x6700}}},
	})
}

func TestReadBinaryOdd(t *testing.T) {
	runCardTests(t, []cardTest{
		{name: "SOD first chunk by SFI", steps: []step{
			ok(selCIE),
			// P1P2 00 06: SFI 6; offset DO 54 02 0000; Le E7 (231)
			{cmd: "00 B1 00 06 04 54 02 00 00 E7", sw: 0x9000, data: sod53(0, 228)}, // 53 81 E4 <228 bytes>
		}},
		{name: "SOD first chunk by FID 1006", steps: []step{
			ok(selCIE),
			{cmd: "00 B1 10 06 04 54 02 00 00 E7", sw: 0x9000, data: sod53(0, 228)},
		}},
		{name: "second chunk", steps: []step{
			ok(selCIE),
			{cmd: "00 B1 00 06 04 54 02 00 E4 E7", sw: 0x9000, data: sod53(228, 456)},
		}},
		{name: "Le 00 is capped to 231", steps: []step{
			ok(selCIE),
			{cmd: "00 B1 00 06 04 54 02 00 00 00", sw: 0x9000, data: sod53(0, 228)},
		}},
		{name: "nocap Le 00 gives 253 data bytes", quirks: "nocap", steps: []step{
			ok(selCIE),
			{cmd: "00 B1 00 06 04 54 02 00 00 00", sw: 0x9000, data: sod53(0, 253)}, // 53 81 FD
		}},
		{name: "small Le gives a short-form 53", steps: []step{
			ok(selCIE),
			{cmd: "00 B1 00 06 04 54 02 00 00 10", sw: 0x9000, data: sod53(0, 14)}, // 53 0E <14>
		}},
		{name: "Le 81 fits 127 data bytes", steps: []step{
			ok(selCIE),
			{cmd: "00 B1 00 06 04 54 02 00 00 81", sw: 0x9000, data: sod53(0, 127)}, // 53 7F <127>: 53 81 80 would be 131
		}},
		{name: "Le 83 fits 128 data bytes", steps: []step{
			ok(selCIE),
			{cmd: "00 B1 00 06 04 54 02 00 00 83", sw: 0x9000, data: sod53(0, 128)}, // 53 81 80 <128>
		}},
		{name: "Le 02 leaves no room", steps: []step{
			ok(selCIE),
			{cmd: "00 B1 00 06 04 54 02 00 00 02", sw: 0x6700},
		}},
		{name: "last chunk", steps: []step{
			ok(selCIE),
			{cmdf: sodOffsetCmd(5, "00 B1 00 06 04 54 02 %02X %02X E7"), sw: 0x6282, data: sodTail53(5)}, // 53 05 <5>
		}},
		{name: "offset at end", steps: []step{
			ok(selCIE),
			{cmdf: sodOffsetCmd(0, "00 B1 00 06 04 54 02 %02X %02X E7"), sw: 0x6B00},
		}},
		{name: "one-byte offset", steps: []step{
			ok(selCIE),
			{cmd: "00 B1 00 06 03 54 01 10 E7", sw: 0x9000, data: sod53(16, 244)},
		}},
		{name: "current EF", steps: []step{
			ok(selCIE), ok(selNIS),
			{cmd: "00 B1 00 00 03 54 01 00 00", sw: 0x6282, data: func(c *Card) []byte { return wrap53([]byte(c.nis)) }},
		}},
		{name: "current EF without select", steps: []step{
			ok(selCIE),
			{cmd: "00 B1 00 00 03 54 01 00 00", sw: 0x6986},
		}},
		{name: "SFI 2 is absent", steps: []step{ok(selCIE), {cmd: "00 B1 00 02 04 54 02 00 00 E7", sw: 0x6A82}}},
		{name: "FID 1002 is absent", steps: []step{ok(selCIE), {cmd: "00 B1 10 02 04 54 02 00 00 E7", sw: 0x6A82}}},
		{name: "without DF_CIE", steps: []step{{cmd: "00 B1 00 06 04 54 02 00 00 E7", sw: 0x6A82}}},
		{name: "offset DO with tag 55", steps: []step{ok(selCIE), {cmd: "00 B1 00 06 04 55 02 00 00 E7", sw: 0x6A80}}},
		{name: "offset DO length disagrees", steps: []step{ok(selCIE), {cmd: "00 B1 00 06 04 54 03 00 00 E7", sw: 0x6A80}}},
		{name: "offset DO of 4 bytes", steps: []step{ok(selCIE), {cmd: "00 B1 00 06 06 54 04 00 00 00 00 E7", sw: 0x6A80}}},
		{name: "no data", steps: []step{ok(selCIE), {cmd: "00 B1 00 06 E7", sw: 0x6700}}},
		{name: "no Le", steps: []step{ok(selCIE), {cmd: "00 B1 00 06 04 54 02 00 00", sw: 0x6700}}},
	})
}

func TestMSESet(t *testing.T) {
	runCardTests(t, []cardTest{
		{name: "CIE.md order", steps: []step{
			ok(selCIE), ok(mse),
			{cmd: auth16, sw: 0x9000, data: sig(chal16, 0, -1)},
		}},
		{name: "key reference first", steps: []step{
			ok(selCIE), ok("00 22 41 A4 06 84 01 83 80 01 02"),
			{cmd: auth16, sw: 0x9000, data: sig(chal16, 0, -1)},
		}},
		{name: "under IAS", steps: []step{ok(selIAS), ok(mse)}},
		{name: "other key reference", steps: []step{
			ok(selCIE), {cmd: "00 22 41 A4 06 80 01 02 84 01 82", sw: 0x6A88},
		}},
		{name: "other algorithm", steps: []step{
			ok(selCIE), {cmd: "00 22 41 A4 06 80 01 01 84 01 83", sw: 0x6A80},
		}},
		{name: "no algorithm", steps: []step{ok(selCIE), {cmd: "00 22 41 A4 03 84 01 83", sw: 0x6A80}}},
		{name: "no key reference", steps: []step{ok(selCIE), {cmd: "00 22 41 A4 03 80 01 02", sw: 0x6A80}}},
		{name: "key reference twice", steps: []step{
			ok(selCIE), {cmd: "00 22 41 A4 09 80 01 02 84 01 83 84 01 83", sw: 0x6A80},
		}},
		{name: "unknown data object", steps: []step{
			ok(selCIE), {cmd: "00 22 41 A4 09 80 01 02 84 01 83 83 01 01", sw: 0x6A80},
		}},
		{name: "two-byte key reference", steps: []step{
			ok(selCIE), {cmd: "00 22 41 A4 07 80 01 02 84 02 00 83", sw: 0x6A80},
		}},
		{name: "truncated data object", steps: []step{
			ok(selCIE), {cmd: "00 22 41 A4 05 80 01 02 84 01", sw: 0x6A80}, // 84 says 1 byte, none follows
		}},
		{name: "long-form length", steps: []step{
			ok(selCIE), {cmd: "00 22 41 A4 07 80 81 01 02 84 01 83", sw: 0x6A80},
		}},
		{name: "wrong P1 P2", steps: []step{
			ok(selCIE), {cmd: "00 22 81 B6 06 80 01 02 84 01 83", sw: 0x6A86}, // set for verification, DST
		}},
		{name: "Lc disagrees", steps: []step{
			ok(selCIE), {cmd: "00 22 41 A4 07 80 01 02 84 01 83", sw: 0x6700},
		}},
		{name: "Le present", steps: []step{
			ok(selCIE), {cmd: "00 22 41 A4 06 80 01 02 84 01 83 00", sw: 0x6700},
		}},
		{name: "no data", steps: []step{ok(selCIE), {cmd: "00 22 41 A4", sw: 0x6700}}},
		{name: "no application selected", steps: []step{{cmd: mse, sw: 0x6A88}}},
		{name: "MF selected", steps: []step{ok(selMF), {cmd: mse, sw: 0x6A88}}},
		{name: "failed MSE clears the key", steps: []step{
			ok(selCIE), ok(mse),
			{cmd: "00 22 41 A4 06 80 01 02 84 01 82", sw: 0x6A88},
			{cmd: auth16, sw: 0x6985},
		}},
	})
}

// challengeCmd returns INTERNAL AUTHENTICATE with an n-byte challenge.
func challengeCmd(n int) string {
	return fmt.Sprintf("00 88 00 00 %02X %s 00", n, strings.Repeat("5A ", n))
}

func TestInternalAuthenticate(t *testing.T) {
	runCardTests(t, []cardTest{
		{name: "signs the challenge", steps: []step{
			ok(selIAS), ok(selCIE), ok(mse),
			{cmd: auth16, sw: 0x9000, data: sig(chal16, 0, -1)},
		}},
		{name: "twice with one MSE", steps: []step{
			ok(selCIE), ok(mse),
			{cmd: auth16, sw: 0x9000, data: sig(chal16, 0, -1)},
			{cmd: "00 88 00 00 08 01 02 03 04 05 06 07 08 00", sw: 0x9000, data: sig("01 02 03 04 05 06 07 08", 0, -1)},
		}},
		{name: "MSE survives EF select and reads", steps: []step{
			ok(selCIE), ok(mse), ok(selSOD),
			{cmd: "00 B0 00 00 04", sw: 0x9000, data: sodData(0, 4)},
			{cmd: "00 B0 81 00 0C", sw: 0x9000, data: nisData(0, -1)},
			{cmd: auth16, sw: 0x9000, data: sig(chal16, 0, -1)},
		}},
		{name: "without MSE", steps: []step{ok(selCIE), {cmd: auth16, sw: 0x6985}}},
		{name: "application select clears MSE", steps: []step{
			ok(selCIE), ok(mse), ok(selCIE), {cmd: auth16, sw: 0x6985},
		}},
		{name: "reset clears MSE", steps: []step{
			ok(selCIE), ok(mse), {reset: true}, ok(selCIE), {cmd: auth16, sw: 0x6985},
		}},
		{name: "no Le", steps: []step{
			ok(selCIE), ok(mse), {cmd: "00 88 00 00 10 " + chal16, sw: 0x6700},
		}},
		{name: "Le 80 asks for the right Le", steps: []step{
			ok(selCIE), ok(mse),
			{cmd: "00 88 00 00 10 " + chal16 + " 80", sw: 0x6C00}, // 6C00: repeat with Le 00 (256)
		}},
		{name: "no challenge", steps: []step{ok(selCIE), ok(mse), {cmd: "00 88 00 00 00", sw: 0x6700}}},
		{name: "wrong P1", steps: []step{
			ok(selCIE), ok(mse), {cmd: "00 88 01 00 10 " + chal16 + " 00", sw: 0x6A86},
		}},
		{name: "245-byte challenge is the most PKCS#1 allows", steps: []step{
			ok(selCIE), ok(mse),
			{cmd: challengeCmd(245), sw: 0x9000, data: sig(strings.Repeat("5A", 245), 0, -1)},
		}},
		{name: "246-byte challenge", steps: []step{
			ok(selCIE), ok(mse), {cmd: challengeCmd(246), sw: 0x6700},
		}},
	})
}

func TestGetResponse(t *testing.T) {
	runCardTests(t, []cardTest{
		{name: "signature in one GET RESPONSE", quirks: "getresponse", steps: []step{
			ok(selCIE), ok(mse),
			{cmd: auth16, sw: 0x6100}, // 61 00: 256 bytes wait
			{cmd: "00 C0 00 00 00", sw: 0x9000, data: sig(chal16, 0, -1)},
		}},
		{name: "INTERNAL AUTHENTICATE with any Le", quirks: "getresponse", steps: []step{
			ok(selCIE), ok(mse),
			{cmd: "00 88 00 00 10 " + chal16 + " 80", sw: 0x6100},
			{cmd: "00 C0 00 00 00", sw: 0x9000, data: sig(chal16, 0, -1)},
		}},
		{name: "chunks of 100", quirks: "getresponse=100", steps: []step{
			ok(selCIE), ok(mse),
			{cmd: auth16, sw: 0x6100},
			{cmd: "00 C0 00 00 00", sw: 0x619C, data: sig(chal16, 0, 100)},   // 156 left
			{cmd: "00 C0 00 00 9C", sw: 0x6138, data: sig(chal16, 100, 200)}, // 56 left
			{cmd: "00 C0 00 00 38", sw: 0x9000, data: sig(chal16, 200, -1)},
		}},
		{name: "Le smaller than the signature", quirks: "getresponse", steps: []step{
			ok(selCIE), ok(mse),
			{cmd: auth16, sw: 0x6100},
			{cmd: "00 C0 00 00 10", sw: 0x61F0, data: sig(chal16, 0, 16)},
			{cmd: "00 C0 00 00 F0", sw: 0x9000, data: sig(chal16, 16, -1)},
		}},
		{name: "Le larger than what is left", quirks: "getresponse", steps: []step{
			ok(selCIE), ok(mse),
			{cmd: auth16, sw: 0x6100},
			{cmd: "00 C0 00 00 10", sw: 0x61F0, data: sig(chal16, 0, 16)},
			{cmd: "00 C0 00 00 FF", sw: 0x6CF0}, // data stays pending
			{cmd: "00 C0 00 00 F0", sw: 0x9000, data: sig(chal16, 16, -1)},
		}},
		{name: "nothing pending", steps: []step{{cmd: "00 C0 00 00 00", sw: 0x6985}}},
		{name: "nothing left after the last chunk", quirks: "getresponse", steps: []step{
			ok(selCIE), ok(mse),
			{cmd: auth16, sw: 0x6100},
			{cmd: "00 C0 00 00 00", sw: 0x9000, data: sig(chal16, 0, -1)},
			{cmd: "00 C0 00 00 00", sw: 0x6985},
		}},
		{name: "another command drops pending data", quirks: "getresponse", steps: []step{
			ok(selCIE), ok(mse),
			{cmd: auth16, sw: 0x6100},
			{cmd: "00 B0 81 00 0C", sw: 0x9000, data: nisData(0, -1)},
			{cmd: "00 C0 00 00 00", sw: 0x6985},
		}},
		{name: "wrong P1 P2", quirks: "getresponse", steps: []step{
			ok(selCIE), ok(mse), {cmd: auth16, sw: 0x6100},
			{cmd: "00 C0 01 00 00", sw: 0x6A86},
		}},
		{name: "data field", quirks: "getresponse", steps: []step{
			ok(selCIE), ok(mse), {cmd: auth16, sw: 0x6100},
			{cmd: "00 C0 00 00 01 00 00", sw: 0x6700},
		}},
		{name: "no Le", quirks: "getresponse", steps: []step{
			ok(selCIE), ok(mse), {cmd: auth16, sw: 0x6100},
			{cmd: "00 C0 00 00", sw: 0x6700},
		}},
		{name: "without MSE still 6985", quirks: "getresponse", steps: []step{
			ok(selCIE), {cmd: auth16, sw: 0x6985},
		}},
	})
}

func TestClassAndInstruction(t *testing.T) {
	runCardTests(t, []cardTest{
		{name: "empty APDU", steps: []step{{cmd: "", sw: 0x6700}}},
		{name: "3 bytes", steps: []step{{cmd: "00 A4 04", sw: 0x6700}}},
		{name: "proprietary class", steps: []step{{cmd: "80 A4 04 0C 06 A0 00 00 00 00 39", sw: 0x6E00}}},
		{name: "secure messaging class", steps: []step{{cmd: "0C B0 81 00 0C", sw: 0x6E00}}},
		{name: "logical channel 1", steps: []step{{cmd: "01 A4 04 0C 06 A0 00 00 00 00 39", sw: 0x6E00}}},
		{name: "command chaining", steps: []step{{cmd: "10 88 00 00 10 " + chal16 + " 00", sw: 0x6E00}}},
		{name: "GET CHALLENGE", steps: []step{{cmd: "00 84 00 00 08", sw: 0x6D00}}},
		{name: "VERIFY PIN", steps: []step{{cmd: "00 20 00 81 08 31 32 33 34 35 36 37 38", sw: 0x6D00}}},
		{name: "GET DATA", steps: []step{{cmd: "00 CA 01 00 00", sw: 0x6D00}}},
		{name: "UPDATE BINARY", steps: []step{{cmd: "00 D6 81 00 01 00", sw: 0x6D00}}},
		{name: "unknown INS with bad length", steps: []step{{cmd: "00 42 00 00 05 01", sw: 0x6D00}}},
		{name: "extended-length SELECT", steps: []step{
			{cmd: "00 A4 04 0C 00 00 06 A0 00 00 00 00 39", sw: 0x6700},
		}},
	})
}

func TestReset(t *testing.T) {
	c := genuine(t, "getresponse")
	run(t, c, []step{ok(selCIE), ok(mse), {cmd: auth16, sw: 0x6100}, ok(selNIS)})
	c.Reset()
	run(t, c, []step{
		{cmd: "00 C0 00 00 00", sw: 0x6985}, // pending signature gone
		{cmd: "00 B0 00 00 0C", sw: 0x6986}, // no current EF
		{cmd: "00 B0 81 00 0C", sw: 0x6A82}, // no DF_CIE
		ok(selCIE),
		{cmd: auth16, sw: 0x6985}, // no MSE
	})
	if got := c.Stats().Resets; got != 1 {
		t.Errorf("Stats().Resets = %d, want 1", got)
	}
}

func TestStatsAndTranscript(t *testing.T) {
	c := genuine(t, "")
	c.Record(true)
	cmds := [][]byte{h(selCIE), h(mse), h(auth16), h("00 B0 81 00 0C")}
	var in, out int64
	var resps [][]byte
	for _, cmd := range cmds {
		resp, err := c.Transmit(cmd)
		if err != nil {
			t.Fatal(err)
		}
		in += int64(len(cmd))
		out += int64(len(resp))
		resps = append(resps, resp)
	}
	want := Stats{APDUs: 4, BytesIn: in, BytesOut: out, Signatures: 1}
	if got := c.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	if out != 2+2+258+14 {
		t.Errorf("bytes out = %d, want 276 (9000, 9000, signature+9000, NIS+9000)", out)
	}
	tr := c.Transcript()
	if len(tr) != len(cmds) {
		t.Fatalf("Transcript has %d exchanges, want %d", len(tr), len(cmds))
	}
	for i := range tr {
		if string(tr[i].Command) != string(cmds[i]) || string(tr[i].Response) != string(resps[i]) {
			t.Errorf("exchange %d = % X -> % X, want % X -> % X", i, tr[i].Command, short(tr[i].Response), cmds[i], short(resps[i]))
		}
	}
	// The transcript holds copies: changing what was sent changes nothing.
	cmds[0][0] = 0xFF
	if c.Transcript()[0].Command[0] != 0x00 {
		t.Error("Transcript aliases the command")
	}
	c.Record(false)
	c.Transmit(h(selCIE))
	if len(c.Transcript()) != len(cmds) {
		t.Error("exchange recorded with Record(false)")
	}
	c.ResetStats()
	if got := c.Stats(); got != (Stats{}) || len(c.Transcript()) != 0 {
		t.Errorf("after ResetStats: %+v, %d exchanges", got, len(c.Transcript()))
	}
}

func TestConcurrentTransmit(t *testing.T) {
	c := genuine(t, "")
	run(t, c, []step{ok(selCIE)})
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				data, sw := transmit(t, c, h("00 B0 81 00 0C"))
				if sw != 0x9000 || string(data) != c.NIS() {
					t.Errorf("concurrent NIS read: %04X % X", sw, data)
					return
				}
				_ = c.Stats()
				_ = c.Quirks()
			}
		})
	}
	wg.Wait()
	if got := c.Stats().APDUs; got != 1+workers*each {
		t.Errorf("APDUs = %d, want %d", got, 1+workers*each)
	}
}
