package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/corral-ai/corral/bots/messenger"
	"github.com/corral-ai/corral/bots/webhook"
	"github.com/corral-ai/corral/bots/whatsapp"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/role"
)

// scope names the role's tracer and meter.
const scope = "github.com/corral-ai/corral/services/gateway"

// Definition describes the role to the binary.
var Definition = role.Define("gateway", "receive WhatsApp and Messenger webhooks and publish them to CHAT_IN",
	role.Needs{NATS: true}, DefaultConfig, New)

// Paths of the webhook endpoints.
const (
	PathWhatsApp  = "/webhooks/whatsapp"
	PathMessenger = "/webhooks/messenger"
)

// Role is the running gateway.
type Role struct {
	cfg      Config
	log      *slog.Logger
	nc       *nats.Conn
	js       jetstream.JetStream
	pub      *natsbus.BatchPublisher
	streams  natsbus.StreamsConfig
	verifier *webhook.Verifier // nil when no app secret is configured
	tracer   trace.Tracer
	metrics  *gatewayMetrics
}

var _ role.Role = (*Role)(nil)

// New builds the gateway on the shared NATS connection.
func New(cfg Config, deps role.Deps) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.JetStream == nil {
		return nil, errors.New("gateway: no JetStream")
	}
	if deps.NATS == nil {
		return nil, errors.New("gateway: no NATS connection")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mp, tp := deps.Meter, deps.Tracer
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	m, err := newMetrics(mp)
	if err != nil {
		return nil, fmt.Errorf("gateway metrics: %w", err)
	}
	pub, err := natsbus.NewBatchPublisher(deps.NATS)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	r := &Role{cfg: cfg, log: log, nc: deps.NATS, js: deps.JetStream, pub: pub, streams: deps.Streams,
		tracer: tp.Tracer(scope), metrics: m}
	if len(cfg.AppSecrets) > 0 {
		if r.verifier, err = webhook.NewVerifier(cfg.AppSecrets...); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvAppSecret, err)
		}
	} else {
		log.Warn("gateway: no app secret configured (" + EnvAppSecret + "): every webhook delivery is refused with 401")
	}
	if cfg.VerifyToken == "" {
		log.Warn("gateway: no verify token configured (" + EnvVerifyToken + "): Meta's webhook verification will fail")
	}
	return r, nil
}

// endpoint is one platform's webhook route.
type endpoint struct {
	platform corralv1.Platform
	token    string // corralv1.PlatformToken, the metric label
	parse    func(body []byte) (*webhook.Result, error)
	span     string // the delivery span's name: "POST " and the path
}

func newEndpoint(p corralv1.Platform, parse func([]byte) (*webhook.Result, error)) endpoint {
	return endpoint{platform: p, token: corralv1.PlatformToken(p), parse: parse}
}

// Routes adds the handshake and delivery handlers of both platforms.
func (r *Role) Routes(mux *http.ServeMux) {
	for path, ep := range map[string]endpoint{
		PathWhatsApp:  newEndpoint(corralv1.Platform_PLATFORM_WHATSAPP, whatsapp.Parse),
		PathMessenger: newEndpoint(corralv1.Platform_PLATFORM_MESSENGER, messenger.Parse),
	} {
		ep.span = "POST " + path
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, req *http.Request) { r.handshake(w, req, ep) })
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, req *http.Request) { r.deliver(w, req, ep) })
	}
}

// Run holds only the publisher's acknowledgement inbox, closed when ctx
// ends: the handlers run on the process's HTTP server, which finishes
// in-flight deliveries before roles are stopped.
func (r *Role) Run(ctx context.Context) error {
	<-ctx.Done()
	return r.pub.Close()
}

// Checks has none beyond the process's nats and jetstream checks: those
// say whether deliveries can be accepted.
func (r *Role) Checks() map[string]role.Check { return nil }

// handshake answers Meta's GET verification request.
func (r *Role) handshake(w http.ResponseWriter, req *http.Request, ep endpoint) {
	err := webhook.Handshake(w, req, r.cfg.VerifyToken)
	outcome := "ok"
	switch webhook.HandshakeStatus(err) {
	case http.StatusBadRequest:
		outcome = "bad_request"
	case http.StatusForbidden:
		outcome = "forbidden"
	}
	add(req.Context(), r.metrics.handshakes, 1, platformAttr(ep.token), outcomeAttr(outcome))
	if err != nil {
		r.log.Warn("gateway: webhook verification refused", "platform", ep.token, "err", err)
	}
}
