package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of this package's spans and metrics.
const tracerName = "github.com/corral-ai/corral/bots/graph"

// maxResponse caps how much of an answer is read; Send API answers are a
// few hundred bytes.
const maxResponse = 1 << 20

// Errors of a call refused before it is sent.
var (
	// ErrNoToken is returned, wrapped in an *Error of KindAuth, for a call
	// without an access token.
	ErrNoToken = errors.New("no access token")
	// ErrInvalidMessage is returned, wrapped in an *Error of
	// KindInvalidRequest, for a message the platform would refuse (empty,
	// over a limit, missing recipient); nothing is sent.
	ErrInvalidMessage = errors.New("invalid message")
)

// Invalid returns the *Error for a message refused before sending: op, and
// a reason that wraps ErrInvalidMessage.
func Invalid(op, format string, args ...any) error {
	return &Error{Op: op, Kind: KindInvalidRequest, Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidMessage}, args...)...)}
}

// Client makes Graph API calls. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
	now  func() time.Time
}

// New returns a Client for cfg; empty fields take their defaults.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &Client{cfg: cfg, http: hc, now: time.Now}, nil
}

// Config returns the client's configuration with defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// Request is one POST to the Graph API.
type Request struct {
	// Op names the operation for errors, spans and metrics, e.g.
	// "whatsapp.send"; keep the set small.
	Op string
	// Path follows the version, e.g. "/420000000000002/messages".
	Path string
	// Route is Path with ids replaced by placeholders, for span names:
	// "/{phone_number_id}/messages".
	Route string
	// Token is the access token, sent as a Bearer token.
	Token string
	// Body is marshalled as JSON.
	Body any
}

// Response describes a successful call.
type Response struct {
	// Status is the HTTP status.
	Status int
	// Usage holds the rate-limit usage headers.
	Usage Usage
}

// Post sends req and decodes a successful answer into out (which may be
// nil). Every failure is an *Error: Meta's error envelope (also when it
// arrives with a 2xx status), a non-2xx status without one, or a transport
// failure, classified by Kind. A client span wraps the call and the trace
// context travels in the request headers.
func (c *Client) Post(ctx context.Context, req Request, out any) (*Response, error) {
	if req.Token == "" {
		return nil, &Error{Op: req.Op, Kind: KindAuth, Err: ErrNoToken}
	}
	body, err := json.Marshal(req.Body)
	if err != nil {
		return nil, &Error{Op: req.Op, Kind: KindInvalidRequest, Err: fmt.Errorf("marshal request: %w", err)}
	}
	endpoint := c.cfg.endpoint(req.Path)
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, &Error{Op: req.Op, Kind: KindInvalidRequest, Err: err}
	}
	route := req.Route
	if route == "" {
		route = req.Path
	}
	ctx, span := otel.Tracer(tracerName).Start(ctx, "POST /"+c.cfg.Version+route,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("http.request.method", http.MethodPost),
			attribute.String("url.full", endpoint),
			attribute.String("url.template", "/{version}"+route),
			attribute.String("server.address", u.Hostname()),
			attribute.String("corral.graph.op", req.Op),
			attribute.Int("http.request.body.size", len(body)),
		))
	defer span.End()
	start := c.now()

	res, gerr := c.do(ctx, req, endpoint, body, out)
	outcome := "ok"
	if gerr != nil {
		outcome = string(gerr.Kind)
		span.SetAttributes(attribute.String("error.type", string(gerr.Kind)))
		if gerr.Code != 0 {
			span.SetAttributes(attribute.Int("corral.graph.error.code", gerr.Code),
				attribute.Int("corral.graph.error.subcode", gerr.Subcode),
				attribute.String("corral.graph.fbtrace_id", gerr.FBTraceID))
		}
		span.SetStatus(codes.Error, gerr.Error())
	}
	if status := statusOf(res, gerr); status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	metrics.record(ctx, req.Op, outcome, c.now().Sub(start))
	if gerr != nil {
		return nil, gerr
	}
	return res, nil
}

func statusOf(res *Response, err *Error) int {
	if res != nil {
		return res.Status
	}
	if err != nil {
		return err.Status
	}
	return 0
}

// do performs the call; the returned error is nil or an *Error.
func (c *Client) do(ctx context.Context, req Request, endpoint string, body []byte, out any) (*Response, *Error) {
	callCtx := ctx
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	hreq, err := http.NewRequestWithContext(callCtx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Op: req.Op, Kind: KindInvalidRequest, Err: err}
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("Authorization", "Bearer "+req.Token)
	otel.GetTextMapPropagator().Inject(callCtx, propagation.HeaderCarrier(hreq.Header))

	hres, err := c.http.Do(hreq)
	if err != nil {
		return nil, transportError(req.Op, ctx, stripURL(err))
	}
	defer hres.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hres.Body, maxResponse))
	if err != nil {
		e := transportError(req.Op, ctx, err)
		e.Status = hres.StatusCode
		return nil, e
	}
	usage := ParseUsage(hres.Header)
	ok2xx := hres.StatusCode >= 200 && hres.StatusCode < 300
	e := &Error{Op: req.Op, Status: hres.StatusCode, Usage: usage}
	if hasEnvelope := parseEnvelope(data, e); hasEnvelope || !ok2xx {
		if !hasEnvelope {
			e.Message = bodySnippet(data)
		}
		classify(e)
		e.RetryAfter = parseRetryAfter(hres.Header.Get("Retry-After"), c.now())
		if e.RetryAfter == 0 && e.Kind == KindRateLimit {
			e.RetryAfter = usage.RegainAccess
		}
		return nil, e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.Kind, e.Err = KindBadResponse, fmt.Errorf("decode answer: %w", err)
			return nil, e
		}
	}
	return &Response{Status: hres.StatusCode, Usage: usage}, nil
}

// stripURL drops the URL from a *url.Error: it holds no token (tokens go in
// headers) but ids make log lines long; the span has the URL.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// bodySnippet keeps the start of a non-envelope error body (an HTML page
// from a proxy, say) for the error message.
func bodySnippet(b []byte) string {
	const n = 120
	s := string(bytes.TrimSpace(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strconv.QuoteToGraphic(s)
}

// graphMetrics count calls by operation and outcome ("ok" or a Kind) and
// time them. They go through the global meter provider.
type graphMetrics struct {
	calls    metric.Int64Counter
	duration metric.Float64Histogram
}

var metrics = newGraphMetrics()

func newGraphMetrics() graphMetrics {
	m := otel.Meter(tracerName)
	var g graphMetrics
	// Instrument creation only fails on invalid names, which are constant here.
	g.calls, _ = m.Int64Counter("corral_graph_calls",
		metric.WithDescription("Graph API calls, by operation and outcome (ok or the failure kind)."))
	g.duration, _ = m.Float64Histogram("corral_graph_call_duration",
		metric.WithUnit("s"),
		metric.WithDescription("Time a Graph API call took, by operation."))
	return g
}

func (g graphMetrics) record(ctx context.Context, op, outcome string, took time.Duration) {
	g.calls.Add(ctx, 1, metric.WithAttributes(attribute.String("op", op), attribute.String("outcome", outcome)))
	g.duration.Record(ctx, took.Seconds(), metric.WithAttributes(attribute.String("op", op)))
}
