// Package synctest is a fake of the door sync for tests of the API and
// the panel: it records what they ask of the doors (changes, commands),
// answers door status a test sets, and lets a test push live updates to
// watchers as the syncer does.
package synctest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/varco-access/varco/admin/syncer"
	"github.com/varco-access/varco/wire"
)

// Fake implements httpapi.DoorSync and panel.Sync.
type Fake struct {
	mu       sync.Mutex
	changed  int
	commands []string
	status   map[string]syncer.DoorStatus
	watchers []chan syncer.Update
}

// New returns a Fake with no doors.
func New() *Fake { return &Fake{status: map[string]syncer.DoorStatus{}} }

// Changed counts a notification.
func (f *Fake) Changed() { f.mu.Lock(); f.changed++; f.mu.Unlock() }

// ChangedCount is how many times Changed was called.
func (f *Fake) ChangedCount() int { f.mu.Lock(); defer f.mu.Unlock(); return f.changed }

// Status answers what SetStatus set.
func (f *Fake) Status(door string) (syncer.DoorStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.status[door]
	return st, ok
}

// SetStatus sets the status of door (controller id).
func (f *Fake) SetStatus(door string, st syncer.DoorStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[door] = st
}

// Command records "door action by" and answers a command as the syncer
// would, numbered from 1.
func (f *Fake) Command(ctx context.Context, door string, a wire.Action, by string) (wire.Cmd, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, door+" "+string(a)+" "+by)
	now := time.Now().UTC()
	return wire.Cmd{Seq: uint64(len(f.commands)), Action: a, IssuedAt: now, ExpiresAt: now.Add(time.Minute), By: by}, nil
}

// Commands returns the commands sent so far, as "door action by".
func (f *Fake) Commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.commands...)
}

// Watch returns a channel that gets what Push sends.
func (f *Fake) Watch() (<-chan syncer.Update, func()) {
	ch := make(chan syncer.Update, 64)
	f.mu.Lock()
	f.watchers = append(f.watchers, ch)
	f.mu.Unlock()
	return ch, func() {}
}

// Push sends u to every watcher, as the syncer does after a status or a
// stored batch; it waits up to 5 s for a watcher to exist.
func (f *Fake) Push(t testing.TB, u syncer.Update) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		f.mu.Lock()
		ws := append([]chan syncer.Update(nil), f.watchers...)
		f.mu.Unlock()
		if len(ws) > 0 {
			for _, w := range ws {
				w <- u
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("synctest: nobody watches the sync")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ForgetWatchers drops the watchers so far (their streams have ended).
func (f *Fake) ForgetWatchers() {
	f.mu.Lock()
	f.watchers = nil
	f.mu.Unlock()
}
