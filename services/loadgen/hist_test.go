package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestHistogramPrecision records random durations over nine decades and
// checks every quantile against the sorted samples: within 1%, never
// below the true value by more than a bucket.
func TestHistogramPrecision(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var all []time.Duration
	for range 20000 {
		d := time.Duration(math.Pow(10, rng.Float64()*9)) * time.Microsecond / 1000 * 1000
		all = append(all, d.Truncate(time.Microsecond))
		h.Record(d)
	}
	slices.Sort(all)
	for _, q := range []float64{0, 0.1, 0.5, 0.9, 0.99, 0.999, 1} {
		rank := max(int(math.Ceil(q*float64(len(all))))-1, 0)
		want, got := all[rank], h.Quantile(q)
		if diff := math.Abs(float64(got-want)) / float64(max(want, time.Microsecond)); diff > 0.01 && got-want > time.Microsecond {
			t.Errorf("q %v: got %v, want %v (%.2f%% off)", q, got, want, diff*100)
		}
	}
	if h.Max() != all[len(all)-1] || h.Min() != all[0] || h.Count() != int64(len(all)) {
		t.Errorf("max %v min %v count %d", h.Max(), h.Min(), h.Count())
	}
}

func TestHistogramBuckets(t *testing.T) {
	for v := int64(0); v < 1<<22; v += 1 + v/97 {
		i := bucketOf(v)
		if lowOf(i) > v || highOf(i) < v {
			t.Fatalf("%d in bucket %d [%d, %d]", v, i, lowOf(i), highOf(i))
		}
		if w := highOf(i) - lowOf(i) + 1; v >= 128 && float64(w)/float64(v) > 1.0/128 {
			t.Fatalf("bucket of %d is %d wide", v, w)
		}
	}
}

// TestCorrectedKnownCase is HdrHistogram's example of coordinated
// omission: a loop meant to measure every 10ms records 10000 answers of
// 1ms, then one that stalled 100s. Uncorrected, the stall is one sample in
// 10001 and p99 says 1ms; corrected, the 9999 measurements the stall kept
// from being made are added (99.99s, 99.98s, ... 10ms), so half the
// samples are the stall's and p75 is about 50s, p99 about 98s.
func TestCorrectedKnownCase(t *testing.T) {
	var raw, fixed Histogram
	for range 10000 {
		raw.Record(time.Millisecond)
		fixed.RecordCorrected(time.Millisecond, 10*time.Millisecond)
	}
	raw.Record(100 * time.Second)
	fixed.RecordCorrected(100*time.Second, 10*time.Millisecond)
	if raw.Count() != 10001 || raw.Quantile(0.99) > 1010*time.Microsecond {
		t.Fatalf("raw count %d p99 %v", raw.Count(), raw.Quantile(0.99))
	}
	if fixed.Count() != 20000 {
		t.Fatalf("corrected count %d, want 20000", fixed.Count())
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, time.Millisecond}, {0.75, 50 * time.Second}, {0.9, 80 * time.Second}, {0.99, 98 * time.Second}, {1, 100 * time.Second}} {
		got := fixed.Quantile(c.q)
		if math.Abs(float64(got-c.want))/float64(c.want) > 0.01 {
			t.Errorf("corrected q %v = %v, want %v", c.q, got, c.want)
		}
	}
}

// TestOpenLoopMeasuresFromIntendedTime: a message meant for t=0 but posted
// at t=2s (the loop fell behind) and answered at t=2.1s took 2.1s in an
// open loop, 100ms uncorrected.
func TestOpenLoopMeasuresFromIntendedTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ack, ackRaw Histogram
	ack.Record(2050 * time.Millisecond)
	ackRaw.Record(50 * time.Millisecond)
	o := Outcome{Messages: []MessageOutcome{{ID: "a", Start: t0, Sent: t0.Add(2 * time.Second), Acked: true, Parts: 1,
		First: t0.Add(2100 * time.Millisecond), Last: t0.Add(2100 * time.Millisecond)}}}
	r := &Report{Started: t0, ErrorsByKind: map[string]int64{}, ElapsedS: 1}
	r.build(o, &ack, &ackRaw, true)
	if r.E2E.Max != 2100 || r.E2EUncorrected.Max != 100 || r.Ack.Max != 2050 || r.AckUncorrected.Max != 50 {
		t.Fatalf("e2e %v (uncorrected %v), ack %v (uncorrected %v)", r.E2E.Max, r.E2EUncorrected.Max, r.Ack.Max, r.AckUncorrected.Max)
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i) * time.Millisecond
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	if a.Summary() != all.Summary() {
		t.Fatalf("merged %+v, want %+v", a.Summary(), all.Summary())
	}
}
