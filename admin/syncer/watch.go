package syncer

import (
	"github.com/varco-access/varco/admin"
)

// Update is one change the syncer saw: a door's new status, or events a
// door sent that are now stored. Door is the controller id.
type Update struct {
	Door   string
	Status *DoorStatus
	Events []admin.Event
}

// watchBuffer is how many updates a slow watcher may fall behind before
// updates to it are dropped.
const watchBuffer = 256

// Watch returns a channel of every Update from now on (the panel's live
// views) and a function that stops it and closes the channel. A watcher
// that falls watchBuffer updates behind misses the ones after (a live
// page reloads from the store now and then); the syncer never waits for
// a watcher.
func (s *Syncer) Watch() (<-chan Update, func()) {
	ch := make(chan Update, watchBuffer)
	s.wmu.Lock()
	if s.watchers == nil {
		s.watchers = map[chan Update]struct{}{}
	}
	s.watchers[ch] = struct{}{}
	s.wmu.Unlock()
	return ch, func() {
		s.wmu.Lock()
		if _, ok := s.watchers[ch]; ok {
			delete(s.watchers, ch)
			close(ch)
		}
		s.wmu.Unlock()
	}
}

// broadcast hands u to every watcher that has room for it.
func (s *Syncer) broadcast(u Update) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for ch := range s.watchers {
		select {
		case ch <- u:
		default: // a slow watcher: it will reload
		}
	}
}
