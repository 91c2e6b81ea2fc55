package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"

	"github.com/corral-ai/corral/persona"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Usage counts how a persona's published versions are used.
type Usage struct {
	// Versions has one entry per version that answered at least once,
	// newest first.
	Versions []VersionUsage
}

// VersionUsage counts the use of one version.
type VersionUsage struct {
	// Version is the version number.
	Version uint32
	// Replies is how many replies it gave.
	Replies int64
	// Conversations is how many conversations it answered; a conversation
	// that pauses for longer than the reference TTL counts again.
	Conversations int64
	// PromptTokens is the prompt tokens of its replies, CachedPromptTokens
	// how many of them the engine's prefix cache served.
	PromptTokens, CachedPromptTokens int64
}

// HitRatio is the share of the version's prompt tokens the prefix cache
// served, in [0, 1]; 0 before any.
func (v VersionUsage) HitRatio() float64 {
	if v.PromptTokens <= 0 {
		return 0
	}
	return float64(v.CachedPromptTokens) / float64(v.PromptTokens)
}

// PromptUse is the prompt side of one reply, as the engine's final event
// reports it: the prompt's tokens and how many of them its prefix cache
// served. The zero value counts nothing (a reply whose generation did
// not report its usage).
type PromptUse struct {
	Tokens, Cached int64
}

// conversationHash names a conversation in persona keys without holding
// the user's id.
func conversationHash(c corralv1.Conversation) string {
	sum := sha256.Sum256([]byte(c.Key()))
	return hex.EncodeToString(sum[:12])
}

// Use records that a conversation was answered with version n of persona
// id: it counts the reply, its prompt tokens and the cached ones (for the
// persona's prefix-cache hit rate) and, the first time within the
// reference TTL, the conversation, and it keeps the version readable for
// that long should the persona be deleted. Chats call it once per reply.
// It fails with ErrNotFound for a deleted persona or an unknown version.
// The built-in default persona is not counted.
func (s *Store) Use(ctx context.Context, conv corralv1.Conversation, id string, n uint32, prompt PromptUse) (err error) {
	ctx, sp := span(ctx, "Use", attribute.String("persona.id", id), attribute.Int("persona.version", int(n)))
	defer func() { end(sp, err) }()
	if id == persona.DefaultID {
		return nil
	}
	member := fmt.Sprintf("%d:%s", n, conversationHash(conv))
	err = s.txn(ctx, func(tx *redis.Tx) error {
		r, err := loadRecord(ctx, tx, s.k, id)
		if err != nil {
			return err
		}
		if n == 0 || n > r.Published {
			return fmt.Errorf("version %d of persona %q: %w", n, id, ErrNotFound)
		}
		now := s.now()
		score, err := tx.ZScore(ctx, s.k.refs(id), member).Result()
		known := err == nil && int64(score) > now.UnixMilli()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("read reference: %w", err)
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.ZRemRangeByScore(ctx, s.k.refs(id), "-inf", fmt.Sprint(now.UnixMilli()))
			pipe.ZAdd(ctx, s.k.refs(id), redis.Z{Score: float64(now.Add(s.cfg.ReferenceTTL).UnixMilli()), Member: member})
			pipe.HIncrBy(ctx, s.k.usage(id), usageField(n, "replies"), 1)
			if prompt.Tokens > 0 {
				pipe.HIncrBy(ctx, s.k.usage(id), usageField(n, "prompt_tokens"), prompt.Tokens)
				pipe.HIncrBy(ctx, s.k.usage(id), usageField(n, "cached_prompt_tokens"), min(max(prompt.Cached, 0), prompt.Tokens))
			}
			if !known {
				pipe.HIncrBy(ctx, s.k.usage(id), usageField(n, "conversations"), 1)
			}
			return nil
		})
		return err
	}, s.k.persona(id))
	if err != nil {
		return fmt.Errorf("record use of persona %q: %w", id, err)
	}
	return nil
}

// Usage returns the usage counts of persona id's versions. Only its owner
// may read them.
func (s *Store) Usage(ctx context.Context, actor, id string) (u Usage, err error) {
	ctx, sp := span(ctx, "Usage", attribute.String("persona.id", id))
	defer func() { end(sp, err) }()
	if _, err := loadOwned(ctx, s.rdb, s.k, actor, id, 0); err != nil {
		return Usage{}, fmt.Errorf("usage: %w", err)
	}
	fields, err := s.rdb.HGetAll(ctx, s.k.usage(id)).Result()
	if err != nil {
		return Usage{}, fmt.Errorf("usage of %q: %w", id, err)
	}
	byVersion := map[uint32]*VersionUsage{}
	for f, val := range fields {
		num, what, ok := strings.Cut(strings.TrimPrefix(f, "v"), ".")
		n, err1 := strconv.ParseUint(num, 10, 32)
		count, err2 := strconv.ParseInt(val, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			s.log.Warn("ignoring malformed usage counter", "persona", id, "field", f)
			continue
		}
		vu := byVersion[uint32(n)]
		if vu == nil {
			vu = &VersionUsage{Version: uint32(n)}
			byVersion[uint32(n)] = vu
		}
		switch what {
		case "replies":
			vu.Replies = count
		case "conversations":
			vu.Conversations = count
		case "prompt_tokens":
			vu.PromptTokens = count
		case "cached_prompt_tokens":
			vu.CachedPromptTokens = count
		}
	}
	for _, vu := range byVersion {
		u.Versions = append(u.Versions, *vu)
	}
	slices.SortFunc(u.Versions, func(a, b VersionUsage) int { return int(b.Version) - int(a.Version) })
	return u, nil
}
