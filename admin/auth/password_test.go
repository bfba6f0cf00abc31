package auth

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// refVector turns a known answer of the argon2 reference implementation
// (phc-winner-argon2 src/test.c, argon2id v=19, password "password", salt
// "somesalt") into its PHC string.
func refVector(t *testing.T, params, tagHex string) string {
	t.Helper()
	tag, err := hex.DecodeString(tagHex)
	if err != nil {
		t.Fatal(err)
	}
	return "$argon2id$v=19$" + params + "$c29tZXNhbHQ$" + base64.RawStdEncoding.EncodeToString(tag)
}

func TestVerifyReferenceVectors(t *testing.T) {
	tests := []struct {
		name, params, tag string
		expensive         bool
	}{
		{"m=256 p=1", "m=256,t=2,p=1", "9dfeb910e80bad0311fee20f9c0e2b12c17987b4cac90c2ef54d5b3021c68bfe", false},
		{"m=256 p=2", "m=256,t=2,p=2", "6d093c501fd5999645e0ea3bf620d7b8be7fd2db59c20d9fff9539da2bf57037", false},
		// The one test.c also gives as an encoded string, byte for byte.
		{"m=65536 p=1", "m=65536,t=2,p=1", "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.expensive && testing.Short() {
				t.Skip("64 MiB argon2id in -short")
			}
			enc := refVector(t, tt.params, tt.tag)
			ok, rehash, err := VerifyPassword(enc, "password")
			if err != nil || !ok {
				t.Fatalf("VerifyPassword(%s, password) = %v, %v, %v; want ok", enc, ok, rehash, err)
			}
			if !rehash {
				t.Errorf("needsRehash = false for %s, whose params differ from DefaultParams", tt.params)
			}
			if ok, _, err := VerifyPassword(enc, "Password"); ok || err != nil {
				t.Errorf("wrong password: ok=%v err=%v; want false, nil", ok, err)
			}
		})
	}
	if !testing.Short() {
		const want = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
		if got := refVector(t, "m=65536,t=2,p=1", tests[2].tag); got != want {
			t.Errorf("PHC form %s, test.c has %s", got, want)
		}
	}
}

func TestHashVerify(t *testing.T) {
	enc, err := TestParams.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("Hash = %s; want the PHC prefix for TestParams", enc)
	}
	_, salt, key, err := parsePHC(enc)
	if err != nil {
		t.Fatalf("parsePHC(own output): %v", err)
	}
	if len(salt) != 16 || len(key) != 32 {
		t.Errorf("salt %d bytes, key %d bytes; want 16, 32", len(salt), len(key))
	}
	ok, rehash, err := TestParams.Verify(enc, "correct horse battery")
	if !ok || rehash || err != nil {
		t.Errorf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = TestParams.Verify(enc, "correct horse batterY")
	if ok || rehash || err != nil {
		t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
	// Verify uses the stored parameters, so a cheap hash checked against
	// DefaultParams is still cheap and asks to be rehashed.
	ok, rehash, err = VerifyPassword(enc, "correct horse battery")
	if !ok || !rehash || err != nil {
		t.Errorf("VerifyPassword(TestParams hash) = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	enc2, err := TestParams.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if enc2 == enc {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

func TestHashPasswordDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB argon2id in -short")
	}
	enc, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("HashPassword = %s; want RFC 9106's second option m=65536,t=3,p=4", enc)
	}
	ok, rehash, err := VerifyPassword(enc, "correct horse battery")
	if !ok || rehash || err != nil {
		t.Errorf("VerifyPassword = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestDefaultParams(t *testing.T) {
	want := Params{Memory: 65536, Time: 3, Threads: 4, SaltLen: 16, KeyLen: 32}
	if DefaultParams != want {
		t.Errorf("DefaultParams = %+v; want %+v", DefaultParams, want)
	}
	for name, p := range map[string]Params{"DefaultParams": DefaultParams, "TestParams": TestParams} {
		if err := p.Validate(); err != nil {
			t.Errorf("%s.Validate: %v", name, err)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	ok := Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	tests := []struct {
		name   string
		modify func(*Params)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(*Params) {}, ""},
		{"no threads", func(p *Params) { p.Threads = 0 }, "parallelism p=0"},
		{"17 threads", func(p *Params) { p.Threads = 17; p.Memory = 1024 }, "parallelism p=17"},
		{"no passes", func(p *Params) { p.Time = 0 }, "passes t=0"},
		{"17 passes", func(p *Params) { p.Time = 17 }, "passes t=17"},
		{"memory below 8p", func(p *Params) { p.Threads = 4; p.Memory = 31 }, "below 8*p=32"},
		{"memory at 8p", func(p *Params) { p.Threads = 4; p.Memory = 32 }, ""},
		{"memory at limit", func(p *Params) { p.Memory = 262144 }, ""},
		{"memory over limit", func(p *Params) { p.Memory = 262145 }, "memory m=262145 above"},
		{"cost at limit", func(p *Params) { p.Memory = 262144; p.Time = 4 }, ""},
		{"cost over limit", func(p *Params) { p.Memory = 262144; p.Time = 5 }, "cost m*t=1310720"},
		{"salt 7", func(p *Params) { p.SaltLen = 7 }, "salt of 7 bytes"},
		{"salt 8", func(p *Params) { p.SaltLen = 8 }, ""},
		{"salt 65", func(p *Params) { p.SaltLen = 65 }, "salt of 65 bytes"},
		{"key 15", func(p *Params) { p.KeyLen = 15 }, "key of 15 bytes"},
		{"key 65", func(p *Params) { p.KeyLen = 65 }, "key of 65 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			tt.modify(&p)
			err := p.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v; want nil", p, err)
				}
				return
			}
			if !errors.Is(err, ErrBadParams) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate(%+v) = %v; want ErrBadParams mentioning %q", p, err, tt.want)
			}
			if _, err := p.Hash("whatever password"); !errors.Is(err, ErrBadParams) {
				t.Errorf("Hash with %+v = %v; want ErrBadParams", p, err)
			}
		})
	}
}

// Well-formed PHC strings (salt "somesalt", base64 c29tZXNhbHQ; keys of
// 16 and 32 zero or 0xff bytes). parsePHC must accept each and re-encode
// it unchanged.
var validPHC = []string{
	"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
	"$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"$argon2id$v=19$m=262144,t=4,p=16$c29tZXNhbHQ$/////////////////////w",
	"$argon2id$v=19$m=8,t=16,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
}

// Malformed PHC strings, each with a substring its error must name.
var malformedPHC = []struct{ name, in, want string }{
	{"empty", "", "want 5 fields"},
	{"no leading dollar", "argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "want 5 fields"},
	{"extra field", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA$", "got 6"},
	{"no version", "$argon2id$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "want 5 fields"},
	{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", `algorithm "argon2i"`},
	{"bcrypt", "$2b$10$abcdefghijklmnopqrstuv", "want 5 fields"},
	{"version 16", "$argon2id$v=16$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", `version "v=16"`},
	{"params reordered", "$argon2id$v=19$t=1,m=64,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", `parameter 1 is "t=1"`},
	{"keyid param", "$argon2id$v=19$m=64,t=1,p=1,keyid=x$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "want m=<KiB>"},
	{"missing param", "$argon2id$v=19$m=64,t=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "want m=<KiB>"},
	{"leading zero", "$argon2id$v=19$m=064,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", `m="064" is not a canonical`},
	{"plus sign", "$argon2id$v=19$m=+64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", `m="+64"`},
	{"empty value", "$argon2id$v=19$m=64,t=,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", `t=""`},
	{"eleven digits", "$argon2id$v=19$m=99999999999,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "not a canonical"},
	{"memory over limit", "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "above the limits"},
	{"p wraps uint8", "$argon2id$v=19$m=64,t=1,p=257$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "above the limits"},
	{"zero passes", "$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "passes t=0"},
	{"zero lanes", "$argon2id$v=19$m=64,t=1,p=0$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "parallelism p=0"},
	{"memory below 8p", "$argon2id$v=19$m=31,t=1,p=4$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "below 8*p"},
	{"cost over limit", "$argon2id$v=19$m=262144,t=5,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "cost m*t"},
	{"padded salt", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ=$AAAAAAAAAAAAAAAAAAAAAA", "salt is not unpadded base64"},
	{"url-safe salt", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNh_-Q$AAAAAAAAAAAAAAAAAAAAAA", "salt is not"},
	{"non-canonical salt bits", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHR$AAAAAAAAAAAAAAAAAAAAAA", "salt is not"},
	{"short salt", "$argon2id$v=19$m=64,t=1,p=1$c29tZQ$AAAAAAAAAAAAAAAAAAAAAA", "salt of 4 bytes"},
	{"short key", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAA", "key of 8 bytes"},
	{"bad key", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAA*AAAAAAAAAAAAAAAAA", "key is not"},
	{"empty key", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$", "key of 0 bytes"},
	{"too long", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$" + strings.Repeat("A", 600), "limit 512"},
}

func TestParsePHC(t *testing.T) {
	for _, in := range validPHC {
		p, salt, key, err := parsePHC(in)
		if err != nil {
			t.Errorf("parsePHC(%s): %v", in, err)
			continue
		}
		if got := encodePHC(p, salt, key); got != in {
			t.Errorf("re-encoded %s as %s", in, got)
		}
	}
	for _, tt := range malformedPHC {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := parsePHC(tt.in)
			if !errors.Is(err, ErrMalformedHash) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parsePHC(%q) = %v; want ErrMalformedHash naming %q", tt.in, err, tt.want)
			}
			ok, rehash, verr := VerifyPassword(tt.in, "password")
			if ok || rehash || !errors.Is(verr, ErrMalformedHash) {
				t.Errorf("VerifyPassword = %v, %v, %v; want false, false, ErrMalformedHash", ok, rehash, verr)
			}
		})
	}
}

func FuzzParsePHC(f *testing.F) {
	for _, s := range validPHC {
		f.Add(s)
	}
	for _, tt := range malformedPHC {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, salt, key, err := parsePHC(in)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("parsePHC(%q) error %v does not wrap ErrMalformedHash", in, err)
			}
			return
		}
		if msg := p.check(); msg != "" {
			t.Fatalf("parsePHC(%q) accepted out-of-bounds %+v: %s", in, p, msg)
		}
		if got := encodePHC(p, salt, key); got != in {
			t.Fatalf("parsePHC(%q) accepted a non-canonical form of %q", in, got)
		}
	})
}

func TestCheckPasswordPolicy(t *testing.T) {
	const (
		tooShort = "password must be at least 12 characters long"
		tooLong  = "password must be at most 256 bytes long (fewer characters if it uses accented letters or symbols)"
		repeated = "password must not be one character repeated"
		notUTF8  = "password must be valid UTF-8 text"
	)
	tests := []struct {
		name, pw, want string // want "" means accepted
	}{
		{"empty", "", tooShort},
		{"11 characters", "abcdefghijk", tooShort},
		{"12 characters", "abcdefghijkl", ""},
		{"11 runes in 22 bytes", "àèìòùàèìòùà", tooShort},
		{"12 runes in 24 bytes", "àèìòùàèìòùàè", ""},
		{"12 runes with an emoji", "passwörd 🔑 x", ""},
		{"12 spaces", strings.Repeat(" ", 12), repeated},
		{"one letter repeated", strings.Repeat("a", 40), repeated},
		{"one accented letter repeated", strings.Repeat("é", 20), repeated},
		{"two letters", strings.Repeat("a", 20) + "b", ""},
		{"256 bytes", strings.Repeat("ab", 128), ""},
		{"257 bytes", strings.Repeat("ab", 128) + "c", tooLong},
		{"129 two-byte runes", strings.Repeat("éè", 64) + "à", tooLong},
		{"invalid UTF-8", "abcdefghijkl\xff", notUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPasswordPolicy(tt.pw)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckPasswordPolicy(%q) = %v; want nil", tt.pw, err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("CheckPasswordPolicy(%q) = %v; want %q", tt.pw, err, tt.want)
			}
			if !errors.Is(err, ErrWeakPassword) {
				t.Errorf("error %v does not wrap ErrWeakPassword", err)
			}
		})
	}
}
