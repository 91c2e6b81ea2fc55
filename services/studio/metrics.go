package studio

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// studioMetrics are what an operator watches on the studio. Label values
// come from closed sets (operations, error codes, reasons), never ids.
type studioMetrics struct {
	connections    metric.Int64UpDownCounter
	requests       metric.Int64Counter
	duration       metric.Float64Histogram
	disconnects    metric.Int64Counter
	refused        metric.Int64Counter
	previews       metric.Int64Counter
	firstToken     metric.Float64Histogram
	gates          metric.Int64Counter
	warms          metric.Int64Counter
	changesDropped metric.Int64Counter
}

func newMetrics(mp metric.MeterProvider) (*studioMetrics, error) {
	m := mp.Meter(scope)
	var s studioMetrics
	var err error
	counter := func(dst *metric.Int64Counter, name, desc string) {
		if err == nil {
			*dst, err = m.Int64Counter(name, metric.WithDescription(desc))
		}
	}
	histogram := func(dst *metric.Float64Histogram, name, desc string, bounds ...float64) {
		if err == nil {
			*dst, err = m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(bounds...))
		}
	}
	if s.connections, err = m.Int64UpDownCounter("corral_studio_connections", metric.WithDescription("Open studio websocket connections.")); err != nil {
		return nil, err
	}
	counter(&s.requests, "corral_studio_requests", "Studio requests by op and outcome (ok or the error code).")
	histogram(&s.duration, "corral_studio_request_duration", "Time to answer a studio request, by op (previews until their last token).",
		0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
	counter(&s.disconnects, "corral_studio_disconnects", "Studio connections ended, by reason (client, slow, write_timeout, ping_timeout, too_big, auth_timeout, shutdown, read_error, binary, write_error).")
	counter(&s.refused, "corral_studio_refused_upgrades", "Websocket upgrades refused for their Origin.")
	counter(&s.previews, "corral_studio_previews", "Previews by outcome (finished, cancelled, failed).")
	histogram(&s.firstToken, "corral_studio_preview_first_token", "Time from a preview request to its first streamed text.",
		0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
	counter(&s.gates, "corral_studio_publish_gate", "Publish gate verdicts (passed, refused, unavailable).")
	counter(&s.warms, "corral_studio_warms", "Prefix warm-ups after publishing, by outcome (warmed, unsupported, failed).")
	counter(&s.changesDropped, "corral_studio_changes_dropped", "Persona changes not pushed to open tabs because too many came at once.")
	if err != nil {
		return nil, err
	}
	return &s, nil
}

func opAttrs(op string) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String("op", op))
}

func (s *studioMetrics) request(ctx context.Context, op, outcome string) {
	s.requests.Add(ctx, 1, metric.WithAttributes(attribute.String("op", op), attribute.String("outcome", outcome)))
}

func (s *studioMetrics) disconnect(reason string) {
	s.disconnects.Add(context.Background(), 1, metric.WithAttributes(attribute.String("reason", reason)))
}

func (s *studioMetrics) preview(ctx context.Context, outcome string) {
	s.previews.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome)))
}

func (s *studioMetrics) gate(ctx context.Context, outcome string) {
	s.gates.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome)))
}

func (s *studioMetrics) warm(ctx context.Context, outcome string) {
	s.warms.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", outcome)))
}
