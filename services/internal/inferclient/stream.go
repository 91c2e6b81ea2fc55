package inferclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/telemetry"
)

// statusHeader and noResponders are how the NATS server says a request
// reached no subscriber.
const (
	statusHeader = "Status"
	noResponders = "503"
)

// Stream is one generation's events, read with Recv by one goroutine. It
// is bound to the context given to Generate: when that ends, the service
// is told to cancel and Recv returns the context's error.
type Stream struct {
	c      *Client
	ctx    context.Context
	span   trace.Span
	sub    *nats.Subscription
	events chan item  // window+2: the service never sends more unread
	errc   chan error // the first transport failure
	// accepted is closed when the service's first probe arrives.
	accepted chan struct{}
	heard    atomic.Int64 // unix nanoseconds of the last message from the service
	stopCtx  func() bool

	mu       sync.Mutex
	control  string // the service's subject for acknowledgements and cancellation
	stopped  bool   // cancelled or finished: nothing more is answered or read
	head     *item  // an event Generate read while waiting for acceptance
	next     uint32 // the seq Recv expects
	finished bool   // the final event was returned
}

// item is one event as it arrived, with the subject to acknowledge it on
// when the service asked for credit.
type item struct {
	ev    *corralv1.GenerateEvent
	reply string
	herr  *Error
}

// Generate sends the request to one replica and waits until the replica
// accepts it (it then has a sequence in its engine) or refuses it. A
// refusal is an *Error matching ErrOverloaded, ErrInvalidRequest and the
// like; no replica at all is ErrNoService. Read the events with Recv; Close
// the stream, or end ctx, to cancel the generation. With ctx ended already,
// nothing is sent and ctx's error returned.
func (c *Client) Generate(ctx context.Context, req *corralv1.GenerateRequest) (*Stream, error) {
	ctx, span := c.tracer.Start(ctx, "inference.generate", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", c.generate),
			attribute.String("corral.request_id", req.GetRequestId())))
	s := &Stream{
		c: c, ctx: ctx, span: span,
		events: make(chan item, c.o.Window+2), errc: make(chan error, 1), accepted: make(chan struct{}),
	}
	s.heard.Store(time.Now().UnixNano())
	if err := ctx.Err(); err != nil {
		// Not sent: a request whose caller has gone would cost the
		// replica a sequence until its first probe found nobody.
		s.finish(err)
		return nil, err
	}
	if err := s.start(req); err != nil {
		s.finish(err)
		return nil, err
	}
	timer := time.NewTimer(c.o.StallTimeout)
	defer timer.Stop()
	for {
		select {
		case <-s.accepted:
			return s.accept(), nil
		case it := <-s.events:
			select {
			case <-s.accepted:
				// The probe came first; select picked the event.
				s.head = &it
				return s.accept(), nil
			default:
			}
			// A refusal arrives instead of the first probe.
			err := s.take(it)
			if err == nil {
				err = fmt.Errorf("%w: event %d before the stream was accepted", ErrProtocol, it.ev.GetSeq())
			}
			s.finish(err)
			return nil, err
		case err := <-s.errc:
			s.finish(err)
			return nil, err
		case <-ctx.Done():
			s.cancel("the caller's context ended")
			s.finish(ctx.Err())
			return nil, ctx.Err()
		case <-timer.C:
			if s.quiet() < c.o.StallTimeout {
				timer.Reset(c.o.StallTimeout - s.quiet())
				continue
			}
			err := fmt.Errorf("%w: no answer to the request within %v", ErrStalled, c.o.StallTimeout)
			s.cancel("stalled")
			s.finish(err)
			return nil, err
		}
	}
}

// accept hooks the stream to its context once the service has taken it.
func (s *Stream) accept() *Stream {
	stop := context.AfterFunc(s.ctx, func() { s.cancel("the caller's context ended") })
	s.mu.Lock()
	s.stopCtx = stop
	s.mu.Unlock()
	return s
}

// start subscribes to a fresh inbox and publishes the request with it as
// the reply subject.
func (s *Stream) start(req *corralv1.GenerateRequest) error {
	data, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("inference generate: %w", err)
	}
	inbox := s.c.nc.NewInbox()
	if s.sub, err = s.c.nc.Subscribe(inbox, s.handle); err != nil {
		return fmt.Errorf("inference generate: subscribe: %w", err)
	}
	m := nats.NewMsg(s.c.generate)
	m.Reply = inbox
	m.Data = data
	m.Header.Set(corralv1.HeaderWindow, strconv.Itoa(s.c.o.Window))
	telemetry.InjectNATS(s.ctx, m.Header)
	if err := s.c.nc.PublishMsg(m); err != nil {
		return fmt.Errorf("inference generate: publish: %w", err)
	}
	return nil
}

// handle runs on the subscription's goroutine for every message from the
// service. Probes are answered at once, whatever the reader is doing, so
// that a slow reader is not mistaken for a vanished one; events wait for
// Recv, which acknowledges them.
func (s *Stream) handle(m *nats.Msg) {
	s.heard.Store(time.Now().UnixNano())
	switch {
	case m.Header.Get(statusHeader) == noResponders && len(m.Data) == 0:
		s.fail(ErrNoService)
	case m.Header.Get(corralv1.HeaderProbe) != "":
		s.mu.Lock()
		first := s.control == ""
		if first {
			s.control = m.Reply
		}
		stopped := s.stopped
		s.mu.Unlock()
		if first {
			close(s.accepted)
		}
		a := nats.NewMsg(m.Reply)
		if stopped {
			a.Header.Set(corralv1.HeaderCancel, "closed")
		}
		_ = s.c.nc.PublishMsg(a)
	default:
		ev := &corralv1.GenerateEvent{}
		if err := proto.Unmarshal(m.Data, ev); err != nil {
			if herr := headerError(m); herr != nil {
				s.fail(herr) // an error answer whose body is not an event
				return
			}
			s.fail(fmt.Errorf("%w: undecodable event: %w", ErrProtocol, err))
			return
		}
		select {
		case s.events <- item{ev: ev, reply: m.Reply, herr: headerError(m)}:
		default:
			s.fail(fmt.Errorf("%w: more than %d events unread; the service ignored the window", ErrProtocol, s.c.o.Window))
		}
	}
}

func (s *Stream) fail(err error) {
	select {
	case s.errc <- err:
	default:
	}
}

// quiet is how long the service has been silent.
func (s *Stream) quiet() time.Duration {
	return time.Duration(time.Now().UnixNano() - s.heard.Load())
}

// Recv returns the next event. The last event has a finish reason; Recv
// returns it with a nil error when the generation ended normally, and
// with an *Error when it failed or was superseded (ErrSuperseded), and
// io.EOF after it. A transport failure (ErrStalled, ErrProtocol) or the
// end of the stream's context returns a nil event and the error; the
// generation is cancelled then.
func (s *Stream) Recv() (*corralv1.GenerateEvent, error) {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return nil, io.EOF
	}
	if s.stopped {
		s.mu.Unlock()
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		return nil, ErrClosed
	}
	head := s.head
	s.head = nil
	s.mu.Unlock()
	// A caller whose context ended gets its error, not events that were
	// already waiting (a select would pick either at random).
	if err := s.ctx.Err(); err != nil {
		s.cancel("the caller's context ended")
		s.finish(err)
		return nil, err
	}
	if head != nil {
		return head.ev, s.take(*head)
	}
	timer := time.NewTimer(s.c.o.StallTimeout)
	defer timer.Stop()
	for {
		select {
		case it := <-s.events:
			return it.ev, s.take(it)
		case err := <-s.errc:
			s.cancel(err.Error())
			s.finish(err)
			return nil, err
		case <-s.ctx.Done():
			s.cancel("the caller's context ended")
			s.finish(s.ctx.Err())
			return nil, s.ctx.Err()
		case <-timer.C:
			if q := s.quiet(); q < s.c.o.StallTimeout {
				timer.Reset(s.c.o.StallTimeout - q)
				continue
			}
			err := fmt.Errorf("%w: nothing for %v", ErrStalled, s.c.o.StallTimeout)
			s.cancel("stalled")
			s.finish(err)
			return nil, err
		}
	}
}

// take checks an event's place in the stream, acknowledges it when the
// service asked for credit, and ends the stream on the final event. Its
// error is the final event's, or a protocol violation.
func (s *Stream) take(it item) error {
	s.mu.Lock()
	want := s.next
	s.next++
	s.mu.Unlock()
	ev := it.ev
	if ev.GetSeq() != want {
		err := fmt.Errorf("%w: event %d where %d was due (lost or reordered)", ErrProtocol, ev.GetSeq(), want)
		s.cancel("protocol violation")
		s.finish(err)
		return err
	}
	final := ev.GetFinishReason() != corralv1.FinishReason_FINISH_REASON_UNSPECIFIED
	if it.reply != "" && !final {
		a := nats.NewMsg(it.reply)
		a.Header.Set(corralv1.HeaderAck, strconv.FormatUint(uint64(ev.GetSeq()), 10))
		_ = s.c.nc.PublishMsg(a)
	}
	if !final {
		return nil
	}
	err := eventError(ev)
	var e *Error
	if errors.As(err, &e) && it.herr != nil {
		e.RetryAfter = it.herr.RetryAfter
	}
	s.mu.Lock()
	span := s.span
	s.mu.Unlock()
	if span != nil {
		span.SetAttributes(attribute.String("corral.finish_reason", ev.GetFinishReason().String()),
			attribute.Int("corral.prompt_tokens", int(ev.GetUsage().GetPromptTokens())),
			attribute.Int("corral.completion_tokens", int(ev.GetUsage().GetCompletionTokens())))
	}
	s.finish(err)
	s.mu.Lock()
	s.finished = true
	s.mu.Unlock()
	return err
}

// Close cancels the generation unless it has finished: the service hears
// it at once when it has accepted the request, and otherwise at its next
// probe, which finds nobody subscribed. Close is safe to call more than
// once and from any goroutine.
func (s *Stream) Close() {
	s.cancel("closed by the caller")
	s.finish(ErrClosed)
}

// cancel tells the service to stop, once, unless the stream has ended.
func (s *Stream) cancel(reason string) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	control, sub := s.control, s.sub
	s.mu.Unlock()
	if control != "" {
		m := nats.NewMsg(control)
		m.Header.Set(corralv1.HeaderCancel, reason)
		_ = s.c.nc.PublishMsg(m)
	}
	if sub != nil {
		_ = sub.Unsubscribe()
	}
}

// finish releases the stream once: the subscription, the context hook and
// the span.
func (s *Stream) finish(err error) {
	s.mu.Lock()
	s.stopped = true
	sub, stopCtx, span := s.sub, s.stopCtx, s.span
	s.sub, s.stopCtx, s.span = nil, nil, nil
	s.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
	if stopCtx != nil {
		stopCtx()
	}
	if span != nil {
		endSpan(span, err)
	}
}
