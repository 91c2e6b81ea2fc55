package natsbus

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/corral-ai/corral/services/internal/telemetry"
)

// tracerName is the instrumentation scope of this package's spans.
const tracerName = "github.com/corral-ai/corral/services/internal/natsbus"

// Header names natsbus writes besides the NATS and W3C ones.
const (
	// HeaderType holds the full protobuf name of the payload, e.g.
	// "corral.v1.ChatMessage", so tools reading a stream or the DLQ know how
	// to decode it.
	HeaderType = "Corral-Type"
	// HeaderContentType is the standard header, set to ContentTypeProtobuf.
	HeaderContentType = "Content-Type"
	// ContentTypeProtobuf marks a binary protobuf payload.
	ContentTypeProtobuf = "application/protobuf"
)

func tracer() trace.Tracer { return otel.Tracer(tracerName) }

// Publish marshals m and publishes it to subject through JetStream, waiting
// for the stream's acknowledgement. msgID becomes the Nats-Msg-Id header, so
// the stream drops a second publish with the same id inside its duplicate
// window (the returned PubAck then has Duplicate set); an empty msgID turns
// dedupe off. A producer span is started as a child of ctx and its context is
// written into the headers, so the consumer's span continues the trace.
func Publish(ctx context.Context, js jetstream.JetStream, subject, msgID string, m proto.Message) (*jetstream.PubAck, error) {
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("publish to %s: marshal %s: %w", subject, m.ProtoReflect().Descriptor().FullName(), err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(HeaderType, string(m.ProtoReflect().Descriptor().FullName()))
	msg.Header.Set(HeaderContentType, ContentTypeProtobuf)
	return publishMsg(ctx, js, msg, msgID)
}

// PublishMsg publishes a message that is not a protobuf message (a raw
// webhook body kept for the DLQ, say) as Publish does: through JetStream,
// waiting for the acknowledgement, with msgID as Nats-Msg-Id (empty turns
// dedupe off), under a producer span whose context goes into the headers,
// and counted in the bus metrics. msg.Header is created when nil.
func PublishMsg(ctx context.Context, js jetstream.JetStream, msg *nats.Msg, msgID string) (*jetstream.PubAck, error) {
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	return publishMsg(ctx, js, msg, msgID)
}

// publishMsg publishes msg under a producer span; msg.Header must be non-nil.
func publishMsg(ctx context.Context, js jetstream.JetStream, msg *nats.Msg, msgID string) (*jetstream.PubAck, error) {
	attrs := []attribute.KeyValue{
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.operation.type", "send"),
		attribute.String("messaging.destination.name", msg.Subject),
		attribute.Int("messaging.message.body.size", len(msg.Data)),
	}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		attrs = append(attrs, attribute.String("messaging.message.id", msgID))
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ctx, span := tracer().Start(ctx, "publish "+destination(msg.Subject),
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
	defer span.End()
	telemetry.InjectNATS(ctx, msg.Header)

	ack, err := js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		metrics.publish(ctx, destination(msg.Subject), outcomeError)
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		return nil, fmt.Errorf("publish to %s: %w", msg.Subject, err)
	}
	span.SetAttributes(
		attribute.String("messaging.nats.stream", ack.Stream),
		attribute.Int64("messaging.nats.stream.sequence", int64(ack.Sequence)),
		attribute.Bool("messaging.nats.duplicate", ack.Duplicate),
	)
	outcome := outcomeOK
	if ack.Duplicate {
		outcome = outcomeDuplicate
	}
	metrics.publish(ctx, ack.Stream, outcome)
	return ack, nil
}

// destination names a subject without its per-conversation tokens, for span
// names, which must stay low in cardinality: "chat.in" for
// "chat.in.whatsapp.42.7". Attributes carry the full subject.
func destination(subject string) string {
	first, rest, ok := strings.Cut(subject, ".")
	if !ok {
		return subject
	}
	second, _, _ := strings.Cut(rest, ".")
	return first + "." + second
}
