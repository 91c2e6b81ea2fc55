package sender

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Bounds of the wait behind an earlier reply.
const (
	// heldMin and heldMax bound how long a reply waits before it looks
	// again at the earlier reply it waits for.
	heldMin = 50 * time.Millisecond
	heldMax = 5 * time.Second
	// heldDefault is the wait when the earlier reply gave no retry time
	// (it is being sent right now).
	heldDefault = 200 * time.Millisecond
	// maxScan bounds the earlier messages of a conversation looked at.
	maxScan = 64
	// forgetAfter is the age past which an earlier reply no longer holds
	// later ones back (its sender must have lost it; it will be
	// dead-lettered): far past what MaxAttempts tries take.
	forgetAfter = 30 * time.Minute
)

// order keeps replies of one conversation in CHAT_OUT order across every
// sender replica: a reply is sent only when each earlier reply of its
// conversation still in the stream is done. CHAT_OUT itself says which
// messages came earlier (the next message on the conversation's subject
// after the last one done); the ledger says which are done.
type order struct {
	js     jetstream.JetStream
	stream string
	ledger ledger

	mu sync.Mutex
	st jetstream.Stream
}

func (o *order) handle(ctx context.Context) (jetstream.Stream, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.st != nil {
		return o.st, nil
	}
	st, err := o.js.Stream(ctx, o.stream)
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", o.stream, err)
	}
	o.st = st
	return st, nil
}

// wait returns 0 when reply m (sequence seq on subject) may be sent now,
// else how long to wait for the earlier reply that goes first.
func (o *order) wait(ctx context.Context, m *corralv1.OutboundMessage, subject string, seq uint64, now time.Time) (time.Duration, error) {
	st, err := o.handle(ctx)
	if err != nil {
		return 0, err
	}
	from, err := o.ledger.lastDone(ctx, m.Conversation())
	if err != nil {
		return 0, err
	}
	for range maxScan {
		raw, err := st.GetMsg(ctx, from+1, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("look for earlier replies: %w", err)
		}
		if raw.Sequence >= seq {
			return 0, nil
		}
		from = raw.Sequence
		var earlier corralv1.OutboundMessage
		if proto.Unmarshal(raw.Data, &earlier) != nil || validate(&earlier) != nil ||
			earlier.GetAction() != corralv1.OutboundAction_OUTBOUND_ACTION_UNSPECIFIED ||
			now.Sub(raw.Time) > forgetAfter {
			continue // never sent, not a reply, or abandoned
		}
		rec, err := o.ledger.load(ctx, earlier.GetReplyId())
		if err != nil {
			return 0, err
		}
		if rec.done {
			continue
		}
		d := heldDefault
		if !rec.retryAt.IsZero() {
			d = rec.retryAt.Sub(now)
		}
		return min(max(d, heldMin), heldMax), nil
	}
	return 0, nil // a long backlog: let it through rather than stall it
}
