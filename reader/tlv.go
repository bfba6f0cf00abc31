package reader

import "fmt"

// maxTLVLength bounds the length field accepted by the BER-TLV parser. The
// largest object on a CIE is EF.SOD (a few KB); 64 KiB leaves ample room
// and keeps a hostile length from meaning gigabytes.
const maxTLVLength = 1 << 16

// TLVHeader parses the tag and length of the BER-TLV object at the start of
// b (ISO 7816-4 section 5.2, ITU-T X.690 section 8.1). It returns the tag as
// its raw bytes packed big-endian (so 5F1F is 0x5F1F), the number of header
// bytes and the length of the value. Only the definite length form is
// accepted. The value itself need not be in b: readers use this to learn a
// file's size from its first chunk.
func TLVHeader(b []byte) (tag uint32, hdrLen, valLen int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, fmt.Errorf("%w: empty input", ErrTLV)
	}
	i := 0
	tag = uint32(b[i])
	i++
	if b[0]&0x1F == 0x1F { // high tag number form: continuation bytes have bit 8 set
		for {
			if i >= len(b) {
				return 0, 0, 0, fmt.Errorf("%w: tag truncated", ErrTLV)
			}
			if i >= 4 {
				return 0, 0, 0, fmt.Errorf("%w: tag longer than 4 bytes", ErrTLV)
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, 0, 0, fmt.Errorf("%w: length missing after tag %X", ErrTLV, tag)
	}
	l := b[i]
	i++
	switch {
	case l < 0x80:
		valLen = int(l)
	case l == 0x80:
		return 0, 0, 0, fmt.Errorf("%w: indefinite length (tag %X)", ErrTLV, tag)
	case l > 0x83:
		return 0, 0, 0, fmt.Errorf("%w: length of %d bytes (tag %X)", ErrTLV, l&0x7F, tag)
	default:
		n := int(l & 0x7F)
		if i+n > len(b) {
			return 0, 0, 0, fmt.Errorf("%w: length truncated (tag %X)", ErrTLV, tag)
		}
		for k := 0; k < n; k++ {
			valLen = valLen<<8 | int(b[i+k])
		}
		i += n
	}
	if valLen > maxTLVLength {
		return 0, 0, 0, fmt.Errorf("%w: length %d too large (tag %X)", ErrTLV, valLen, tag)
	}
	return tag, i, valLen, nil
}

// ParseTLV parses one BER-TLV object from the start of b and returns its tag,
// its value and the bytes after it. value and rest alias b.
func ParseTLV(b []byte) (tag uint32, value, rest []byte, err error) {
	tag, h, n, err := TLVHeader(b)
	if err != nil {
		return 0, nil, nil, err
	}
	if len(b)-h < n {
		return 0, nil, nil, fmt.Errorf("%w: tag %X wants %d value bytes, %d present", ErrTLV, tag, n, len(b)-h)
	}
	return tag, b[h : h+n : h+n], b[h+n:], nil
}

// TLVSize returns the total encoded size (header and value) of the BER-TLV
// object at the start of b, from its header alone.
func TLVSize(b []byte) (int, error) {
	_, h, n, err := TLVHeader(b)
	if err != nil {
		return 0, err
	}
	return h + n, nil
}
