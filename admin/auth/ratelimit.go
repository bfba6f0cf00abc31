package auth

import (
	"container/list"
	"sync"
	"time"
)

// LimiterOptions configure a Limiter. A zero field takes the default shown.
type LimiterOptions struct {
	// Now is the clock; tests inject a fake one. Default time.Now.
	Now func() time.Time

	// MaxFailures failures within Window lock a key. Defaults 5 and 15
	// minutes. A failure exactly Window old no longer counts.
	MaxFailures int
	Window      time.Duration

	// Lockout is the first lock's length; each further lock of the same
	// key doubles it, up to MaxLockout. Defaults 15 minutes and 24 hours.
	Lockout    time.Duration
	MaxLockout time.Duration

	// Forget is how long after its last failure or the end of its last
	// lock a key is forgotten, so that its next lock is Lockout again.
	// Default MaxLockout; never less than Window.
	Forget time.Duration

	// MaxEntries bounds the keys held. Default 100,000 (some tens of MB
	// at most).
	MaxEntries int
}

// Limiter counts failed logins per key and locks keys out. The server
// keys it separately by username (e.g. "user:"+name) and by client
// address ("ip:"+addr) and refuses a login when either key is locked,
// before checking the password: this slows guessing one account from
// many addresses and many accounts from one address. It is safe for
// concurrent use.
//
// Memory is bounded by MaxEntries: when full, a new key evicts the least
// recently failed key that is not locked (among the oldest few), or the
// least recently failed key if all of those are locked. An attacker who
// floods the limiter with new keys can therefore at worst shorten the
// memory of old, unlocked failures. State is in memory only: a restart
// forgets it.
type Limiter struct {
	o LimiterOptions

	mu   sync.Mutex
	keys map[string]*list.Element // of *limitEntry
	lru  *list.List               // least recently failed at the front
}

type limitEntry struct {
	key         string
	fails       []time.Time // failures not yet Window old, oldest first
	last        time.Time   // last failure
	lockedUntil time.Time   // zero if never locked
	locks       int         // locks so far; the next lasts Lockout << locks
}

// evictScan is how many of the oldest entries an insertion into a full
// Limiter looks at for one that is not locked.
const evictScan = 64

// NewLimiter returns a Limiter with opts; nil means all defaults.
func NewLimiter(opts *LimiterOptions) *Limiter {
	var o LimiterOptions
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 5
	}
	if o.Window <= 0 {
		o.Window = 15 * time.Minute
	}
	if o.Lockout <= 0 {
		o.Lockout = 15 * time.Minute
	}
	if o.MaxLockout <= 0 {
		o.MaxLockout = 24 * time.Hour
	}
	if o.MaxLockout < o.Lockout {
		o.MaxLockout = o.Lockout
	}
	if o.Forget <= 0 {
		o.Forget = o.MaxLockout
	}
	if o.Forget < o.Window {
		o.Forget = o.Window
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 100_000
	}
	return &Limiter{o: o, keys: make(map[string]*list.Element), lru: list.New()}
}

// Allow reports whether a login for key may be tried now; if not,
// retryAfter is how long until it may (round it up to whole seconds for a
// Retry-After header). A key is unlocked again at exactly the instant its
// lock ends.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	el := l.keys[key]
	if el == nil {
		return true, 0
	}
	e := el.Value.(*limitEntry)
	if now.Before(e.lockedUntil) {
		return false, e.lockedUntil.Sub(now)
	}
	return true, 0
}

// Failure records a failed login for key. The MaxFailures-th failure
// within Window locks the key. Failures while the key is locked are not
// counted and do not extend the lock (the server should not have tried
// the password then).
func (l *Limiter) Failure(key string) {
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var e *limitEntry
	if el := l.keys[key]; el != nil {
		e = el.Value.(*limitEntry)
		if l.forgotten(e, now) {
			*e = limitEntry{key: key}
		}
		l.lru.MoveToBack(el)
	} else {
		if l.lru.Len() >= l.o.MaxEntries {
			l.evict(now)
		}
		e = &limitEntry{key: key}
		l.keys[key] = l.lru.PushBack(e)
	}
	e.last = now
	if now.Before(e.lockedUntil) {
		return
	}
	// Drop failures that are Window old or older; keep the slice small.
	i := 0
	for i < len(e.fails) && now.Sub(e.fails[i]) >= l.o.Window {
		i++
	}
	e.fails = append(e.fails[:0], e.fails[i:]...)
	e.fails = append(e.fails, now)
	if len(e.fails) >= l.o.MaxFailures {
		e.lockedUntil = now.Add(l.lockout(e.locks))
		e.locks++
		e.fails = e.fails[:0]
	}
}

// Success forgets key: its failures and its lock history. Call it for the
// username key after a successful login. Calling it for the address key
// too lets anyone holding one valid account clear their address's
// failures, so a server may prefer to let address keys expire instead.
func (l *Limiter) Success(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el := l.keys[key]; el != nil {
		l.lru.Remove(el)
		delete(l.keys, key)
	}
}

// Len returns the number of keys held, including ones that are due to be
// forgotten but have not been touched since.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// lockout is the length of the lock after `locks` earlier locks.
func (l *Limiter) lockout(locks int) time.Duration {
	d := l.o.Lockout
	for i := 0; i < locks && d < l.o.MaxLockout; i++ {
		d *= 2
	}
	return min(d, l.o.MaxLockout)
}

// forgotten reports whether e has nothing left to remember at now: no
// lock, no counting failure, and Forget has passed since both.
func (l *Limiter) forgotten(e *limitEntry, now time.Time) bool {
	end := e.last
	if e.lockedUntil.After(end) {
		end = e.lockedUntil
	}
	return now.Sub(end) >= l.o.Forget
}

// evict removes one entry to make room: the oldest forgotten or unlocked
// one among the evictScan oldest, else the oldest.
func (l *Limiter) evict(now time.Time) {
	victim := l.lru.Front()
	var unlocked *list.Element
	n := 0
	for el := l.lru.Front(); el != nil && n < evictScan; el, n = el.Next(), n+1 {
		e := el.Value.(*limitEntry)
		if l.forgotten(e, now) {
			unlocked = el
			break
		}
		if unlocked == nil && !now.Before(e.lockedUntil) {
			unlocked = el
		}
	}
	if unlocked != nil {
		victim = unlocked
	}
	if victim != nil {
		l.lru.Remove(victim)
		delete(l.keys, victim.Value.(*limitEntry).key)
	}
}
