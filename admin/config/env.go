package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// key is one configuration key found by walking Config's toml tags.
type key struct {
	path  string // TOML path, "database.driver"
	env   string // VARCO_ADMIN_DATABASE_DRIVER
	index []int  // reflect field index from Config
}

// keys walks Config's fields: a struct that does not unmarshal text itself
// is a table whose fields are keys under its name; anything else is a
// key. It panics on a field kind setEnv cannot parse, which
// TestEnvVarsCoverEveryKey catches the moment such a field is added.
func keys() []key {
	var out []key
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				panic(fmt.Sprintf("config: field %s has no toml tag", f.Name))
			}
			path := prefix + name
			idx := append(append([]int(nil), index...), i)
			if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
				walk(f.Type, path+".", idx)
				continue
			}
			switch f.Type.Kind() {
			case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32, reflect.Float64:
			default:
				if !reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
					panic(fmt.Sprintf("config: key %s: no environment parser for %s", path, f.Type))
				}
			}
			env := EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
			out = append(out, key{path: path, env: env, index: idx})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// EnvVars returns the environment variable of every configuration key, in
// the order of the Config struct, mapped from its TOML path.
func EnvVars() map[string]string {
	m := map[string]string{}
	for _, k := range keys() {
		m[k.path] = k.env
	}
	return m
}

// applyEnv sets each key whose variable is in environ ("NAME=value"
// entries, as os.Environ). A VARCO_ADMIN_ variable that names no key
// (other than EnvPassword) is an error: a typo must not fall back to the
// file or the default unnoticed.
func (c *Config) applyEnv(environ []string) error {
	byEnv := map[string]key{}
	for _, k := range keys() {
		byEnv[k.env] = k
	}
	var errs []error
	set := map[string]bool{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || name == EnvPassword {
			continue
		}
		k, ok := byEnv[name]
		if !ok {
			errs = append(errs, fmt.Errorf("environment %s: not a varco-admin setting%s", name, closest(name, byEnv)))
			continue
		}
		if set[name] {
			continue // os.Environ may repeat a name; the first one is what Getenv returns
		}
		set[name] = true
		if err := setText(reflect.ValueOf(c).Elem().FieldByIndex(k.index), value); err != nil {
			// The error does not repeat a string value (string keys
			// never fail to parse here): a DSN may hold a password.
			errs = append(errs, fmt.Errorf("environment %s: %s: %w", name, k.path, err))
			continue
		}
		if c.env == nil {
			c.env = map[string]string{}
		}
		c.env[k.path] = name
	}
	return errors.Join(errs...)
}

// closest suggests the known variable sharing the longest prefix with
// name beyond VARCO_ADMIN_, if any.
func closest(name string, byEnv map[string]key) string {
	var all []string
	for n := range byEnv {
		all = append(all, n)
	}
	sort.Strings(all)
	best, bestLen := "", len(EnvPrefix)
	for _, n := range all {
		l := 0
		for l < len(n) && l < len(name) && n[l] == name[l] {
			l++
		}
		if l > bestLen {
			best, bestLen = n, l
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// setText parses s into v by v's type.
func setText(v reflect.Value, s string) error {
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return errors.New("want true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return errors.New("want a whole number")
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return errors.New("want a whole number, not negative")
		}
		v.SetUint(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return errors.New("want a number")
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("no parser for %s", v.Type())
	}
	return nil
}
