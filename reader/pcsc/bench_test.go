package pcsc_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/ebfe/scard"

	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/pcsc"
	"github.com/varco-access/varco/reader/pcsc/pcscdtest"
	"github.com/varco-access/varco/reader/readertest"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
)

// BenchmarkCIERead measures the reads of CIE.md section 6 over the real
// PC/SC stack: a private pcscd with the vpcd driver (package pcscdtest) and
// virtual CIEs served over vpcd. In one run it times
//
//   - bare-apdu: one READ BINARY of the NIS (00 B0 81 00 0C) after the
//     selects, the round trip of a single APDU through libpcsclite, pcscd,
//     vpcd and the emulator: what the transport costs per APDU;
//   - door, enrol: reader.ReadDoor and reader.ReadEnrol (default options,
//     EF.SOD by SODAuto) over PC/SC, and the same reads at two shallower
//     depths to split the time: -inproc on the emulator in-process (no
//     PC/SC; the emulator's RSA-2048 signature is most of it) and -replay
//     over a transcript recorded from the emulator (our code alone);
//   - door-quirks: the door read over PC/SC on a card with the getresponse
//     and ias-6a82 quirks (two extra APDUs);
//   - tap: from inserting a card into vpcd to the Monitor's ReadDone, with
//     OnCard doing the door read; pcscd's presence polling of vpcd dominates.
//
// Every read is checked (NIS, lengths, the files against the card's), and the
// first and last of each set also verify the challenge signature (and EF.SOD
// at enrolment), so a broken read cannot make a fast figure. A summary table
// is printed at the end; each sub-benchmark also reports p50/p90/p99/max in
// ms, APDUs and bytes per read, and ns/op as the mean latency of one read
// (not of one b.N iteration). Run it with
//
//	go test -run '^$' -bench CIERead -benchtime 1x ./reader/pcsc/
//
// With a longer -benchtime each sub-benchmark repeats its whole set of reads
// b.N times. The figures are docs/benchmarks.md. The virtual card signs in
// about a millisecond of host CPU and has no radio link: a real contactless
// CIE spends tens of milliseconds on the signature alone (the delay= quirk
// models that), so these are the floor of our code plus pcscd and vpcd, not
// the time of a real tap.
func BenchmarkCIERead(b *testing.B) {
	p := testpki.Committed(b)
	cscas := p.TrustedCSCAs()
	d := pcscdtest.Start(b)
	names, addrs := d.ReaderNames(), d.VPCDAddrs()

	plain := benchNewCard(b, p, virtcie.Quirks{})
	quirky := benchNewCard(b, p, virtcie.Quirks{GetResponse: true, IAS6A82: true})
	pcscdtest.InsertCard(b, addrs[0], plain)
	quirkyConn := pcscdtest.InsertCard(b, addrs[1], quirky)

	sctx, err := scard.EstablishContext()
	if err != nil {
		b.Fatalf("establish PC/SC context: %v", err)
	}
	defer sctx.Release()
	h, atr := pcscdtest.Connect(b, names[0])
	card := pcsc.NewCard(h, names[0], atr)
	h, atr = pcscdtest.Connect(b, names[1])
	quirkyCard := pcsc.NewCard(h, names[1], atr)

	var results []benchResult
	run := func(name string, f func(b *testing.B) benchResult) {
		var last benchResult
		if b.Run(name, func(b *testing.B) { last = f(b) }) && last.read != "" {
			results = append(results, last)
		}
	}

	run("bare-apdu", func(b *testing.B) benchResult {
		for _, c := range [][]byte{benchSelectIAS, benchSelectDFCIE} {
			if _, err := benchOK(card.Transmit(c)); err != nil {
				b.Fatalf("select % X: %v", c, err)
			}
		}
		want := append([]byte(plain.NIS()), 0x90, 0x00)
		return benchMeasure(b, "bare APDU", "PC/SC", card, plain, 2000,
			func(t reader.Transmitter) ([]byte, error) { return t.Transmit(benchReadNIS) },
			func(resp []byte, _ bool) error {
				if !bytes.Equal(resp, want) {
					return fmt.Errorf("READ BINARY NIS = % X, want % X", resp, want)
				}
				return nil
			})
	})

	// Each read is timed at three depths: replaying a transcript recorded
	// from the emulator (our code alone: APDU codec, retries, parsing), the
	// emulator in-process (adds the card's work, mostly its RSA-2048
	// signature), and over PC/SC (adds libpcsclite, pcscd, vpcd).
	doorRead := func(t reader.Transmitter) (*reader.DoorRead, error) { return reader.ReadDoor(t, nil) }
	doorReplay := func(t reader.Transmitter) (*reader.DoorRead, error) { return reader.ReadDoor(t, benchChallenge) }
	checkDoor := func(vc *virtcie.Card) func(*reader.DoorRead, bool) error {
		return func(r *reader.DoorRead, full bool) error { return benchCheckDoor(vc, r, full) }
	}
	enrolRead := func(t reader.Transmitter) (*reader.EnrolRead, error) { return reader.ReadEnrol(t, nil) }
	enrolReplay := func(t reader.Transmitter) (*reader.EnrolRead, error) {
		return reader.ReadEnrol(t, &reader.EnrolOptions{Challenge: benchChallenge})
	}
	checkEnrol := func(r *reader.EnrolRead, full bool) error { return benchCheckEnrol(plain, r, cscas, full) }

	run("door-replay", func(b *testing.B) benchResult {
		return benchMeasure(b, "door", "replay", benchRecord(b, plain, doorReplay), nil, 5000, doorReplay, checkDoor(plain))
	})
	run("door-inproc", func(b *testing.B) benchResult {
		return benchMeasure(b, "door", "in-process", plain, plain, 1000, doorRead, checkDoor(plain))
	})
	run("door", func(b *testing.B) benchResult {
		return benchMeasure(b, "door", "PC/SC", card, plain, 1000, doorRead, checkDoor(plain))
	})
	run("enrol-replay", func(b *testing.B) benchResult {
		return benchMeasure(b, "enrol", "replay", benchRecord(b, plain, enrolReplay), nil, 5000, enrolReplay, checkEnrol)
	})
	run("enrol-inproc", func(b *testing.B) benchResult {
		return benchMeasure(b, "enrol", "in-process", plain, plain, 500, enrolRead, checkEnrol)
	})
	run("enrol", func(b *testing.B) benchResult {
		return benchMeasure(b, "enrol", "PC/SC", card, plain, 500, enrolRead, checkEnrol)
	})
	run("door-quirks", func(b *testing.B) benchResult {
		return benchMeasure(b, "door "+quirky.Quirks().String(), "PC/SC", quirkyCard, quirky, 500, doorRead, checkDoor(quirky))
	})

	// The tap uses the second reader: free it, and wait until pcscd has
	// seen it empty (a card dialled before that would replace the old one
	// in vpcd without pcscd reporting a new presentation).
	quirkyCard.Close(scard.ResetCard)
	quirkyConn.Close()
	benchWaitState(b, sctx, names[1], false)
	tapCard := benchNewCard(b, p, virtcie.Quirks{})
	var tap *benchTap
	b.Run("tap", func(b *testing.B) { tap = benchMeasureTap(b, names[1], addrs[1], tapCard, 20) })

	benchPrint(results, tap)
}

// The APDUs of CIE.md section 3 the benchmark sends itself.
var (
	benchSelectIAS   = []byte{0x00, 0xA4, 0x04, 0x0C, 0x0D, 0xA0, 0x00, 0x00, 0x00, 0x30, 0x80, 0x00, 0x00, 0x00, 0x09, 0x81, 0x60, 0x01}
	benchSelectDFCIE = []byte{0x00, 0xA4, 0x04, 0x0C, 0x06, 0xA0, 0x00, 0x00, 0x00, 0x00, 0x39}
	benchReadNIS     = []byte{0x00, 0xB0, 0x81, 0x00, 0x0C} // READ BINARY, SFI 1, 12 bytes
)

// benchChallenge is the fixed challenge of the replayed reads, so that a
// recorded transcript can be played again.
var benchChallenge = bytes.Repeat([]byte{0x5A}, 32)

// benchReplay plays a recorded transcript in a loop: each Transmit must send
// the next recorded command and gets its recorded response. It is the
// cheapest card there is, so a read over it costs our code alone.
type benchReplay struct {
	ops []readertest.Op
	i   int
}

func (r *benchReplay) Transmit(apdu []byte) ([]byte, error) {
	op := r.ops[r.i]
	r.i = (r.i + 1) % len(r.ops)
	if !bytes.Equal(apdu, op.Cmd) {
		return nil, fmt.Errorf("replay: command % X, recorded % X", apdu, op.Cmd)
	}
	return op.Resp, nil
}

// benchRecord records one read of vc in-process and returns its replay.
func benchRecord[T any](b *testing.B, vc *virtcie.Card, read func(reader.Transmitter) (T, error)) *benchReplay {
	b.Helper()
	vc.Reset()
	rec := &readertest.Record{T: vc}
	if _, err := read(rec); err != nil {
		b.Fatalf("record a read: %v", err)
	}
	return &benchReplay{ops: rec.Ops()}
}

func benchOK(resp []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	if len(resp) < 2 || resp[len(resp)-2] != 0x90 || resp[len(resp)-1] != 0x00 {
		return nil, fmt.Errorf("response % X, want 90 00", resp)
	}
	return resp, nil
}

func benchNewCard(b *testing.B, p *testpki.PKI, q virtcie.Quirks) *virtcie.Card {
	b.Helper()
	c, err := virtcie.New(virtcie.Options{NIS: "123456789012", Gen: reader.Gen2022, PKI: p, Quirks: q})
	if err != nil {
		b.Fatalf("virtcie.New: %v", err)
	}
	return c
}

// benchWaitState waits (at most 10 s) until pcscd reports a card in
// readerName (present) or none.
func benchWaitState(b *testing.B, ctx *scard.Context, readerName string, present bool) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Second)
	rs := []scard.ReaderState{{Reader: readerName, CurrentState: scard.StateUnaware}}
	for {
		err := ctx.GetStatusChange(rs, 500*time.Millisecond)
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			b.Fatalf("GetStatusChange(%q): %v", readerName, err)
		}
		if err == nil && (rs[0].EventState&scard.StatePresent != 0) == present {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("reader %q: card present = %v after 10 s, want %v", readerName, !present, present)
		}
		rs[0].CurrentState = rs[0].EventState &^ scard.StateChanged
	}
}

func benchCheckDoor(vc *virtcie.Card, r *reader.DoorRead, full bool) error {
	if r.NIS != vc.NIS() {
		return fmt.Errorf("NIS %q, want %q", r.NIS, vc.NIS())
	}
	if len(r.Signature) != 256 || len(r.Challenge) != 32 {
		return fmt.Errorf("signature of %d bytes over a challenge of %d, want 256 and 32", len(r.Signature), len(r.Challenge))
	}
	if full {
		if err := reader.VerifyChallenge(vc.PublicKey(), r.Challenge, r.Signature); err != nil {
			return err
		}
	}
	return nil
}

func benchCheckEnrol(vc *virtcie.Card, r *reader.EnrolRead, cscas []*x509.Certificate, full bool) error {
	if err := benchCheckDoor(vc, &r.DoorRead, full); err != nil {
		return err
	}
	if !bytes.Equal(r.KeyFile, vc.KeyFileTLV()) || !bytes.Equal(r.SOD, vc.SOD()) {
		return errors.New("key file or EF.SOD differs from the card's")
	}
	if full {
		_, err := reader.VerifySOD(r.SOD, reader.VerifyOptions{CSCAs: cscas, NIS: []byte(r.NIS), PublicKeyFile: r.KeyFile})
		return err
	}
	return nil
}

// benchResult is one row of the summary.
type benchResult struct {
	read       string // what was read: "door", "enrol", ...
	depth      string // through what: "replay", "in-process", "PC/SC"
	reads      int
	apdus      int // per read, as the reader sent them
	sent, recv int // bytes per read at the reader, status words included
	lat        []time.Duration
}

func (r benchResult) pct(p float64) time.Duration { return benchPercentile(r.lat, p) }

// benchPercentile returns the nearest-rank percentile p of sorted.
func benchPercentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func benchMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchMeasure times n reads (n·b.N with a longer -benchtime) of card.
// A first, untimed read goes through readertest.Record to count the APDUs
// and bytes crossing PC/SC; the counters of vc (nil for a replay) over the
// timed reads must then agree, so every timed read had the same shape. check runs
// outside the timed region on every read, with full set for the first and
// the last one.
func benchMeasure[T any](b *testing.B, what, depth string, card reader.Transmitter, vc *virtcie.Card, n int,
	read func(reader.Transmitter) (T, error), check func(T, bool) error) benchResult {
	b.Helper()
	name := what + " over " + depth
	rec := &readertest.Record{T: card}
	v, err := read(rec)
	if err == nil {
		err = check(v, true)
	}
	if err != nil {
		b.Fatalf("%s: sample read: %v", name, err)
	}
	res := benchResult{read: what, depth: depth, apdus: len(rec.Ops())}
	res.sent, res.recv = rec.Bytes()

	total := n * b.N
	res.reads = total
	res.lat = make([]time.Duration, 0, total)
	if vc != nil {
		vc.ResetStats()
	}
	for i := range total {
		start := time.Now()
		v, err := read(card)
		el := time.Since(start)
		if err == nil {
			err = check(v, i == 0 || i == total-1)
		}
		if err != nil {
			b.Fatalf("%s: read %d of %d: %v", name, i+1, total, err)
		}
		res.lat = append(res.lat, el)
	}
	if vc != nil {
		st := vc.Stats()
		if st.APDUs != total*res.apdus {
			b.Fatalf("%s: the card saw %d APDUs for %d reads, want %d per read", name, st.APDUs, total, res.apdus)
		}
		in, out := st.BytesIn/int64(total), st.BytesOut/int64(total)
		if in != int64(res.sent) || out != int64(res.recv) {
			b.Errorf("%s: the card counted %d/%d bytes in/out per read, the reader %d/%d sent/received", name, in, out, res.sent, res.recv)
		}
	}

	var sum time.Duration
	for _, d := range res.lat {
		sum += d
	}
	slices.Sort(res.lat)
	b.ReportMetric(float64(sum.Nanoseconds())/float64(total), "ns/op") // op = one read
	b.ReportMetric(benchMS(res.pct(50)), "p50-ms")
	b.ReportMetric(benchMS(res.pct(90)), "p90-ms")
	b.ReportMetric(benchMS(res.pct(99)), "p99-ms")
	b.ReportMetric(benchMS(res.pct(100)), "max-ms")
	b.ReportMetric(float64(res.apdus), "APDUs/read")
	b.ReportMetric(float64(res.sent), "sent-B/read")
	b.ReportMetric(float64(res.recv), "recv-B/read")
	return res
}

// benchTap is what the tap sub-benchmark measured.
type benchTap struct {
	taps    int
	present []time.Duration // insert to CardPresent
	done    []time.Duration // insert to ReadDone
	session []time.Duration // ReadDone.Duration: connect, OnCard, reset
	removed []time.Duration // conn.Close to CardRemoved
	elapsed time.Duration
}

// benchMeasureTap runs a Monitor on readerName with a door read in OnCard and
// presents tc taps times: insert into vpcd, wait for ReadDone, take the card
// away, wait for CardRemoved.
func benchMeasureTap(b *testing.B, readerName, addr string, vc *virtcie.Card, taps int) *benchTap {
	events := make(chan pcsc.Event, 1024)
	var mu sync.Mutex
	var readErr error
	m := pcsc.NewMonitor(pcsc.Options{
		OnCard: func(_ context.Context, _ string, t reader.Transmitter) error {
			r, err := reader.ReadDoor(t, nil)
			if err == nil {
				err = benchCheckDoor(vc, r, true) // a door verifies every tap
			}
			if err != nil {
				mu.Lock()
				readErr = err
				mu.Unlock()
			}
			return err
		},
		OnEvent: func(e pcsc.Event) {
			if e.Reader == readerName || e.Reader == "" {
				select {
				case events <- e:
				default: // the benchmark waits for every event it needs
				}
			}
		},
		Match: func(n string) bool { return n == readerName },
	})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			b.Errorf("Monitor.Run: %v", err)
		}
	}()
	wait := func(what string, kinds ...pcsc.EventKind) pcsc.Event {
		b.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e := <-events:
				if slices.Contains(kinds, e.Kind) {
					return e
				}
			case <-timeout:
				b.Fatalf("tap: no %s within 10 s", what)
			}
		}
	}
	wait("ReaderAdded", pcsc.ReaderAdded)

	res := &benchTap{taps: taps * b.N}
	begin := time.Now()
	for range res.taps {
		start := time.Now()
		conn := pcscdtest.InsertCard(b, addr, vc)
		e := wait("CardPresent", pcsc.CardPresent)
		res.present = append(res.present, e.Time.Sub(start))
		e = wait("ReadDone", pcsc.ReadDone, pcsc.ReadFailed)
		if e.Kind == pcsc.ReadFailed {
			b.Fatalf("tap: %v", e.Err)
		}
		res.done = append(res.done, e.Time.Sub(start))
		res.session = append(res.session, e.Duration)
		start = time.Now()
		conn.Close()
		e = wait("CardRemoved", pcsc.CardRemoved)
		res.removed = append(res.removed, e.Time.Sub(start))
	}
	res.elapsed = time.Since(begin)
	mu.Lock()
	err := readErr
	mu.Unlock()
	if err != nil {
		b.Fatalf("tap: %v", err)
	}
	for _, s := range [][]time.Duration{res.present, res.done, res.session, res.removed} {
		slices.Sort(s)
	}
	b.ReportMetric(float64(res.elapsed.Nanoseconds())/float64(res.taps), "ns/op") // op = one tap, removal included
	b.ReportMetric(benchMS(benchPercentile(res.done, 50)), "p50-ms")
	b.ReportMetric(benchMS(benchPercentile(res.done, 100)), "max-ms")
	return res
}

// benchPrint writes the summary table to stdout.
func benchPrint(results []benchResult, tap *benchTap) {
	find := func(what, depth string) *benchResult {
		for i := range results {
			if results[i].read == what && results[i].depth == depth {
				return &results[i]
			}
		}
		return nil
	}
	var bare time.Duration
	if r := find("bare APDU", "PC/SC"); r != nil {
		bare = r.pct(50)
	}
	ratio := func(x float64) string {
		if bare == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", x/float64(bare))
	}
	us := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond)) }
	fmt.Println() // after the benchmark lines

	fmt.Printf("CIE reads (%s)\n\n", benchEnv())
	width := len("read, through")
	for _, r := range results {
		width = max(width, len(r.read)+len(r.depth)+3)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%-*s\treads\tAPDUs\tsent B\trecv B\tp50 µs\tp90 µs\tp99 µs\tmax µs\tp50/bare\tp50/(APDUs×bare)\t\n", width, "read, through")
	for _, r := range results {
		p50 := r.pct(50)
		fmt.Fprintf(w, "%-*s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			width, r.read+", "+r.depth, r.reads, r.apdus, r.sent, r.recv,
			us(p50), us(r.pct(90)), us(r.pct(99)), us(r.pct(100)),
			ratio(float64(p50)), ratio(float64(p50)/float64(r.apdus)))
	}
	w.Flush()
	fmt.Println(`
APDUs, sent B and recv B are per read, as the reader sends and receives them (command
and response APDUs, status words included; over PC/SC the card counted the same).
bare = p50 of one READ BINARY round trip over PC/SC. replay = our code alone over a
recorded transcript; in-process = with the emulator (its RSA-2048 signature) but no PC/SC.`)
	for _, what := range []string{"door", "enrol"} {
		rp, ip, pc := find(what, "replay"), find(what, "in-process"), find(what, "PC/SC")
		if rp == nil || ip == nil || pc == nil || bare == 0 {
			continue
		}
		n := time.Duration(pc.apdus)
		code := rp.pct(50) / n
		transport := (pc.pct(50) - ip.pct(50)) / n
		fmt.Printf("%-5s p50: our code %s µs per APDU (%.2f%% of bare), PC/SC %s µs per APDU (%.2f× bare), the emulator %s µs per read\n",
			what, us(code), 100*float64(code)/float64(bare), us(transport), float64(transport)/float64(bare), us(ip.pct(50)-rp.pct(50)))
	}
	if tap != nil && tap.taps > 0 {
		q := func(s []time.Duration) string {
			return fmt.Sprintf("p50 %6.1f ms  max %6.1f ms", benchMS(benchPercentile(s, 50)), benchMS(benchPercentile(s, 100)))
		}
		fmt.Printf("\ntap: %d presentations to a Monitor doing ReadDoor + VerifyChallenge in OnCard (%.1f s)\n", tap.taps, tap.elapsed.Seconds())
		fmt.Printf("  insert into vpcd -> CardPresent      %s\n", q(tap.present))
		fmt.Printf("  insert into vpcd -> ReadDone         %s\n", q(tap.done))
		fmt.Printf("  connect + read + reset (Duration)    %s\n", q(tap.session))
		fmt.Printf("  take away -> CardRemoved             %s\n", q(tap.removed))
		fmt.Println("  pcscd polls vpcd for presence about every 400 ms: that wait, not the read, is the tap latency here.")
	}
	fmt.Println()
}

func benchEnv() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs, %s", cpu, runtime.NumCPU(), runtime.Version())
}
