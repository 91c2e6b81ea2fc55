package inference

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/corral-ai/corral/inference/engine"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// streamTiming paces the liveness checks of a generate stream.
type streamTiming struct {
	// probeEvery: a request (probe or credit) goes to the client at least
	// this often, so a client that went away is noticed within it.
	probeEvery time.Duration
	// probeTimeout: a probe unanswered this long means the client is gone
	// (its connection is up but it does not answer, or the network is).
	probeTimeout time.Duration
	// creditTimeout: a stream whose events wait this long for credit is
	// ended: the client is there but stopped reading.
	creditTimeout time.Duration
}

// defaultTiming cancels a vanished client within about half a second (its
// inbox is gone: "no responders") or about two (it stopped
// answering).
var defaultTiming = streamTiming{probeEvery: 500 * time.Millisecond, probeTimeout: 1500 * time.Millisecond, creditTimeout: 30 * time.Second}

// Errors a sender ends a sequence with, as the cause of its cancellation.
var (
	errClientGone     = errors.New("the client went away")
	errStoppedReading = errors.New("the client stopped reading")
)

// statusHeader and noResponders are how the NATS server says a request
// reached no subscriber.
const (
	statusHeader = "Status"
	noResponders = "503"
)

// sender streams one generation to a NATS client under credit-based flow
// control (docs/inference-protocol.md). It owns the sequence from the
// moment Submit accepted it; run is its goroutine, read feeds it.
type sender struct {
	s      *service
	reply  string // the client's inbox: events and probes go there
	inbox  string // ours: acknowledgements, probe answers, cancellation, no-responders
	ctl    chan *nats.Msg
	sub    *nats.Subscription
	window uint32
	id     string
	stream *engine.Stream
	cancel context.CancelCauseFunc

	// ctx, span and start are the request's, for metrics and the span's end.
	ctx   context.Context
	span  trace.Span
	start time.Time
}

func (s *service) newSender(reply string, window int, id string, stream *engine.Stream, cancel context.CancelCauseFunc) (*sender, error) {
	d := &sender{
		s: s, reply: reply, inbox: s.nc.NewInbox(), ctl: make(chan *nats.Msg, 16),
		window: uint32(window), id: id, stream: stream, cancel: cancel,
	}
	var err error
	if d.sub, err = s.nc.ChanSubscribe(d.inbox, d.ctl); err != nil {
		return nil, fmt.Errorf("subscribe to the stream's inbox: %w", err)
	}
	return d, nil
}

// run streams the events and records how the request ended.
func (d *sender) run() {
	defer d.s.r.inflight.Done()
	events := make(chan engine.Event)
	stop := make(chan struct{})
	go d.read(events, stop)
	outcome := d.guardedLoop(events)
	close(stop)
	_ = d.sub.Unsubscribe()
	d.cancel(nil)
	d.s.r.metrics.stream(d.ctx, apiNATS, -1)
	d.s.r.metrics.done(d.ctx, apiNATS, corralv1.InferenceEndpointGenerate, outcome, d.start)
	d.span.SetAttributes(attribute.String("corral.outcome", outcome))
	d.span.End()
}

// guardedLoop runs loop and turns a panic in it into a cancelled sequence
// and a logged stack, so a bug in one stream leaves the others running.
func (d *sender) guardedLoop(events <-chan engine.Event) (outcome string) {
	defer func() {
		if p := recover(); p != nil {
			d.s.r.log.Error("generate stream panicked", "request", d.id, "panic", p, "stack", string(debug.Stack()))
			d.cancel(fmt.Errorf("internal error: %v", p))
			outcome = outcomeError
		}
	}()
	return d.loop(events)
}

// read hands the stream's events to the sender one at a time. While the
// sender waits for credit, the engine merges what it generates into the
// stream's next event, so a slow client costs at most its reply's length.
// After stop it drops the events up to the final one, which follows the
// sender's cancellation within an engine step.
func (d *sender) read(out chan<- engine.Event, stop <-chan struct{}) {
	defer d.s.r.inflight.Done()
	for {
		ev, ok := d.stream.Next()
		if !ok {
			return
		}
		d.s.r.rate.add(len(ev.Tokens))
		select {
		case out <- ev:
		case <-stop:
		}
	}
}

// loop is the protocol. Events go out while fewer than window of them are
// unacknowledged; every window/2 events one goes as a request whose answer
// grants the next credit. A probe goes out when no request did for
// probeEvery. It returns the request's outcome.
func (d *sender) loop(events <-chan engine.Event) string {
	t := d.s.timing
	var (
		seq, acked uint32    // events sent; events the client has consumed
		creditOut  bool      // an event sent as a request awaits its answer
		creditSeq  uint32    // that event's seq
		creditAt   time.Time // when it was sent
		probeAt    time.Time // when the probe awaiting its answer was sent; zero: none
		lastReq    time.Time // when the last request of either kind was sent
		pending    *engine.Event
		stalled    bool // counted in flowWaits already
	)
	if err := d.probe(); err != nil {
		return d.fail(err)
	}
	probeAt, lastReq = time.Now(), time.Now()
	tick := time.NewTicker(t.probeEvery / 4)
	defer tick.Stop()
	for {
		in := events
		if pending != nil {
			in = nil
		}
		select {
		case ev := <-in:
			pending = &ev
		case m := <-d.ctl:
			switch {
			case m.Header.Get(statusHeader) == noResponders:
				return d.gone(goneNoResponders, errClientGone)
			case m.Header.Get(corralv1.HeaderCancel) != "":
				d.s.r.log.Debug("client cancelled", "request", d.id, "reason", m.Header.Get(corralv1.HeaderCancel))
				return d.gone(goneCancelled, context.Canceled)
			case m.Header.Get(corralv1.HeaderAck) != "":
				n, err := strconv.ParseUint(m.Header.Get(corralv1.HeaderAck), 10, 32)
				if err == nil && creditOut && uint32(n) == creditSeq {
					acked, creditOut = creditSeq+1, false
				} else {
					d.s.r.log.Debug("stray acknowledgement", "request", d.id, "ack", m.Header.Get(corralv1.HeaderAck))
				}
			default:
				probeAt = time.Time{}
			}
		case now := <-tick.C:
			switch {
			case !probeAt.IsZero() && now.Sub(probeAt) > t.probeTimeout:
				return d.gone(goneProbeTimeout, errClientGone)
			case creditOut && pending != nil && now.Sub(creditAt) > t.creditTimeout:
				d.finalAnyway(errStoppedReading, seq)
				return d.gone(goneStoppedReader, errStoppedReading)
			case probeAt.IsZero() && now.Sub(lastReq) >= t.probeEvery:
				if err := d.probe(); err != nil {
					return d.fail(err)
				}
				probeAt, lastReq = now, now
			}
		case <-d.s.hard.Done():
			d.finalAnyway(engine.ErrClosed, seq)
			d.stream.Cancel()
			return outcomeUnavailable
		}
		for pending != nil {
			if seq >= acked+d.window {
				if !stalled {
					d.s.r.metrics.flowWaits.Add(d.ctx, 1)
					stalled = true
				}
				break
			}
			stalled = false
			ev := *pending
			pending = nil
			pe := protoEvent(ev, d.id, d.s.r.ModelID(), seq)
			asRequest := !ev.Final() && !creditOut && seq+1-acked >= d.window/2
			if err := d.publish(pe, asRequest); err != nil {
				return d.fail(err)
			}
			if asRequest {
				now := time.Now()
				creditOut, creditSeq, creditAt, lastReq = true, seq, now, now
			}
			seq++
			if ev.Final() {
				if pe.GetError() != nil {
					return outcomeOf(pe.GetError().GetCode())
				}
				return outcomeOK
			}
		}
	}
}

// probe asks the client to say it is still there.
func (d *sender) probe() error {
	m := nats.NewMsg(d.reply)
	m.Reply = d.inbox
	m.Header.Set(corralv1.HeaderProbe, "1")
	return d.s.nc.PublishMsg(m)
}

// publish sends one event, as a request when it asks for credit. A final
// event with an error carries the micro error headers too.
func (d *sender) publish(ev *corralv1.GenerateEvent, asRequest bool) error {
	data, err := proto.Marshal(ev)
	if err != nil {
		return fmt.Errorf("marshal event: %w", err)
	}
	m := nats.NewMsg(d.reply)
	m.Data = data
	if asRequest {
		m.Reply = d.inbox
	}
	if e := ev.GetError(); e != nil && ev.GetFinishReason() == corralv1.FinishReason_FINISH_REASON_ERROR {
		errorHeaders(m.Header, e.GetCode(), e.GetMessage())
	}
	return d.s.nc.PublishMsg(m)
}

// finalAnyway sends a last event outside the window, so that a client
// that is still there learns why its stream ended.
func (d *sender) finalAnyway(why error, seq uint32) {
	_ = d.publish(protoEvent(engine.Event{Finish: engine.FinishCancelled, Err: why}, d.id, d.s.r.ModelID(), seq), false)
}

// gone ends a sequence whose client went away.
func (d *sender) gone(reason string, cause error) string {
	d.cancel(cause)
	d.s.r.metrics.clientGone(d.ctx, apiNATS, reason)
	d.span.AddEvent("client gone", trace.WithAttributes(attribute.String("reason", reason)))
	return outcomeClientGone
}

// fail ends a sequence the service could not stream (its own connection
// failed).
func (d *sender) fail(err error) string {
	d.cancel(err)
	d.s.r.log.Warn("generate stream failed", "request", d.id, "err", err)
	return outcomeError
}
