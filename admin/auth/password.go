package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters (RFC 9106 section 3.1).
type Params struct {
	Memory  uint32 // m: memory in KiB
	Time    uint32 // t: passes over memory
	Threads uint8  // p: lanes (degree of parallelism)
	SaltLen uint32 // salt length in bytes
	KeyLen  uint32 // tag (derived key) length in bytes
}

// DefaultParams is the second recommended option of RFC 9106 section 4,
// for when much less than 2 GiB can be spent per hash: t=3 passes, p=4
// lanes, m=2^16 KiB (64 MiB), a 128-bit salt and a 256-bit tag. It costs
// 64 MiB and tens of milliseconds per login.
var DefaultParams = Params{Memory: 64 * 1024, Time: 3, Threads: 4, SaltLen: 16, KeyLen: 32}

// TestParams are cheap parameters for tests only: they keep the PHC form
// and code paths of DefaultParams at a fraction of the cost.
var TestParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters, enforced on stored hashes as well as on Params:
// a tampered or corrupt row must not make one login allocate gigabytes or
// spin for minutes. maxCost (KiB × passes) allows a little over 5 times
// DefaultParams.
const (
	maxMemory  = 256 * 1024 // KiB
	maxTime    = 16
	maxThreads = 16
	maxCost    = 1 << 20 // Memory × Time, KiB
	minSaltLen = 8       // RFC 9106 section 3.1: salt of at least 8 bytes
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
	// maxEncodedLen is far above the longest well-formed string (about
	// 230 bytes); longer input is rejected before any splitting.
	maxEncodedLen = 512
)

// Password policy limits (see CheckPasswordPolicy).
const (
	MinPasswordRunes = 12
	MaxPasswordBytes = 256
)

// Validate reports whether p is within this package's bounds, naming the
// first field that is not. Hash and Verify apply the same bounds.
func (p Params) Validate() error {
	if msg := p.check(); msg != "" {
		return fmt.Errorf("%w: %s", ErrBadParams, msg)
	}
	return nil
}

func (p Params) check() string {
	switch {
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Sprintf("parallelism p=%d out of range 1..%d", p.Threads, maxThreads)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Sprintf("passes t=%d out of range 1..%d", p.Time, maxTime)
	case p.Memory < 8*uint32(p.Threads):
		// RFC 9106 section 3.1: m must be at least 8*p KiB.
		return fmt.Sprintf("memory m=%d below 8*p=%d KiB", p.Memory, 8*uint32(p.Threads))
	case p.Memory > maxMemory:
		return fmt.Sprintf("memory m=%d above the limit of %d KiB", p.Memory, maxMemory)
	case uint64(p.Memory)*uint64(p.Time) > maxCost:
		return fmt.Sprintf("cost m*t=%d above the limit of %d", uint64(p.Memory)*uint64(p.Time), maxCost)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Sprintf("salt of %d bytes out of range %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Sprintf("key of %d bytes out of range %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return ""
}

// HashPassword hashes pw with DefaultParams; see Params.Hash.
func HashPassword(pw string) (string, error) { return DefaultParams.Hash(pw) }

// VerifyPassword checks pw against encoded, reporting whether it should be
// rehashed with DefaultParams; see Params.Verify.
func VerifyPassword(encoded, pw string) (ok, needsRehash bool, err error) {
	return DefaultParams.Verify(encoded, pw)
}

// Hash derives an argon2id key from pw and a fresh random salt and returns
// it in the PHC string form
//
//	$argon2id$v=19$m=65536,t=3,p=4$<salt>$<key>
//
// with salt and key in unpadded standard base64, the form libargon2 and
// most other implementations read. Hash does not apply the password
// policy: call CheckPasswordPolicy on new passwords first.
func (p Params) Hash(pw string) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodePHC(p, salt, key), nil
}

// Verify reports whether pw matches encoded, comparing in constant time.
// needsRehash is true when pw matched but encoded was made with parameters
// other than p: the caller should then store p.Hash(pw). err is non-nil
// (wrapping ErrMalformedHash) only when encoded cannot be parsed or is out
// of bounds, in which case no key is derived.
func (p Params) Verify(encoded, pw string) (ok, needsRehash bool, err error) {
	got, salt, key, err := parsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	derived := argon2.IDKey([]byte(pw), salt, got.Time, got.Memory, got.Threads, got.KeyLen)
	if subtle.ConstantTimeCompare(derived, key) != 1 {
		return false, false, nil
	}
	return true, got != p, nil
}

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(key))
}

// b64 rejects non-zero padding bits, so that each salt and key has exactly
// one accepted encoding.
var b64 = base64.RawStdEncoding.Strict()

// parsePHC parses an argon2id PHC string strictly: exactly the fields and
// order encodePHC writes, canonical decimals, canonical base64 and every
// bound of Params.Validate. Any string it accepts re-encodes to itself.
func parsePHC(s string) (p Params, salt, key []byte, err error) {
	bad := func(format string, args ...any) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: "+format, append([]any{ErrMalformedHash}, args...)...)
	}
	if len(s) > maxEncodedLen {
		return bad("%d bytes long, limit %d", len(s), maxEncodedLen)
	}
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" {
		return bad("want 5 fields each after a '$', got %d", len(f)-1)
	}
	if f[1] != "argon2id" {
		return bad("algorithm %q, want argon2id", clip(f[1]))
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("version %q, want v=%d", clip(f[2]), argon2.Version)
	}
	kv := strings.Split(f[3], ",")
	if len(kv) != 3 {
		return bad("parameters %q, want m=<KiB>,t=<passes>,p=<lanes>", clip(f[3]))
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return bad("parameter %d is %q, want %s=<decimal>", i+1, clip(kv[i]), name)
		}
		n, ok := parseDecimal(v)
		if !ok {
			return bad("parameter %s=%q is not a canonical decimal", name, clip(v))
		}
		vals[i] = n
	}
	if vals[0] > maxMemory || vals[1] > maxTime || vals[2] > maxThreads {
		// Checked here so that the narrowing below cannot wrap around.
		return bad("parameters m=%d,t=%d,p=%d above the limits m=%d,t=%d,p=%d",
			vals[0], vals[1], vals[2], maxMemory, maxTime, maxThreads)
	}
	if salt, err = b64.DecodeString(f[4]); err != nil {
		return bad("salt is not unpadded base64: %v", err)
	}
	if key, err = b64.DecodeString(f[5]); err != nil {
		return bad("key is not unpadded base64: %v", err)
	}
	p = Params{
		Memory:  uint32(vals[0]),
		Time:    uint32(vals[1]),
		Threads: uint8(vals[2]),
		SaltLen: uint32(len(salt)),
		KeyLen:  uint32(len(key)),
	}
	if msg := p.check(); msg != "" {
		return bad("%s", msg)
	}
	return p, salt, key, nil
}

// parseDecimal accepts only the PHC canonical decimal form: ASCII digits,
// no sign, no leading zero unless the value is 0, at most 10 digits.
func parseDecimal(s string) (uint64, bool) {
	if s == "" || len(s) > 10 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// clip keeps error messages about stored strings short.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// policyError is a password policy failure whose text is meant for the
// user; it unwraps to ErrWeakPassword.
type policyError string

func (e policyError) Error() string { return string(e) }
func (e policyError) Unwrap() error { return ErrWeakPassword }

// CheckPasswordPolicy reports whether pw may be set as a new password. The
// error, if any, wraps ErrWeakPassword and its text can be shown to the
// user as it is. The policy follows NIST SP 800-63B section 5.1.1: a
// minimum length and no composition rules. Length counts characters
// (runes), so accented letters count once; the byte cap bounds the work
// of hashing.
func CheckPasswordPolicy(pw string) error {
	if !utf8.ValidString(pw) {
		return policyError("password must be valid UTF-8 text")
	}
	if len(pw) > MaxPasswordBytes {
		return policyError(fmt.Sprintf("password must be at most %d bytes long (fewer characters if it uses accented letters or symbols)", MaxPasswordBytes))
	}
	if utf8.RuneCountInString(pw) < MinPasswordRunes {
		return policyError(fmt.Sprintf("password must be at least %d characters long", MinPasswordRunes))
	}
	first, _ := utf8.DecodeRuneInString(pw)
	if strings.Trim(pw, string(first)) == "" {
		return policyError("password must not be one character repeated")
	}
	return nil
}
