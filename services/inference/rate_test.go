package inference

import (
	"testing"
	"time"
)

func TestTokenRate(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newTokenRate(10 * time.Second)
	r.now = func() time.Time { return now }
	if got := r.perSecond(); got != 0 {
		t.Fatalf("empty rate %v", got)
	}
	// 100 tokens in each of 10 seconds: 100 a second.
	for range 10 {
		r.add(100)
		now = now.Add(time.Second)
	}
	now = now.Add(-time.Nanosecond) // the end of the tenth second
	if got := r.perSecond(); got < 99 || got > 101 {
		t.Errorf("steady rate %v, want 100", got)
	}
	// Half a window later the first half has left it.
	now = now.Add(5 * time.Second)
	if got := r.perSecond(); got < 45 || got > 56 {
		t.Errorf("rate half a window on %v, want about 50", got)
	}
	// Long after, nothing is left.
	now = now.Add(time.Hour)
	if got := r.perSecond(); got != 0 {
		t.Errorf("rate an hour on %v", got)
	}
	r.add(0)
	r.add(-5)
	if got := r.perSecond(); got != 0 {
		t.Errorf("rate after adding nothing %v", got)
	}
}
