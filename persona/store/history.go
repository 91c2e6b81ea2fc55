package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/corral-ai/corral/persona"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Conversation history: one Redis list per conversation, oldest message
// first, trimmed to Config.HistoryLimit messages and expiring
// Config.HistoryTTL after the last append. What goes in is stored as
// given; redacting personal data is the caller's job.

// AppendHistory adds messages to the end of a conversation's history in one
// transaction, drops the oldest beyond the limit and restarts the TTL.
func (s *Store) AppendHistory(ctx context.Context, conv corralv1.Conversation, msgs ...persona.Message) (err error) {
	ctx, sp := span(ctx, "AppendHistory")
	defer func() { end(sp, err) }()
	if len(msgs) == 0 {
		return nil
	}
	vals := make([]any, len(msgs))
	for i, m := range msgs {
		if m.Role != persona.User && m.Role != persona.Assistant {
			return fmt.Errorf("append history: role %q: want user or assistant: %w", m.Role, ErrInvalidArgument)
		}
		if vals[i], err = encode(m); err != nil {
			return err
		}
	}
	key := s.k.history(conv)
	_, err = s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.RPush(ctx, key, vals...)
		pipe.LTrim(ctx, key, int64(-s.cfg.HistoryLimit), -1)
		pipe.PExpire(ctx, key, s.cfg.HistoryTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("append history: %w", err)
	}
	return nil
}

// History returns the last n messages of a conversation, oldest first;
// n <= 0 returns all that are kept.
func (s *Store) History(ctx context.Context, conv corralv1.Conversation, n int) (msgs []persona.Message, err error) {
	ctx, sp := span(ctx, "History")
	defer func() { end(sp, err) }()
	start := int64(0)
	if n > 0 {
		start = int64(-n)
	}
	vals, err := s.rdb.LRange(ctx, s.k.history(conv), start, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("load history: %w", err)
	}
	msgs = make([]persona.Message, 0, len(vals))
	for _, v := range vals {
		var m persona.Message
		if err := decodeString(v, &m); err != nil {
			s.log.Warn("skipping malformed history entry", "err", err)
			continue
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// ResetHistory forgets a conversation's history.
func (s *Store) ResetHistory(ctx context.Context, conv corralv1.Conversation) (err error) {
	ctx, sp := span(ctx, "ResetHistory")
	defer func() { end(sp, err) }()
	if err := s.rdb.Del(ctx, s.k.history(conv)).Err(); err != nil {
		return fmt.Errorf("reset history: %w", err)
	}
	return nil
}
