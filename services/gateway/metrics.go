package gateway

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/corral-ai/corral/services/internal/telemetry"
)

// Outcomes of a delivery, the values of corral_gateway_webhooks' outcome.
const (
	outcomeAccepted     = "accepted"
	outcomeUnauthorized = "unauthorized"
	outcomeTooLarge     = "too_large"
	outcomeBadRequest   = "bad_request"
	outcomeNotWebhook   = "not_webhook"
	outcomeUnavailable  = "unavailable"
)

// gatewayMetrics are what an operator watches on the gateway. Every label
// value comes from a closed set (platform tokens, outcomes, message kinds,
// status states, notice kinds), never from ids or text.
type gatewayMetrics struct {
	webhooks    metric.Int64Counter
	handshakes  metric.Int64Counter
	messages    metric.Int64Counter
	statuses    metric.Int64Counter
	ignored     metric.Int64Counter
	warnings    metric.Int64Counter
	deadLetters metric.Int64Counter
	ack         metric.Float64Histogram
}

func newMetrics(mp metric.MeterProvider) (*gatewayMetrics, error) {
	m := mp.Meter(scope)
	var g gatewayMetrics
	var err error
	counter := func(dst *metric.Int64Counter, name, desc string) {
		if err == nil {
			*dst, err = m.Int64Counter(name, metric.WithDescription(desc))
		}
	}
	counter(&g.webhooks, "corral_gateway_webhooks", "Webhook deliveries, by platform and outcome (accepted, unauthorized, too_large, bad_request, not_webhook, unavailable).")
	counter(&g.handshakes, "corral_gateway_handshakes", "Webhook verification handshakes, by platform and outcome (ok, bad_request, forbidden).")
	counter(&g.messages, "corral_gateway_messages", "Chat messages published to CHAT_IN, by platform, kind and outcome (published, duplicate).")
	counter(&g.statuses, "corral_gateway_statuses", "Delivery receipts of sent messages, by platform and state.")
	counter(&g.ignored, "corral_gateway_ignored", "Webhook items deliberately not published, by platform and reason (reaction, own_echo, or a notice kind).")
	counter(&g.warnings, "corral_gateway_warnings", "Webhook items the parser skipped as malformed or of an unknown kind, by platform.")
	counter(&g.deadLetters, "corral_gateway_dead_letters", "Signed webhook bodies that were not webhooks, sent to the DLQ, by platform.")
	if err == nil {
		g.ack, err = m.Float64Histogram("corral_gateway_ack_duration", metric.WithUnit("s"),
			metric.WithDescription("Time from receiving a webhook to answering it 200, every publish acknowledged, by platform."),
			metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	}
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// labels caches the attribute sets of the gateway's label combinations,
// every one from a closed set.
var labels telemetry.Labels

func add(ctx context.Context, c metric.Int64Counter, n int64, attrs ...attribute.KeyValue) {
	if n != 0 {
		c.Add(ctx, n, labels.Option(attrs...))
	}
}

func (g *gatewayMetrics) webhook(ctx context.Context, platform, outcome string, began time.Time) {
	add(ctx, g.webhooks, 1, attribute.String("platform", platform), attribute.String("outcome", outcome))
	if outcome == outcomeAccepted || outcome == outcomeNotWebhook {
		g.ack.Record(ctx, time.Since(began).Seconds(), labels.Option(attribute.String("platform", platform)))
	}
}
