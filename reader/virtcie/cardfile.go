package virtcie

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/varco-access/varco/reader"
)

// cardFileVersion is the version field of the card files this package
// writes and reads.
const cardFileVersion = 1

// maxCardFile bounds what Load reads: a card file is about 8 KB.
const maxCardFile = 1 << 20

// cardFile is the JSON form of a Card. Byte fields are base64 (encoding/json),
// the ATR is hex so a person can compare it with a reader's log, the private
// key is PKCS#8 PEM.
type cardFile struct {
	Version    int    `json:"version"`
	NIS        string `json:"nis"`
	Generation string `json:"generation"`
	Negative   string `json:"negative"`
	Quirks     string `json:"quirks"`
	ATR        string `json:"atr"`
	PrivateKey string `json:"private_key"`
	KeyFile    []byte `json:"key_file"`
	SOD        []byte `json:"sod"`
}

// Save writes the card to path as JSON: identity, private key (PKCS#8 PEM,
// in the clear: test cards only), key file, EF.SOD, quirks, negative and
// ATR. The write is atomic (a temporary file in the same directory, synced,
// then renamed) and the file mode is 0600.
func (c *Card) Save(path string) error {
	b, err := c.Marshal()
	if err != nil {
		return fmt.Errorf("virtcie: save %s: %w", path, err)
	}
	if err := writeFileAtomic(path, b, 0o600); err != nil {
		return fmt.Errorf("virtcie: save %s: %w", path, err)
	}
	return nil
}

// Marshal returns the card file of c, as Save writes it and Parse reads
// it.
func (c *Card) Marshal() ([]byte, error) {
	if !validGen(c.gen) {
		return nil, fmt.Errorf("card has unknown generation %v", c.gen)
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.priv)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	f := cardFile{
		Version:    cardFileVersion,
		NIS:        c.nis,
		Generation: c.gen.String(),
		Negative:   c.negative.String(),
		Quirks:     c.Quirks().String(),
		ATR:        strings.ToUpper(hex.EncodeToString(c.atr)),
		PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		KeyFile:    c.keyFile,
		SOD:        c.sod,
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// writeFileAtomic writes b to path so that path holds either its old content
// or all of b, never a torn file.
func writeFileAtomic(path string, b []byte, mode os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err = tmp.Write(b); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename durable; not every platform can sync a directory.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Load reads a card file written by Save and checks every field: the NIS,
// the generation, that the key file is a bare DER RSAPublicKey matching the
// private key (and not matching it for a Clone), that EF.SOD parses, the
// quirks, the negative and the ATR. Errors wrap ErrCardFile and name the
// file and the field.
func Load(path string) (*Card, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("virtcie: load card: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCardFile+1))
	if err != nil {
		return nil, fmt.Errorf("virtcie: load card %s: %w", path, err)
	}
	if len(b) > maxCardFile {
		return nil, fmt.Errorf("%w %s: larger than %d bytes", ErrCardFile, path, maxCardFile)
	}
	return parseCardFile(path, b)
}

// Parse reads a card file's bytes, as Load does a file's; name stands for
// the file in errors.
func Parse(name string, b []byte) (*Card, error) {
	if len(b) > maxCardFile {
		return nil, fmt.Errorf("%w %s: larger than %d bytes", ErrCardFile, name, maxCardFile)
	}
	return parseCardFile(name, b)
}

// parseCardFile implements Load on the file's bytes; name is for errors.
func parseCardFile(name string, b []byte) (*Card, error) {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w %s: field %q: %s", ErrCardFile, name, field, fmt.Sprintf(format, args...))
	}
	var f cardFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, bad(te.Field, "%v", err)
		}
		return nil, fmt.Errorf("%w %s: %v", ErrCardFile, name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w %s: data after the JSON object", ErrCardFile, name)
	}
	if f.Version != cardFileVersion {
		return nil, bad("version", "is %d, want %d", f.Version, cardFileVersion)
	}
	if err := reader.CheckNIS([]byte(f.NIS)); err != nil {
		return nil, bad("nis", "%q: %v", f.NIS, err)
	}
	gen, err := reader.ParseGeneration(f.Generation)
	if err != nil {
		return nil, bad("generation", "%v", err)
	}
	neg, err := ParseNegative(f.Negative)
	if err != nil {
		return nil, bad("negative", "%v", err)
	}
	quirks, err := ParseQuirks(f.Quirks)
	if err != nil {
		return nil, bad("quirks", "%v", err)
	}
	atr, err := hex.DecodeString(f.ATR)
	if err != nil {
		return nil, bad("atr", "not hex: %v", err)
	}
	if err := checkATR(atr); err != nil {
		return nil, bad("atr", "%v", err)
	}
	priv, err := parsePrivateKey(f.PrivateKey)
	if err != nil {
		return nil, bad("private_key", "%v", err)
	}
	pub, der, err := reader.ParsePublicKeyFile(f.KeyFile)
	if err != nil {
		return nil, bad("key_file", "%v", err)
	}
	if len(der) != len(f.KeyFile) {
		return nil, bad("key_file", "%d bytes after the TLV (store the bare key; padding is the padded-key quirk)", len(f.KeyFile)-len(der))
	}
	switch matches := pub.Equal(&priv.PublicKey); {
	case neg == Clone && matches:
		return nil, bad("private_key", "matches key_file, so the card is not a clone")
	case neg != Clone && !matches:
		return nil, bad("key_file", "does not match private_key")
	}
	if err := checkSOD(f.SOD, gen, neg, []byte(f.NIS), der); err != nil {
		return nil, bad("sod", "%v", err)
	}
	c := newCard(Options{Quirks: quirks, ATR: atr})
	c.nis, c.gen, c.priv, c.pub = f.NIS, gen, priv, pub
	c.keyFile, c.sod, c.negative, c.rand = der, f.SOD, neg, rand.Reader
	return c, nil
}

// parsePrivateKey parses one PKCS#8 PEM block holding an RSA-2048 key.
func parsePrivateKey(s string) (*rsa.PrivateKey, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM type %q, want \"PRIVATE KEY\" (PKCS#8)", block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%T, want an RSA key", k)
	}
	if bits := priv.N.BitLen(); bits != keyBits {
		return nil, fmt.Errorf("RSA key of %d bits, want %d", bits, keyBits)
	}
	return priv, nil
}

// checkATR does the sanity checks of ISO 7816-3 section 8: 2 to 33 bytes,
// starting with TS 3B (direct) or 3F (inverse convention).
func checkATR(atr []byte) error {
	if len(atr) < 2 || len(atr) > 33 {
		return fmt.Errorf("%d bytes, want 2..33", len(atr))
	}
	if atr[0] != 0x3B && atr[0] != 0x3F {
		return fmt.Errorf("starts with %02X, want 3B or 3F", atr[0])
	}
	return nil
}

// checkSOD checks that EF.SOD parses, follows the profile of gen, hashes the
// key file in data group A5, and hashes the NIS in A1 unless the card is
// NISChanged, where it must not. Signatures and trust are not checked:
// negative cards break them on purpose.
func checkSOD(b []byte, gen reader.Generation, neg Negative, nis, keyFile []byte) error {
	s, err := reader.ParseSOD(b)
	if err != nil {
		return err
	}
	if len(s.Raw) != len(b) {
		return fmt.Errorf("%d bytes after the 77 TLV", len(b)-len(s.Raw))
	}
	g, err := s.Generation()
	if err != nil {
		return err
	}
	if g != gen {
		return fmt.Errorf("follows the %v profile, card says generation %v", g, gen)
	}
	hashes := func(dg byte, data []byte) bool {
		want, ok := s.DataGroups[dg]
		if !ok || !s.LDSHash.Available() {
			return false
		}
		h := s.LDSHash.New()
		h.Write(data)
		return bytes.Equal(h.Sum(nil), want)
	}
	if !hashes(reader.DGKey, keyFile) {
		return fmt.Errorf("data group A5 is not the %v of key_file", s.LDSHash)
	}
	if hashes(reader.DGNIS, nis) == (neg == NISChanged) {
		if neg == NISChanged {
			return fmt.Errorf("data group A1 hashes the NIS, but the card is %v", neg)
		}
		return fmt.Errorf("data group A1 is not the %v of the NIS", s.LDSHash)
	}
	return nil
}
