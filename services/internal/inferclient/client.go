package inferclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/telemetry"
)

// instrumentation names the client's tracer.
const instrumentation = "github.com/corral-ai/corral/services/internal/inferclient"

// Defaults of Options.
const (
	// DefaultStallTimeout is how long a stream waits without a word from
	// the service (which sends a probe at least every half second) before
	// it gives up with ErrStalled.
	DefaultStallTimeout = 5 * time.Second
	// DefaultRequestTimeout bounds Warm, Count, Models and Stats when their
	// context has no deadline.
	DefaultRequestTimeout = 10 * time.Second
)

// Options configures a Client.
type Options struct {
	// Namespace prefixes the service's subjects, as
	// natsbus.StreamsConfig.Namespace does for the streams; production
	// leaves it empty, tests on a shared server set their own.
	Namespace string
	// Window is how many events a stream buffers before the service waits
	// for it to read on; 0 means corralv1.InferenceDefaultWindow. The
	// service clamps it to [InferenceMinWindow, InferenceMaxWindow].
	Window int
	// StallTimeout ends a stream with ErrStalled when the service has sent
	// nothing for this long; 0 means DefaultStallTimeout.
	StallTimeout time.Duration
	// RequestTimeout bounds the unary calls whose context has no deadline;
	// 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Tracer makes the client's spans; nil means the global provider.
	Tracer trace.TracerProvider
}

// Client calls the NATS service "inference". It is safe for concurrent use.
type Client struct {
	nc       *nats.Conn
	o        Options
	tracer   trace.Tracer
	generate string
	warm     string
	count    string
	models   string
	stats    string
}

// New makes a client on the connection nc.
func New(nc *nats.Conn, o Options) (*Client, error) {
	if nc == nil {
		return nil, errors.New("inferclient: no NATS connection")
	}
	ns := natsbus.StreamsConfig{Namespace: o.Namespace}
	if err := ns.Validate(); err != nil {
		return nil, fmt.Errorf("inferclient: %w", err)
	}
	if o.Window == 0 {
		o.Window = corralv1.InferenceDefaultWindow
	}
	o.Window = min(max(o.Window, corralv1.InferenceMinWindow), corralv1.InferenceMaxWindow)
	if o.StallTimeout <= 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	tp := o.Tracer
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Client{
		nc: nc, o: o, tracer: tp.Tracer(instrumentation),
		generate: ns.Subject(corralv1.SubjectInferenceGenerate),
		warm:     ns.Subject(corralv1.SubjectInferenceWarm),
		count:    ns.Subject(corralv1.SubjectInferenceCount),
		models:   ns.Subject(corralv1.SubjectInferenceModels),
		stats:    ns.Subject(corralv1.SubjectInferenceStats),
	}, nil
}

// Warm asks one replica to keep the prefix in its prefix cache.
func (c *Client) Warm(ctx context.Context, req *corralv1.WarmRequest) (*corralv1.WarmResponse, error) {
	out := &corralv1.WarmResponse{}
	return out, c.call(ctx, corralv1.InferenceEndpointWarm, c.warm, req, out)
}

// Count asks one replica how many tokens texts and a chat prompt take
// with its model's tokenizer.
func (c *Client) Count(ctx context.Context, req *corralv1.CountRequest) (*corralv1.CountResponse, error) {
	out := &corralv1.CountResponse{}
	return out, c.call(ctx, corralv1.InferenceEndpointCount, c.count, req, out)
}

// Models lists the models a replica serves.
func (c *Client) Models(ctx context.Context) (*corralv1.ModelsResponse, error) {
	out := &corralv1.ModelsResponse{}
	return out, c.call(ctx, corralv1.InferenceEndpointModels, c.models, &corralv1.ModelsRequest{}, out)
}

// Stats is a snapshot of one replica (whichever the queue group picks).
func (c *Client) Stats(ctx context.Context) (*corralv1.StatsResponse, error) {
	out := &corralv1.StatsResponse{}
	return out, c.call(ctx, corralv1.InferenceEndpointStats, c.stats, &corralv1.StatsRequest{}, out)
}

// call makes one unary request.
func (c *Client) call(ctx context.Context, endpoint, subject string, in, out proto.Message) (err error) {
	ctx, span := c.tracer.Start(ctx, "inference."+endpoint, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", subject)))
	defer func() { endSpan(span, err) }()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.o.RequestTimeout)
		defer cancel()
	}
	data, err := proto.Marshal(in)
	if err != nil {
		return fmt.Errorf("inference %s: %w", endpoint, err)
	}
	m := nats.NewMsg(subject)
	m.Data = data
	telemetry.InjectNATS(ctx, m.Header)
	resp, err := c.nc.RequestMsgWithContext(ctx, m)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("inference %s: %w", endpoint, ErrNoService)
	case err != nil:
		return fmt.Errorf("inference %s: %w", endpoint, err)
	}
	if e := headerError(resp); e != nil {
		return e
	}
	if err := proto.Unmarshal(resp.Data, out); err != nil {
		return fmt.Errorf("inference %s: %w: %w", endpoint, ErrProtocol, err)
	}
	return nil
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
