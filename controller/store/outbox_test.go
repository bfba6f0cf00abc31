package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/controller/store"
	"github.com/varco-access/varco/controller/store/storetest"
)

func ev(door string, i int) varco.Event {
	return varco.Event{Door: door, Time: store.T0.Add(time.Duration(i) * time.Second), Kind: varco.EventGranted,
		NIS: store.FixtureNIS(i), PersonID: fmt.Sprintf("person-%07d", i), Seq: 999 /* ignored */}
}

func seqs(evs []varco.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func TestOutboxOrderAndAck(t *testing.T) {
	s := storetest.Open(t)
	for i := 1; i <= 5; i++ {
		for _, d := range []string{"a", "b"} {
			got, err := s.Append(ev(d, i))
			if err != nil {
				t.Fatal(err)
			}
			if got.Seq != uint64(i) {
				t.Fatalf("door %s event %d got seq %d", d, i, got.Seq)
			}
		}
	}
	steps := []struct {
		name    string
		ack     uint64
		wantErr error
		after   uint64
		limit   int
		pending []uint64
		len     int
	}{
		{"all pending", 0, nil, 0, 0, []uint64{1, 2, 3, 4, 5}, 5},
		{"limit", 0, nil, 0, 2, []uint64{1, 2}, 5},
		{"after", 0, nil, 3, 0, []uint64{4, 5}, 5},
		{"ack 2", 2, nil, 0, 0, []uint64{3, 4, 5}, 3},
		{"ack again", 2, nil, 0, 0, []uint64{3, 4, 5}, 3},
		{"ack older", 1, nil, 0, 0, []uint64{3, 4, 5}, 3},
		{"ack ahead", 6, store.ErrAckAhead, 0, 0, []uint64{3, 4, 5}, 3},
		{"ack all", 5, nil, 0, 0, []uint64{}, 0},
	}
	for _, st := range steps {
		if st.ack > 0 {
			if err := s.Ack("a", st.ack); !errors.Is(err, st.wantErr) {
				t.Fatalf("%s: Ack = %v, want %v", st.name, err, st.wantErr)
			}
		}
		p, err := s.Pending("a", st.after, st.limit)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(seqs(p)) != fmt.Sprint(st.pending) {
			t.Errorf("%s: pending %v, want %v", st.name, seqs(p), st.pending)
		}
		if n, _ := s.Len("a"); n != st.len {
			t.Errorf("%s: Len = %d, want %d", st.name, n, st.len)
		}
	}
	// Door b untouched, sequence numbers never reused after an ack.
	if n, _ := s.Len("b"); n != 5 {
		t.Errorf("Len(b) = %d", n)
	}
	got, err := s.Append(ev("a", 6))
	if err != nil || got.Seq != 6 {
		t.Errorf("Append after ack = %d, %v; want seq 6", got.Seq, err)
	}
	p, _ := s.Pending("a", 0, 0)
	if len(p) != 1 || p[0].NIS != store.FixtureNIS(6) || p[0].Door != "a" || !p[0].Time.Equal(store.T0.Add(6*time.Second)) {
		t.Errorf("stored event = %+v", p)
	}
	if _, err := s.Append(varco.Event{Kind: varco.EventGranted}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Append without door = %v, want ErrInvalid", err)
	}
}

func TestOutboxCap(t *testing.T) {
	tests := []struct {
		name        string
		cap, append int
		wantLen     int
		wantDropped uint64
		wantFirst   uint64   // first pending seq
		wantNotices []string // Detail of each EventDropped, in order
	}{
		{"under cap", 10, 10, 10, 0, 1, nil},
		{"one over", 10, 11, 10, 2, 3, []string{"outbox cap 10 reached: dropped 2 events (seq 1-2), 2 in total"}},
		// Each overflow drops 2 (the notice takes a slot); the notice of
		// the first overflow is itself dropped later, but the counter
		// and the later notice keep the total.
		{"many over", 10, 16, 10, 12, 13, []string{
			"outbox cap 10 reached: dropped 2 events (seq 11-12), 12 in total",
		}},
		{"batch of 1%", 200, 201, 200, 2, 3, []string{"outbox cap 200 reached: dropped 2 events (seq 1-2), 2 in total"}},
		{"batch of 1% drops more", 1000, 1001, 992, 10, 11, []string{"outbox cap 1000 reached: dropped 10 events (seq 1-10), 10 in total"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := storetest.OpenWith(t, &store.Options{NoSync: true, OutboxCap: tc.cap})
			var last varco.Event
			for i := 1; i <= tc.append; i++ {
				var err error
				if last, err = s.Append(ev(door, i)); err != nil {
					t.Fatalf("Append %d: %v", i, err)
				}
			}
			if last.NIS != store.FixtureNIS(tc.append) {
				t.Errorf("Append returned %+v, want the appended event", last)
			}
			n, _ := s.Len(door)
			dropped, _ := s.Dropped(door)
			if n != tc.wantLen || dropped != tc.wantDropped {
				t.Errorf("Len, Dropped = %d, %d; want %d, %d", n, dropped, tc.wantLen, tc.wantDropped)
			}
			p, _ := s.Pending(door, 0, 0)
			if len(p) == 0 || p[0].Seq != tc.wantFirst {
				t.Fatalf("first pending = %v, want seq %d", seqs(p), tc.wantFirst)
			}
			var notices []string
			for _, e := range p {
				if e.Kind == varco.EventDropped {
					notices = append(notices, e.Detail)
				}
			}
			if len(notices) > 0 {
				// Only the latest notice matters for the total.
				notices = notices[len(notices)-1:]
			}
			if fmt.Sprint(notices) != fmt.Sprint(tc.wantNotices) {
				t.Errorf("notices %q, want %q", notices, tc.wantNotices)
			}
			if p[len(p)-1].NIS != store.FixtureNIS(tc.append) {
				t.Errorf("newest event %+v, want the last appended", p[len(p)-1])
			}
		})
	}
}

// TestOutbox100k appends 100,000 events in batches; BenchmarkOutbox1M
// does a million.
func TestOutbox100k(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s := storetest.Open(t)
	appendMany(t, s, 100_000)
	if n, _ := s.Len(door); n != 100_000 {
		t.Errorf("Len = %d", n)
	}
	p, err := s.Pending(door, 99_990, 100)
	if err != nil || len(p) != 10 || p[9].Seq != 100_000 {
		t.Errorf("tail = %v, %v", seqs(p), err)
	}
	if err := s.Ack(door, 50_000); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Len(door); n != 50_000 {
		t.Errorf("Len after ack = %d", n)
	}
}

func appendMany(tb testing.TB, s *store.Store, n int) {
	tb.Helper()
	const batch = 10_000
	evs := make([]varco.Event, 0, batch)
	for i := 1; i <= n; i++ {
		evs = append(evs, ev(door, i))
		if len(evs) == batch || i == n {
			if _, err := s.AppendBatch(evs); err != nil {
				tb.Fatal(err)
			}
			evs = evs[:0]
		}
	}
}

func BenchmarkOutbox1M(b *testing.B) {
	for b.Loop() {
		s := storetest.Open(b)
		start := time.Now()
		appendMany(b, s, 1_000_000)
		b.ReportMetric(time.Since(start).Seconds(), "s/1M-events")
		if n, _ := s.Len(door); n != 1_000_000 {
			b.Fatalf("Len = %d", n)
		}
		start = time.Now()
		if err := s.Ack(door, 1_000_000); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/ack-1M")
	}
}
