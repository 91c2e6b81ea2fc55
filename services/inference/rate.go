package inference

import (
	"sync"
	"time"
)

// tokenRate counts generated tokens over a sliding window of one-second
// buckets, for StatsResponse.tokens_per_second: both APIs add the tokens of
// every event they pass on.
type tokenRate struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets []int64 // tokens per second, ring indexed by unix second
	last    int64   // unix second of the newest bucket written
}

func newTokenRate(window time.Duration) *tokenRate {
	n := max(int(window/time.Second), 2)
	return &tokenRate{now: time.Now, buckets: make([]int64, n)}
}

// advance clears the buckets of the seconds since the last write. Call
// with mu held.
func (t *tokenRate) advance(sec int64) {
	n := int64(len(t.buckets))
	if sec-t.last >= n {
		clear(t.buckets)
	} else {
		for s := t.last + 1; s <= sec; s++ {
			t.buckets[s%n] = 0
		}
	}
	if sec > t.last {
		t.last = sec
	}
}

func (t *tokenRate) add(tokens int) {
	if tokens <= 0 {
		return
	}
	sec := t.now().Unix()
	t.mu.Lock()
	t.advance(sec)
	t.buckets[sec%int64(len(t.buckets))] += int64(tokens)
	t.mu.Unlock()
}

// perSecond is the tokens of the window (its last full seconds and the
// current one so far) divided by the time it spans.
func (t *tokenRate) perSecond() float64 {
	now := t.now()
	sec := now.Unix()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advance(sec)
	var sum int64
	for _, n := range t.buckets {
		sum += n
	}
	span := float64(len(t.buckets)-1) + float64(now.Nanosecond())/1e9
	return float64(sum) / span
}
