package config

import (
	"os"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser: it may reject them, never
// panic, and whatever it accepts validates and has every duration within
// its limits.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		``,
		`listen = "0.0.0.0:443"`,
		"[database]\ndriver = \"postgres\"\ndsn = \"host=db\"",
		`retention = "30d"`,
		`retention = 365`,
		`retention = "-3d"`,
		`session_ttl = "soon"`,
		"[log]\nlevel = \"debug\"\njson = true",
		"[tls]\ncert = \"/etc/passwd\"",
		`listne = 1`,
		"[mqtt]\nbroker = 1",
		"log = 3",
		"[[database]]\n",
	} {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile(examplePath); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
		if r := c.Retention.Duration; r != 0 && r < MinRetention {
			t.Fatalf("retention %v accepted", r)
		}
		if c.SessionTTL.Duration < MinSessionTTL {
			t.Fatalf("session_ttl %v accepted", c.SessionTTL.Duration)
		}
	})
}
