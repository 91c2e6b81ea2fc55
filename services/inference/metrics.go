package inference

import (
	"context"
	"time"

	"github.com/corral-ai/corral/inference/engine"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// instrumentation names the role's tracer and meter.
const instrumentation = "github.com/corral-ai/corral/services/inference"

// Which API a request came through: the label "api".
const (
	apiNATS   = "nats"
	apiOpenAI = "openai"
)

// Outcomes of a request: the label "outcome". Every request ends in one.
const (
	outcomeOK            = "ok"
	outcomeInvalid       = "invalid"
	outcomeModelNotFound = "model_not_found"
	outcomePromptTooLong = "prompt_too_long"
	outcomeOverloaded    = "overloaded"
	outcomeUnavailable   = "unavailable"
	outcomeUnsupported   = "unsupported"
	outcomeUnauthorized  = "unauthorized"
	outcomeCancelled     = "cancelled"
	outcomeSuperseded    = "superseded"
	outcomeClientGone    = "client_gone"
	outcomeError         = "error"
)

// Why the service decided a client was gone: the label "reason" of
// corral_inference_clients_gone.
const (
	goneNoResponders  = "no_responders"   // its inbox has no subscriber
	goneProbeTimeout  = "probe_timeout"   // it did not answer a probe in time
	goneCancelled     = "cancelled"       // it said so (Corral-Cancel)
	goneStoppedReader = "stopped_reading" // it took no event for too long
	goneDisconnected  = "disconnected"    // an HTTP client closed its connection
)

// roleMetrics are the service side's instruments: what came in through
// which API and how it ended, and how streams behave. What the engine
// measures itself (queue, tokens, time to first token) is the engine's.
type roleMetrics struct {
	meter     metric.Meter
	running   metric.Int64ObservableGauge
	waiting   metric.Int64ObservableGauge
	kvBlocks  metric.Int64ObservableGauge
	hitRatio  metric.Float64ObservableGauge
	requests  metric.Int64Counter
	duration  metric.Float64Histogram
	streams   metric.Int64UpDownCounter
	flowWaits metric.Int64Counter
	gone      metric.Int64Counter
}

func newRoleMetrics(mp metric.MeterProvider) (roleMetrics, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter(instrumentation)
	rm := roleMetrics{meter: m}
	var err error
	if rm.requests, err = m.Int64Counter("corral_inference_requests",
		metric.WithDescription("Requests to the inference role, by api (nats, openai), endpoint and outcome.")); err != nil {
		return rm, err
	}
	if rm.duration, err = m.Float64Histogram("corral_inference_request_duration",
		metric.WithUnit("s"),
		metric.WithDescription("Time from a request's arrival to its answer (for streams, the last event), by api, endpoint and outcome."),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)); err != nil {
		return rm, err
	}
	if rm.streams, err = m.Int64UpDownCounter("corral_inference_streams",
		metric.WithDescription("Generations being streamed to clients, by api.")); err != nil {
		return rm, err
	}
	if rm.flowWaits, err = m.Int64Counter("corral_inference_flow_waits",
		metric.WithDescription("Times a NATS stream had an event ready but no credit: the client reads slower than the engine writes.")); err != nil {
		return rm, err
	}
	if rm.gone, err = m.Int64Counter("corral_inference_clients_gone",
		metric.WithDescription("Streams cancelled because the client went away, by reason (no_responders, probe_timeout, cancelled, stopped_reading, disconnected).")); err != nil {
		return rm, err
	}
	if rm.running, err = m.Int64ObservableGauge("corral_inference_engine_running",
		metric.WithDescription("Sequences the engine is generating (engine.Stats).")); err != nil {
		return rm, err
	}
	if rm.waiting, err = m.Int64ObservableGauge("corral_inference_engine_waiting",
		metric.WithDescription("Requests waiting for the engine to admit them, preempted ones included.")); err != nil {
		return rm, err
	}
	if rm.kvBlocks, err = m.Int64ObservableGauge("corral_inference_kv_blocks",
		metric.WithDescription("KV cache blocks by state: used (held by sequences), cached (kept for the prefix cache, pinned or evictable), free.")); err != nil {
		return rm, err
	}
	rm.hitRatio, err = m.Float64ObservableGauge("corral_inference_prefix_cache_hit_ratio",
		metric.WithDescription("Share of looked-up prompt tokens the prefix cache served since start, in [0, 1]."))
	return rm, err
}

// observe reports the engine's stats while the engine runs; the returned
// function stops it.
func (m roleMetrics) observe(stats func() (engine.Stats, bool)) (stop func(), err error) {
	reg, err := m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st, ok := stats()
		if !ok {
			return nil
		}
		o.ObserveInt64(m.running, int64(st.Running))
		o.ObserveInt64(m.waiting, int64(st.Waiting))
		o.ObserveInt64(m.kvBlocks, int64(st.KV.Used), metric.WithAttributes(attribute.String("state", "used")))
		o.ObserveInt64(m.kvBlocks, int64(st.KV.Cached), metric.WithAttributes(attribute.String("state", "cached")))
		o.ObserveInt64(m.kvBlocks, int64(st.KV.Free), metric.WithAttributes(attribute.String("state", "free")))
		o.ObserveFloat64(m.hitRatio, st.PrefixHitRatio())
		return nil
	}, m.running, m.waiting, m.kvBlocks, m.hitRatio)
	if err != nil {
		return nil, err
	}
	return func() { _ = reg.Unregister() }, nil
}

// done records a finished request.
func (m roleMetrics) done(ctx context.Context, api, endpoint, outcome string, start time.Time) {
	attrs := metric.WithAttributes(attribute.String("api", api), attribute.String("endpoint", endpoint), attribute.String("outcome", outcome))
	m.requests.Add(ctx, 1, attrs)
	m.duration.Record(ctx, time.Since(start).Seconds(), attrs)
}

func (m roleMetrics) clientGone(ctx context.Context, api, reason string) {
	m.gone.Add(ctx, 1, metric.WithAttributes(attribute.String("api", api), attribute.String("reason", reason)))
}

func (m roleMetrics) stream(ctx context.Context, api string, delta int64) {
	m.streams.Add(ctx, delta, metric.WithAttributes(attribute.String("api", api)))
}
