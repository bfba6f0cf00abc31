package mqttsync

// Flush waits until the session's loop has handled everything handed to
// it before the call, ticks included (a tick is handed over before the
// fake clock's Advance returns).
func (s *Session) Flush() {
	done := make(chan struct{})
	select {
	case s.do <- func() { close(done) }:
		<-done
	case <-s.stopped:
	}
}
