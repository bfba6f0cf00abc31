package virtcie

import (
	"testing"
)

// fuzzQuirks are the quirk sets the fuzz target runs each input under.
var fuzzQuirks = []string{"none", "nocap,wrong-le", "getresponse=7,padded-key,ias-6a82"}

// FuzzCardTransmit sends arbitrary APDUs to cards in every state a reader
// reaches (nothing selected, DF_CIE selected, after MSE SET, with a
// signature pending): the card must never panic and always answer at least
// the two status bytes, with at most 256 data bytes. The input is split into
// several APDUs, each preceded by its length byte, so sequences are explored.
func FuzzCardTransmit(f *testing.F) {
	seeds := []string{selIAS, selCIE, selMF, selNIS, selKey, selSOD, mse, auth16,
		"00 22 41 A4 06 84 01 83 80 01 02", "00 B0 81 00 0C", "00 B0 85 E7 00", "00 B0 00 00 E7",
		"00 B1 00 06 04 54 02 00 00 E7", "00 B1 10 06 03 54 01 10 00", "00 C0 00 00 00", "00 C0 00 00 10",
		"00 A4 04 0C 00 00 06 A0 00 00 00 00 39", "80 A4 04 0C", "00 84 00 00 08", "00", ""}
	for _, s := range seeds {
		b := h(s)
		f.Add(append([]byte{byte(len(b))}, b...))
	}
	// A sequence: select, MSE, challenge, GET RESPONSE.
	var seq []byte
	for _, s := range []string{selCIE, mse, auth16, "00 C0 00 00 00"} {
		b := h(s)
		seq = append(append(seq, byte(len(b))), b...)
	}
	f.Add(seq)

	base := mustCard(f, 2022, Genuine)
	f.Fuzz(func(t *testing.T, in []byte) {
		var apdus [][]byte
		for len(in) > 0 {
			n := min(int(in[0]), len(in)-1)
			apdus = append(apdus, in[1:1+n])
			in = in[1+n:]
		}
		for _, ql := range fuzzQuirks {
			for _, prefix := range [][]string{nil, {selCIE}, {selCIE, mse}, {selCIE, mse, auth16}} {
				c := fresh(t, base, mustQuirks(t, ql))
				for _, p := range prefix {
					c.Transmit(h(p))
				}
				for _, apdu := range apdus {
					in := append([]byte(nil), apdu...)
					resp, err := c.Transmit(apdu)
					if err != nil {
						t.Fatalf("Transmit(% X) error %v", apdu, err)
					}
					if len(resp) < 2 || len(resp) > 258 {
						t.Fatalf("Transmit(% X) = %d bytes", apdu, len(resp))
					}
					if string(in) != string(apdu) {
						t.Fatalf("Transmit modified its input")
					}
				}
			}
		}
	})
}
