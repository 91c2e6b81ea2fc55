package natsbus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/corral-ai/corral/services/internal/telemetry"
)

// Headers on a dead-lettered message, describing why it is there. The
// original headers (trace context, Corral-Type...) are kept beside them.
const (
	// HeaderDLQReason is one of the DLQReason* values.
	HeaderDLQReason = "Corral-Dlq-Reason"
	// HeaderDLQError is the last handler error (one line, at most 1 KiB).
	HeaderDLQError = "Corral-Dlq-Error"
	// HeaderDLQStream is the stream the message came from.
	HeaderDLQStream = "Corral-Dlq-Stream"
	// HeaderDLQConsumer is the durable consumer that gave up on it.
	HeaderDLQConsumer = "Corral-Dlq-Consumer"
	// HeaderDLQSubject is the message's original subject.
	HeaderDLQSubject = "Corral-Dlq-Subject"
	// HeaderDLQSequence is the message's sequence number in its stream.
	HeaderDLQSequence = "Corral-Dlq-Sequence"
	// HeaderDLQDeliveries is how many times it was delivered.
	HeaderDLQDeliveries = "Corral-Dlq-Deliveries"
	// HeaderDLQTime is when it was dead-lettered (RFC 3339, UTC).
	HeaderDLQTime = "Corral-Dlq-Time"
)

// Values of HeaderDLQReason.
const (
	// DLQReasonPermanent: the handler returned a Permanent error.
	DLQReasonPermanent = "permanent"
	// DLQReasonMaxDeliver: the handler failed on the last allowed delivery.
	DLQReasonMaxDeliver = "max-deliver"
	// DLQReasonNoAck: the message was delivered MaxDeliver times without
	// any answer (workers crashed or hung past AckWait).
	DLQReasonNoAck = "no-ack"
)

// dlqExtraDeliveries is how many deliveries past MaxDeliver the server still
// makes, so that a failed DLQ publish can be retried before the server gives
// up on the message for good.
const dlqExtraDeliveries = 3

// pullExpiry is how long one pull request waits on the server.
const pullExpiry = 10 * time.Second

// maxErrorHeader caps HeaderDLQError.
const maxErrorHeader = 1024

// errPermanent marks errors wrapped by Permanent.
var errPermanent = errors.New("permanent failure")

// Permanent wraps err to say that retrying cannot help (the message cannot
// be decoded, it names something that does not exist...): the consumer
// dead-letters the message at once instead of redelivering it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() []error {
	return []error{e.err, errPermanent}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool { return errors.Is(err, errPermanent) }

// RetryAfter wraps err to ask for the next delivery after d instead of the
// consumer's Backoff: for a handler that knows when retrying makes sense (a
// rate limit's Retry-After, its own back-off with jitter, or an earlier
// message of the same conversation that must go first). The delivery still
// counts towards MaxDeliver. The consumer logs it at Info, not Warn: the
// handler asked for it and has said why. A negative d counts as 0.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err: err, d: max(d, 0)}
}

type retryAfterError struct {
	err error
	d   time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryDelay returns the delay asked for with RetryAfter, if err carries one.
func RetryDelay(err error) (time.Duration, bool) {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.d, true
	}
	return 0, false
}

// Handler processes one message. ctx carries the consumer span (a child of
// the producer's) and ends at ConsumerConfig.HandlerTimeout; it is not
// cancelled when Consume is asked to stop, so running work can finish.
// Return nil to ack, an error to retry later (after the consumer's Backoff,
// or RetryAfter's delay), Permanent(err) to dead-letter.
// The handler must not ack the message itself.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// ProtoHandler adapts a function taking a decoded protobuf message to a
// Handler. A payload that does not decode is dead-lettered (Permanent).
//
//	h := natsbus.ProtoHandler(func(ctx context.Context, m *corralv1.ChatMessage, msg jetstream.Msg) error { ... })
func ProtoHandler[T any, P interface {
	*T
	proto.Message
}](f func(ctx context.Context, m P, msg jetstream.Msg) error) Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		m := P(new(T))
		if err := proto.Unmarshal(msg.Data(), m); err != nil {
			return Permanent(fmt.Errorf("decode %s: %w", m.ProtoReflect().Descriptor().FullName(), err))
		}
		return f(ctx, m, msg)
	}
}

// ConsumerConfig describes a durable pull consumer and how Consume runs it.
type ConsumerConfig struct {
	// Stream to read (StreamsConfig.StreamName of a corralv1.Stream* name).
	Stream string
	// Durable is the consumer's name. Every replica of a role uses the same
	// one, so they share the work and the consumer outlives restarts.
	Durable string
	// FilterSubject limits the consumer to matching subjects; empty means
	// the whole stream.
	FilterSubject string
	// AckWait is how long the server waits for an answer before it
	// redelivers; running handlers are kept alive with in-progress acks, so
	// this only matters when a worker dies. Default 30s.
	AckWait time.Duration
	// MaxDeliver is how many times a message is tried before it is
	// dead-lettered. Default 5.
	MaxDeliver int
	// Backoff lists the delays before redelivering a message whose handler
	// failed: the n-th failure waits Backoff[n-1], the last entry repeating.
	// Default 1s, 5s, 30s.
	Backoff []time.Duration
	// Workers is how many handlers run at once. Messages with the same
	// subject (one conversation) always go to the same worker, so they are
	// handled one at a time and in stream order, unless a retry reorders
	// them. Default 1.
	Workers int
	// MaxAckPending caps the messages delivered and not yet answered, over
	// all replicas together. Default 256.
	MaxAckPending int
	// HandlerTimeout bounds one handler call. Default 5 minutes.
	HandlerTimeout time.Duration
	// DeadLetter maps a poison message's subject to the subject it is copied
	// to (StreamsConfig.DLQSubject). Nil means poison messages are only
	// logged and terminated.
	DeadLetter func(subject string) string
	// Logger receives failures. Default slog.Default().
	Logger *slog.Logger
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = 5
	}
	if c.Backoff == nil {
		c.Backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = 256
	}
	if c.HandlerTimeout == 0 {
		c.HandlerTimeout = 5 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports settings Consume would refuse. Zero fields are valid:
// they take defaults.
func (c ConsumerConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Stream == "" {
		errs = append(errs, errors.New("stream is required"))
	}
	if c.Durable == "" || strings.ContainsAny(c.Durable, ".*> \t\r\n") {
		errs = append(errs, fmt.Errorf("durable name %q: must be non-empty without '.', '*', '>' or spaces", c.Durable))
	}
	if c.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("ack wait %v: must be at least 1s", c.AckWait))
	}
	if c.MaxDeliver < 1 {
		errs = append(errs, fmt.Errorf("max deliver %d: must be at least 1", c.MaxDeliver))
	}
	for _, d := range c.Backoff {
		if d < 0 {
			errs = append(errs, fmt.Errorf("backoff %v: must not be negative", d))
			break
		}
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("workers %d: must be at least 1", c.Workers))
	}
	if c.MaxAckPending < 1 {
		errs = append(errs, fmt.Errorf("max ack pending %d: must be at least 1", c.MaxAckPending))
	}
	if c.HandlerTimeout <= 0 {
		errs = append(errs, fmt.Errorf("handler timeout %v: must be positive", c.HandlerTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("consumer %s/%s: %w", c.Stream, c.Durable, err)
	}
	return nil
}

// jetStreamConfig is the server-side consumer configuration.
func (c ConsumerConfig) jetStreamConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       c.Durable,
		Description:   "Corral durable consumer managed by natsbus",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		// The server keeps delivering a little past MaxDeliver; natsbus
		// dead-letters a message by then, and the slack lets a failed DLQ
		// publish be retried.
		MaxDeliver:    c.MaxDeliver + dlqExtraDeliveries,
		FilterSubject: c.FilterSubject,
		MaxAckPending: c.MaxAckPending,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
}

// EnsureConsumer creates the durable consumer of cfg, or updates it when it
// exists, and returns it.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig) (jetstream.Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cons, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream, cfg.jetStreamConfig())
	if err != nil {
		return nil, fmt.Errorf("ensure consumer %s/%s: %w", cfg.Stream, cfg.Durable, err)
	}
	return cons, nil
}

// Consume runs the durable consumer of cfg, calling h for each message, until
// ctx is cancelled. Then it stops fetching, naks messages not yet handed to a
// handler (so another replica gets them at once), waits for running handlers
// to finish and returns nil. It returns an error when the consumer cannot be
// set up or its message stream fails for good (for example, the consumer was
// deleted). All goroutines it starts have ended when it returns.
func Consume(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, h Handler) error {
	cons, err := EnsureConsumer(ctx, js, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil // asked to stop before we started
		}
		return err
	}
	cfg = cfg.withDefaults()
	// A short pull expiry (heartbeats every 5s) bounds how long the client
	// can sit without an outstanding pull request: nats.go skips issuing the
	// next pull when a message arrives while it is still sending the previous
	// one, and only its missed-heartbeat check (twice the heartbeat) recovers.
	// Buffering two messages per worker keeps a pull outstanding meanwhile.
	iter, err := cons.Messages(jetstream.PullMaxMessages(2*cfg.Workers), jetstream.PullExpiry(pullExpiry))
	if err != nil {
		return fmt.Errorf("consume %s/%s: %w", cfg.Stream, cfg.Durable, err)
	}
	c := &consumer{cfg: cfg, js: js, h: h, log: cfg.Logger.With("stream", cfg.Stream, "consumer", cfg.Durable)}

	var wg sync.WaitGroup
	queues := make([]chan jetstream.Msg, cfg.Workers)
	for i := range queues {
		queues[i] = make(chan jetstream.Msg)
		wg.Go(func() {
			for msg := range queues[i] {
				c.handle(ctx, msg)
			}
		})
	}

	// Stop fetching when asked to. The goroutine also ends when the read
	// loop ends on its own, so it never outlives Consume.
	loopDone := make(chan struct{})
	wg.Go(func() {
		select {
		case <-ctx.Done():
			iter.Drain()
		case <-loopDone:
			iter.Stop()
		}
	})

	var lastErr error
	for {
		msg, err := iter.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			break
		}
		if err != nil {
			lastErr = err
			c.log.Warn("natsbus: fetching messages", "err", err)
			continue
		}
		if ctx.Err() != nil {
			c.giveBack(msg)
			continue
		}
		select {
		case queues[worker(msg.Subject(), len(queues))] <- msg:
		case <-ctx.Done():
			c.giveBack(msg)
		}
	}
	close(loopDone)
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if ctx.Err() == nil {
		if lastErr == nil {
			lastErr = jetstream.ErrMsgIteratorClosed
		}
		return fmt.Errorf("consume %s/%s: %w", cfg.Stream, cfg.Durable, lastErr)
	}
	return nil
}

// worker picks the worker for a subject, so one subject stays on one worker.
func worker(subject string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(subject))
	return int(h.Sum32() % uint32(n))
}

type consumer struct {
	cfg ConsumerConfig
	js  jetstream.JetStream
	h   Handler
	log *slog.Logger
}

// giveBack returns a message that was fetched but will not be handled.
func (c *consumer) giveBack(msg jetstream.Msg) {
	if err := msg.Nak(); err != nil {
		c.log.Warn("natsbus: nak on shutdown", "subject", msg.Subject(), "err", err)
	}
}

// handle runs the handler for one message and answers the server.
func (c *consumer) handle(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		// Not a JetStream delivery: nothing to ack, nothing to retry.
		c.log.Error("natsbus: message without JetStream metadata", "subject", msg.Subject(), "err", err)
		return
	}
	// Handlers finish even when Consume is stopping; only their own timeout
	// cuts them short.
	base := context.WithoutCancel(ctx)
	base = telemetry.ExtractNATS(base, msg.Headers())
	attrs := []attribute.KeyValue{
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.operation.type", "process"),
		attribute.String("messaging.destination.name", msg.Subject()),
		attribute.String("messaging.consumer.group.name", c.cfg.Durable),
		attribute.String("messaging.nats.stream", md.Stream),
		attribute.Int64("messaging.nats.stream.sequence", int64(md.Sequence.Stream)),
		attribute.Int64("messaging.nats.delivery.count", int64(md.NumDelivered)),
		attribute.Int("messaging.message.body.size", len(msg.Data())),
	}
	if id := msg.Headers().Get(jetstream.MsgIDHeader); id != "" {
		attrs = append(attrs, attribute.String("messaging.message.id", id))
	}
	sctx, span := tracer().Start(base, "process "+destination(msg.Subject()),
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
	defer span.End()

	if md.NumDelivered > uint64(c.cfg.MaxDeliver) {
		err := fmt.Errorf("delivered %d times without an answer (max deliver %d, ack wait %v)",
			md.NumDelivered, c.cfg.MaxDeliver, c.cfg.AckWait)
		span.SetStatus(codes.Error, "dead-lettered: no ack")
		metrics.handle(sctx, c.cfg.Durable, outcomeDeadLetter, 0)
		c.deadLetter(sctx, msg, md, DLQReasonNoAck, err)
		return
	}

	began := time.Now()
	err = c.run(sctx, msg)
	outcome := outcomeOK
	defer func() { metrics.handle(sctx, c.cfg.Durable, outcome, time.Since(began)) }()
	switch {
	case err == nil:
		if aerr := msg.Ack(); aerr != nil {
			// The work is done; at worst the message comes back and the
			// handler's own dedupe drops it.
			c.log.WarnContext(sctx, "natsbus: ack", "subject", msg.Subject(), "err", aerr)
		}
	case IsPermanent(err):
		span.RecordError(err)
		span.SetStatus(codes.Error, "dead-lettered: permanent")
		outcome = outcomeDeadLetter
		c.deadLetter(sctx, msg, md, DLQReasonPermanent, err)
	case md.NumDelivered >= uint64(c.cfg.MaxDeliver):
		span.RecordError(err)
		span.SetStatus(codes.Error, "dead-lettered: max deliver")
		outcome = outcomeDeadLetter
		c.deadLetter(sctx, msg, md, DLQReasonMaxDeliver, err)
	default:
		span.RecordError(err)
		span.SetStatus(codes.Error, "handler failed; will retry")
		outcome = outcomeRetry
		delay, asked := RetryDelay(err)
		if asked {
			c.log.InfoContext(sctx, "natsbus: handler asked for a later retry", "subject", msg.Subject(),
				"delivery", md.NumDelivered, "retry_in", delay, "err", err)
		} else {
			delay = c.backoff(md.NumDelivered)
			c.log.WarnContext(sctx, "natsbus: handler failed, retrying", "subject", msg.Subject(),
				"delivery", md.NumDelivered, "retry_in", delay, "err", err)
		}
		if nerr := msg.NakWithDelay(delay); nerr != nil {
			c.log.WarnContext(sctx, "natsbus: nak", "subject", msg.Subject(), "err", nerr)
		}
	}
}

// run calls the handler with a timeout, keeping the message alive with
// in-progress acks meanwhile, and turns a panic into an error.
func (c *consumer) run(ctx context.Context, msg jetstream.Msg) (err error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.HandlerTimeout)
	defer cancel()

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(c.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := msg.InProgress(); err != nil {
					c.log.WarnContext(ctx, "natsbus: in-progress ack", "subject", msg.Subject(), "err", err)
				}
			}
		}
	})
	defer func() {
		close(done)
		wg.Wait()
		if r := recover(); r != nil {
			c.log.ErrorContext(ctx, "natsbus: handler panicked", "subject", msg.Subject(), "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return c.h(ctx, msg)
}

// backoff is the delay before the next delivery after the n-th failed one.
func (c *consumer) backoff(n uint64) time.Duration {
	if len(c.cfg.Backoff) == 0 {
		return 0
	}
	return c.cfg.Backoff[min(max(n, 1), uint64(len(c.cfg.Backoff)))-1]
}

// deadLetter copies msg to the DLQ with headers saying why, then terminates
// it. If the copy fails, the message is nak'ed so a later delivery tries again.
func (c *consumer) deadLetter(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, reason string, cause error) {
	log := c.log.With("subject", msg.Subject(), "sequence", md.Sequence.Stream, "deliveries", md.NumDelivered, "reason", reason)
	if c.cfg.DeadLetter == nil {
		log.ErrorContext(ctx, "natsbus: dropping poison message (no dead-letter subject)", "err", cause)
		c.term(msg, log)
		return
	}
	dl := nats.NewMsg(c.cfg.DeadLetter(msg.Subject()))
	dl.Data = msg.Data()
	for k, vs := range msg.Headers() {
		if k == jetstream.MsgIDHeader {
			continue
		}
		dl.Header[k] = append([]string(nil), vs...)
	}
	dl.Header.Set(HeaderDLQReason, reason)
	dl.Header.Set(HeaderDLQError, HeaderValue(cause.Error(), maxErrorHeader))
	dl.Header.Set(HeaderDLQStream, md.Stream)
	dl.Header.Set(HeaderDLQConsumer, md.Consumer)
	dl.Header.Set(HeaderDLQSubject, msg.Subject())
	dl.Header.Set(HeaderDLQSequence, strconv.FormatUint(md.Sequence.Stream, 10))
	dl.Header.Set(HeaderDLQDeliveries, strconv.FormatUint(md.NumDelivered, 10))
	dl.Header.Set(HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	// The id makes a repeated dead-lettering of the same message (after a
	// failed term) a duplicate the DLQ stream drops.
	id := "dlq." + md.Stream + "." + strconv.FormatUint(md.Sequence.Stream, 10)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := publishMsg(pctx, c.js, dl, id); err != nil {
		log.ErrorContext(ctx, "natsbus: dead-lettering failed; will retry", "err", err, "cause", cause)
		if nerr := msg.NakWithDelay(c.backoff(md.NumDelivered)); nerr != nil {
			log.WarnContext(ctx, "natsbus: nak", "err", nerr)
		}
		return
	}
	log.WarnContext(ctx, "natsbus: message dead-lettered", "dlq_subject", dl.Subject, "err", cause)
	c.term(msg, log)
}

func (c *consumer) term(msg jetstream.Msg, log *slog.Logger) {
	if err := msg.Term(); err != nil {
		log.Warn("natsbus: term", "err", err)
	}
}

// HeaderValue makes s safe as a NATS header value: one line, at most n
// bytes, cut at a character boundary.
func HeaderValue(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
	if len(s) <= n {
		return s
	}
	cut := 0
	for i := range s {
		if i > n {
			break
		}
		cut = i
	}
	return s[:cut]
}

// Drain drains nc (finishing subscriptions and flushing publishes) and waits
// until it is closed or ctx ends, in which case it closes nc at once and
// returns ctx's error. Call it last on shutdown, after Consume returned.
func Drain(ctx context.Context, nc *nats.Conn) error {
	if nc.IsClosed() {
		return nil
	}
	if err := nc.Drain(); err != nil {
		nc.Close()
		return fmt.Errorf("drain nats connection: %w", err)
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !nc.IsClosed() {
		select {
		case <-ctx.Done():
			nc.Close()
			return fmt.Errorf("drain nats connection: %w", context.Cause(ctx))
		case <-t.C:
		}
	}
	return nil
}
