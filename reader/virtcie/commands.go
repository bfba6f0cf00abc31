package virtcie

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"slices"

	"github.com/varco-access/varco/reader"
)

// Instructions the card knows (ISO 7816-4 section 11, CIE.md section 3).
const (
	insSelect        = 0xA4
	insReadBinary    = 0xB0
	insReadBinaryOdd = 0xB1
	insMSE           = 0x22
	insIntAuth       = 0x88
	insGetResponse   = 0xC0
)

// MSE SET for internal authentication: P1 41 (set, for computation and
// internal authentication), P2 A4 (authentication CRT), and the values of its
// data objects (CIE.md section 3).
const (
	mseP1        = 0x41
	mseP2        = 0xA4
	tagAlgorithm = 0x80
	tagKeyRef    = 0x84
	algRSARaw    = 0x02 // RSA PKCS#1 without data formatting
	tagOffset    = 0x54 // offset data object of the odd-INS READ BINARY
	tagData      = 0x53 // discretionary data wrapping its answer
)

// noCurrentEF is 69 86, "command not allowed (no current EF)": a READ
// BINARY on the current EF before any EF was selected.
const noCurrentEF reader.StatusWord = 0x6986

// command is a parsed short command APDU (ISO 7816-4 section 5.1).
type command struct {
	cla, ins, p1, p2 byte
	data             []byte // nil when there is no Lc field
	ne               int    // 0 when there is no Le field, else 1..256
}

// parseCommand parses the four short cases. Extended lengths (Lc 00 followed
// by more bytes) and an Lc that disagrees with the bytes present fail.
func parseCommand(b []byte) (command, bool) {
	if len(b) < 4 {
		return command{}, false
	}
	cmd := command{cla: b[0], ins: b[1], p1: b[2], p2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
	case len(body) == 1: // case 2: Le only, 00 means 256
		cmd.ne = ne(body[0])
	default:
		lc := int(body[0])
		switch {
		case lc == 0: // extended length: not supported
			return command{}, false
		case len(body) == 1+lc: // case 3
			cmd.data = body[1:]
		case len(body) == 2+lc: // case 4
			cmd.data = body[1 : 1+lc]
			cmd.ne = ne(body[1+lc])
		default:
			return command{}, false
		}
	}
	return cmd, true
}

func ne(le byte) int {
	if le == 0 {
		return 256
	}
	return int(le)
}

// status returns data followed by the status word, in a new slice.
func status(data []byte, sw reader.StatusWord) []byte {
	out := make([]byte, 0, len(data)+2)
	out = append(out, data...)
	return append(out, sw.SW1(), sw.SW2())
}

// swLen returns the status word sw1 xx where xx is n (256 encodes as 00).
func swLen(sw1 byte, n int) reader.StatusWord {
	return reader.StatusWord(uint16(sw1)<<8 | uint16(n&0xFF))
}

// process runs one command with c.mu held.
func (c *Card) process(apdu []byte) []byte {
	// Pending GET RESPONSE data survives only until the next command.
	pending := c.pending
	c.pending = nil
	if len(apdu) < 4 {
		return status(nil, reader.SWWrongLength)
	}
	if apdu[0] != 0x00 {
		// No logical channels, no secure messaging, no proprietary class.
		return status(nil, reader.SWCLANotSupported)
	}
	switch apdu[1] {
	case insSelect, insReadBinary, insReadBinaryOdd, insMSE, insIntAuth, insGetResponse:
	default:
		return status(nil, reader.SWINSNotSupported)
	}
	cmd, ok := parseCommand(apdu)
	if !ok {
		return status(nil, reader.SWWrongLength)
	}
	switch cmd.ins {
	case insSelect:
		return c.selectFile(cmd)
	case insReadBinary:
		return c.readBinary(cmd)
	case insReadBinaryOdd:
		return c.readBinaryOdd(cmd)
	case insMSE:
		return c.mseSet(cmd)
	case insIntAuth:
		return c.internalAuthenticate(cmd)
	default: // insGetResponse
		return c.getResponse(cmd, pending)
	}
}

// selectFile implements SELECT: by DF name (P1 04), the MF (P1 00 with no
// data or 3F00), an EF of the current DF by FID (P1 02, or P1 00 with a FID).
// A failed select leaves the current selection as it was. Selecting an
// application clears the security environment; selecting an EF does not.
// No FCI is ever returned.
func (c *Card) selectFile(cmd command) []byte {
	// P2: first occurrence, any of the response options (FCI, FCP, FMD,
	// none); the answer never has data anyway.
	if cmd.p2&^0x0C != 0 {
		return status(nil, reader.SWWrongP1P2)
	}
	switch cmd.p1 {
	case 0x04:
		switch {
		case len(cmd.data) == 0:
			return status(nil, reader.SWWrongLength)
		case bytes.Equal(cmd.data, reader.AIDIAS):
			if c.quirks.IAS6A82 {
				return status(nil, reader.SWNotFound)
			}
			c.selectApp(appIAS)
		case bytes.Equal(cmd.data, reader.AIDCIE):
			c.selectApp(appCIE)
		default:
			return status(nil, reader.SWNotFound)
		}
		return status(nil, reader.SWOK)
	case 0x00:
		if len(cmd.data) == 0 || bytes.Equal(cmd.data, []byte{0x3F, 0x00}) {
			c.selectApp(appMF)
			return status(nil, reader.SWOK)
		}
		return c.selectEF(cmd.data)
	case 0x02:
		return c.selectEF(cmd.data)
	}
	return status(nil, reader.SWWrongP1P2)
}

func (c *Card) selectApp(a application) {
	c.app, c.ef, c.key = a, 0, 0
}

func (c *Card) selectEF(fid []byte) []byte {
	if len(fid) != 2 {
		return status(nil, reader.SWWrongLength)
	}
	id := uint16(fid[0])<<8 | uint16(fid[1])
	if c.file(id) == nil || c.app != appCIE {
		return status(nil, reader.SWNotFound)
	}
	c.ef = id
	return status(nil, reader.SWOK)
}

// file returns the content of EF id, nil when DF_CIE has no such EF.
func (c *Card) file(id uint16) []byte {
	switch id {
	case reader.FIDNIS:
		return []byte(c.nis)
	case reader.FIDKey:
		if c.quirks.PaddedKey {
			return append(slices.Clip(c.keyFile), make([]byte, keyPadding)...)
		}
		return c.keyFile
	case reader.FIDSOD:
		return c.sod
	}
	return nil
}

// sfiFile maps a short file identifier of DF_CIE to its FID; 0 when the
// SFI names no file or DF_CIE is not selected.
func (c *Card) sfiFile(sfi byte) uint16 {
	if c.app != appCIE {
		return 0
	}
	switch sfi {
	case reader.SFINIS:
		return reader.FIDNIS
	case reader.SFIKey:
		return reader.FIDKey
	case reader.FIDSOD & 0x1F: // SFI 6
		return reader.FIDSOD
	}
	return 0
}

// readBinary implements READ BINARY (B0): with an SFI when P1 bit 8 is set
// (P1 = 100x xxxx, SFI = P1 & 1F, offset P2; the file becomes current), else
// on the current EF at offset P1P2 (15 bits).
func (c *Card) readBinary(cmd command) []byte {
	if cmd.data != nil || cmd.ne == 0 {
		return status(nil, reader.SWWrongLength)
	}
	var off int
	if cmd.p1&0x80 != 0 {
		if cmd.p1&0x60 != 0 {
			return status(nil, reader.SWWrongP1P2)
		}
		id := c.sfiFile(cmd.p1 & 0x1F)
		if id == 0 {
			return status(nil, reader.SWNotFound)
		}
		c.ef = id
		off = int(cmd.p2)
	} else {
		if c.ef == 0 {
			return status(nil, noCurrentEF)
		}
		off = int(cmd.p1)<<8 | int(cmd.p2)
	}
	f := c.file(c.ef)
	if off >= len(f) {
		return status(nil, reader.SWOffsetOutOfRange)
	}
	avail := len(f) - off
	limit := c.quirks.readLimit(cmd.ne)
	if avail >= limit {
		return status(f[off:off+limit], reader.SWOK)
	}
	if c.quirks.WrongLe {
		return status(nil, swLen(0x6C, avail))
	}
	return status(f[off:], reader.SWEndOfFile)
}

// readBinaryOdd implements READ BINARY with odd INS (B1). P1P2 is 0000 for
// the current EF, 00xx with xx = 01..1E for an SFI, or else a FID of DF_CIE
// (the file becomes current). The data field is the offset object
// 54 L offset (L = 1..3), and the answer is 53 L data (CIE.md section 3),
// the whole object within Le and the 231-byte cap.
func (c *Card) readBinaryOdd(cmd command) []byte {
	if len(cmd.data) == 0 || cmd.ne == 0 {
		return status(nil, reader.SWWrongLength)
	}
	d := cmd.data
	if len(d) < 3 || d[0] != tagOffset || d[1] < 1 || d[1] > 3 || int(d[1]) != len(d)-2 {
		return status(nil, reader.SWWrongData)
	}
	off := 0
	for _, b := range d[2:] {
		off = off<<8 | int(b)
	}
	p1p2 := uint16(cmd.p1)<<8 | uint16(cmd.p2)
	switch {
	case p1p2 == 0:
		if c.ef == 0 {
			return status(nil, noCurrentEF)
		}
	case p1p2 <= 0x1F:
		id := c.sfiFile(cmd.p2)
		if id == 0 {
			return status(nil, reader.SWNotFound)
		}
		c.ef = id
	default:
		if c.app != appCIE || c.file(p1p2) == nil {
			return status(nil, reader.SWNotFound)
		}
		c.ef = p1p2
	}
	// The most data bytes whose 53 object fits the budget: a 2-byte header
	// up to 127 bytes, 53 81 xx above.
	budget := c.quirks.readLimit(cmd.ne)
	maxData := budget - 3
	if maxData < 128 {
		maxData = min(budget-2, 127)
	}
	if maxData < 1 {
		return status(nil, reader.SWWrongLength)
	}
	f := c.file(c.ef)
	if off >= len(f) {
		return status(nil, reader.SWOffsetOutOfRange)
	}
	avail := len(f) - off
	if avail >= maxData {
		return status(wrap53(f[off:off+maxData]), reader.SWOK)
	}
	if c.quirks.WrongLe {
		return status(nil, swLen(0x6C, len(wrap53(f[off:]))))
	}
	return status(wrap53(f[off:]), reader.SWEndOfFile)
}

// wrap53 returns data as a 53 TLV; len(data) must be at most 255.
func wrap53(data []byte) []byte {
	out := make([]byte, 0, 3+len(data))
	if len(data) < 0x80 {
		out = append(out, tagData, byte(len(data)))
	} else {
		out = append(out, tagData, 0x81, byte(len(data)))
	}
	return append(out, data...)
}

// mseSet implements MSE SET for internal authentication:
// 00 22 41 A4 06 80 01 02 84 01 83, with the two data objects in either order.
// Any failure clears the security environment.
func (c *Card) mseSet(cmd command) []byte {
	c.key = 0
	if len(cmd.data) == 0 || cmd.ne != 0 {
		return status(nil, reader.SWWrongLength)
	}
	if cmd.p1 != mseP1 || cmd.p2 != mseP2 {
		return status(nil, reader.SWWrongP1P2)
	}
	var alg, keyRef []byte
	for d := cmd.data; len(d) > 0; {
		if len(d) < 2 || d[1] >= 0x80 || len(d) < 2+int(d[1]) {
			return status(nil, reader.SWWrongData)
		}
		tag, val := d[0], d[2:2+int(d[1])]
		d = d[2+int(d[1]):]
		switch {
		case tag == tagAlgorithm && alg == nil:
			alg = val
		case tag == tagKeyRef && keyRef == nil:
			keyRef = val
		default: // unknown or repeated object
			return status(nil, reader.SWWrongData)
		}
	}
	if len(alg) != 1 || alg[0] != algRSARaw || len(keyRef) != 1 {
		return status(nil, reader.SWWrongData)
	}
	// The "servizi" key belongs to the IAS application and its DF_CIE.
	if keyRef[0] != reader.KeyRefInt || (c.app != appIAS && c.app != appCIE) {
		return status(nil, reader.SWRefDataNotFound)
	}
	c.key = keyRef[0]
	return status(nil, reader.SWOK)
}

// internalAuthenticate implements 00 88 00 00 Lc challenge 00: a PKCS#1 v1.5
// type 1 signature of the raw challenge with the key set by MSE SET.
func (c *Card) internalAuthenticate(cmd command) []byte {
	if len(cmd.data) == 0 || cmd.ne == 0 {
		return status(nil, reader.SWWrongLength)
	}
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return status(nil, reader.SWWrongP1P2)
	}
	if c.key != reader.KeyRefInt {
		return status(nil, reader.SWConditionsNotMet)
	}
	if c.negative == NoIntAuth {
		return status(nil, reader.SWSecurityNotSatisfied)
	}
	if len(cmd.data) > c.priv.Size()-11 {
		// PKCS#1 type 1 padding needs 11 bytes of the block.
		return status(nil, reader.SWWrongLength)
	}
	if !c.quirks.GetResponse && cmd.ne != c.priv.Size() {
		return status(nil, swLen(0x6C, c.priv.Size()))
	}
	sig, err := rsa.SignPKCS1v15(c.rand, c.priv, crypto.Hash(0), cmd.data)
	if err != nil {
		return status(nil, reader.SWNoPreciseDiagnosis)
	}
	c.stats.Signatures++
	if c.quirks.GetResponse {
		c.pending = sig
		return status(nil, swLen(0x61, len(sig)))
	}
	return status(sig, reader.SWOK)
}

// getResponse implements GET RESPONSE (00 C0 00 00 Le) over the data a
// previous command left pending: at most Le bytes and the chunk size of the
// getresponse quirk, then 61xx while more is left. An Le larger than what is
// left (other than 00) gets 6Cxx, and the data stays pending.
func (c *Card) getResponse(cmd command, pending []byte) []byte {
	if cmd.data != nil || cmd.ne == 0 {
		return status(nil, reader.SWWrongLength)
	}
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return status(nil, reader.SWWrongP1P2)
	}
	if len(pending) == 0 {
		return status(nil, reader.SWConditionsNotMet)
	}
	if cmd.ne < 256 && cmd.ne > len(pending) {
		c.pending = pending
		return status(nil, swLen(0x6C, len(pending)))
	}
	n := min(cmd.ne, c.quirks.chunk(), len(pending))
	if rest := pending[n:]; len(rest) > 0 {
		c.pending = rest
		return status(pending[:n], swLen(0x61, min(len(rest), 256)))
	}
	return status(pending[:n], reader.SWOK)
}
