package auth

import "errors"

var (
	// ErrUnauthenticated is returned when a request carries no valid
	// credentials: a Resolver returns it for an unknown, expired or revoked
	// session or token, and the middleware answers 401 for it.
	ErrUnauthenticated = errors.New("auth: not authenticated")

	// ErrForbidden is returned when an authenticated principal's role lacks
	// the permission an action needs (see Role.Can); it maps to 403.
	ErrForbidden = errors.New("auth: forbidden")

	// ErrCSRF is returned when a cookie-authenticated unsafe request has a
	// missing or invalid CSRF token, or a login form fails SameOrigin; it
	// maps to 403.
	ErrCSRF = errors.New("auth: missing or invalid CSRF token")

	// ErrRateLimited is returned when a login attempt is refused because
	// its username or client address is locked out by a Limiter; it maps
	// to 429 with a Retry-After header.
	ErrRateLimited = errors.New("auth: too many failed logins, try again later")

	// ErrBadPassword is returned when a login's username and password do
	// not match. The server returns it alike for an unknown user and a
	// wrong password, so that a login does not reveal which users exist.
	ErrBadPassword = errors.New("auth: wrong username or password")

	// ErrWeakPassword is returned (wrapped, see CheckPasswordPolicy) when a
	// new password fails the password policy; the wrapping error's text is
	// meant for the user.
	ErrWeakPassword = errors.New("auth: password does not meet the policy")

	// ErrMalformedHash is returned when a stored password hash is not a
	// well-formed argon2id PHC string within this package's bounds. The
	// wrapping error names the problem.
	ErrMalformedHash = errors.New("auth: malformed password hash")

	// ErrBadParams is returned when argon2id Params are out of bounds (see
	// Params.Validate).
	ErrBadParams = errors.New("auth: invalid argon2id parameters")

	// ErrUnknownRole is returned by ParseRole when the string names no
	// role.
	ErrUnknownRole = errors.New("auth: unknown role")
)
