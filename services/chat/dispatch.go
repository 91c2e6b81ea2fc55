package chat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/telemetry"
)

// errSuperseded ends a handling that a newer message of its conversation
// cancelled; its messages are handled again together with the newer ones.
var errSuperseded = errors.New("superseded by a newer message of the conversation")

// maxSupersede bounds how often one batch is cancelled for newer messages,
// so a user who keeps typing still gets an answer.
const maxSupersede = 3

// job is one delivered CHAT_IN message waiting for, or in, a handling.
type job struct {
	msg jetstream.Msg
	m   *corralv1.ChatMessage
	// ctx carries the delivery's consumer span; a queued record is the one
	// place a context is kept in a struct.
	ctx  context.Context //nolint:containedctx // queued request record
	span trace.Span
	// seq is the message's CHAT_IN stream sequence: its place in the
	// conversation.
	seq uint64
	// rated is set once the message counted against the rate limit; only
	// the lane's goroutine touches it.
	rated bool
}

// lane is one conversation's queue: the messages waiting, and the handling
// in progress, if any.
type lane struct {
	waiting    []*job
	active     []*job
	cancel     context.CancelCauseFunc // cancels the active handling until it commits
	committed  bool                    // the active handling passed its commit point
	superseded int                     // how often the waiting batch was cancelled
	attempts   int                     // failed tries of the waiting batch
	// blockedSince is when the waiting batch began to wait for an earlier
	// message of the conversation that another process has; zero when it
	// does not wait.
	blockedSince time.Time
}

// handleFunc answers one conversation's batch of messages, oldest first.
// It calls commit before it publishes anything; when commit reports false
// the batch was superseded and handleFunc returns errSuperseded.
type handleFunc func(ctx context.Context, batch []*job, commit func() bool) error

// dispatcher runs the durable consumer on CHAT_IN: it keeps one lane per
// conversation, so a conversation is answered one batch at a time and in
// order while up to Workers conversations are answered at once. A message
// that arrives while its conversation is being answered cancels that
// answer (up to its commit point); the next handling answers both.
type dispatcher struct {
	cfg      Config
	consumer natsbus.ConsumerConfig
	js       jetstream.JetStream
	log      *slog.Logger
	metrics  *chatMetrics
	handle   handleFunc
	// hold, when set, holds each conversation for this process in Redis
	// while the process answers it, so replicas never answer one
	// conversation at the same time; nil (tests of the dispatcher alone)
	// holds nothing.
	hold *laneHold
	// order, when set, keeps each conversation answered in stream order
	// across processes (convOrder); nil orders within the process only.
	order *convOrder

	mu       sync.Mutex
	lanes    map[string]*lane
	stopping bool

	slots chan struct{}
	stop  chan struct{} // closed when Run is asked to stop
	wg    sync.WaitGroup
}

// run consumes until ctx ends, then gives back what is waiting, lets the
// running handlings finish and returns.
func (d *dispatcher) run(ctx context.Context) error {
	cons, err := natsbus.EnsureConsumer(ctx, d.js, d.consumer)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if d.order != nil {
		if err := d.order.open(ctx, d.js, d.consumer.Stream); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(min(2*d.cfg.Workers, 256)), jetstream.PullExpiry(10*time.Second))
	if err != nil {
		return fmt.Errorf("consume %s/%s: %w", d.consumer.Stream, d.consumer.Durable, err)
	}
	d.lanes, d.slots, d.stop = map[string]*lane{}, make(chan struct{}, d.cfg.Workers), make(chan struct{})
	loopDone := make(chan struct{})
	var aux sync.WaitGroup
	aux.Go(func() {
		select {
		case <-ctx.Done():
			iter.Drain()
		case <-loopDone:
			iter.Stop()
		}
	})
	aux.Go(func() { d.keepAlive(loopDone) })

	var lastErr error
	for {
		msg, err := iter.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			break
		}
		if err != nil {
			lastErr = err
			d.log.Warn("chat: fetching messages", "err", err)
			continue
		}
		d.accept(ctx, msg)
	}
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	close(d.stop)
	d.wg.Wait()
	close(loopDone)
	aux.Wait()
	if ctx.Err() == nil {
		if lastErr == nil {
			lastErr = jetstream.ErrMsgIteratorClosed
		}
		return fmt.Errorf("consume %s/%s: %w", d.consumer.Stream, d.consumer.Durable, lastErr)
	}
	return nil
}

// accept decodes a delivery and queues it in its conversation's lane.
func (d *dispatcher) accept(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		d.log.Error("chat: message without JetStream metadata", "subject", msg.Subject(), "err", err)
		return
	}
	jctx := telemetry.ExtractNATS(context.WithoutCancel(ctx), msg.Headers())
	attrs := []attribute.KeyValue{
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.operation.type", "process"),
		attribute.String("messaging.destination.name", msg.Subject()),
		attribute.String("messaging.consumer.group.name", d.consumer.Durable),
		attribute.Int64("messaging.nats.stream.sequence", int64(md.Sequence.Stream)),
		attribute.Int64("messaging.nats.delivery.count", int64(md.NumDelivered)),
	}
	if id := msg.Headers().Get(jetstream.MsgIDHeader); id != "" {
		attrs = append(attrs, attribute.String("messaging.message.id", id))
	}
	jctx, span := tracer.Start(jctx, "process chat.in", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
	j := &job{msg: msg, ctx: jctx, span: span, seq: md.Sequence.Stream}

	m := &corralv1.ChatMessage{}
	switch {
	case md.NumDelivered > uint64(d.consumer.MaxDeliver):
		d.deadLetter(j, natsbus.DLQReasonNoAck, fmt.Errorf("delivered %d times without an answer", md.NumDelivered))
		return
	case ctx.Err() != nil:
		d.giveBack(j)
		return
	}
	if err := proto.Unmarshal(msg.Data(), m); err != nil {
		d.deadLetter(j, natsbus.DLQReasonPermanent, fmt.Errorf("decode corral.v1.ChatMessage: %w", err))
		return
	}
	j.m = m
	span.SetAttributes(attribute.String("corral.platform", corralv1.PlatformToken(m.GetPlatform())),
		attribute.String("corral.platform_message_id", m.GetPlatformMessageId()),
		attribute.String("corral.kind", m.GetKind().String()))

	key := m.Conversation().Key()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopping {
		d.giveBack(j)
		return
	}
	l := d.lanes[key]
	if l == nil {
		l = &lane{}
		d.lanes[key] = l
		d.metrics.activeConvs.Add(ctx, 1)
		d.wg.Go(func() { d.runLane(key, l) })
	}
	l.waiting = append(l.waiting, j)
	if l.cancel != nil && !l.committed && l.superseded < maxSupersede {
		l.superseded++
		l.cancel(errSuperseded)
		d.metrics.superseded.Add(ctx, 1, metricAttrs(corralv1.PlatformToken(m.GetPlatform())))
	}
}

// runLane answers a conversation's messages until none wait.
func (d *dispatcher) runLane(key string, l *lane) {
	defer d.metrics.activeConvs.Add(context.Background(), -1)
	// A worker slot; given up while the lane waits for an earlier message
	// another process has, so waiting lanes never starve that process.
	slot := false
	acquire := func() {
		select {
		case d.slots <- struct{}{}:
			slot = true
		case <-d.stop:
		}
	}
	acquire()
	defer func() {
		if slot {
			<-d.slots
		}
	}()
	for {
		d.mu.Lock()
		if d.stopping && len(l.waiting) > 0 && l.attempts == 0 && l.superseded == 0 {
			// Not started: another replica takes them at once.
			waiting := l.waiting
			l.waiting = nil
			delete(d.lanes, key)
			d.mu.Unlock()
			for _, j := range waiting {
				d.giveBack(j)
			}
			d.hold.release(key)
			return
		}
		if len(l.waiting) == 0 {
			delete(d.lanes, key)
			d.mu.Unlock()
			d.hold.release(key)
			return
		}
		batch := l.waiting
		// Stream order; redeliveries may have arrived after newer ones.
		slices.SortStableFunc(batch, func(a, b *job) int { return cmp.Compare(a.seq, b.seq) })
		l.waiting, l.active, l.committed = nil, batch, false
		// Set before anything waits, so a newer message arriving from now
		// on supersedes this batch.
		ctx, cancel := context.WithCancelCause(context.Background())
		l.cancel = cancel
		blockedSince := l.blockedSince
		d.mu.Unlock()
		if n := d.order.ready(ctx, batch[0].msg.Subject(), seqsOf(batch)); n < len(batch) {
			if n == 0 && (blockedSince.IsZero() || time.Since(blockedSince) < d.orderPatience()) {
				// An earlier message of the conversation is in another
				// process: wait for it, holding no worker.
				cancel(nil)
				d.mu.Lock()
				l.waiting = append(batch, l.waiting...)
				l.active, l.cancel = nil, nil
				if l.blockedSince.IsZero() {
					l.blockedSince = time.Now()
				}
				waited := time.Since(l.blockedSince)
				d.mu.Unlock()
				if slot {
					<-d.slots
					slot = false
				}
				if d.wait(orderPoll(waited)) {
					acquire()
				} else {
					d.mu.Lock()
					l.attempts, l.superseded = 0, 0 // give back at once on shutdown
					d.mu.Unlock()
				}
				continue
			}
			if n == 0 {
				d.log.Warn("chat: an earlier message of the conversation is still not answered; answering the later ones anyway",
					"conversation", hashKey(key), "waited", time.Since(blockedSince))
				n = len(batch)
			}
			// Answer the part before the gap now, the rest after it.
			d.mu.Lock()
			l.waiting = append(batch[n:len(batch):len(batch)], l.waiting...)
			batch = batch[:n:n]
			l.active = batch
			d.mu.Unlock()
		}
		d.mu.Lock()
		l.blockedSince = time.Time{}
		d.mu.Unlock()
		if wait := d.hold.take(key); wait > 0 {
			// Another replica answers this conversation: these come back
			// when it is done, in stream order behind what it holds.
			cancel(nil)
			d.mu.Lock()
			l.active, l.cancel, l.attempts, l.superseded = nil, nil, 0, 0
			d.mu.Unlock()
			for _, j := range batch {
				if err := j.msg.NakWithDelay(min(wait+50*time.Millisecond, d.consumer.AckWait)); err != nil {
					d.log.Warn("chat: nak", "subject", j.msg.Subject(), "err", err)
				}
				j.span.End()
			}
			continue
		}

		commit := func() bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			if ctx.Err() != nil {
				return false
			}
			l.committed = true
			return true
		}
		err := d.handle(ctx, batch, commit)
		cancel(nil)

		d.mu.Lock()
		l.cancel, l.active = nil, nil
		switch {
		case errors.Is(err, errSuperseded) || (err != nil && errors.Is(context.Cause(ctx), errSuperseded) && !l.committed):
			l.waiting = append(batch, l.waiting...)
			d.mu.Unlock()
			continue
		case err != nil && !natsbus.IsPermanent(err) && l.attempts+1 < d.cfg.MaxAttempts:
			l.attempts++
			attempts := l.attempts
			l.waiting = append(batch, l.waiting...)
			d.mu.Unlock()
			wait := d.backoff(attempts, err)
			d.log.Warn("chat: answering failed, trying again", "conversation", hashKey(key), "attempt", attempts, "retry_in", wait, "err", err)
			if !d.wait(wait) {
				d.mu.Lock()
				l.attempts = 0 // give back at once on shutdown
				l.superseded = 0
				d.mu.Unlock()
			}
			continue
		}
		l.attempts, l.superseded = 0, 0
		d.mu.Unlock()
		d.finish(batch, err)
	}
}

// finish answers the server for a handled batch: ack, or the DLQ.
func (d *dispatcher) finish(batch []*job, err error) {
	if err == nil && len(batch) > 0 {
		last := batch[len(batch)-1]
		defer d.order.finished(last.msg.Subject(), last.seq)
	}
	for _, j := range batch {
		if err == nil {
			if aerr := j.msg.Ack(); aerr != nil {
				// The reply is out; a redelivery is dropped as answered.
				d.log.WarnContext(j.ctx, "chat: ack", "subject", j.msg.Subject(), "err", aerr)
			}
			j.span.End()
			continue
		}
		j.span.RecordError(err)
		reason := natsbus.DLQReasonMaxDeliver // tried MaxAttempts times
		if natsbus.IsPermanent(err) {
			reason = natsbus.DLQReasonPermanent
		}
		d.deadLetter(j, reason, err)
	}
}

// laneHold holds conversations for one process in Redis.
type laneHold struct {
	state *state
	token string // this process
	ttl   time.Duration
	log   *slog.Logger
}

// take holds key's conversation for the process; it returns how long
// another process still holds it, 0 when this one does. A Redis failure
// answers 0: order across replicas is given up before availability.
func (h *laneHold) take(key string) time.Duration {
	if h == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wait, err := h.state.takeLane(ctx, key, h.token, h.ttl)
	if err != nil {
		h.log.Warn("chat: holding a conversation", "conversation", hashKey(key), "err", err)
		return 0
	}
	return wait
}

func (h *laneHold) release(key string) {
	if h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.state.releaseLane(ctx, key, h.token); err != nil {
		h.log.Warn("chat: releasing a conversation", "conversation", hashKey(key), "err", err)
	}
}

// keepAlive tells the server every AckWait/3 that held messages are still
// being worked on, so only a dead process's messages are redelivered.
func (d *dispatcher) keepAlive(done <-chan struct{}) {
	t := time.NewTicker(d.consumer.AckWait / 3)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		var held []jetstream.Msg
		var keys []string
		d.mu.Lock()
		for key, l := range d.lanes {
			if len(l.active) > 0 {
				keys = append(keys, key)
			}
			for _, j := range l.waiting {
				held = append(held, j.msg)
			}
			for _, j := range l.active {
				held = append(held, j.msg)
			}
		}
		d.mu.Unlock()
		for _, m := range held {
			if err := m.InProgress(); err != nil {
				d.log.Warn("chat: in-progress ack", "subject", m.Subject(), "err", err)
			}
		}
		for _, k := range keys {
			d.hold.take(k) // renews
		}
	}
}

// backoff is the wait before try n+1: exponential from RetryMin to
// RetryMax with jitter, or what the inference service asked for.
func (d *dispatcher) backoff(n int, err error) time.Duration {
	if w, ok := natsbus.RetryDelay(err); ok {
		return w
	}
	w := d.cfg.RetryMin << min(n-1, 20)
	if w > d.cfg.RetryMax || w <= 0 {
		w = d.cfg.RetryMax
	}
	return w/2 + time.Duration(time.Now().UnixNano()%int64(w/2+1))
}

func (d *dispatcher) giveBack(j *job) {
	if err := j.msg.Nak(); err != nil {
		d.log.Warn("chat: nak on shutdown", "subject", j.msg.Subject(), "err", err)
	}
	j.span.End()
}

// deadLetter copies a message to the DLQ with headers saying why, then
// terminates it; when the copy fails it is left for redelivery.
func (d *dispatcher) deadLetter(j *job, reason string, cause error) {
	defer j.span.End()
	j.span.SetStatus(codes.Error, "dead-lettered: "+reason)
	if j.m != nil {
		d.metrics.message(j.ctx, corralv1.PlatformToken(j.m.GetPlatform()), msgDead, 1)
	}
	md, err := j.msg.Metadata()
	if err != nil {
		return
	}
	dl := nats.NewMsg(d.consumer.DeadLetter(j.msg.Subject()))
	dl.Data = j.msg.Data()
	for k, vs := range j.msg.Headers() {
		if k != jetstream.MsgIDHeader {
			dl.Header[k] = append([]string(nil), vs...)
		}
	}
	dl.Header.Set(natsbus.HeaderDLQReason, reason)
	dl.Header.Set(natsbus.HeaderDLQError, natsbus.HeaderValue(cause.Error(), 1024))
	dl.Header.Set(natsbus.HeaderDLQStream, md.Stream)
	dl.Header.Set(natsbus.HeaderDLQConsumer, md.Consumer)
	dl.Header.Set(natsbus.HeaderDLQSubject, j.msg.Subject())
	dl.Header.Set(natsbus.HeaderDLQSequence, strconv.FormatUint(md.Sequence.Stream, 10))
	dl.Header.Set(natsbus.HeaderDLQDeliveries, strconv.FormatUint(md.NumDelivered, 10))
	dl.Header.Set(natsbus.HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	ctx, cancel := context.WithTimeout(j.ctx, 10*time.Second)
	defer cancel()
	id := "dlq." + md.Stream + "." + strconv.FormatUint(md.Sequence.Stream, 10)
	if _, err := natsbus.PublishMsg(ctx, d.js, dl, id); err != nil {
		d.log.ErrorContext(ctx, "chat: dead-lettering failed; will retry", "err", err, "cause", cause)
		_ = j.msg.NakWithDelay(time.Second)
		return
	}
	d.log.WarnContext(ctx, "chat: message dead-lettered", "subject", j.msg.Subject(), "reason", reason, "err", cause)
	if err := j.msg.Term(); err != nil {
		d.log.Warn("chat: term", "err", err)
	}
	// Finished too: the conversation's next messages need not wait for it.
	d.order.finished(j.msg.Subject(), md.Sequence.Stream)
}

// seqsOf returns the stream sequences of batch.
func seqsOf(batch []*job) []uint64 {
	seqs := make([]uint64, len(batch))
	for i, j := range batch {
		seqs[i] = j.seq
	}
	return seqs
}

// orderPatience is how long a batch waits for an earlier message of its
// conversation before it is answered anyway: long enough for a process
// that died with that message to lose it (AckWait) and another to answer
// it, so only a lost watermark (Redis) makes it run out.
func (d *dispatcher) orderPatience() time.Duration {
	return 2*d.consumer.AckWait + d.cfg.GenerateTimeout
}

// orderPoll is how long a batch waiting for an earlier message waits
// before it looks again, after waiting waited: soon at first (the other
// process is usually about to answer), then less often.
func orderPoll(waited time.Duration) time.Duration {
	return min(max(waited/4, 20*time.Millisecond), time.Second)
}

// wait waits d, or less when the dispatcher is asked to stop; it reports
// whether it waited the whole time.
func (d *dispatcher) wait(w time.Duration) bool {
	t := time.NewTimer(w)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-d.stop:
		return false
	}
}
