package telemetry

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// NATSHeaderCarrier lets an OpenTelemetry propagator read and write NATS
// message headers, so the W3C trace context (traceparent, tracestate) and
// baggage travel with every message like they do in HTTP headers.
//
// NATS headers are case-sensitive, unlike HTTP's, but nats.Header keeps
// canonical MIME keys when set through its methods; Get falls back to an
// exact-case lookup so headers written by other clients in lower case (the
// form W3C specifies) are found too.
type NATSHeaderCarrier nats.Header

var _ propagation.TextMapCarrier = NATSHeaderCarrier(nil)

// Get returns the first value of key, or "".
func (c NATSHeaderCarrier) Get(key string) string {
	h := nats.Header(c)
	if v := h.Get(key); v != "" {
		return v
	}
	if vs := h[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// Set replaces the values of key with value. It is a no-op on a nil carrier.
func (c NATSHeaderCarrier) Set(key, value string) {
	if c == nil {
		return
	}
	nats.Header(c).Set(key, value)
}

// Keys lists the header keys present.
func (c NATSHeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// InjectNATS writes the trace context of ctx into h with the global
// propagator (otel.GetTextMapPropagator). h must be non-nil; make it with
// nats.Header{} or nats.NewMsg.
func InjectNATS(ctx context.Context, h nats.Header) {
	otel.GetTextMapPropagator().Inject(ctx, NATSHeaderCarrier(h))
}

// ExtractNATS returns ctx carrying the remote trace context found in h, read
// with the global propagator. A nil or empty h returns ctx unchanged.
func ExtractNATS(ctx context.Context, h nats.Header) context.Context {
	if len(h) == 0 {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, NATSHeaderCarrier(h))
}
