package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/corral-ai/corral/persona"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// outboxEntry is a reply decided for a conversation but not yet known to
// be delivered: written before the turn is stored and the reply published,
// deleted when the messages it answers are recorded as answered. A handler
// that finds one for messages it is given again (a crash, a failed Redis
// write, a redelivery with a newer message joined) finishes that delivery
// instead of answering those messages a second time.
type outboxEntry struct {
	IDs    []string          `json:"ids"`    // dedupe ids of the messages it answers
	Reply  []byte            `json:"reply"`  // the OutboundMessage, protobuf
	Stored []persona.Message `json:"stored"` // the turn for history (may be empty)
}

// outboxTTL bounds how long an unfinished delivery is remembered; a
// redelivery comes within the consumer's ack wait times its attempts.
const outboxTTL = 24 * time.Hour

// putOutbox records a decided reply under each message id it answers
// (single-key writes: the ids may live in different Redis Cluster slots).
func (s *state) putOutbox(ctx context.Context, e outboxEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode outbox: %w", err)
	}
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range e.IDs {
			p.Set(ctx, s.key("outbox", id), b, outboxTTL)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("write outbox: %w", err)
	}
	return nil
}

// decodeOutbox returns the unfinished deliveries in pending (encoded
// entries by message id, from lookup) in the order of ids, each once, and
// the ids whose entry could not be read (they are answered anew).
func decodeOutbox(ids []string, pending map[string][]byte) (entries []outboxEntry, unreadable []string) {
	for _, id := range ids {
		b, ok := pending[id]
		if !ok {
			continue
		}
		var e outboxEntry
		if err := json.Unmarshal(b, &e); err != nil {
			unreadable = append(unreadable, id)
			continue
		}
		if !slices.ContainsFunc(entries, func(o outboxEntry) bool { return slices.Equal(o.IDs, e.IDs) }) {
			entries = append(entries, e)
		}
	}
	return entries, unreadable
}

// finish records ids as answered, then forgets their outbox entries: in
// that order, so an entry never goes while its ids are unanswered (an
// entry left behind by a crash in between answers nothing fresh and
// expires).
func (s *state) finish(ctx context.Context, ids []string, ttl time.Duration) error {
	if err := s.markSeen(ctx, ids, ttl); err != nil {
		return err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.key("outbox", id)
	}
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("forget outbox: %w", err)
	}
	return nil
}

// deliver stores a turn and publishes its reply so that, whatever fails
// or crashes on the way, the reply goes out once and the turn is stored
// once: the outbox entries first, then history, then the reply. The
// caller then calls finish for ids.
func (r *Role) deliver(ctx context.Context, conv corralv1.Conversation, ids []string, out *corralv1.OutboundMessage, stored []persona.Message) error {
	b, err := proto.Marshal(out)
	if err != nil {
		return at("publish", fmt.Errorf("encode reply: %w", err))
	}
	if err := r.state.putOutbox(ctx, outboxEntry{IDs: ids, Reply: b, Stored: stored}); err != nil {
		return at("state", err)
	}
	// A fresh delivery: resume found no entry for these ids, so the turn
	// is not stored yet.
	if len(stored) > 0 {
		if err := r.store.AppendHistory(ctx, conv, stored...); err != nil {
			return at("history", err)
		}
	}
	return r.publish(ctx, out)
}

// storeTurn appends an interrupted delivery's turn to the history unless
// it already ends with it (the append went through before the stop).
func (r *Role) storeTurn(ctx context.Context, conv corralv1.Conversation, stored []persona.Message) error {
	if len(stored) == 0 {
		return nil
	}
	tail, err := r.store.History(ctx, conv, len(stored))
	if err != nil {
		return at("history", err)
	}
	if slices.Equal(tail, stored) {
		return nil
	}
	if err := r.store.AppendHistory(ctx, conv, stored...); err != nil {
		return at("history", err)
	}
	return nil
}

// resume finishes the unfinished deliveries (pending, from lookup) that
// answer any of the fresh messages, and returns the fresh messages they did not answer.
func (r *Role) resume(ctx context.Context, conv corralv1.Conversation, fresh []*corralv1.ChatMessage, pending map[string][]byte) ([]*corralv1.ChatMessage, error) {
	if len(pending) == 0 {
		return fresh, nil
	}
	ids := make([]string, len(fresh))
	for i, m := range fresh {
		ids[i] = m.DedupeID()
	}
	entries, unreadable := decodeOutbox(ids, pending)
	if len(unreadable) > 0 {
		r.log.WarnContext(ctx, "chat: outbox entries unreadable, answering anew", "ids", unreadable)
	}
	for _, e := range entries {
		var out corralv1.OutboundMessage
		if err := proto.Unmarshal(e.Reply, &out); err != nil {
			r.log.WarnContext(ctx, "chat: outbox reply unreadable, answering anew", "err", err)
			continue
		}
		if err := r.storeTurn(ctx, conv, e.Stored); err != nil {
			return fresh, err
		}
		// The same reply id as before: JetStream and the sender drop it if
		// it went out already.
		if err := r.publish(ctx, &out); err != nil {
			return fresh, err
		}
		if err := r.state.finish(ctx, e.IDs, r.cfg.DedupeTTL); err != nil {
			return fresh, at("state", err)
		}
		r.metrics.resumed.Add(ctx, 1, metricAttrs(corralv1.PlatformToken(conv.Platform)))
		fresh = slices.DeleteFunc(fresh, func(m *corralv1.ChatMessage) bool { return slices.Contains(e.IDs, m.DedupeID()) })
	}
	return fresh, nil
}
