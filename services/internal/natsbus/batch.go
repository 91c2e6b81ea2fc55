package natsbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/corral-ai/corral/services/internal/telemetry"
)

// ackChanLen is how many acknowledgements may wait in a BatchPublisher's
// channel for a caller to read them. Only acknowledgements that arrive
// while no caller waits pile up there (those of publishes whose callers
// gave up); past this, nats.go drops them as a slow consumer, which costs
// nothing: their callers have already answered.
const ackChanLen = 8192

// ErrAckTimeout is the error of a publish whose acknowledgement did not
// come in time. The message may still be stored: the same Nats-Msg-Id
// published again is then dropped as a duplicate.
var ErrAckTimeout = errors.New("no acknowledgement in time (the message may still be stored)")

// BatchPublisher publishes protobuf messages to JetStream streams and waits
// for their acknowledgements, for a caller that answers only once every
// message it published is stored (the webhook gateway). It does what
// jetstream's PublishMsgAsync does with less work per message: each
// message is a core NATS publish whose reply subject is a token under one
// wildcard inbox of the publisher's own; the server's acknowledgement comes
// back to that inbox on a channel subscription, which nats.go fills from
// its read loop. No goroutine of ours reads it: the callers waiting in
// PublishAll receive from the channel themselves, and whoever receives an
// acknowledgement hands it to the call it belongs to. Acknowledgements of
// one connection come back in publish order and a channel wakes its
// receivers first come, first served, so the caller woken is usually the
// one the acknowledgement is for, and an acknowledgement costs no extra
// goroutine switch (through PublishMsgAsync it wakes the subscription's
// goroutine, which then wakes the caller).
//
// Publishes keep their order on the connection, so a caller may publish a
// conversation's messages back to back. Close unsubscribes.
type BatchPublisher struct {
	nc     *nats.Conn
	sub    *nats.Subscription
	acks   chan *nats.Msg
	prefix string // the inbox with its trailing dot; a token follows
	closed atomic.Bool

	mu      sync.Mutex
	waiting map[uint64]slot // by token
	next    uint64          // the next token

	msgs   sync.Pool // *outMsg
	timers sync.Pool // *time.Timer, stopped
}

// slot is where one awaited acknowledgement goes.
type slot struct {
	b *batch
	i int
}

// batch is one PublishAll call's state while it waits.
type batch struct {
	out     []Outgoing
	results []PublishResult
	spans   []trace.Span
	left    int           // acknowledgements still awaited, under mu
	done    chan struct{} // closed when left reaches 0

	// oneResult and oneSpan back results and spans of a one-message
	// batch, the usual webhook, saving two allocations.
	oneResult [1]PublishResult
	oneSpan   [1]trace.Span
}

// outMsg is a reusable message: nats.go copies a message into its buffer
// before PublishMsg returns, so the header map and the data buffer serve
// the next publish.
type outMsg struct {
	msg  nats.Msg
	data []byte
}

// Outgoing is one message for PublishAll.
type Outgoing struct {
	// Subject is the subject published to; a stream must capture it.
	Subject string
	// MsgID becomes Nats-Msg-Id, so the stream drops a second publish with
	// the same id inside its duplicate window; empty turns dedupe off.
	MsgID string
	// Msg is marshalled as the payload.
	Msg proto.Message
}

// ErrPublisherClosed is PublishAll's error after Close.
var ErrPublisherClosed = errors.New("batch publisher closed")

// PublishResult is what came of one Outgoing.
type PublishResult struct {
	// Stream and Sequence say where the message is stored.
	Stream   string
	Sequence uint64
	// Duplicate says the stream already held a message with this MsgID.
	Duplicate bool
	// Err is why the message may not be stored; nil when it is.
	Err error
}

// NewBatchPublisher subscribes to a fresh inbox on nc. Close it before nc.
func NewBatchPublisher(nc *nats.Conn) (*BatchPublisher, error) {
	p := &BatchPublisher{
		nc:      nc,
		acks:    make(chan *nats.Msg, ackChanLen),
		prefix:  nc.NewInbox() + ".",
		waiting: map[uint64]slot{},
	}
	sub, err := nc.ChanSubscribe(p.prefix+"*", p.acks)
	if err != nil {
		return nil, fmt.Errorf("subscribe to the acknowledgement inbox: %w", err)
	}
	p.sub = sub
	return p, nil
}

// Close unsubscribes from the inbox; calls still waiting time out, later
// ones fail at once with ErrPublisherClosed.
func (p *BatchPublisher) Close() error {
	p.closed.Store(true)
	if err := p.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
		return fmt.Errorf("unsubscribe the acknowledgement inbox: %w", err)
	}
	return nil
}

// PublishAll publishes out in order and returns once every message is
// answered (acknowledged or refused), or wait passed or ctx ended, with one
// result per message. The error joins those of the
// results. Each message gets a producer span (a child of ctx, its context
// in the headers) and is counted in the bus metrics, as with Publish.
func (p *BatchPublisher) PublishAll(ctx context.Context, wait time.Duration, out []Outgoing) ([]PublishResult, error) {
	if len(out) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err // nothing published for a caller that left
	}
	if p.closed.Load() {
		return nil, ErrPublisherClosed // no acknowledgement could reach us
	}
	b := &batch{out: out, done: make(chan struct{})}
	if len(out) == 1 {
		b.results, b.spans = b.oneResult[:], b.oneSpan[:]
	} else {
		b.results, b.spans = make([]PublishResult, len(out)), make([]trace.Span, len(out))
	}
	spans := b.spans

	// Tokens first, so no acknowledgement can come before its slot exists.
	p.mu.Lock()
	first := p.next
	p.next += uint64(len(out))
	for i := range out {
		p.waiting[first+uint64(i)] = slot{b: b, i: i}
	}
	b.left = len(out)
	p.mu.Unlock()

	var reply []byte
	for i, o := range out {
		reply = strconv.AppendUint(append(reply[:0], p.prefix...), first+uint64(i), 36)
		var err error
		spans[i], err = p.publish(ctx, o, string(reply))
		if err != nil {
			p.settle(first+uint64(i), PublishResult{Err: err}) // settle names the subject
		}
	}

	timer := p.timer(wait)
	defer p.timers.Put(timer)
	defer timer.Stop()
	for waiting := true; waiting; {
		select {
		case <-b.done:
			waiting = false
		case m := <-p.acks:
			p.deliver(m)
		case <-timer.C:
			p.abandon(b, first, ErrAckTimeout)
			waiting = false
		case <-ctx.Done():
			p.abandon(b, first, fmt.Errorf("waiting for the acknowledgement: %w", context.Cause(ctx)))
			waiting = false
		}
	}

	var errs []error
	for i, res := range b.results {
		p.finish(ctx, spans[i], out[i], res)
		if res.Err != nil {
			errs = append(errs, res.Err)
		}
	}
	return b.results, errors.Join(errs...)
}

// timer returns a stopped timer from the pool, or a new one, started.
func (p *BatchPublisher) timer(d time.Duration) *time.Timer {
	if t, ok := p.timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

// publish sends one message with reply as its reply subject.
func (p *BatchPublisher) publish(ctx context.Context, o Outgoing, reply string) (trace.Span, error) {
	ctx, span := tracer().Start(ctx, "publish "+destination(o.Subject), trace.WithSpanKind(trace.SpanKindProducer))
	om, _ := p.msgs.Get().(*outMsg)
	if om == nil {
		om = &outMsg{msg: nats.Msg{Header: nats.Header{}}}
	}
	defer p.msgs.Put(om)
	var err error
	if om.data, err = (proto.MarshalOptions{}).MarshalAppend(om.data[:0], o.Msg); err != nil {
		return span, fmt.Errorf("marshal %s: %w", o.Msg.ProtoReflect().Descriptor().FullName(), err)
	}
	h := om.msg.Header
	for k, v := range h {
		h[k] = v[:0] // a key without values writes no header line
	}
	setHeader(h, HeaderType, string(o.Msg.ProtoReflect().Descriptor().FullName()))
	setHeader(h, HeaderContentType, ContentTypeProtobuf)
	if o.MsgID != "" {
		setHeader(h, jetstream.MsgIDHeader, o.MsgID)
	}
	telemetry.InjectNATS(ctx, h)
	if span.IsRecording() {
		attrs := []attribute.KeyValue{
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", o.Subject),
			attribute.Int("messaging.message.body.size", len(om.data)),
		}
		if o.MsgID != "" {
			attrs = append(attrs, attribute.String("messaging.message.id", o.MsgID))
		}
		span.SetAttributes(attrs...)
	}
	om.msg.Subject, om.msg.Reply, om.msg.Data = o.Subject, reply, om.data
	return span, p.nc.PublishMsg(&om.msg)
}

// setHeader sets h[k] to v, reusing the value slice a pooled message has.
func setHeader(h nats.Header, k, v string) {
	if s := h[k]; cap(s) > 0 {
		h[k] = append(s[:0], v)
		return
	}
	h[k] = []string{v}
}

// deliver hands an acknowledgement to the call waiting for it; one whose
// call has given up is dropped.
func (p *BatchPublisher) deliver(m *nats.Msg) {
	if m == nil {
		return
	}
	token, err := strconv.ParseUint(m.Subject[min(len(p.prefix), len(m.Subject)):], 36, 64)
	if err != nil {
		return
	}
	p.settle(token, parseAck(m))
}

// settle records res for token, if its call still waits.
func (p *BatchPublisher) settle(token uint64, res PublishResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.waiting[token]
	if !ok {
		return
	}
	delete(p.waiting, token)
	if res.Err != nil {
		res.Err = fmt.Errorf("publish to %s: %w", s.b.out[s.i].Subject, res.Err)
	}
	s.b.results[s.i] = res
	if s.b.left--; s.b.left == 0 {
		close(s.b.done)
	}
}

// abandon gives up on b's missing acknowledgements with err.
func (p *BatchPublisher) abandon(b *batch, first uint64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range b.out {
		token := first + uint64(i)
		if s, ok := p.waiting[token]; ok && s.b == b {
			delete(p.waiting, token)
			b.results[i] = PublishResult{Err: fmt.Errorf("publish to %s: %w", b.out[i].Subject, err)}
		}
	}
}

// finish ends one message's span and counts it.
func (p *BatchPublisher) finish(ctx context.Context, span trace.Span, o Outgoing, res PublishResult) {
	defer span.End()
	if res.Err != nil {
		metrics.publish(ctx, destination(o.Subject), outcomeError)
		span.RecordError(res.Err)
		span.SetStatus(codes.Error, "publish failed")
		return
	}
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.nats.stream", res.Stream),
			attribute.Int64("messaging.nats.stream.sequence", int64(res.Sequence)),
			attribute.Bool("messaging.nats.duplicate", res.Duplicate),
		)
	}
	outcome := outcomeOK
	if res.Duplicate {
		outcome = outcomeDuplicate
	}
	metrics.publish(ctx, res.Stream, outcome)
}

// pubAck is the server's answer to a publish to a stream.
type pubAck struct {
	Stream    string `json:"stream"`
	Sequence  uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
	// Error keeps nats.go's type, so callers can match the server's
	// error code (errors.As, or errors.Is with jetstream's errors).
	Error *jetstream.APIError `json:"error"`
}

// parseAck reads an acknowledgement: a PubAck, a JetStream error, or the
// server's no-responders status when no stream captures the subject.
func parseAck(m *nats.Msg) PublishResult {
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		return PublishResult{Err: fmt.Errorf("no stream captures the subject: %w", nats.ErrNoResponders)}
	}
	if res, ok := parseAckFast(m.Data); ok {
		return res
	}
	var ack pubAck
	if err := json.Unmarshal(m.Data, &ack); err != nil {
		return PublishResult{Err: fmt.Errorf("unreadable acknowledgement %q: %w", m.Data, err)}
	}
	if ack.Error != nil {
		return PublishResult{Err: ack.Error}
	}
	if ack.Stream == "" {
		return PublishResult{Err: fmt.Errorf("%w: %q", jetstream.ErrInvalidJSAck, m.Data)}
	}
	return PublishResult{Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}
}

// parseAckFast reads the usual acknowledgement without encoding/json:
// {"stream":"NAME","seq":N} with an optional ,"duplicate":true, spaced as
// nats-server 2.9 to 2.15 write them ({"stream":"S", "seq":1,"duplicate": true}
// from 2.9); anything else (an error, a domain) is left to encoding/json.
func parseAckFast(data []byte) (PublishResult, bool) {
	rest, ok := bytes.CutPrefix(data, []byte(`{"stream":"`))
	if !ok {
		return PublishResult{}, false
	}
	q := bytes.IndexByte(rest, '"')
	if q <= 0 {
		return PublishResult{}, false
	}
	stream := rest[:q]
	for _, c := range stream {
		if c < ' ' || c > '~' || c == '\\' { // left to encoding/json
			return PublishResult{}, false
		}
	}
	if rest, ok = bytes.CutPrefix(rest[q+1:], []byte(`,`)); !ok {
		return PublishResult{}, false
	}
	if rest, ok = bytes.CutPrefix(bytes.TrimPrefix(rest, []byte(" ")), []byte(`"seq":`)); !ok {
		return PublishResult{}, false
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n > 1 && rest[0] == '0' { // not JSON: encoding/json refuses it
		return PublishResult{}, false
	}
	seq, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	if err != nil {
		return PublishResult{}, false
	}
	res := PublishResult{Stream: string(stream), Sequence: seq}
	switch rest = rest[n:]; string(rest) {
	case "}":
	case `,"duplicate":true}`, `,"duplicate": true}`:
		res.Duplicate = true
	default:
		return PublishResult{}, false
	}
	return res, true
}
