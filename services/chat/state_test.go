package chat

import (
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/corral-ai/corral/persona/store/storetest"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// newState is a state on the test's Redis under its own prefix, with a
// clock the test moves.
func newState(t *testing.T) (*state, *time.Time) {
	t.Helper()
	url := storetest.RedisURL(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	now := time.Date(2026, 12, 1, 12, 0, 5, 0, time.UTC)
	return &state{rdb: rdb, prefix: storetest.Prefix(t, url), now: func() time.Time { return now }}, &now
}

var testConv = corralv1.Conversation{Platform: corralv1.Platform_PLATFORM_WHATSAPP, ChannelID: "42", UserID: "5215500000000"}

func TestStateLookup(t *testing.T) {
	s, _ := newState(t)
	ctx := t.Context()
	if err := s.markSeen(ctx, []string{"a", "b"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	// An outbox entry of an answered id is not pending; one of an
	// unanswered id is, as written.
	if err := s.putOutbox(ctx, outboxEntry{IDs: []string{"a", "c"}, Reply: []byte("r")}); err != nil {
		t.Fatal(err)
	}
	got, pending, err := s.lookup(ctx, []string{"a", "c", "b", "d"})
	if err != nil {
		t.Fatal(err)
	}
	if !got["a"] || !got["b"] || got["c"] || got["d"] || len(got) != 2 {
		t.Errorf("answered = %v", got)
	}
	entries, unreadable := decodeOutbox([]string{"c", "d"}, pending)
	if len(pending) != 1 || len(entries) != 1 || !slices.Equal(entries[0].IDs, []string{"a", "c"}) || string(entries[0].Reply) != "r" || unreadable != nil {
		t.Errorf("pending = %q, entries %+v, unreadable %v", pending, entries, unreadable)
	}
	if _, unreadable := decodeOutbox([]string{"x"}, map[string][]byte{"x": []byte("{not json")}); !slices.Equal(unreadable, []string{"x"}) {
		t.Errorf("a corrupt entry: unreadable = %v", unreadable)
	}
	ttl, err := s.rdb.TTL(ctx, s.key("seen", "a")).Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("seen key TTL = %v, %v", ttl, err)
	}
}

func TestStatePause(t *testing.T) {
	s, _ := newState(t)
	ctx := t.Context()
	for _, step := range []struct {
		do   func() error
		want bool
	}{
		{func() error { return nil }, false},
		{func() error { return s.pause(ctx, testConv, time.Hour) }, true},
		{func() error { return s.resume(ctx, testConv) }, false},
	} {
		if err := step.do(); err != nil {
			t.Fatal(err)
		}
		if got, err := s.paused(ctx, testConv); err != nil || got != step.want {
			t.Fatalf("paused = %v, %v; want %v", got, err, step.want)
		}
	}
}

func TestStateRate(t *testing.T) {
	s, now := newState(t)
	ctx := t.Context()
	for i, tc := range []struct {
		n        int
		advance  time.Duration
		want     rateVerdict
		limitOff bool
	}{
		{n: 1, want: rateOK},
		{n: 1, want: rateOK},
		{n: 1, want: rateNotice},
		{n: 2, want: rateQuiet},
		{n: 1, advance: time.Minute, want: rateOK},
		{n: 3, want: rateNotice},
		{n: 5, limitOff: true, want: rateOK},
	} {
		*now = now.Add(tc.advance)
		limit := 2
		if tc.limitOff {
			limit = 0
		}
		got, err := s.rate(ctx, testConv, tc.n, limit)
		if err != nil || got != tc.want {
			t.Errorf("step %d: rate = %v, %v; want %v", i, got, err, tc.want)
		}
	}
}

func TestStateDisclosed(t *testing.T) {
	s, _ := newState(t)
	ctx := t.Context()
	if got, err := s.disclosed(ctx, testConv); err != nil || got {
		t.Fatalf("disclosed before = %v, %v", got, err)
	}
	if err := s.markDisclosed(ctx, testConv); err != nil {
		t.Fatal(err)
	}
	if got, err := s.disclosed(ctx, testConv); err != nil || !got {
		t.Fatalf("disclosed after = %v, %v", got, err)
	}
}

func TestStateLane(t *testing.T) {
	s, _ := newState(t)
	ctx := t.Context()
	if wait, err := s.takeLane(ctx, "c", "p1", time.Minute); err != nil || wait != 0 {
		t.Fatalf("p1 take = %v, %v; want it held", wait, err)
	}
	if wait, err := s.takeLane(ctx, "c", "p1", time.Minute); err != nil || wait != 0 {
		t.Fatalf("p1 renew = %v, %v", wait, err)
	}
	if wait, err := s.takeLane(ctx, "c", "p2", time.Minute); err != nil || wait <= 0 || wait > time.Minute {
		t.Fatalf("p2 take = %v, %v; want how long p1 holds it", wait, err)
	}
	if err := s.releaseLane(ctx, "c", "p2"); err != nil {
		t.Fatal(err)
	}
	if wait, _ := s.takeLane(ctx, "c", "p2", time.Minute); wait == 0 {
		t.Fatal("p2's release let go of p1's hold")
	}
	if err := s.releaseLane(ctx, "c", "p1"); err != nil {
		t.Fatal(err)
	}
	if wait, err := s.takeLane(ctx, "c", "p2", time.Minute); err != nil || wait != 0 {
		t.Fatalf("p2 take after release = %v, %v", wait, err)
	}
}

func TestStateOrder(t *testing.T) {
	s, _ := newState(t)
	ctx := t.Context()
	for _, step := range []struct {
		mark, want uint64
	}{{0, 0}, {7, 7}, {12, 12}, {9, 12}, {13, 13}} {
		if step.mark > 0 {
			if err := s.markOrderDone(ctx, "chat.in.x", step.mark, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.orderDone(ctx, "chat.in.x"); err != nil || got != step.want {
			t.Fatalf("after marking %d: watermark %d, %v; want %d", step.mark, got, err, step.want)
		}
	}
	if got, _ := s.orderDone(ctx, "chat.in.other"); got != 0 {
		t.Fatalf("another conversation's watermark is %d", got)
	}
}
