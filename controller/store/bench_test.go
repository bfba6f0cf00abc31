package store

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/varco-access/varco"
)

const benchDoor = "main"

func benchStore(b *testing.B, opts *Options) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "varco.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// reportPercentiles reports p50 and p99 of ds in ns.
func reportPercentiles(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(ds[len(ds)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkGrantLookup measures the tap's lookup among 1,000,000 grants:
// Store.Grant (transaction + decode) beside a bare bbolt Get of the same
// key in the same file, in random order.
func BenchmarkGrantLookup(b *testing.B) {
	const n = 1_000_000
	s := benchStore(b, &Options{NoSync: true})
	if err := s.ApplySnapshot(Snapshot{Door: benchDoor, Rev: 1, Grants: FixtureGrants(0, n, "Nome Cognome")}, T0); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = FixtureNIS(rand.IntN(n))
	}
	b.Run("store.Grant", func(b *testing.B) {
		ds := make([]time.Duration, 0, 1<<20)
		i := 0
		for b.Loop() {
			t0 := time.Now()
			_, ok, err := s.Grant(benchDoor, keys[i&(len(keys)-1)])
			ds = append(ds, time.Since(t0))
			if !ok || err != nil {
				b.Fatal(ok, err)
			}
			i++
		}
		reportPercentiles(b, ds)
	})
	b.Run("bolt.Get", func(b *testing.B) {
		ds := make([]time.Duration, 0, 1<<20)
		i := 0
		for b.Loop() {
			k := []byte(keys[i&(len(keys)-1)])
			t0 := time.Now()
			var found bool
			s.db.View(func(tx *bolt.Tx) error {
				found = tx.Bucket(bktDoors).Bucket([]byte(benchDoor)).Bucket(bktGrants).Get(k) != nil
				return nil
			})
			ds = append(ds, time.Since(t0))
			if !found {
				b.Fatal("not found")
			}
			i++
		}
		reportPercentiles(b, ds)
	})
}

// BenchmarkGrantDecode compares the binary grant encoding with JSON, the
// alternative for the stored value.
func BenchmarkGrantDecode(b *testing.B) {
	g := FixtureGrant(42, "Maria Rossi")
	bin := appendGrant(nil, &g)
	js, _ := json.Marshal(&g)
	b.Run("binary", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeGrant(bin); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(bin)), "bytes/grant")
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			var g varco.Grant
			if err := json.Unmarshal(js, &g); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(js)), "bytes/grant")
	})
}

// BenchmarkSnapshot applies snapshots of 100,000 and 1,000,000 grants with
// fsync on (as in production): into a new file, into a new file opened
// with a 1 GiB InitialMmapSize, over a door holding as many, and a bare
// bbolt put of the same encoded data in one transaction into a new file.
// Store figures include validating every grant (parsing its RSA key).
func BenchmarkSnapshot(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		gs := FixtureGrants(0, n, "Nome Cognome")
		name := strconv.Itoa(n)
		b.Run(name+"/store", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s := benchStore(b, nil)
				b.StartTimer()
				if err := s.ApplySnapshot(Snapshot{Door: benchDoor, Rev: 1, Grants: gs}, T0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/store-premapped", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s := benchStore(b, &Options{InitialMmapSize: 1 << 30})
				b.StartTimer()
				if err := s.ApplySnapshot(Snapshot{Door: benchDoor, Rev: 1, Grants: gs}, T0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/store-replace", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				s := benchStore(b, nil)
				if err := s.ApplySnapshot(Snapshot{Door: benchDoor, Rev: 1, Grants: gs}, T0); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := s.ApplySnapshot(Snapshot{Door: benchDoor, Rev: 2, Grants: gs}, T0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/bolt.Put", func(b *testing.B) {
			enc, err := encodeGrants(gs)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				b.StopTimer()
				db, err := bolt.Open(filepath.Join(b.TempDir(), "bare.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				err = db.Update(func(tx *bolt.Tx) error {
					bk, err := tx.CreateBucket(bktGrants)
					if err != nil {
						return err
					}
					bk.FillPercent = 1
					for _, e := range enc {
						if err := bk.Put(e.key, e.val); err != nil {
							return err
						}
					}
					return nil
				})
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				db.Close()
				b.StartTimer()
			}
		})
	}
}

// BenchmarkMemory100k loads 100,000 grants, reopens the file and reads
// every grant, then reports the Go heap and the process RSS (mapped file
// pages touched included). Run it alone for a meaningful RSS:
// go test -run ^$ -bench Memory100k -benchtime 1x.
func BenchmarkMemory100k(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		dir := b.TempDir()
		path := filepath.Join(dir, "varco.db")
		s, err := Open(path, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.ApplySnapshot(Snapshot{Door: benchDoor, Rev: 1, Grants: FixtureGrants(0, n, "Nome Cognome")}, T0); err != nil {
			b.Fatal(err)
		}
		s.Close()
		runtime.GC()
		debug.FreeOSMemory()
		if s, err = Open(path, nil); err != nil {
			b.Fatal(err)
		}
		for i := range n {
			if _, ok, err := s.Grant(benchDoor, FixtureNIS(i)); !ok || err != nil {
				b.Fatal(i, ok, err)
			}
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/1e6, "heap-MB")
		b.ReportMetric(procStatus("VmRSS")/1e6, "rss-MB")
		b.ReportMetric(procStatus("RssAnon")/1e6, "rss-anon-MB")
		b.ReportMetric(procStatus("RssFile")/1e6, "rss-file-MB")
		if fi, err := os.Stat(path); err == nil {
			b.ReportMetric(float64(fi.Size())/1e6, "file-MB")
		}
		s.Close()
	}
}

// procStatus returns a size field of /proc/self/status in bytes (Linux),
// or 0: VmRSS is the resident set, RssFile the part that is mapped file
// pages (bbolt's mmap), which the kernel can drop under pressure.
func procStatus(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}
