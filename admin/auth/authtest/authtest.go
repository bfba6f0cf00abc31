// Package authtest is a fake auth.Resolver for tests of handlers and
// servers: sessions and tokens held in memory by hash, as a store would
// hold them, with revocation and an injectable lookup failure.
package authtest

import (
	"context"
	"sync"

	"github.com/varco-access/varco/admin/auth"
)

// Resolver is an in-memory auth.Resolver. The zero value is not ready;
// use NewResolver. It is safe for concurrent use.
type Resolver struct {
	mu       sync.Mutex
	sessions map[string]auth.Principal // by HashSecret of the session id
	tokens   map[string]auth.Principal // by HashSecret of the token
	err      error
}

var _ auth.Resolver = (*Resolver)(nil)

// NewResolver returns an empty Resolver.
func NewResolver() *Resolver {
	return &Resolver{
		sessions: make(map[string]auth.Principal),
		tokens:   make(map[string]auth.Principal),
	}
}

// AddSession creates a session for p and returns its plain id, the
// session cookie's value. It panics if no randomness is available.
func (r *Resolver) AddSession(p auth.Principal) string {
	plain, hash, err := auth.NewSecret("")
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions[hash] = p
	return plain
}

// AddToken creates an API token for p and returns it in plain, for an
// Authorization: Bearer header. It panics if no randomness is available.
func (r *Resolver) AddToken(p auth.Principal) string {
	plain, hash, err := auth.NewSecret(auth.TokenPrefix)
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens[hash] = p
	return plain
}

// Revoke forgets the session or token whose plain value is plain.
func (r *Resolver) Revoke(plain string) {
	h := auth.HashSecret(plain)
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sessions, h)
	delete(r.tokens, h)
}

// FailWith makes every later lookup return err (as a broken store would);
// nil restores normal lookups.
func (r *Resolver) FailWith(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

// SessionPrincipal implements auth.Resolver.
func (r *Resolver) SessionPrincipal(_ context.Context, hash string) (auth.Principal, error) {
	return r.lookup(r.sessions, hash)
}

// TokenPrincipal implements auth.Resolver.
func (r *Resolver) TokenPrincipal(_ context.Context, hash string) (auth.Principal, error) {
	return r.lookup(r.tokens, hash)
}

func (r *Resolver) lookup(m map[string]auth.Principal, hash string) (auth.Principal, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return auth.Principal{}, r.err
	}
	p, ok := m[hash]
	if !ok {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	return p, nil
}
