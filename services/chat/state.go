package chat

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// state is what the chat role keeps in Redis about conversations besides
// the persona store's history and choices: answered message ids, pauses,
// rate counters and whether the AI notice was given. Keys (after the
// prefix) are listed in the package documentation.
type state struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// disclosedTTL is how long a conversation counts as having had the AI
// notice: as long as the store keeps its history by default.
const disclosedTTL = 7 * 24 * time.Hour

func (s *state) key(parts ...string) string {
	k := s.prefix + "chat"
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

// lookup reports which of the dedupe ids were answered already, and the
// outbox entries (still encoded) of those that were not: one round trip,
// one EXISTS and one GET per id, pipelined because the keys may live in
// different Redis Cluster slots.
func (s *state) lookup(ctx context.Context, ids []string) (answered map[string]bool, pending map[string][]byte, err error) {
	exists := make([]*redis.IntCmd, len(ids))
	gets := make([]*redis.StringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			exists[i] = p.Exists(ctx, s.key("seen", id))
			gets[i] = p.Get(ctx, s.key("outbox", id))
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("read answered message ids and outbox: %w", err)
	}
	answered = make(map[string]bool, len(ids))
	for i, c := range exists {
		if c.Err() != nil {
			return nil, nil, fmt.Errorf("read answered message id: %w", c.Err())
		}
		if c.Val() > 0 {
			answered[ids[i]] = true
			continue
		}
		switch b, err := gets[i].Bytes(); {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, nil, fmt.Errorf("read outbox: %w", err)
		default:
			if pending == nil {
				pending = map[string][]byte{}
			}
			pending[ids[i]] = b
		}
	}
	return answered, pending, nil
}

// markSeen records the dedupe ids as answered for ttl.
func (s *state) markSeen(ctx context.Context, ids []string, ttl time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			p.Set(ctx, s.key("seen", id), "1", ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record answered message ids: %w", err)
	}
	return nil
}

// paused reports whether the bot is paused in conv.
func (s *state) paused(ctx context.Context, conv corralv1.Conversation) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.key("pause", conv.Key())).Result()
	if err != nil {
		return false, fmt.Errorf("read pause: %w", err)
	}
	return n > 0, nil
}

// pause quiets the bot in conv for d (from now, extending a running pause).
func (s *state) pause(ctx context.Context, conv corralv1.Conversation, d time.Duration) error {
	if err := s.rdb.Set(ctx, s.key("pause", conv.Key()), strconv.FormatInt(s.now().Unix(), 10), d).Err(); err != nil {
		return fmt.Errorf("pause conversation: %w", err)
	}
	return nil
}

// resume ends a pause in conv.
func (s *state) resume(ctx context.Context, conv corralv1.Conversation) error {
	if err := s.rdb.Del(ctx, s.key("pause", conv.Key())).Err(); err != nil {
		return fmt.Errorf("resume conversation: %w", err)
	}
	return nil
}

// rateVerdict is what the rate limit says about a batch of messages.
type rateVerdict int

const (
	rateOK     rateVerdict = iota // within the limit
	rateNotice                    // over it: send the one notice of this minute
	rateQuiet                     // over it, notice already sent: say nothing
)

// rate counts n more messages of conv in the current minute against limit
// (0: no limit). The first batch over the limit gets rateNotice, later ones
// in the same minute rateQuiet.
func (s *state) rate(ctx context.Context, conv corralv1.Conversation, n, limit int) (rateVerdict, error) {
	if limit <= 0 {
		return rateOK, nil
	}
	minute := strconv.FormatInt(s.now().Unix()/60, 10)
	counter := s.key("rate", conv.Key(), minute)
	var incr *redis.IntCmd
	if _, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.IncrBy(ctx, counter, int64(n))
		p.Expire(ctx, counter, 2*time.Minute)
		return nil
	}); err != nil {
		return rateOK, fmt.Errorf("count messages: %w", err)
	}
	if incr.Val() <= int64(limit) {
		return rateOK, nil
	}
	first, err := s.rdb.SetNX(ctx, s.key("notice", conv.Key(), minute), "1", 2*time.Minute).Result()
	if err != nil {
		return rateOK, fmt.Errorf("record rate notice: %w", err)
	}
	if first {
		return rateNotice, nil
	}
	return rateQuiet, nil
}

// disclosed reports whether conv already had its AI notice.
func (s *state) disclosed(ctx context.Context, conv corralv1.Conversation) (bool, error) {
	err := s.rdb.Get(ctx, s.key("disclosed", conv.Key())).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read AI notice: %w", err)
	}
	return true, nil
}

// markDisclosed records that conv had its AI notice.
func (s *state) markDisclosed(ctx context.Context, conv corralv1.Conversation) error {
	if err := s.rdb.Set(ctx, s.key("disclosed", conv.Key()), "1", disclosedTTL).Err(); err != nil {
		return fmt.Errorf("record AI notice: %w", err)
	}
	return nil
}

// takeLane takes conv's lane for the process token for ttl, or renews it
// when the process holds it already. It returns 0 when the process holds
// the lane, else how long another process still holds it. Without Lua
// (the embedded server), the renewal of a lane that changed hands between
// GET and PEXPIRE can extend the other's hold once; the hold is a guard
// for order across replicas, not a lock that correctness rests on alone.
func (s *state) takeLane(ctx context.Context, key, token string, ttl time.Duration) (time.Duration, error) {
	k := s.key("lane", key)
	ok, err := s.rdb.SetNX(ctx, k, token, ttl).Result()
	if err != nil {
		return 0, fmt.Errorf("take conversation: %w", err)
	}
	if ok {
		return 0, nil
	}
	holder, err := s.rdb.Get(ctx, k).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return s.takeLane(ctx, key, token, ttl) // released meanwhile
	case err != nil:
		return 0, fmt.Errorf("take conversation: %w", err)
	case holder == token:
		if err := s.rdb.PExpire(ctx, k, ttl).Err(); err != nil {
			return 0, fmt.Errorf("renew conversation: %w", err)
		}
		return 0, nil
	}
	left, err := s.rdb.PTTL(ctx, k).Result()
	if err != nil {
		return 0, fmt.Errorf("take conversation: %w", err)
	}
	return max(left, time.Millisecond), nil
}

// releaseLane lets go of conv's lane if the process holds it.
func (s *state) releaseLane(ctx context.Context, key, token string) error {
	k := s.key("lane", key)
	holder, err := s.rdb.Get(ctx, k).Result()
	if errors.Is(err, redis.Nil) || holder != token {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release conversation: %w", err)
	}
	if err := s.rdb.Del(ctx, k).Err(); err != nil {
		return fmt.Errorf("release conversation: %w", err)
	}
	return nil
}

// orderMember is the one member of a conversation's order key, scored by
// the watermark: ZADD GT moves it up atomically and never down.
const orderMember = "done"

// orderDone returns the watermark of the conversation on CHAT_IN subject:
// every message of it up to that stream sequence is finished; 0 when none
// is recorded.
func (s *state) orderDone(ctx context.Context, subject string) (uint64, error) {
	v, err := s.rdb.ZScore(ctx, s.key("order", subject), orderMember).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read conversation order: %w", err)
	}
	return uint64(v), nil
}

// markOrderDone moves the watermark of subject up to seq (never down) and
// keeps it for ttl (0: no expiry).
func (s *state) markOrderDone(ctx context.Context, subject string, seq uint64, ttl time.Duration) error {
	k := s.key("order", subject)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAddGT(ctx, k, redis.Z{Score: float64(seq), Member: orderMember})
		if ttl > 0 {
			p.PExpire(ctx, k, ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record conversation order: %w", err)
	}
	return nil
}
