package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the config parser: it may reject them,
// never panic, and whatever it accepts must validate.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "release_time = 5\n"))
	f.Add([]byte(minimal + "[[doors]]\nid = \"d1\"\n"))
	f.Add([]byte("[[doors]]\n[[doors]]\n[doors.x]\n"))
	f.Add([]byte("doors = [1, 2]\n"))
	f.Add([]byte("doors = \"x\"\nsite = 1\n"))
	files, _ := filepath.Glob("../../firmware-config/*.toml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
	})
}
