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

// Pending is a publish PublishAsync handed to the connection; Wait returns
// JetStream's acknowledgement.
type Pending struct {
	ctx     context.Context
	span    trace.Span
	subject string
	future  jetstream.PubAckFuture
	err     error
}

// PublishAsync is Publish without the wait: it marshals m and hands it to
// the connection, under the same producer span and Nats-Msg-Id, and
// returns at once. Publishes made on one connection reach the server, and
// so the stream, in the order they were made, so a caller can send a
// conversation's messages back to back and wait for all the
// acknowledgements together. Every Pending must be waited on: Wait ends
// its span.
func PublishAsync(ctx context.Context, js jetstream.JetStream, subject, msgID string, m proto.Message) *Pending {
	data, err := proto.Marshal(m)
	if err != nil {
		return &Pending{ctx: ctx, subject: subject, err: fmt.Errorf("publish to %s: marshal %s: %w", subject, m.ProtoReflect().Descriptor().FullName(), err)}
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(HeaderType, string(m.ProtoReflect().Descriptor().FullName()))
	msg.Header.Set(HeaderContentType, ContentTypeProtobuf)
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
	telemetry.InjectNATS(ctx, msg.Header)
	p := &Pending{ctx: ctx, span: span, subject: subject}
	p.future, p.err = js.PublishMsgAsync(msg, opts...)
	if p.err != nil {
		p.err = fmt.Errorf("publish to %s: %w", subject, p.err)
	}
	return p
}

// Wait returns the acknowledgement of p, or an error when the publish
// failed or ctx ended first (the message may then still be stored: the
// same msgID published again is dropped as a duplicate).
func (p *Pending) Wait(ctx context.Context) (*jetstream.PubAck, error) {
	var ack *jetstream.PubAck
	err := p.err
	if err == nil {
		select {
		case ack = <-p.future.Ok():
		case err = <-p.future.Err():
			err = fmt.Errorf("publish to %s: %w", p.subject, err)
		case <-ctx.Done():
			err = fmt.Errorf("publish to %s: waiting for the acknowledgement: %w", p.subject, context.Cause(ctx))
		}
	}
	if p.span != nil {
		defer p.span.End()
	}
	if err != nil {
		metrics.publish(p.ctx, destination(p.subject), outcomeError)
		if p.span != nil {
			p.span.RecordError(err)
			p.span.SetStatus(codes.Error, "publish failed")
		}
		return nil, err
	}
	p.span.SetAttributes(
		attribute.String("messaging.nats.stream", ack.Stream),
		attribute.Int64("messaging.nats.stream.sequence", int64(ack.Sequence)),
		attribute.Bool("messaging.nats.duplicate", ack.Duplicate),
	)
	outcome := outcomeOK
	if ack.Duplicate {
		outcome = outcomeDuplicate
	}
	metrics.publish(p.ctx, ack.Stream, outcome)
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
