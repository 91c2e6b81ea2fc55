package natsbus

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/corral-ai/corral/services/internal/telemetry"
)

// Outcomes recorded in the metrics; bounded, so safe as label values.
const (
	outcomeOK         = "ok"
	outcomeDuplicate  = "duplicate"
	outcomeError      = "error"
	outcomeRetry      = "retry"
	outcomeDeadLetter = "dead_letter"
)

// busMetrics are what an operator watches on the bus: publishes by stream
// and outcome, handled messages by consumer and outcome (acked, retried,
// dead-lettered) and how long handlers take. They go through the global
// meter provider, so they appear on /metrics once telemetry is set up.
type busMetrics struct {
	published metric.Int64Counter
	handled   metric.Int64Counter
	duration  metric.Float64Histogram
}

var metrics = newBusMetrics()

func newBusMetrics() busMetrics {
	m := otel.Meter(tracerName)
	var b busMetrics
	// Instrument creation only fails on invalid names, which are constant here.
	b.published, _ = m.Int64Counter("corral_bus_published",
		metric.WithDescription("Messages published to JetStream, by stream and outcome (ok, duplicate, error)."))
	b.handled, _ = m.Int64Counter("corral_bus_handled",
		metric.WithDescription("Messages handled by a consumer, by outcome (ok, retry, dead_letter)."))
	b.duration, _ = m.Float64Histogram("corral_bus_handler_duration",
		metric.WithUnit("s"),
		metric.WithDescription("Time a consumer's handler took for one delivery."))
	return b
}

// publishLabels caches the attribute sets of publish: few streams, three
// outcomes, one publish per message.
var publishLabels telemetry.Labels

func (b busMetrics) publish(ctx context.Context, stream, outcome string) {
	b.published.Add(ctx, 1, publishLabels.Option(attribute.String("stream", stream), attribute.String("outcome", outcome)))
}

func (b busMetrics) handle(ctx context.Context, consumer, outcome string, took time.Duration) {
	attrs := metric.WithAttributes(attribute.String("consumer", consumer))
	b.duration.Record(ctx, took.Seconds(), attrs)
	b.handled.Add(ctx, 1, metric.WithAttributes(attribute.String("consumer", consumer), attribute.String("outcome", outcome)))
}
