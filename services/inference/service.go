package inference

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/tokenizer"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/telemetry"
)

// protocolVersion is the micro service's version: the version of the wire
// protocol in docs/inference-protocol.md, not of the binary.
const protocolVersion = "1.1.0"

// retryAfter is what an overloaded answer asks the caller to wait.
const retryAfter = time.Second

// subjects are the endpoints' subjects, in the connection's namespace.
type subjects struct{ generate, warm, count, models, stats string }

func subjectsOf(streams natsbus.StreamsConfig) subjects {
	return subjects{
		generate: streams.Subject(corralv1.SubjectInferenceGenerate),
		warm:     streams.Subject(corralv1.SubjectInferenceWarm),
		count:    streams.Subject(corralv1.SubjectInferenceCount),
		models:   streams.Subject(corralv1.SubjectInferenceModels),
		stats:    streams.Subject(corralv1.SubjectInferenceStats),
	}
}

// service is the NATS service "inference" of one replica.
type service struct {
	r        *Role
	nc       *nats.Conn
	svc      micro.Service
	subjects subjects
	timing   streamTiming
	// hard ends when the role gives up on streams at shutdown: senders
	// still waiting for a client's credit then stop.
	hard  context.Context
	abort context.CancelFunc
}

// startService registers the service and its five endpoints in the queue
// group, so that each request reaches one replica.
func startService(r *Role, nc *nats.Conn, streams natsbus.StreamsConfig) (*service, error) {
	s := &service{r: r, nc: nc, subjects: subjectsOf(streams), timing: r.timing}
	s.hard, s.abort = context.WithCancel(context.Background())
	svc, err := micro.AddService(nc, micro.Config{
		Name:        corralv1.InferenceService,
		Version:     protocolVersion,
		Description: "Corral inference: generate streams GenerateEvents with flow control; warm, count, models, stats",
		Metadata:    map[string]string{"model": r.ModelID()},
		QueueGroup:  corralv1.InferenceQueueGroup,
		ErrorHandler: func(_ micro.Service, err *micro.NATSError) {
			r.log.Warn("inference service", "subject", err.Subject, "err", err.Description)
		},
	})
	if err != nil {
		s.abort()
		return nil, err
	}
	s.svc = svc
	for _, ep := range []struct {
		name, subject string
		h             micro.HandlerFunc
	}{
		{corralv1.InferenceEndpointGenerate, s.subjects.generate, s.handleGenerate},
		{corralv1.InferenceEndpointWarm, s.subjects.warm, s.handleWarm},
		{corralv1.InferenceEndpointCount, s.subjects.count, s.handleCount},
		{corralv1.InferenceEndpointModels, s.subjects.models, s.handleModels},
		{corralv1.InferenceEndpointStats, s.subjects.stats, s.handleStats},
	} {
		if err := svc.AddEndpoint(ep.name, ep.h, micro.WithEndpointSubject(ep.subject)); err != nil {
			_ = s.stop()
			s.abort()
			return nil, fmt.Errorf("endpoint %s: %w", ep.name, err)
		}
	}
	return s, nil
}

// stop unsubscribes the endpoints (letting requests already received
// through) and ends the service; streams in flight go on until abort.
func (s *service) stop() error {
	return s.svc.Stop()
}

// newRequestID makes an id for a request that came without one.
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// headerSafe makes text fit a NATS header value: one line, bounded.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 512 {
		s = s[:512]
	}
	if s == "" {
		s = "error"
	}
	return s
}

// errorOpts are the NATS micro error headers of a code, so NATS tooling
// counts and shows the failure; the body says the same in protobuf.
func errorHeaders(h nats.Header, code corralv1.ErrorCode, msg string) {
	h.Set(micro.ErrorCodeHeader, strconv.Itoa(int(code)))
	h.Set(micro.ErrorHeader, headerSafe(msg))
	if code == corralv1.ErrorCode_ERROR_CODE_OVERLOADED {
		h.Set(corralv1.HeaderRetryAfter, strconv.FormatInt(retryAfter.Milliseconds(), 10))
	}
}

// fail answers a request with an error: the micro error headers, and body
// as the payload.
func fail(req micro.Request, code corralv1.ErrorCode, msg string, body []byte) {
	h := nats.Header{}
	errorHeaders(h, code, msg)
	_ = req.Error(h.Get(micro.ErrorCodeHeader), h.Get(micro.ErrorHeader), body, micro.WithHeaders(micro.Headers(h)))
}

// recoverHandler answers a request whose handler panicked with
// ERROR_CODE_INTERNAL and logs the stack: a bug in one request must not
// take the replica down. Deferred first thing in every handler.
func (s *service) recoverHandler(endpoint string, req micro.Request) {
	p := recover()
	if p == nil {
		return
	}
	s.r.log.Error("inference handler panicked", "endpoint", endpoint, "panic", p, "stack", string(debug.Stack()))
	msg := fmt.Sprintf("internal error: %v", p)
	var body []byte
	if endpoint == corralv1.InferenceEndpointGenerate {
		body, _ = proto.Marshal(refusal("", s.r.ModelID(), &wireError{code: corralv1.ErrorCode_ERROR_CODE_INTERNAL, msg: msg}))
	}
	fail(req, corralv1.ErrorCode_ERROR_CODE_INTERNAL, msg, body)
}

// serverSpan starts the span of one request, parented by the trace
// context in its headers.
func (s *service) serverSpan(req micro.Request, endpoint string) (context.Context, trace.Span) {
	ctx := telemetry.ExtractNATS(context.Background(), nats.Header(req.Headers()))
	return s.r.tracer.Start(ctx, "inference."+endpoint, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", req.Subject())))
}

func endSpan(span trace.Span, code corralv1.ErrorCode, msg string) {
	if code != corralv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
		span.SetAttributes(attribute.String("corral.error_code", code.String()))
		span.SetStatus(codes.Error, msg)
	}
	span.End()
}

// handleGenerate validates and submits a request, then hands it to a
// sender that streams its events. It returns at once: micro runs one
// handler at a time per endpoint, and a refusal (overload) must be
// immediate.
func (s *service) handleGenerate(req micro.Request) {
	defer s.recoverHandler(corralv1.InferenceEndpointGenerate, req)
	start := time.Now()
	ctx, span := s.serverSpan(req, corralv1.InferenceEndpointGenerate)
	var gr corralv1.GenerateRequest
	refuse := func(err error) {
		code := codeOf(err)
		body, _ := proto.Marshal(refusal(gr.GetRequestId(), s.r.ModelID(), err))
		// Counted before the answer goes out, so that whoever got it
		// also finds it in the metrics.
		s.r.metrics.done(ctx, apiNATS, corralv1.InferenceEndpointGenerate, outcomeOf(code), start)
		endSpan(span, code, err.Error())
		fail(req, code, err.Error(), body)
	}
	if req.Reply() == "" {
		s.r.log.Warn("generate request without a reply subject dropped", "subject", req.Subject())
		s.r.metrics.done(ctx, apiNATS, corralv1.InferenceEndpointGenerate, outcomeInvalid, start)
		endSpan(span, corralv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "no reply subject")
		return
	}
	if err := proto.Unmarshal(req.Data(), &gr); err != nil {
		refuse(invalid("decode GenerateRequest: %v", err))
		return
	}
	if gr.RequestId == "" {
		gr.RequestId = newRequestID()
	}
	span.SetAttributes(attribute.String("corral.request_id", gr.RequestId))
	window, err := windowOf(req.Headers().Get(corralv1.HeaderWindow))
	if err != nil {
		refuse(err)
		return
	}
	e := s.r.eng.Load()
	if e == nil {
		refuse(&wireError{code: corralv1.ErrorCode_ERROR_CODE_UNAVAILABLE, msg: "the engine is not running"})
		return
	}
	er, err := engineRequest(&gr, s.r.ModelID(), s.r.cfg.MaxTokens)
	if err != nil {
		refuse(err)
		return
	}
	sctx, cancel := context.WithCancelCause(ctx)
	stream, err := e.Submit(sctx, er)
	if err != nil {
		cancel(nil)
		refuse(err)
		return
	}
	d, err := s.newSender(req.Reply(), window, gr.RequestId, stream, cancel)
	if err != nil {
		cancel(err)
		s.r.inflight.Add(1)
		go func() { // the final event follows within a step; nobody needs it
			defer s.r.inflight.Done()
			stream.Collect()
		}()
		refuse(&wireError{code: corralv1.ErrorCode_ERROR_CODE_INTERNAL, msg: err.Error()})
		return
	}
	d.ctx, d.span, d.start = ctx, span, start
	s.r.inflight.Add(2)
	s.r.metrics.stream(ctx, apiNATS, 1)
	go d.run()
}

// windowOf reads the Corral-Window header: unset is the default, a number
// is clamped to the limits, anything else is refused.
func windowOf(v string) (int, error) {
	if v == "" {
		return corralv1.InferenceDefaultWindow, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, invalid("header %s %q is not a whole number", corralv1.HeaderWindow, v)
	}
	return min(max(n, corralv1.InferenceMinWindow), corralv1.InferenceMaxWindow), nil
}

// handleWarm validates a prefix and warms it.
func (s *service) handleWarm(req micro.Request) {
	defer s.recoverHandler(corralv1.InferenceEndpointWarm, req)
	start := time.Now()
	ctx, span := s.serverSpan(req, corralv1.InferenceEndpointWarm)
	done := func(code corralv1.ErrorCode, msg string) {
		s.r.metrics.done(ctx, apiNATS, corralv1.InferenceEndpointWarm, outcomeOf(code), start)
		endSpan(span, code, msg)
	}
	refuse := func(err error) {
		code := codeOf(err)
		done(code, err.Error()) // counted before the answer, as generate does
		fail(req, code, err.Error(), nil)
	}
	var wr corralv1.WarmRequest
	if err := proto.Unmarshal(req.Data(), &wr); err != nil {
		refuse(invalid("decode WarmRequest: %v", err))
		return
	}
	if err := checkModel(wr.GetModel(), s.r.ModelID()); err != nil {
		refuse(err)
		return
	}
	in, err := warmInput(&wr)
	if err != nil {
		refuse(err)
		return
	}
	e := s.r.eng.Load()
	if e == nil {
		refuse(&wireError{code: corralv1.ErrorCode_ERROR_CODE_UNAVAILABLE, msg: "the engine is not running"})
		return
	}
	res, err := e.Warm(ctx, in)
	if err != nil {
		refuse(err)
		return
	}
	span.SetAttributes(attribute.Int("corral.prompt_tokens", res.PromptTokens), attribute.Int("corral.cached_tokens", res.CachedTokens))
	body, err := proto.Marshal(&corralv1.WarmResponse{
		PromptTokens: int32(res.PromptTokens), CachedTokens: int32(res.CachedTokens),
		ComputedTokens: int32(res.ComputedTokens), Took: durationpb.New(res.Took),
	})
	if err != nil {
		refuse(err)
		return
	}
	if err := req.Respond(body); err != nil {
		s.r.log.Debug("answer", "endpoint", corralv1.InferenceEndpointWarm, "err", err)
	}
	s.r.log.Info("prefix warmed", "request", wr.GetRequestId(), "prompt_tokens", res.PromptTokens,
		"cached_tokens", res.CachedTokens, "computed_tokens", res.ComputedTokens, "took", res.Took)
	done(corralv1.ErrorCode_ERROR_CODE_UNSPECIFIED, "")
}

// A count is answered on the handler's goroutine, not queued like a
// generation, so its size is bounded.
const (
	maxCountTexts = 1024
	maxCountBytes = 256 << 10
)

// handleCount counts texts and a chat prompt with the model's tokenizer.
func (s *service) handleCount(req micro.Request) {
	var cr corralv1.CountRequest
	s.answer(req, corralv1.InferenceEndpointCount, &cr, func() (proto.Message, error) {
		if err := checkModel(cr.GetModel(), s.r.ModelID()); err != nil {
			return nil, err
		}
		if n := len(cr.GetTexts()); n > maxCountTexts {
			return nil, invalid("%d texts to count; at most %d", n, maxCountTexts)
		}
		size := 0
		for _, t := range cr.GetTexts() {
			size += len(t)
		}
		for _, t := range cr.GetChat().GetTurns() {
			size += len(t.GetContent())
		}
		if size > maxCountBytes {
			return nil, invalid("%d bytes to count; at most %d", size, maxCountBytes)
		}
		e := s.r.eng.Load()
		if e == nil {
			return nil, &wireError{code: corralv1.ErrorCode_ERROR_CODE_UNAVAILABLE, msg: "the engine is not running"}
		}
		b := e.Bundle()
		out := &corralv1.CountResponse{TextTokens: make([]int32, len(cr.GetTexts())), ContextLength: int32(e.ContextLength())}
		for i, t := range cr.GetTexts() {
			out.TextTokens[i] = int32(len(b.Tokenizer().Encode(t, tokenizer.EncodeOptions{})))
		}
		if chat := cr.GetChat(); chat != nil {
			in, err := inputOf(nil, nil, chat)
			if err != nil {
				return nil, err
			}
			p, err := b.Prompt(in)
			if err != nil {
				return nil, err
			}
			out.ChatTokens = int32(len(p.IDs))
		}
		return out, nil
	})
}

func (s *service) handleModels(req micro.Request) {
	s.answer(req, corralv1.InferenceEndpointModels, &corralv1.ModelsRequest{}, func() (proto.Message, error) {
		return &corralv1.ModelsResponse{Models: []*corralv1.ModelInfo{s.r.info}}, nil
	})
}

func (s *service) handleStats(req micro.Request) {
	s.answer(req, corralv1.InferenceEndpointStats, &corralv1.StatsRequest{}, func() (proto.Message, error) {
		e := s.r.eng.Load()
		if e == nil {
			return nil, &wireError{code: corralv1.ErrorCode_ERROR_CODE_UNAVAILABLE, msg: "the engine is not running"}
		}
		return s.r.stats(e, s.svc.Info().ID), nil
	})
}

// answer runs a unary endpoint: decode into in, answer with what reply
// returns or its error.
func (s *service) answer(req micro.Request, endpoint string, in proto.Message, reply func() (proto.Message, error)) {
	defer s.recoverHandler(endpoint, req)
	start := time.Now()
	ctx, span := s.serverSpan(req, endpoint)
	err := proto.Unmarshal(req.Data(), in)
	if err != nil {
		err = invalid("decode %s: %v", in.ProtoReflect().Descriptor().Name(), err)
	}
	var out proto.Message
	if err == nil {
		out, err = reply()
	}
	var body []byte
	if err == nil {
		body, err = proto.Marshal(out)
	}
	code := codeOf(err)
	if err != nil {
		s.r.metrics.done(ctx, apiNATS, endpoint, outcomeOf(code), start)
		endSpan(span, code, err.Error())
		fail(req, code, err.Error(), nil)
		return
	}
	s.r.metrics.done(ctx, apiNATS, endpoint, outcomeOK, start)
	endSpan(span, code, "")
	if err := req.Respond(body); err != nil {
		s.r.log.Debug("answer", "endpoint", endpoint, "err", err)
	}
}

// stats is a snapshot of the replica.
func (r *Role) stats(e *engine.Engine, instance string) *corralv1.StatsResponse {
	st := e.Stats()
	return &corralv1.StatsResponse{
		Running: int32(st.Running), Waiting: int32(st.Waiting), RequestsTotal: st.Completed,
		KvBlocksUsed: int32(st.KV.Used), KvBlocksTotal: int32(st.KV.Blocks), PrefixCacheHitRatio: st.PrefixHitRatio(),
		TokensPerSecond: r.rate.perSecond(), Model: r.info, InstanceId: instance, QueueCapacity: int32(r.cfg.QueueSize),
	}
}
