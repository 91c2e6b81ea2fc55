package sender

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// ReplyTTL is how long the sender remembers what it sent of a reply: past
// the 24-hour window in which a reply can be sent at all, and past CHAT_OUT's
// max age, so no redelivery can outlive the record.
const ReplyTTL = 48 * time.Hour

// Fields of a reply record besides its sent pieces.
const (
	attemptsField = "attempts" // failed tries
	doneField     = "done"     // "1" once nothing more is to be sent
	retryAtField  = "retry_at" // unix ms of the next try after a failure
)

// ledger is the sender's memory in Redis:
//
//	<prefix>sender:reply:<escaped reply id>   hash    "<part>.<piece>" -> platform message id of each
//	                                                  sent piece; "attempts" -> failed tries; "done";
//	                                                  "retry_at" (unix ms); expires ReplyTTL after
//	                                                  the last change
//	<prefix>sender:conv:<conversation key>    string  highest CHAT_OUT sequence of the conversation
//	                                                  whose reply is done; expires ReplyTTL
type ledger struct {
	rdb    redis.UniversalClient
	prefix string
}

func (l ledger) replyKey(replyID string) string {
	return l.prefix + "sender:reply:" + corralv1.EscapeToken(replyID)
}

func (l ledger) convKey(c corralv1.Conversation) string { return l.prefix + "sender:conv:" + c.Key() }

// record is what the ledger knows of one reply.
type record struct {
	sent     map[string]string // piece key -> platform message id
	attempts int
	done     bool
	retryAt  time.Time // zero when no retry is scheduled
}

// load reads a reply's record; a reply never seen has an empty one.
func (l ledger) load(ctx context.Context, replyID string) (record, error) {
	vals, err := l.rdb.HGetAll(ctx, l.replyKey(replyID)).Result()
	if err != nil {
		return record{}, fmt.Errorf("read reply record: %w", err)
	}
	r := record{sent: make(map[string]string, len(vals))}
	for k, v := range vals {
		switch k {
		case attemptsField:
			r.attempts, _ = strconv.Atoi(v)
		case doneField:
			r.done = v == "1"
		case retryAtField:
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
				r.retryAt = time.UnixMilli(ms)
			}
		default:
			r.sent[k] = v
		}
	}
	return r, nil
}

// markSent records that piece of reply went out as message id.
func (l ledger) markSent(ctx context.Context, replyID, piece, id string) error {
	key := l.replyKey(replyID)
	_, err := l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, piece, id)
		p.Expire(ctx, key, ReplyTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record sent piece %s: %w", piece, err)
	}
	return nil
}

// failed counts a failed try of reply and returns the tries so far.
func (l ledger) failed(ctx context.Context, replyID string) (int, error) {
	key := l.replyKey(replyID)
	var n *redis.IntCmd
	_, err := l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.HIncrBy(ctx, key, attemptsField, 1)
		p.Expire(ctx, key, ReplyTTL)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count failed try: %w", err)
	}
	return int(n.Val()), nil
}

// started reports whether any piece of reply was sent, or it is done.
func (l ledger) started(ctx context.Context, replyID string) (bool, error) {
	keys, err := l.rdb.HKeys(ctx, l.replyKey(replyID)).Result()
	if err != nil {
		return false, fmt.Errorf("read reply record: %w", err)
	}
	for _, k := range keys {
		if k != attemptsField && k != retryAtField {
			return true, nil
		}
	}
	return false, nil
}

// doneScript records that the CHAT_OUT message ARGV[1] of a conversation
// is done, keeping the highest such sequence.
var doneScript = redis.NewScript(`
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
`)

// done records that reply (CHAT_OUT message seq of conversation c) needs
// no more sending: every piece went out, or it failed for good.
func (l ledger) done(ctx context.Context, c corralv1.Conversation, replyID string, seq uint64) error {
	key := l.replyKey(replyID)
	_, err := l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, doneField, "1")
		p.HDel(ctx, key, retryAtField)
		p.Expire(ctx, key, ReplyTTL)
		// EVAL, not EVALSHA: inside MULTI a NOSCRIPT reply (a fresh or
		// restarted Redis) cannot fall back to sending the script.
		doneScript.Eval(ctx, p, []string{l.convKey(c)}, strconv.FormatUint(seq, 10), ReplyTTL.Milliseconds())
		return nil
	})
	if err != nil {
		return fmt.Errorf("record reply done: %w", err)
	}
	return nil
}

// lastDone returns the highest CHAT_OUT sequence of conversation c whose
// reply is done, or 0.
func (l ledger) lastDone(ctx context.Context, c corralv1.Conversation) (uint64, error) {
	v, err := l.rdb.Get(ctx, l.convKey(c)).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read conversation progress: %w", err)
	}
	return v, nil
}

// retryAt records when a failed reply is tried again, so later replies of
// its conversation know how long to wait.
func (l ledger) retryAt(ctx context.Context, replyID string, at time.Time) error {
	key := l.replyKey(replyID)
	_, err := l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, retryAtField, at.UnixMilli())
		p.Expire(ctx, key, ReplyTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record retry time: %w", err)
	}
	return nil
}
