package virtcie

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco/reader"
)

func TestCardFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, gen := range []reader.Generation{reader.Gen2016, reader.Gen2022} {
		for _, neg := range Negatives() {
			t.Run(gen.String()+"/"+neg.String(), func(t *testing.T) {
				c := fresh(t, mustCard(t, gen, neg), mustQuirks(t, "ias-6a82,getresponse=64,delay=5ms"))
				path := filepath.Join(dir, gen.String()+"-"+neg.String()+".json")
				if err := c.Save(path); err != nil {
					t.Fatal(err)
				}
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("card file mode %v, want 0600", fi.Mode().Perm())
				}
				l, err := Load(path)
				if err != nil {
					t.Fatal(err)
				}
				if l.NIS() != c.NIS() || l.Generation() != gen || l.Negative() != neg || l.Quirks() != c.Quirks() ||
					!bytes.Equal(l.ATR(), c.ATR()) || !bytes.Equal(l.KeyFile(), c.KeyFile()) || !bytes.Equal(l.SOD(), c.SOD()) ||
					!l.PublicKey().Equal(c.PublicKey()) {
					t.Fatalf("loaded card differs: NIS %q %v %v quirks %v", l.NIS(), l.Generation(), l.Negative(), l.Quirks())
				}
				// The private key came back: PKCS#1 v1.5 signatures are
				// deterministic, so both cards answer the same bytes.
				if neg == NoIntAuth {
					return
				}
				l.SetQuirks(Quirks{})
				c.SetQuirks(Quirks{})
				l.SetSleep(func(time.Duration) {})
				want, _ := challenge(t, c, chal16)
				got, sw := challenge(t, l, chal16)
				if sw != 0x9000 || !bytes.Equal(got, want) {
					t.Errorf("loaded card signs differently (SW %04X)", sw)
				}
			})
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2*len(Negatives()) {
		t.Errorf("directory holds %d entries, want %d (temporary files left?)", len(entries), 2*len(Negatives()))
	}
}

func TestSaveReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := fresh(t, mustCard(t, reader.Gen2022, Genuine), Quirks{})
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after replacing a 0644 file, want 0600", fi.Mode().Perm())
	}
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(filepath.Join(t.TempDir(), "missing", "card.json")); err == nil {
		t.Error("Save into a missing directory succeeded")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.json")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v", err)
	}
}

// cardJSON returns the card file of c as a generic map, for mutation.
func cardJSON(t *testing.T, c *Card) map[string]any {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.json")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func b64(t *testing.T, v any) []byte {
	b, err := base64.StdEncoding.DecodeString(v.(string))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadErrors(t *testing.T) {
	gen22 := mustCard(t, reader.Gen2022, Genuine)
	other := cardJSON(t, mustCard(t, reader.Gen2016, Genuine))
	tests := []struct {
		name   string
		base   *Card // nil: gen22
		mutate func(t *testing.T, m map[string]any)
		raw    string // when set, the file content instead
		field  string // the error must name it; "" for file-level errors
	}{
		{name: "not JSON", raw: "{", field: ""},
		{name: "two objects", raw: `{"version":1} {}`, field: ""},
		{name: "unknown field", mutate: func(t *testing.T, m map[string]any) { m["pin"] = "1234" }},
		{name: "version 2", mutate: func(t *testing.T, m map[string]any) { m["version"] = 2 }, field: "version"},
		{name: "version as string", mutate: func(t *testing.T, m map[string]any) { m["version"] = "1" }, field: "version"},
		{name: "short NIS", mutate: func(t *testing.T, m map[string]any) { m["nis"] = "12345" }, field: "nis"},
		{name: "NIS with letters", mutate: func(t *testing.T, m map[string]any) { m["nis"] = "12345678901X" }, field: "nis"},
		{name: "unknown generation", mutate: func(t *testing.T, m map[string]any) { m["generation"] = "2019" }, field: "generation"},
		{name: "unknown negative", mutate: func(t *testing.T, m map[string]any) { m["negative"] = "evil" }, field: "negative"},
		{name: "bad quirks", mutate: func(t *testing.T, m map[string]any) { m["quirks"] = "slow" }, field: "quirks"},
		{name: "ATR not hex", mutate: func(t *testing.T, m map[string]any) { m["atr"] = "3BZZ" }, field: "atr"},
		{name: "ATR bad TS", mutate: func(t *testing.T, m map[string]any) { m["atr"] = "0011" }, field: "atr"},
		{name: "no private key", mutate: func(t *testing.T, m map[string]any) { m["private_key"] = "" }, field: "private_key"},
		{name: "PKCS#1 PEM", mutate: func(t *testing.T, m map[string]any) {
			m["private_key"] = strings.ReplaceAll(m["private_key"].(string), "PRIVATE KEY", "RSA PRIVATE KEY")
		}, field: "private_key"},
		{name: "private key garbage", mutate: func(t *testing.T, m map[string]any) {
			m["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}, field: "private_key"},
		{name: "another card's private key", mutate: func(t *testing.T, m map[string]any) { m["private_key"] = other["private_key"] }, field: "key_file"},
		{name: "key file truncated", mutate: func(t *testing.T, m map[string]any) { m["key_file"] = b64(t, m["key_file"])[:100] }, field: "key_file"},
		{name: "key file padded", mutate: func(t *testing.T, m map[string]any) {
			m["key_file"] = append(b64(t, m["key_file"]), 0, 0)
		}, field: "key_file"},
		{name: "SOD garbage", mutate: func(t *testing.T, m map[string]any) { m["sod"] = []byte{0x77, 0x01, 0x00} }, field: "sod"},
		{name: "SOD of another card", mutate: func(t *testing.T, m map[string]any) { m["sod"] = other["sod"] }, field: "sod"},
		{name: "SOD with trailing bytes", mutate: func(t *testing.T, m map[string]any) { m["sod"] = append(b64(t, m["sod"]), 0) }, field: "sod"},
		{name: "generation disagrees with SOD", mutate: func(t *testing.T, m map[string]any) { m["generation"] = "2016" }, field: "sod"},
		{name: "genuine card said nis-changed", mutate: func(t *testing.T, m map[string]any) { m["negative"] = "nis-changed" }, field: "sod"},
		{name: "nis-changed card said genuine", base: mustCard(t, reader.Gen2022, NISChanged),
			mutate: func(t *testing.T, m map[string]any) { m["negative"] = "genuine" }, field: "sod"},
		{name: "genuine card said clone", mutate: func(t *testing.T, m map[string]any) { m["negative"] = "clone" }, field: "private_key"},
		{name: "clone said genuine", base: mustCard(t, reader.Gen2022, Clone),
			mutate: func(t *testing.T, m map[string]any) { m["negative"] = "genuine" }, field: "key_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.raw)
			if tt.raw == "" {
				base := tt.base
				if base == nil {
					base = gen22
				}
				m := cardJSON(t, base)
				tt.mutate(t, m)
				var err error
				if b, err = json.Marshal(m); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "card.json")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if !errors.Is(err, ErrCardFile) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Load = %v, %v; want an ErrCardFile naming the file", c, err)
			}
			if tt.field != "" && !strings.Contains(err.Error(), `field "`+tt.field+`"`) {
				t.Errorf("error %q does not name field %q", err, tt.field)
			}
		})
	}
}

// FuzzParseCardFile feeds arbitrary bytes to the card-file parser: it must
// not panic, and what it accepts must be a card that answers APDUs.
func FuzzParseCardFile(f *testing.F) {
	for _, neg := range []Negative{Genuine, NISChanged} {
		c := mustCard(f, reader.Gen2022, neg)
		path := filepath.Join(f.TempDir(), "card.json")
		if err := c.Save(path); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCardFile("fuzz.json", b)
		if err != nil {
			return
		}
		if r, err := c.Transmit([]byte{0x00, 0xB0, 0x81, 0x00, 0x0C}); err != nil || len(r) < 2 {
			t.Fatalf("accepted card answers %X, %v", r, err)
		}
	})
}
