package virtcie

import (
	"testing"

	"github.com/varco-access/varco/reader"
)

// BenchmarkDoorRead measures the door read of CIE.md section 6 against the
// emulator (the RSA signature dominates) and reports the APDUs and bytes it
// exchanges.
func BenchmarkDoorRead(b *testing.B) {
	c := fresh(b, mustCard(b, reader.Gen2022, Genuine), Quirks{})
	for b.Loop() {
		c.Reset()
		if _, err := reader.ReadDoor(c, nil); err != nil {
			b.Fatal(err)
		}
	}
	reportStats(b, c.Stats())
}

// BenchmarkEnrolRead measures the enrolment read, EF.SOD included.
func BenchmarkEnrolRead(b *testing.B) {
	c := fresh(b, mustCard(b, reader.Gen2022, Genuine), Quirks{})
	for b.Loop() {
		c.Reset()
		if _, err := reader.ReadEnrol(c, nil); err != nil {
			b.Fatal(err)
		}
	}
	reportStats(b, c.Stats())
}

func reportStats(b *testing.B, s Stats) {
	n := float64(b.N)
	b.ReportMetric(float64(s.APDUs)/n, "apdus/op")
	b.ReportMetric(float64(s.BytesIn+s.BytesOut)/n, "card-bytes/op")
}
