package chat

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// What became of an inbound message: the values of corral_chat_messages'
// outcome.
const (
	msgAnswered  = "answered"   // answered by a generated reply
	msgCommand   = "command"    // a command, answered by the role
	msgDuplicate = "duplicate"  // answered before: nothing done
	msgPaused    = "paused"     // the bot is paused in the conversation
	msgBusiness  = "business"   // a person acted from the business side
	msgLimited   = "rate_limit" // over the user's rate limit
	msgTextOnly  = "not_text"   // media without a caption and the like
	msgRefused   = "refused"    // the safety stage refused the input
	msgSupport   = "support"    // self-harm: answered with where to find help
	msgIgnored   = "ignored"    // reactions and other kinds with no answer
	msgDead      = "dead"       // sent to the DLQ
)

// chatMetrics are what an operator watches on the chat role. Labels come
// from closed sets, never from ids or text.
type chatMetrics struct {
	messages    metric.Int64Counter
	replies     metric.Int64Counter
	dedupes     metric.Int64Counter
	resumed     metric.Int64Counter
	superseded  metric.Int64Counter
	errors      metric.Int64Counter
	guardErrors metric.Int64Counter
	latency     metric.Float64Histogram
	generation  metric.Float64Histogram
	firstToken  metric.Float64Histogram
	activeConvs metric.Int64UpDownCounter
}

var latencyBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120}

func newMetrics(mp metric.MeterProvider) (*chatMetrics, error) {
	m := mp.Meter(scope)
	var c chatMetrics
	var err error
	counter := func(dst *metric.Int64Counter, name, desc string) {
		if err == nil {
			*dst, err = m.Int64Counter(name, metric.WithDescription(desc))
		}
	}
	hist := func(dst *metric.Float64Histogram, name, desc string) {
		if err == nil {
			*dst, err = m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(latencyBuckets...))
		}
	}
	counter(&c.messages, "corral_chat_messages", "Inbound messages handled, by platform and outcome (answered, command, duplicate, paused, business, rate_limit, not_text, refused, support, ignored, dead).")
	counter(&c.replies, "corral_chat_replies", "Replies published to CHAT_OUT, by platform and kind (generated, command, notice, refusal, support, note).")
	counter(&c.dedupes, "corral_chat_dedupes", "Inbound messages dropped because they were answered before (a retried webhook, a redelivery), by platform.")
	counter(&c.resumed, "corral_chat_resumed", "Replies whose delivery was interrupted (a crash, a failed write) and finished when their messages came again, by platform.")
	counter(&c.superseded, "corral_chat_superseded", "Generations cancelled because a newer message of the same conversation arrived, by platform.")
	counter(&c.errors, "corral_chat_errors", "Failed tries of a batch of messages, by platform and stage (state, persona, inference, publish, history).")
	counter(&c.guardErrors, "corral_chat_guard_errors", "User messages on which the guard model (CORRAL_GUARD_MODEL) failed or answered something unreadable; the fast safety verdict stood.")
	hist(&c.latency, "corral_chat_reply_latency", "Time from the gateway receiving the newest message a reply answers to the reply published, by platform.")
	hist(&c.generation, "corral_chat_generation_duration", "Time one generation took, from request to last token, by platform.")
	hist(&c.firstToken, "corral_chat_first_token", "Time from the generate request to its first text, by platform.")
	if err == nil {
		c.activeConvs, err = m.Int64UpDownCounter("corral_chat_active_conversations", metric.WithDescription("Conversations with messages held by this process."))
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func platformAttr(p string) attribute.KeyValue { return attribute.String("platform", p) }

func (c *chatMetrics) message(ctx context.Context, platform, outcome string, n int) {
	if n > 0 {
		c.messages.Add(ctx, int64(n), metric.WithAttributes(platformAttr(platform), attribute.String("outcome", outcome)))
	}
}

func (c *chatMetrics) reply(ctx context.Context, platform, kind string) {
	c.replies.Add(ctx, 1, metric.WithAttributes(platformAttr(platform), attribute.String("kind", kind)))
}

func (c *chatMetrics) fail(ctx context.Context, platform, stage string) {
	c.errors.Add(ctx, 1, metric.WithAttributes(platformAttr(platform), attribute.String("stage", stage)))
}

func (c *chatMetrics) seconds(ctx context.Context, h metric.Float64Histogram, platform string, d time.Duration) {
	h.Record(ctx, d.Seconds(), metric.WithAttributes(platformAttr(platform)))
}

func metricAttrs(platform string) metric.AddOption {
	return metric.WithAttributes(platformAttr(platform))
}
