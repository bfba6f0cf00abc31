package wire

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Version of the payloads this package writes, "MAJOR.MINOR". A receiver
// accepts every minor version of its major (a minor version only adds
// optional fields, which receivers ignore) and refuses another major with
// ErrVersion.
const (
	Major   = 1
	Minor   = 0
	Version = "1.0"
)

// MaxMessage is the longest message Open and Decode accept, and Seal and
// Encode produce: far above any sane chunk or events batch, low enough
// that a hostile publisher cannot make a door allocate without bound.
const MaxMessage = 8 << 20

// sigDomain starts every signed message: it separates varco's v1
// signatures from any other use of the site key.
const sigDomain = "varco-wire-v1\x00"

// envelope is the one JSON object every message is. Body is a JSON string
// (standard base64 of the body's JSON bytes) in signed messages and the
// body's JSON object itself in unsigned ones; Sig is set only in signed
// messages.
type envelope struct {
	V    string          `json:"v"`
	Kind Kind            `json:"kind"`
	Site string          `json:"site"`
	Door string          `json:"door"`
	Body json.RawMessage `json:"body"`
	Sig  string          `json:"sig,omitempty"`
}

// signedMessage returns the bytes the site key signs: the domain, then
// kind, site and door, each followed by a NUL, then the body. Kinds and
// ids never contain NUL, so the split is unambiguous, and a message cannot
// be moved to another kind, site or door without breaking the signature.
func signedMessage(k Kind, site, door string, body []byte) []byte {
	m := make([]byte, 0, len(sigDomain)+len(k)+len(site)+len(door)+3+len(body))
	m = append(m, sigDomain...)
	m = append(m, k...)
	m = append(m, 0)
	m = append(m, site...)
	m = append(m, 0)
	m = append(m, door...)
	m = append(m, 0)
	return append(m, body...)
}

// Signer seals admin-to-door messages with the site's private key. It is
// safe for concurrent use.
type Signer struct {
	key ed25519.PrivateKey
}

// NewSigner returns a Signer for the site's private key. It panics if key
// is not an Ed25519 private key (64 bytes), as ed25519.Sign would on every
// message: keys come from LoadPrivateKey or GenerateSiteKey, which check.
func NewSigner(key ed25519.PrivateKey) *Signer {
	if len(key) != ed25519.PrivateKeySize {
		panic(fmt.Sprintf("wire: NewSigner: private key is %d bytes, want %d", len(key), ed25519.PrivateKeySize))
	}
	return &Signer{key: key}
}

// PublicKey returns the public half of the site key: what each door pins
// in its configuration (see EncodePublicKey).
func (s *Signer) PublicKey() ed25519.PublicKey {
	return s.key.Public().(ed25519.PublicKey)
}

// Seal validates body, encodes it as JSON and returns the signed envelope
// for one door. k must be an admin-to-door kind and body its payload type
// (Delta or *Delta for KindGrants, ...). Sealing a message longer than
// MaxMessage fails with ErrTooLarge: split snapshots smaller.
func (s *Signer) Seal(k Kind, site, door string, body any) ([]byte, error) {
	if !k.Signed() {
		return nil, fmt.Errorf("wire: seal %s: %w: not an admin-to-door kind (use Encode)", k, ErrWrongKind)
	}
	b, err := marshalBody(k, site, door, body)
	if err != nil {
		return nil, fmt.Errorf("wire: seal %s: %w", k, err)
	}
	return s.seal(k, site, door, b)
}

// seal signs already encoded body bytes; tests use it to build messages
// Seal would refuse.
func (s *Signer) seal(k Kind, site, door string, b []byte) ([]byte, error) {
	sig := ed25519.Sign(s.key, signedMessage(k, site, door, b))
	enc, _ := json.Marshal(base64.StdEncoding.EncodeToString(b)) // a string always marshals
	return finish(k, envelope{
		V: Version, Kind: k, Site: site, Door: door,
		Body: enc,
		Sig:  base64.StdEncoding.EncodeToString(sig),
	})
}

// Verifier opens the signed messages addressed to one door. It is safe
// for concurrent use.
type Verifier struct {
	pub        ed25519.PublicKey
	site, door string
}

// NewVerifier returns a Verifier for the messages of one door, checked
// with the site's public key. It panics if pub is not 32 bytes or site or
// door is not a valid id (ValidID): all three come from the door's
// validated configuration, and ed25519.Verify would panic on a short key.
func NewVerifier(pub ed25519.PublicKey, site, door string) *Verifier {
	if len(pub) != ed25519.PublicKeySize {
		panic(fmt.Sprintf("wire: NewVerifier: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize))
	}
	if !ValidID(site) || !ValidID(door) {
		panic(fmt.Sprintf("wire: NewVerifier: invalid site %q or door %q", site, door))
	}
	return &Verifier{pub: append(ed25519.PublicKey(nil), pub...), site: site, door: door}
}

// Open checks a signed message of kind k for the Verifier's door and
// decodes its body into body (a pointer to k's payload type), then calls
// the body's Validate method. The checks run in this order, each failure
// wrapping its sentinel: size (ErrTooLarge), JSON shape (ErrMalformed),
// version (ErrVersion), kind (ErrWrongKind), site and door (ErrWrongDoor),
// signature (ErrSignature), body (ErrMalformed). Unknown fields, in the
// envelope and in the body, are ignored. Revision and sequence checks are
// the caller's: see CheckDelta and friends.
func (v *Verifier) Open(k Kind, msg []byte, body any) error {
	if err := v.open(k, msg, body); err != nil {
		return fmt.Errorf("wire: open %s: %w", k, err)
	}
	return nil
}

func (v *Verifier) open(k Kind, msg []byte, body any) error {
	if !k.Signed() {
		return fmt.Errorf("%w: %q is not an admin-to-door kind (use Decode)", ErrWrongKind, k)
	}
	env, err := parseEnvelope(k, msg)
	if err != nil {
		return err
	}
	if env.Site != v.site {
		return fmt.Errorf("%w: site %q, this door is in %q", ErrWrongDoor, clip(env.Site), v.site)
	}
	if env.Door != v.door {
		return fmt.Errorf("%w: door %q, this is %q", ErrWrongDoor, clip(env.Door), v.door)
	}
	var b64 string
	if len(env.Body) == 0 || env.Body[0] != '"' || json.Unmarshal(env.Body, &b64) != nil {
		return fmt.Errorf("%w: body is not a signed base64 string", ErrSignature)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return fmt.Errorf("%w: body is not standard base64", ErrSignature)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(env.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: sig is not %d bytes of standard base64", ErrSignature, ed25519.SignatureSize)
	}
	if !ed25519.Verify(v.pub, signedMessage(k, env.Site, env.Door, b), sig) {
		return fmt.Errorf("%w: does not verify with the site key", ErrSignature)
	}
	return unmarshalBody(b, body)
}

// Encode validates body and returns the unsigned envelope of a
// door-to-admin message: {"v","kind","site","door","body":{...}}. k must
// be a door-to-admin kind and body its payload type.
func Encode(k Kind, site, door string, body any) ([]byte, error) {
	if !k.Valid() || k.Signed() {
		return nil, fmt.Errorf("wire: encode %s: %w: not a door-to-admin kind (use Signer.Seal)", k, ErrWrongKind)
	}
	b, err := marshalBody(k, site, door, body)
	if err != nil {
		return nil, fmt.Errorf("wire: encode %s: %w", k, err)
	}
	return encodeRaw(k, site, door, b)
}

// encodeRaw wraps already encoded body bytes; tests use it directly.
func encodeRaw(k Kind, site, door string, b []byte) ([]byte, error) {
	return finish(k, envelope{V: Version, Kind: k, Site: site, Door: door, Body: b})
}

// Decode checks an unsigned door-to-admin message of kind k and decodes
// its body into body (a pointer to k's payload type), then calls the
// body's Validate method. It returns the site and door the message names;
// they are not authenticated: the broker's ACL authenticates the topic,
// so the caller must compare them with the topic's (DecodeFor does).
// Checks and errors are those of Verifier.Open, without the signature.
func Decode(k Kind, msg []byte, body any) (site, door string, err error) {
	env, err := decode(k, msg)
	if err == nil {
		err = unmarshalBody(env.Body, body)
	}
	if err != nil {
		return "", "", fmt.Errorf("wire: decode %s: %w", k, err)
	}
	return env.Site, env.Door, nil
}

// DecodeFor is Decode for a message received on the topic of site and
// door (from ParseTopic): a message naming another site or door fails
// with ErrWrongDoor before its body is decoded.
func DecodeFor(site, door string, k Kind, msg []byte, body any) error {
	env, err := decode(k, msg)
	if err == nil {
		switch {
		case env.Site != site:
			err = fmt.Errorf("%w: site %q on a topic of site %q", ErrWrongDoor, env.Site, clip(site))
		case env.Door != door:
			err = fmt.Errorf("%w: door %q on a topic of door %q", ErrWrongDoor, env.Door, clip(door))
		default:
			err = unmarshalBody(env.Body, body)
		}
	}
	if err != nil {
		return fmt.Errorf("wire: decode %s: %w", k, err)
	}
	return nil
}

func decode(k Kind, msg []byte) (*envelope, error) {
	if !k.Valid() || k.Signed() {
		return nil, fmt.Errorf("%w: %q is not a door-to-admin kind (use Verifier.Open)", ErrWrongKind, k)
	}
	env, err := parseEnvelope(k, msg)
	if err != nil {
		return nil, err
	}
	if !ValidID(env.Site) {
		return nil, fmt.Errorf("%w: site %q is not a valid id", ErrMalformed, clip(env.Site))
	}
	if !ValidID(env.Door) {
		return nil, fmt.Errorf("%w: door %q is not a valid id", ErrMalformed, clip(env.Door))
	}
	return env, nil
}

// parseEnvelope runs the checks common to signed and unsigned messages:
// size, JSON, version, kind.
func parseEnvelope(k Kind, msg []byte) (*envelope, error) {
	if len(msg) > MaxMessage {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(msg), MaxMessage)
	}
	if !isObject(msg) {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	var env envelope
	if err := json.Unmarshal(msg, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := checkVersion(env.V); err != nil {
		return nil, err
	}
	if env.Kind != k {
		return nil, fmt.Errorf("%w: %q, want %q", ErrWrongKind, clip(string(env.Kind)), k)
	}
	return &env, nil
}

// checkVersion accepts "1.N" for any minor N. Both numbers are plain
// decimal without sign or leading zeros.
func checkVersion(v string) error {
	if v == "" {
		return fmt.Errorf("%w: no \"v\" field", ErrVersion)
	}
	maj, min, ok := strings.Cut(v, ".")
	if !ok || !decimal(maj) || !decimal(min) {
		return fmt.Errorf("%w: v %q is not MAJOR.MINOR", ErrVersion, clip(v))
	}
	if maj != strconv.Itoa(Major) {
		return fmt.Errorf("%w: v %q, this receiver speaks %d.x", ErrVersion, v, Major)
	}
	return nil
}

func decimal(s string) bool {
	if len(s) == 0 || len(s) > 6 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isObject reports whether b's first non-blank byte opens a JSON object.
// json.Unmarshal accepts null for a struct and leaves it zero, which would
// turn "null" into a valid-looking offline Status.
func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// validator is implemented by every payload type.
type validator interface{ Validate() error }

// marshalBody checks the ids and the body's type, validates and encodes it.
func marshalBody(k Kind, site, door string, body any) ([]byte, error) {
	if !ValidID(site) {
		return nil, fmt.Errorf("%w: site %q is not a valid id", ErrMalformed, clip(site))
	}
	if !ValidID(door) {
		return nil, fmt.Errorf("%w: door %q is not a valid id", ErrMalformed, clip(door))
	}
	want := reflect.TypeOf(k.Payload()) // a pointer type
	if t := reflect.TypeOf(body); t != want && t != want.Elem() {
		return nil, fmt.Errorf("body of type %v, kind %s carries %v", t, k, want.Elem())
	}
	if v, ok := body.(validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	return json.Marshal(body)
}

// unmarshalBody decodes a body object into body and validates it.
func unmarshalBody(b []byte, body any) error {
	if !isObject(b) {
		return fmt.Errorf("%w: body is not a JSON object", ErrMalformed)
	}
	if err := json.Unmarshal(b, body); err != nil {
		return fmt.Errorf("%w: body: %v", ErrMalformed, err)
	}
	if v, ok := body.(validator); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	return nil
}

// finish encodes the envelope and enforces MaxMessage on the sender side.
func finish(k Kind, env envelope) ([]byte, error) {
	msg, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("wire: %s: %w", k, err)
	}
	if len(msg) > MaxMessage {
		return nil, fmt.Errorf("wire: %s: %w: %d bytes, limit %d", k, ErrTooLarge, len(msg), MaxMessage)
	}
	return msg, nil
}
