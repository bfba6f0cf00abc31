package reader

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
)

// Identifiers of CIE.md section 2.
var (
	// AIDIAS is the IAS-ECC application.
	AIDIAS = []byte{0xA0, 0x00, 0x00, 0x00, 0x30, 0x80, 0x00, 0x00, 0x00, 0x09, 0x81, 0x60, 0x01}
	// AIDCIE is DF_CIE, the application holding the "servizi" files.
	AIDCIE = []byte{0xA0, 0x00, 0x00, 0x00, 0x00, 0x39}
)

// Files and key references of CIE.md section 2.
const (
	SFINIS    = 0x01   // EF.ID_Servizi, the NIS
	SFIKey    = 0x05   // EF.Servizi_Int.Kpub, the "servizi" public key
	SFISOD    = 0x06   // EF.SOD, addressed by the odd-INS read (P1 00, P2 SFI)
	FIDNIS    = 0x1001 // EF.ID_Servizi
	FIDKey    = 0x1005 // EF.Servizi_Int.Kpub
	FIDSOD    = 0x1006 // the CIE's own EF.SOD (not ICAO's 011D)
	KeyRefInt = 0x83   // private "servizi" key reference for MSE SET
	NISLength = 12     // ASCII digits in EF.ID_Servizi
)

// Challenge sizes: CIE.md section 3 recommends 16 to 32 random bytes; the
// door and enrolment reads use 32 unless given a challenge.
const (
	MinChallenge     = 16
	MaxChallenge     = 32
	DefaultChallenge = 32
)

// Size bounds of the files read, well above what real cards hold (the key
// is about 270 bytes, EF.SOD about 2.8 KB) so a hostile card cannot make a
// reader loop for long.
const (
	maxKeyFile = 1024
	maxSOD     = 32 << 10
)

// Commands of CIE.md section 3.
var (
	cmdSelectMF     = Command{INS: 0xA4}                                   // 00 A4 00 00
	cmdSelectIAS    = Command{INS: 0xA4, P1: 0x04, P2: 0x0C, Data: AIDIAS} // P2 0C: no FCI
	cmdSelectCIE    = Command{INS: 0xA4, P1: 0x04, P2: 0x0C, Data: AIDCIE}
	cmdReadNIS      = Command{INS: 0xB0, P1: 0x80 | SFINIS, Ne: NISLength}
	cmdSelectSOD    = Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{FIDSOD >> 8, FIDSOD & 0xFF}}
	cmdMSESetIntAut = Command{INS: 0x22, P1: 0x41, P2: 0xA4, Data: []byte{
		0x80, 0x01, 0x02, // algorithm: RSA PKCS#1 without data formatting
		0x84, 0x01, KeyRefInt, // private key reference
	}}
)

// DoorRead is what the door reads at each tap: the NIS and the card's answer
// to a fresh challenge. It proves nothing until the signature is checked
// against the key stored at enrolment (VerifyChallenge).
type DoorRead struct {
	NIS       string // 12 ASCII digits
	Challenge []byte // what was sent to INTERNAL AUTHENTICATE
	Signature []byte // what the card answered
}

// EnrolRead is what an enrolment station reads: the door read plus the
// public key file and EF.SOD, for passive authentication.
type EnrolRead struct {
	DoorRead
	KeyFile   []byte         // EF.Servizi_Int.Kpub cut at its TLV length
	PublicKey *rsa.PublicKey // parsed from KeyFile
	SOD       []byte         // EF.SOD cut at its TLV length
}

// SODMethod selects how EF.SOD is read (CIE.md section 3).
type SODMethod int

const (
	// SODAuto tries the odd-INS read and falls back to SELECT + READ BINARY
	// when the card does not support it.
	SODAuto SODMethod = iota
	// SODReadBinary selects FID 1006 and reads it with READ BINARY (B0).
	SODReadBinary
	// SODOddINS reads with READ BINARY odd INS (B1) and an offset data
	// object, answers wrapped in tag 53.
	SODOddINS
)

// String returns the method's name.
func (m SODMethod) String() string {
	switch m {
	case SODAuto:
		return "auto"
	case SODReadBinary:
		return "read-binary"
	case SODOddINS:
		return "odd-ins"
	}
	return fmt.Sprintf("SODMethod(%d)", int(m))
}

// ReadDoor performs the door read of CIE.md section 6: select the IAS
// application (falling back to selecting the MF when the card answers 6A82),
// select DF_CIE, read the NIS, MSE SET and INTERNAL AUTHENTICATE. Five APDUs
// on a well-behaved card.
//
// challenge is sent to INTERNAL AUTHENTICATE; when nil, 32 bytes are drawn
// from crypto/rand. Its length must be MinChallenge..MaxChallenge.
func ReadDoor(t Transmitter, challenge []byte) (*DoorRead, error) {
	challenge, nis, err := begin(t, challenge)
	if err != nil {
		return nil, err
	}
	sig, err := internalAuthenticate(t, challenge)
	if err != nil {
		return nil, err
	}
	return &DoorRead{NIS: nis, Challenge: challenge, Signature: sig}, nil
}

// EnrolOptions tune ReadEnrol. The zero value reads EF.SOD with SODAuto and
// a fresh random challenge.
type EnrolOptions struct {
	// Challenge is sent to INTERNAL AUTHENTICATE; at enrolment the admin
	// chooses it. Nil means 32 bytes from crypto/rand.
	Challenge []byte
	// SODMethod chooses how EF.SOD is read.
	SODMethod SODMethod
	// SkipSOD leaves EF.SOD out (SOD stays nil): a read that checks the
	// card against its own key but not the State's signature.
	SkipSOD bool
}

// ReadEnrol performs the enrolment read: the door read plus the public key
// file (by SFI) and EF.SOD. It checks that the NIS is 12 digits, that the key
// file parses and that EF.SOD is complete; it does not verify anything (see
// VerifyChallenge and VerifySOD).
func ReadEnrol(t Transmitter, opts *EnrolOptions) (*EnrolRead, error) {
	if opts == nil {
		opts = &EnrolOptions{}
	}
	challenge, nis, err := begin(t, opts.Challenge)
	if err != nil {
		return nil, err
	}
	keyFile, err := readSFITLV(t, SFIKey, FIDKey, maxKeyFile, "read public key")
	if err != nil {
		return nil, err
	}
	pub, keyFile, err := ParsePublicKeyFile(keyFile)
	if err != nil {
		return nil, err
	}
	var sod []byte
	if !opts.SkipSOD {
		if sod, err = readSOD(t, opts.SODMethod); err != nil {
			return nil, err
		}
	}
	// The challenge goes last: the answer proves the card that gave the files
	// is still in the field with its private key. The SOD read may have
	// selected EF.SOD, which does not disturb the security environment of
	// DF_CIE.
	sig, err := internalAuthenticate(t, challenge)
	if err != nil {
		return nil, err
	}
	return &EnrolRead{
		DoorRead:  DoorRead{NIS: nis, Challenge: challenge, Signature: sig},
		KeyFile:   keyFile,
		PublicKey: pub,
		SOD:       sod,
	}, nil
}

// begin is the start both reads share: check or draw the challenge, select
// DF_CIE and read the NIS.
func begin(t Transmitter, challenge []byte) ([]byte, string, error) {
	challenge, err := newChallenge(challenge)
	if err != nil {
		return nil, "", err
	}
	if err := selectCIE(t); err != nil {
		return nil, "", err
	}
	nis, err := readNIS(t)
	if err != nil {
		return nil, "", err
	}
	return challenge, nis, nil
}

func newChallenge(c []byte) ([]byte, error) {
	if c == nil {
		c = make([]byte, DefaultChallenge)
		if _, err := io.ReadFull(rand.Reader, c); err != nil {
			return nil, fmt.Errorf("reader: challenge: %w", err)
		}
		return c, nil
	}
	if len(c) < MinChallenge || len(c) > MaxChallenge {
		return nil, fmt.Errorf("%w: challenge of %d bytes (want %d..%d)", ErrCommand, len(c), MinChallenge, MaxChallenge)
	}
	return append([]byte(nil), c...), nil
}

// selectCIE selects DF_CIE. Some newer chips answer 6A82 to the IAS AID and
// want the MF selected instead; some middleware skips the IAS select
// altogether, so no status word of the first step stops the read: only
// DF_CIE must be found (CIE.md section 3).
func selectCIE(t Transmitter) error {
	r, err := Exchange(t, cmdSelectIAS)
	if err != nil {
		return fmt.Errorf("reader: select IAS: %w", err)
	}
	if r.SW == SWNotFound {
		if _, err := Exchange(t, cmdSelectMF); err != nil {
			return fmt.Errorf("reader: select MF: %w", err)
		}
	}
	r, err = Exchange(t, cmdSelectCIE)
	if err != nil {
		return fmt.Errorf("reader: select DF_CIE: %w", err)
	}
	if r.SW != SWOK {
		return &StatusError{Step: "select DF_CIE", SW: r.SW}
	}
	return nil
}

func readNIS(t Transmitter) (string, error) {
	r, err := Exchange(t, cmdReadNIS)
	if err != nil {
		return "", fmt.Errorf("reader: read NIS: %w", err)
	}
	if r.SW != SWOK && r.SW != SWEndOfFile {
		return "", &StatusError{Step: "read NIS", SW: r.SW}
	}
	if err := CheckNIS(r.Data); err != nil {
		return "", err
	}
	return string(r.Data), nil
}

// CheckNIS returns an error wrapping ErrNISFormat unless b is exactly 12 ASCII
// digits.
func CheckNIS(b []byte) error {
	if len(b) != NISLength {
		return fmt.Errorf("%w: got %d bytes % X", ErrNISFormat, len(b), truncate(b, 16))
	}
	for i, c := range b {
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: byte %d is %#02x in % X", ErrNISFormat, i, c, b)
		}
	}
	return nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func internalAuthenticate(t Transmitter, challenge []byte) ([]byte, error) {
	r, err := Exchange(t, cmdMSESetIntAut)
	if err != nil {
		return nil, fmt.Errorf("reader: MSE SET: %w", err)
	}
	if r.SW != SWOK {
		return nil, &StatusError{Step: "MSE SET", SW: r.SW}
	}
	r, err = Exchange(t, Command{INS: 0x88, Data: challenge, Ne: 256})
	if err != nil {
		return nil, fmt.Errorf("reader: internal authenticate: %w", err)
	}
	if r.SW != SWOK {
		return nil, &StatusError{Step: "internal authenticate", SW: r.SW}
	}
	if len(r.Data) == 0 {
		return nil, fmt.Errorf("reader: internal authenticate: %w: empty signature", ErrChallengeSignature)
	}
	return r.Data, nil
}

// readSFITLV reads a transparent EF by short file identifier until it holds
// one complete BER-TLV object, advancing the offset by what the card actually
// returned (a real card returns 231 bytes to Le=256). An SFI read addresses
// offsets up to 255 only: a card that returns a full 256 bytes to the first
// read leaves the rest past that, so the read goes on after selecting the
// EF by its file identifier.
func readSFITLV(t Transmitter, sfi byte, fid uint16, max int, step string) ([]byte, error) {
	var buf []byte
	want := -1
	selected := false
	for {
		if want >= 0 && len(buf) >= want {
			return buf[:want], nil
		}
		off := len(buf)
		cmd := Command{INS: 0xB0, P1: 0x80 | sfi, P2: byte(off), Ne: 256}
		if off > 0xFF {
			if !selected {
				r, err := Exchange(t, Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{byte(fid >> 8), byte(fid)}})
				if err != nil {
					return nil, fmt.Errorf("reader: %s: select %04X: %w", step, fid, err)
				}
				if r.SW != SWOK {
					return nil, &StatusError{Step: fmt.Sprintf("%s: select %04X", step, fid), SW: r.SW}
				}
				selected = true
			}
			cmd = Command{INS: 0xB0, P1: byte(off >> 8), P2: byte(off), Ne: 256}
		}
		r, err := Exchange(t, cmd)
		if err != nil {
			return nil, fmt.Errorf("reader: %s at offset %d: %w", step, off, err)
		}
		switch r.SW {
		case SWOK, SWEndOfFile:
		case SWOffsetOutOfRange:
			r.Data = nil
		default:
			return nil, &StatusError{Step: fmt.Sprintf("%s at offset %d", step, off), SW: r.SW}
		}
		buf = append(buf, r.Data...)
		if want < 0 && len(buf) > 0 {
			if n, err := TLVSize(buf); err == nil {
				if n > max {
					return nil, fmt.Errorf("reader: %s: %w: TLV says %d bytes (max %d)", step, ErrFileTooLarge, n, max)
				}
				want = n
			} else if len(buf) >= 8 {
				// Eight bytes hold any header TLVHeader accepts.
				return nil, fmt.Errorf("reader: %s: %w: %v", step, ErrKeyFile, err)
			}
		}
		if len(r.Data) == 0 || r.SW != SWOK {
			if want >= 0 && len(buf) >= want {
				return buf[:want], nil
			}
			return nil, fmt.Errorf("reader: %s: %w: file ended after %d bytes, TLV wants %d", step, ErrKeyFile, len(buf), want)
		}
	}
}

// readSOD reads EF.SOD with the chosen method and cuts it at the length its
// outer 77 TLV gives.
func readSOD(t Transmitter, m SODMethod) ([]byte, error) {
	switch m {
	case SODReadBinary:
		return readSODBinary(t)
	case SODOddINS:
		return readSODOddINS(t)
	case SODAuto:
		b, err := readSODOddINS(t)
		if err == nil {
			return b, nil
		}
		// A card without odd-INS support answers before sending any data.
		if IsStatus(err, SWINSNotSupported) || IsStatus(err, SWFuncNotSupported) ||
			IsStatus(err, SWWrongP1P2) || IsStatus(err, SWCLANotSupported) || IsStatus(err, SWWrongData) {
			return readSODBinary(t)
		}
		return nil, err
	}
	return nil, fmt.Errorf("reader: unknown SOD read method %d", m)
}

// sodChunk is the Le of the EF.SOD reads: E7 (231) is what a real card
// returns to the odd-INS read (CIE.md section 3).
const sodChunk = 0xE7

func readSODBinary(t Transmitter) ([]byte, error) {
	r, err := Exchange(t, cmdSelectSOD)
	if err != nil {
		return nil, fmt.Errorf("reader: select EF.SOD: %w", err)
	}
	if r.SW != SWOK {
		return nil, &StatusError{Step: "select EF.SOD", SW: r.SW}
	}
	return readSODLoop(func(off int) ([]byte, bool, error) {
		r, err := Exchange(t, Command{INS: 0xB0, P1: byte(off >> 8), P2: byte(off), Ne: sodChunk})
		if err != nil {
			return nil, false, err
		}
		switch r.SW {
		case SWOK:
			return r.Data, false, nil
		case SWEndOfFile:
			return r.Data, true, nil
		case SWOffsetOutOfRange:
			return nil, true, nil
		}
		return nil, false, &StatusError{Step: fmt.Sprintf("read EF.SOD at offset %d", off), SW: r.SW}
	})
}

func readSODOddINS(t Transmitter) ([]byte, error) {
	return readSODLoop(func(off int) ([]byte, bool, error) {
		r, err := Exchange(t, Command{INS: 0xB1, P2: SFISOD,
			Data: []byte{0x54, 0x02, byte(off >> 8), byte(off)}, Ne: sodChunk})
		if err != nil {
			return nil, false, err
		}
		var eof bool
		switch r.SW {
		case SWOK:
		case SWEndOfFile:
			eof = true
		case SWOffsetOutOfRange:
			return nil, true, nil
		default:
			return nil, false, &StatusError{Step: fmt.Sprintf("read EF.SOD (odd INS) at offset %d", off), SW: r.SW}
		}
		if len(r.Data) == 0 {
			return nil, eof, nil
		}
		tag, v, rest, err := ParseTLV(r.Data)
		if err != nil || tag != 0x53 || len(rest) != 0 {
			return nil, false, fmt.Errorf("reader: read EF.SOD (odd INS) at offset %d: %w: answer is not one 53 object", off, ErrSODFormat)
		}
		return v, eof, nil
	})
}

// readSODLoop calls read with increasing offsets, advanced by the bytes each
// answer carried, until the outer TLV is complete or the card says the file
// ended. A file that ends before its TLV does is ErrSODTruncated.
func readSODLoop(read func(off int) (data []byte, eof bool, err error)) ([]byte, error) {
	var buf []byte
	want := -1
	for {
		data, eof, err := read(len(buf))
		if err != nil {
			return nil, fmt.Errorf("reader: read EF.SOD: %w", err)
		}
		buf = append(buf, data...)
		if ended := eof || len(data) == 0; want < 0 && (len(buf) >= 8 || ended && len(buf) > 0) {
			tag, h, n, err := TLVHeader(buf)
			if err != nil {
				return nil, fmt.Errorf("reader: read EF.SOD: %w: %v", ErrSODFormat, err)
			}
			if tag != 0x77 {
				return nil, fmt.Errorf("reader: read EF.SOD: %w: outer tag %X, want 77", ErrSODFormat, tag)
			}
			if h+n > maxSOD {
				return nil, fmt.Errorf("reader: read EF.SOD: %w: %d bytes (max %d)", ErrFileTooLarge, h+n, maxSOD)
			}
			want = h + n
		}
		if want >= 0 && len(buf) >= want {
			return buf[:want], nil
		}
		if eof || len(data) == 0 {
			if want < 0 {
				return nil, fmt.Errorf("reader: read EF.SOD: %w: file ended after %d bytes", ErrSODTruncated, len(buf))
			}
			return nil, fmt.Errorf("reader: read EF.SOD: %w: file ended after %d of %d bytes", ErrSODTruncated, len(buf), want)
		}
		if len(buf) > maxSOD {
			return nil, fmt.Errorf("reader: read EF.SOD: %w: more than %d bytes", ErrFileTooLarge, maxSOD)
		}
	}
}
