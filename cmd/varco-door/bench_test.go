package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/varco-access/varco"
	"github.com/varco-access/varco/reader"
	"github.com/varco-access/varco/reader/pcsc/pcscdtest"
	"github.com/varco-access/varco/reader/testpki"
	"github.com/varco-access/varco/reader/virtcie"
)

// BenchmarkDaemonRSS100k measures the memory of the real varco-door
// process guarding a door with 100,000 grants: the allowlist is imported
// with -import, the daemon starts on pcscd + vpcd with simulated GPIO and
// a card is tapped (granted) 20 times. It reports the resident set after
// start and after the taps, split into anonymous memory (Go heap, stacks,
// runtime) and file pages (bbolt's mmap of the store, page cache the
// kernel can drop), and the peak (VmHWM).
func BenchmarkDaemonRSS100k(b *testing.B) {
	const n, taps = 100_000, 20
	pd := pcscdtest.Start(b)
	bin := buildDaemon(b)
	for b.Loop() {
		dir := b.TempDir()
		port := freePort(b)
		cfg := importConfig(b, dir)
		body, err := os.ReadFile(cfg)
		if err != nil {
			b.Fatal(err)
		}
		body = []byte(strings.Replace(strings.Replace(string(body), `metrics_addr = ""`, fmt.Sprintf(`metrics_addr = "127.0.0.1:%d"`, port), 1),
			`reader = "virtual"`, fmt.Sprintf("reader = %q", pd.ReaderNames()[0]), 1))
		if err := os.WriteFile(cfg, body, 0o644); err != nil {
			b.Fatal(err)
		}
		card, err := virtcie.New(virtcie.Options{NIS: fmt.Sprintf("%012d", 1+n/2), PKI: testpki.Committed(b), Gen: reader.Gen2022})
		if err != nil {
			b.Fatal(err)
		}
		allow := filepath.Join(dir, "allow.json")
		writeSnapshot(b, allow, 1, 1, n, card.KeyFileTLV(), varco.FlagAlways)
		if out, err := runImport(b, bin, cfg, allow); err != nil {
			b.Fatalf("import: %v\n%s", err, out)
		}
		// The allowlist is written; what matters is the daemon reading it.
		os.Remove(allow)

		d := startDaemon(b, bin, cfg, port)
		time.Sleep(time.Second)
		pid := d.cmd.Process.Pid
		started := procStatusOf(b, pid)
		for i := range taps {
			presentUntil(b, d, pd, card, func() bool {
				return d.metric(`varco_door_decisions_total{door="front",reason="granted"}`) == strconv.Itoa(i+1)
			})
		}
		after := procStatusOf(b, pid)
		fi, err := os.Stat(filepath.Join(dir, "varco-door.db"))
		if err != nil {
			b.Fatal(err)
		}
		d.cmd.Process.Kill()
		<-d.done

		mb := func(v float64) float64 { return v / (1 << 20) }
		b.ReportMetric(mb(started["VmRSS"]), "rss-start-MiB")
		b.ReportMetric(mb(after["VmRSS"]), "rss-MiB")
		b.ReportMetric(mb(after["RssAnon"]), "rss-anon-MiB")
		b.ReportMetric(mb(after["RssFile"]), "rss-file-MiB")
		b.ReportMetric(mb(after["VmHWM"]), "rss-peak-MiB")
		b.ReportMetric(mb(float64(fi.Size())), "store-MiB")
		fmt.Printf("varco-door with %d grants, %d granted taps: RSS %.1f MiB after start, %.1f MiB after the taps (anonymous %.1f, file %.1f), peak %.1f MiB; store file %.1f MiB (target: RSS < 40 MB)\n",
			n, taps, mb(started["VmRSS"]), mb(after["VmRSS"]), mb(after["RssAnon"]), mb(after["RssFile"]), mb(after["VmHWM"]), mb(float64(fi.Size())))
	}
}

// procStatusOf returns the kB fields of /proc/PID/status, in bytes.
func procStatusOf(tb testing.TB, pid int) map[string]float64 {
	tb.Helper()
	body, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	m := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "kB" {
			v, _ := strconv.ParseFloat(f[1], 64)
			m[strings.TrimSuffix(f[0], ":")] = v * 1024
		}
	}
	return m
}
