package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// subBits is log2 of the sub-buckets per power of two: 128 sub-buckets
// keep every recorded value within 1/128 (under 0.8%) of the true one, the
// precision of an HDR histogram with two significant digits.
const subBits = 7

// Histogram counts durations in log-linear buckets, HDR style: exact
// below 128µs, then 128 buckets per power of two up to about 2^40µs (12
// days). The zero value is ready. It is not safe for concurrent use; the
// recorder serialises access.
type Histogram struct {
	counts []int64
	n      int64
	sum    float64 // microseconds
	min    int64
	max    int64
}

// bucketOf returns the bucket index of v microseconds.
func bucketOf(v int64) int {
	if v < 1<<subBits {
		return int(v)
	}
	exp := bits.Len64(uint64(v)) - subBits - 1 // v >> exp is in [128, 256)
	return (exp+1)<<subBits + int(v>>exp) - 1<<subBits
}

// lowOf is the smallest value that falls in bucket i; highOf the largest.
func lowOf(i int) int64 {
	if i < 1<<subBits {
		return int64(i)
	}
	exp := i>>subBits - 1
	return (int64(i&(1<<subBits-1)) + 1<<subBits) << exp
}

func highOf(i int) int64 { return lowOf(i+1) - 1 }

// Record adds one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) { h.RecordN(d, 1) }

// RecordN adds n copies of a duration.
func (h *Histogram) RecordN(d time.Duration, n int64) {
	if n <= 0 {
		return
	}
	v := max(d.Microseconds(), 0)
	i := bucketOf(v)
	if i >= len(h.counts) {
		h.counts = append(h.counts, make([]int64, i+1-len(h.counts))...)
	}
	h.counts[i] += n
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n += n
	h.sum += float64(v) * float64(n)
}

// RecordCorrected adds d and, as HdrHistogram does for a measurement that
// stalled a fixed-rate loop, the samples the stall kept from being taken:
// d-interval, d-2·interval, ... down to interval. Use it when the load
// loop itself waited for d; an open loop that measures from each
// request's intended start needs no correction.
func (h *Histogram) RecordCorrected(d, interval time.Duration) {
	h.Record(d)
	if interval <= 0 {
		return
	}
	for missing := d - interval; missing >= interval; missing -= interval {
		h.Record(missing)
	}
}

// Merge adds every sample of o.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		h.counts = append(h.counts, make([]int64, len(o.counts)-len(h.counts))...)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of samples.
func (h *Histogram) Count() int64 { return h.n }

// Max is the largest sample, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Min is the smallest sample, exactly.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) * time.Microsecond }

// Mean is the average sample.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/float64(h.n)) * time.Microsecond
}

// Quantile returns the value below or at which a fraction q (0..1) of the
// samples fall: the highest value of the bucket holding the rank, capped
// by the exact maximum, as HdrHistogram reports it.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := int64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(highOf(i), h.min), h.max)) * time.Microsecond
		}
	}
	return h.Max()
}

// Summary is a histogram's numbers in milliseconds, as reports carry them.
type Summary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// Summary returns the histogram's count, mean, percentiles and maximum.
func (h *Histogram) Summary() Summary {
	return Summary{Count: h.n, Mean: ms(h.Mean()), P50: ms(h.Quantile(0.50)), P90: ms(h.Quantile(0.90)),
		P99: ms(h.Quantile(0.99)), P999: ms(h.Quantile(0.999)), Max: ms(h.Max())}
}

// ms is d in milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())) / 1000 }
