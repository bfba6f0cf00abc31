// Package auth holds the authentication and authorisation primitives of
// varco-admin (ARCHITECTURE.md section 7) and the gin middleware built
// from them. It does no storage: the server keeps users, sessions and
// tokens in its store and answers lookups through a Resolver.
//
// # Passwords
//
// Admin users' passwords are hashed with argon2id (RFC 9106) and stored as
// PHC strings, "$argon2id$v=19$m=65536,t=3,p=4$<salt>$<key>". VerifyPassword
// parses stored strings strictly and bounds their parameters, so a
// corrupt row cannot make a login allocate gigabytes; it reports when a
// hash was made with other parameters than DefaultParams so the server can
// rehash at the next login. CheckPasswordPolicy applies to new passwords:
// at least 12 characters, at most 256 bytes, not one character repeated.
//
// # Sessions and API tokens
//
// Both are 256-bit random secrets from NewSecret, stored only as their
// SHA-256 (HashSecret): a leaked database holds no usable credentials. A
// session id travels in a cookie (SetSessionCookie: HttpOnly,
// SameSite=Lax, Secure under TLS); an API token, prefixed "vt_", travels
// in "Authorization: Bearer". A token is scoped to one role and revoked by
// deleting its hash. Authenticate resolves either into a Principal.
//
// # CSRF
//
// Browsers attach cookies to cross-site requests, so every unsafe request
// authenticated by a session cookie must carry the session's CSRF token
// (CSRFProtect), the HMAC of the session id under a site secret: nothing
// to store, and it changes with the session. SameSite=Lax is a second
// line, not the only one. Bearer tokens are never attached by a browser
// and need no CSRF token. The login form has no session yet; the server
// checks it with SameOrigin.
//
// # Login throttling
//
// A Limiter counts failed logins per username and per client address:
// five failures within 15 minutes lock the key for 15 minutes, doubling
// with each further lock up to 24 hours. Locked keys are refused before
// any password is checked. State is in memory, bounded in size, and lost
// on restart.
//
// # Roles
//
// Every route requires one Permission (Require). Role.Can answers from
// this matrix, the whole policy ("x" holds, "-" does not; TestDocMatrix
// checks this table against the code):
//
//	permission       admin  hr  facilities  viewer
//	people.read      x      x   x           -
//	people.write     x      x   -           -
//	cards.read       x      x   -           -
//	cards.write      x      x   -           -
//	enrol            x      x   -           -
//	groups.read      x      x   x           -
//	groups.write     x      x   -           -
//	doors.read       x      x   x           x
//	doors.write      x      -   x           -
//	doors.control    x      -   x           -
//	schedules.read   x      x   x           -
//	schedules.write  x      -   x           -
//	events.read      x      -   x           x
//	events.export    x      -   x           -
//	sites.read       x      x   x           x
//	sites.write      x      -   x           -
//	audit.read       x      -   -           -
//	users.manage     x      -   -           -
//	tokens.manage    x      -   -           -
//	settings.manage  x      -   -           -
//
// In words: admin can do everything; hr manages people, cards, enrolment
// and access groups and can see doors, schedules and sites, but cannot
// control doors or read the entry log; facilities runs doors, schedules,
// holidays, sites and the entry log, and may read people and groups to
// answer "who can open this door", but cannot enrol or change cards;
// viewer sees doors, sites and the entry log. Only admin reads the audit
// log and manages users, tokens and settings.
//
// # Caveats
//
// Rate-limit state is per process; several server replicas each keep
// their own. Passwords are not Unicode-normalised, so the same password
// typed with composed and decomposed accents differs. SameOrigin and the
// Secure flag depend on the server seeing the real Host and scheme behind
// a proxy.
package auth
