package store

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/varco-access/varco"
)

// Grants are stored in a compact binary form rather than JSON because the
// lookup is on the tap path (BenchmarkGrantLookup measures the difference).
//
//	version   1 byte (grantV1)
//	flags     uvarint
//	dates     1 byte: bit 0 ValidFrom present, bit 1 ValidUntil present
//	[from]    varint Unix seconds, uvarint nanoseconds
//	[until]   varint Unix seconds, uvarint nanoseconds
//	NIS, PersonID, DisplayName, PublicKey: uvarint length + bytes each
//	schedules uvarint count, then uvarint length + bytes each
//
// Times come back in UTC.
const grantV1 = 1

const (
	hasFrom  = 1 << 0
	hasUntil = 1 << 1

	// minUnix and maxUnix bound years 1..9999, the range time.Time
	// round-trips through Unix().
	minUnix = -62135596800
	maxUnix = 253402300799
)

// appendGrant appends the encoding of g to b.
func appendGrant(b []byte, g *varco.Grant) []byte {
	b = append(b, grantV1)
	b = binary.AppendUvarint(b, uint64(g.Flags))
	var dates byte
	if !g.ValidFrom.IsZero() {
		dates |= hasFrom
	}
	if !g.ValidUntil.IsZero() {
		dates |= hasUntil
	}
	b = append(b, dates)
	if dates&hasFrom != 0 {
		b = appendTime(b, g.ValidFrom)
	}
	if dates&hasUntil != 0 {
		b = appendTime(b, g.ValidUntil)
	}
	b = appendString(b, g.NIS)
	b = appendString(b, g.PersonID)
	b = appendString(b, g.DisplayName)
	b = binary.AppendUvarint(b, uint64(len(g.PublicKey)))
	b = append(b, g.PublicKey...)
	b = binary.AppendUvarint(b, uint64(len(g.ScheduleIDs)))
	for _, id := range g.ScheduleIDs {
		b = appendString(b, id)
	}
	return b
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads the grant encoding; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: grant: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

// what and suffix name the field for the error, concatenated only then:
// the decoder allocates nothing but the grant's own fields.
func (d *decoder) uvarint(what, suffix string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad %s%s", what, suffix)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what, suffix string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad %s%s", what, suffix)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what, " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("%s length %d, %d bytes left", what, n, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) time(what string) time.Time {
	s := d.varint(what, " seconds")
	ns := d.uvarint(what, " nanoseconds")
	if d.err != nil {
		return time.Time{}
	}
	if s < minUnix || s > maxUnix || ns >= 1e9 {
		d.fail("%s out of range (%d s, %d ns)", what, s, ns)
		return time.Time{}
	}
	t := time.Unix(s, int64(ns)).UTC()
	if t.IsZero() {
		d.fail("%s present but zero", what)
	}
	return t
}

// decodeGrant decodes b, which comes from disk and is trusted no further
// than its checks. The result shares no memory with b (bbolt's bytes are
// only valid inside the transaction).
func decodeGrant(b []byte) (varco.Grant, error) {
	var g varco.Grant
	if len(b) == 0 || b[0] != grantV1 {
		if len(b) == 0 {
			return g, fmt.Errorf("%w: grant: empty value", ErrCorrupt)
		}
		return g, fmt.Errorf("%w: grant: unknown version %d", ErrCorrupt, b[0])
	}
	d := decoder{b: b[1:]}
	flags := d.uvarint("flags", "")
	if flags > math.MaxUint32 {
		d.fail("flags %#x overflow", flags)
	}
	g.Flags = varco.Flags(flags)
	if d.err == nil && len(d.b) == 0 {
		d.fail("truncated before dates")
	}
	if d.err != nil {
		return varco.Grant{}, d.err
	}
	dates := d.b[0]
	d.b = d.b[1:]
	if dates&^(hasFrom|hasUntil) != 0 {
		d.fail("unknown date bits %#02x", dates)
	}
	if dates&hasFrom != 0 {
		g.ValidFrom = d.time("valid_from")
	}
	if dates&hasUntil != 0 {
		g.ValidUntil = d.time("valid_until")
	}
	// One allocation for all the strings: they share its backing array.
	nis := d.bytes("nis")
	pid := d.bytes("person_id")
	name := d.bytes("display_name")
	key := d.bytes("public_key")
	if d.err != nil {
		return varco.Grant{}, d.err
	}
	var sb strings.Builder
	sb.Grow(len(nis) + len(pid) + len(name))
	sb.Write(nis)
	sb.Write(pid)
	sb.Write(name)
	s := sb.String()
	g.NIS, g.PersonID, g.DisplayName = s[:len(nis)], s[len(nis):len(nis)+len(pid)], s[len(nis)+len(pid):]
	if len(key) > 0 {
		g.PublicKey = append([]byte(nil), key...)
	}
	n := d.uvarint("schedule count", "")
	if d.err == nil && n > uint64(len(d.b)) { // each id takes at least one byte
		d.fail("schedule count %d, %d bytes left", n, len(d.b))
	}
	if d.err == nil && n > 0 {
		g.ScheduleIDs = make([]string, n)
		for i := range g.ScheduleIDs {
			g.ScheduleIDs[i] = string(d.bytes("schedule id"))
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return varco.Grant{}, d.err
	}
	return g, nil
}
