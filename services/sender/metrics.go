package sender

import (
	"context"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/corral-ai/corral/bots/graph"
)

// Outcomes of a reply, the values of corral_sender_replies' outcome.
const (
	replySent      = "sent"        // every piece is out
	replyDuplicate = "duplicate"   // redelivered after every piece was out: nothing sent
	replyFailed    = "failed"      // a permanent error: dead-lettered
	replyGaveUp    = "gave_up"     // MaxAttempts failed tries: dead-lettered
	replyInvalid   = "invalid"     // malformed or no token: dead-lettered
	replyRetry     = "retry"       // a failed try, to be repeated
	replyHeld      = "held"        // waits behind an earlier reply of its conversation
	actionSent     = "sent"        // an action carried out
	actionStale    = "stale"       // too old to be useful
	actionLate     = "after_reply" // its reply is already (partly) out
	actionFailed   = "failed"      // the call failed; not retried
	actionNone     = "unsupported" // nothing to do on this platform
)

// senderMetrics are what an operator watches on the sender. Labels come
// from closed sets (platforms, outcomes, failure kinds, Graph codes from
// the code table or an answer's error), never from ids or text.
type senderMetrics struct {
	replies   metric.Int64Counter
	parts     metric.Int64Counter
	errors    metric.Int64Counter
	retries   metric.Int64Counter
	dead      metric.Int64Counter
	actions   metric.Int64Counter
	replaced  metric.Int64Counter
	send      metric.Float64Histogram
	e2e       metric.Float64Histogram
	sinceMade metric.Float64Histogram
}

// latencyBuckets suit a chat reply: tens of milliseconds to a minute.
var latencyBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120}

func newMetrics(mp metric.MeterProvider) (*senderMetrics, error) {
	m := mp.Meter(scope)
	var s senderMetrics
	var err error
	counter := func(dst *metric.Int64Counter, name, desc string) {
		if err == nil {
			*dst, err = m.Int64Counter(name, metric.WithDescription(desc))
		}
	}
	hist := func(dst *metric.Float64Histogram, name, desc string, buckets []float64) {
		if err == nil {
			*dst, err = m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(buckets...))
		}
	}
	counter(&s.replies, "corral_sender_replies", "Replies handled, by platform and outcome (sent, duplicate, failed, gave_up, invalid, retry, held).")
	counter(&s.parts, "corral_sender_parts", "Platform messages sent (pieces of replies after splitting), by platform.")
	counter(&s.errors, "corral_sender_send_errors", "Failed Send API calls, by platform, failure kind and Graph error code (0 when the answer had none).")
	counter(&s.retries, "corral_sender_retries", "Replies scheduled for another try after a retryable failure, by platform and failure kind.")
	counter(&s.dead, "corral_sender_dead_letters", "Replies sent to the DLQ, by platform and reason (a failure kind, attempts, invalid).")
	counter(&s.actions, "corral_sender_actions", "Typing and read-receipt actions, by platform, action and outcome (sent, stale, after_reply, failed, unsupported).")
	counter(&s.replaced, "corral_sender_safety_replaced", "Reply pieces the safety stage refused and replaced with the refusal, by platform.")
	hist(&s.send, "corral_sender_send_duration", "Time one Send API call took, by platform.", []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15})
	hist(&s.e2e, "corral_sender_e2e_latency", "Time from the gateway receiving a message to the last piece of its reply sent, by platform.", latencyBuckets)
	hist(&s.sinceMade, "corral_sender_reply_latency", "Time from the chat worker finishing a reply to its last piece sent, by platform.", latencyBuckets)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

func inc(ctx context.Context, c metric.Int64Counter, attrs ...attribute.KeyValue) {
	c.Add(ctx, 1, metric.WithAttributes(attrs...))
}

func platformAttr(p string) attribute.KeyValue { return attribute.String("platform", p) }

func (s *senderMetrics) reply(ctx context.Context, platform, outcome string) {
	inc(ctx, s.replies, platformAttr(platform), attribute.String("outcome", outcome))
}

func (s *senderMetrics) sendError(ctx context.Context, platform string, err error) {
	code := 0
	if ge, ok := asGraphError(err); ok {
		code = ge.Code
	}
	inc(ctx, s.errors, platformAttr(platform), attribute.String("kind", string(graph.KindOf(err))), attribute.String("code", strconv.Itoa(code)))
}

func (s *senderMetrics) duration(ctx context.Context, h metric.Float64Histogram, platform string, d time.Duration) {
	h.Record(ctx, d.Seconds(), metric.WithAttributes(platformAttr(platform)))
}
