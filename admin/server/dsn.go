package server

import (
	"net/url"
	"strings"
)

// describePostgres says which database a DSN names, for the log, without
// its password: the URL without password or query, or the host, port,
// dbname and user of a keyword/value string.
func describePostgres(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "(unparsable URL)"
		}
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		u.RawQuery, u.Fragment = "", ""
		return u.String()
	}
	kv, ok := parseKeywords(dsn)
	if !ok {
		return "(unparsable connection string)"
	}
	var kept []string
	for _, p := range kv {
		switch p[0] {
		case "host", "hostaddr", "port", "dbname", "user":
			kept = append(kept, p[0]+"="+p[1])
		}
	}
	if len(kept) == 0 {
		return "(from the PG* environment)"
	}
	return strings.Join(kept, " ")
}

// parseKeywords splits a libpq keyword/value string (PostgreSQL
// documentation, "Connection Strings"): key = value pairs separated by
// space, values bare or in single quotes, with \ escaping the next
// character. It reports false on a malformed string, so a quoted password
// is never mistaken for other keys.
func parseKeywords(s string) ([][2]string, bool) {
	var out [][2]string
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for {
		skip()
		if i == len(s) {
			return out, true
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		key := s[start:i]
		skip()
		if key == "" || i == len(s) || s[i] != '=' {
			return nil, false
		}
		i++
		skip()
		var v strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			for {
				if i == len(s) {
					return nil, false // unterminated quote
				}
				c := s[i]
				i++
				if c == '\'' {
					break
				}
				if c == '\\' {
					if i == len(s) {
						return nil, false
					}
					c = s[i]
					i++
				}
				v.WriteByte(c)
			}
		} else {
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
				c := s[i]
				i++
				if c == '\\' && i < len(s) {
					c = s[i]
					i++
				}
				v.WriteByte(c)
			}
		}
		out = append(out, [2]string{key, v.String()})
	}
}
