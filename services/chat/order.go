package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// convOrder keeps a conversation's messages answered in CHAT_IN order when
// several chat processes share the consumer. The gateway publishes one
// conversation's messages in the order the user sent them, all on the
// conversation's subject, so their stream sequences are that order.
// Redis keeps, per subject, a watermark: the highest sequence up to which
// every message of the conversation is finished (answered, or in the DLQ).
// Before a process answers a batch it asks the stream for the
// conversation's messages after the watermark: when an earlier one than
// the batch's first is not finished (another process has it, perhaps
// still waiting for a worker, or it waits for redelivery), the batch
// waits; when one sits between two messages of the batch, only the part
// before it is answered now. The conversation hold (laneHold) alone left
// a window: a process could take the hold for a later message while the
// earlier one still waited, holding nothing, in another process.
type convOrder struct {
	state  *state
	log    *slog.Logger
	stream jetstream.Stream // CHAT_IN; set by open
	// ttl is how long a watermark outlives its last move: longer than
	// the stream keeps messages, so a watermark that expired covered
	// only messages the stream no longer holds.
	ttl time.Duration
}

// orderSlack is what a watermark outlives the stream's messages by.
const orderSlack = time.Hour

// open finds the stream and how long it keeps messages.
func (o *convOrder) open(ctx context.Context, js jetstream.JetStream, name string) error {
	st, err := js.Stream(ctx, name)
	if err != nil {
		return fmt.Errorf("conversation order: stream %s: %w", name, err)
	}
	o.stream = st
	if age := st.CachedInfo().Config.MaxAge; age > 0 {
		o.ttl = age + orderSlack
	}
	return nil
}

// ready returns how many of a batch's first messages (of one conversation,
// on CHAT_IN subject, their stream sequences seqs in increasing order)
// may be answered now: all of them, or those before the first unfinished
// message of the conversation that is not in the batch; 0 means the batch
// waits. When Redis or the stream cannot say, it returns all: order
// across processes is given up before availability, as the hold does.
func (o *convOrder) ready(ctx context.Context, subject string, seqs []uint64) int {
	if o == nil || len(seqs) == 0 {
		return len(seqs)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	done, err := o.state.orderDone(ctx, subject)
	if err != nil {
		o.log.Warn("chat: reading a conversation's order", "err", err)
		return len(seqs)
	}
	next := done + 1
	for i, seq := range seqs {
		if seq < next {
			continue // finished before: a redelivery
		}
		first, err := o.firstFrom(ctx, subject, next)
		if err != nil {
			o.log.Warn("chat: looking up a conversation's earlier messages", "err", err)
			return len(seqs)
		}
		if first != 0 && first < seq {
			return i
		}
		next = seq + 1
	}
	return len(seqs)
}

// firstFrom returns the sequence of the first message on subject at or
// after seq, 0 when there is none.
func (o *convOrder) firstFrom(ctx context.Context, subject string, seq uint64) (uint64, error) {
	m, err := o.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

// finished moves subject's watermark up to seq.
func (o *convOrder) finished(subject string, seq uint64) {
	if o == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.state.markOrderDone(ctx, subject, seq, o.ttl); err != nil {
		// The conversation's next message waits out orderPatience.
		o.log.Warn("chat: recording a conversation's order", "err", err)
	}
}
