package engine

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// instrumentation names the tracer and meter.
const instrumentation = "github.com/corral-ai/corral/inference/engine"

// tracer makes the spans of a request: engine.generate from Submit to the
// final event, with engine.queue, engine.prefill and engine.decode inside.
// It goes through the global provider, so it exports once telemetry is set
// up and costs next to nothing before.
var tracer = otel.Tracer(instrumentation)

// engineMetrics are what an operator watches on the engine. They go
// through the global meter provider. Labels are bounded: a finish reason,
// a rejection reason, a token kind.
type engineMetrics struct {
	requests   metric.Int64Counter
	rejected   metric.Int64Counter
	tokens     metric.Int64Counter
	firstToken metric.Float64Histogram
	waiting    metric.Int64UpDownCounter
	perToken   metric.Float64Histogram
	batchToks  metric.Int64Histogram
	batchSeqs  metric.Int64Histogram
	preempts   metric.Int64Counter
	prefixToks metric.Int64Counter
}

var metrics = newEngineMetrics()

func newEngineMetrics() engineMetrics {
	m := otel.Meter(instrumentation)
	var e engineMetrics
	// Instrument creation only fails on invalid names, which are constant here.
	e.requests, _ = m.Int64Counter("corral_engine_requests",
		metric.WithDescription("Generation requests finished, by finish reason."))
	e.rejected, _ = m.Int64Counter("corral_engine_rejected",
		metric.WithDescription("Requests refused by Submit, by reason (invalid, prompt_too_long, overloaded, closed)."))
	e.tokens, _ = m.Int64Counter("corral_engine_tokens",
		metric.WithDescription("Tokens processed, by kind (prompt computed, cached prompt, completion)."))
	e.firstToken, _ = m.Float64Histogram("corral_engine_time_to_first_token",
		metric.WithUnit("s"),
		metric.WithDescription("Time from a request's arrival to its first generated token."))
	e.waiting, _ = m.Int64UpDownCounter("corral_engine_waiting",
		metric.WithDescription("Requests queued and not yet started."))
	e.perToken, _ = m.Float64Histogram("corral_engine_time_per_output_token",
		metric.WithUnit("s"),
		metric.WithDescription("Time between a request's generated tokens, first to last, averaged per request."))
	e.batchToks, _ = m.Int64Histogram("corral_engine_batch_tokens",
		metric.WithDescription("Tokens in one forward pass: the running sequences' next tokens and prompt chunks."),
		metric.WithExplicitBucketBoundaries(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048))
	e.batchSeqs, _ = m.Int64Histogram("corral_engine_batch_sequences",
		metric.WithDescription("Sequences in one forward pass."),
		metric.WithExplicitBucketBoundaries(1, 2, 4, 8, 16, 32, 64, 128, 256))
	e.preempts, _ = m.Int64Counter("corral_engine_preemptions",
		metric.WithDescription("Sequences paused for lack of KV blocks, to be recomputed later, by priority."))
	e.prefixToks, _ = m.Int64Counter("corral_engine_prefix_tokens",
		metric.WithDescription("Prompt tokens looked up in the prefix cache (kind lookup) and served from it (kind hit); hit/lookup is the hit rate."))
	return e
}

func (m engineMetrics) batch(ctx context.Context, tokens, seqs int) {
	m.batchToks.Record(ctx, int64(tokens))
	m.batchSeqs.Record(ctx, int64(seqs))
}

func (m engineMetrics) preempted(ctx context.Context, p Priority) {
	m.preempts.Add(ctx, 1, metric.WithAttributes(attribute.String("priority", p.String())))
}

func (m engineMetrics) prefix(ctx context.Context, lookup, hit int) {
	m.prefixToks.Add(ctx, int64(lookup), metric.WithAttributes(attribute.String("kind", "lookup")))
	m.prefixToks.Add(ctx, int64(hit), metric.WithAttributes(attribute.String("kind", "hit")))
}

func (m engineMetrics) reject(ctx context.Context, reason string) {
	m.rejected.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
}

func (m engineMetrics) finished(ctx context.Context, ev Event) {
	m.requests.Add(ctx, 1, metric.WithAttributes(attribute.String("finish", ev.Finish.String())))
	m.tokens.Add(ctx, int64(ev.Usage.PromptTokens-ev.Usage.CachedPromptTokens), metric.WithAttributes(attribute.String("kind", "prompt")))
	m.tokens.Add(ctx, int64(ev.Usage.CachedPromptTokens), metric.WithAttributes(attribute.String("kind", "cached")))
	m.tokens.Add(ctx, int64(ev.Usage.CompletionTokens), metric.WithAttributes(attribute.String("kind", "completion")))
	if ev.Usage.CompletionTokens > 0 {
		m.firstToken.Record(ctx, ev.Timings.FirstToken.Seconds())
	}
	if ev.Timings.TokensPerSecond > 0 {
		m.perToken.Record(ctx, 1/ev.Timings.TokensPerSecond)
	}
}

// rejectReason names a Submit error for the rejected counter.
func rejectReason(err error) string {
	switch {
	case errors.Is(err, ErrPromptTooLong):
		return "prompt_too_long"
	case errors.Is(err, ErrInvalidRequest):
		return "invalid"
	case errors.Is(err, ErrOverloaded):
		return "overloaded"
	}
	return "other"
}

func requestAttrs(r Request, promptTokens int) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("corral.request_id", r.ID),
		attribute.String("corral.priority", r.Priority.String()),
		attribute.Int("corral.prompt_tokens", promptTokens),
	}
}

func finishAttrs(ev Event) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("corral.finish_reason", ev.Finish.String()),
		attribute.Int("corral.completion_tokens", ev.Usage.CompletionTokens),
	}
}
