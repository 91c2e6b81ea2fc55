package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/corral-ai/corral/bots/graph"
	"github.com/corral-ai/corral/bots/messenger"
	"github.com/corral-ai/corral/bots/whatsapp"
	"github.com/corral-ai/corral/inference/safety"
	"github.com/corral-ai/corral/persona/store"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/role"
)

// scope names the role's meter.
const scope = "github.com/corral-ai/corral/services/sender"

// Definition describes the role to the binary.
var Definition = role.Define("sender", "send replies from CHAT_OUT through the WhatsApp and Messenger Send APIs",
	role.Needs{NATS: true, Redis: true}, DefaultConfig, New)

// Durable is the name of the sender's JetStream consumer on CHAT_OUT,
// shared by every replica.
const Durable = "sender"

// maxDeliver bounds deliveries of one CHAT_OUT message. The sender counts
// its own failed tries (MaxAttempts) in Redis; deliveries also include
// waiting behind an earlier reply, so this is only a safety net.
const maxDeliver = 200

// Errors of the sender.
var (
	// ErrNoToken means neither the channel nor CORRAL_ACCESS_TOKEN has a
	// Send API token.
	ErrNoToken = errors.New("no access token for the channel (store it with the channel, or set " + EnvAccessToken + ")")
	// ErrInvalidReply means an OutboundMessage lacks what a send needs.
	ErrInvalidReply = errors.New("invalid outbound message")
	// errHeld means an earlier reply of the conversation goes first.
	errHeld = errors.New("an earlier reply of the conversation is still being sent")
)

// Role is the running sender.
type Role struct {
	cfg      Config
	log      *slog.Logger
	js       jetstream.JetStream
	streams  natsbus.StreamsConfig
	ledger   ledger
	order    *order
	store    *store.Store
	policies *policies
	safety   *safety.Stage
	wa       *whatsapp.Client
	ms       *messenger.Client
	metrics  *senderMetrics
	now      func() time.Time
}

var _ role.Role = (*Role)(nil)

// New builds the sender on the shared NATS connection and Redis client.
func New(cfg Config, deps role.Deps) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.JetStream == nil || deps.Redis == nil {
		return nil, errors.New("sender: needs JetStream and Redis")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Spans come from natsbus (one per CHAT_OUT delivery) and bots/graph
	// (one per Send API call), through the global tracer provider.
	mp := deps.Meter
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m, err := newMetrics(mp)
	if err != nil {
		return nil, fmt.Errorf("sender metrics: %w", err)
	}
	st, err := store.New(deps.Redis, store.Config{Prefix: cfg.KeyPrefix, SecretKey: cfg.SecretKey}, log, nil)
	if err != nil {
		return nil, fmt.Errorf("sender: persona store: %w", err)
	}
	stage, err := safety.New(safety.Options{})
	if err != nil {
		return nil, fmt.Errorf("sender: %w", err)
	}
	wa, err := whatsapp.NewClient(cfg.graphConfig())
	if err != nil {
		return nil, err
	}
	ms, err := messenger.NewClient(cfg.graphConfig())
	if err != nil {
		return nil, err
	}
	if cfg.AccessToken == "" && cfg.SecretKey == nil {
		log.Warn("sender: neither " + EnvAccessToken + " nor " + EnvSecretKey + " is set: replies cannot be sent until one is")
	}
	led := ledger{rdb: deps.Redis, prefix: cfg.KeyPrefix}
	return &Role{
		cfg: cfg, log: log, js: deps.JetStream, streams: deps.Streams,
		ledger: led, order: &order{js: deps.JetStream, stream: deps.Streams.StreamName(corralv1.StreamChatOut), ledger: led},
		store:    st,
		policies: &policies{store: st, cache: map[string]policy{}},
		safety:   stage, wa: wa, ms: ms, metrics: m, now: time.Now,
	}, nil
}

// Routes adds nothing: the sender serves no HTTP.
func (s *Role) Routes(*http.ServeMux) {}

// Checks has none beyond the process's nats, jetstream and redis checks.
func (s *Role) Checks() map[string]role.Check { return nil }

// Run consumes CHAT_OUT until ctx ends, then lets the replies being sent
// finish and returns.
func (s *Role) Run(ctx context.Context) error {
	return natsbus.Consume(ctx, s.js, s.consumerConfig(), natsbus.ProtoHandler(s.handle))
}

func (s *Role) consumerConfig() natsbus.ConsumerConfig {
	return natsbus.ConsumerConfig{
		Stream:        s.streams.StreamName(corralv1.StreamChatOut),
		Durable:       Durable,
		FilterSubject: s.streams.Subject(corralv1.SubjectChatOut),
		AckWait:       s.cfg.AckWait,
		MaxDeliver:    maxDeliver,
		Workers:       s.cfg.Workers,
		MaxAckPending: max(256, 4*s.cfg.Workers),
		DeadLetter:    s.streams.DLQSubject,
		Logger:        s.log,
	}
}

// handle carries out one CHAT_OUT message.
func (s *Role) handle(ctx context.Context, m *corralv1.OutboundMessage, msg jetstream.Msg) error {
	p := corralv1.PlatformToken(m.GetPlatform())
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("corral.platform", p), attribute.String("corral.reply_id", m.GetReplyId()),
		attribute.String("corral.in_reply_to", m.GetInReplyTo()), attribute.String("corral.action", corralv1.ActionToken(m.GetAction())))
	if err := validate(m); err != nil {
		s.metrics.reply(ctx, p, replyInvalid)
		inc(ctx, s.metrics.dead, platformAttr(p), attribute.String("reason", "invalid"))
		return natsbus.Permanent(err)
	}
	if m.GetAction() != corralv1.OutboundAction_OUTBOUND_ACTION_UNSPECIFIED {
		s.act(ctx, m)
		return nil
	}
	md, err := msg.Metadata()
	if err != nil {
		return natsbus.Permanent(fmt.Errorf("message metadata: %w", err))
	}
	return s.sendReply(ctx, m, msg.Subject(), md.Sequence.Stream)
}

// validate checks what every message needs.
func validate(m *corralv1.OutboundMessage) error {
	switch {
	case m.GetPlatform() != corralv1.Platform_PLATFORM_WHATSAPP && m.GetPlatform() != corralv1.Platform_PLATFORM_MESSENGER:
		return fmt.Errorf("%w: platform %v", ErrInvalidReply, m.GetPlatform())
	case m.GetChannelId() == "" || m.GetUserId() == "" || m.GetReplyId() == "":
		return fmt.Errorf("%w: channel_id, user_id and reply_id are required", ErrInvalidReply)
	case m.GetAction() == corralv1.OutboundAction_OUTBOUND_ACTION_UNSPECIFIED && len(m.GetParts()) == 0:
		return fmt.Errorf("%w: a reply without parts", ErrInvalidReply)
	}
	return nil
}

// token returns the Send API token of m's channel: its own from the
// persona store, else CORRAL_ACCESS_TOKEN.
func (s *Role) token(ctx context.Context, m *corralv1.OutboundMessage) (string, error) {
	ch, err := s.store.Channel(ctx, m.GetPlatform(), m.GetChannelId())
	switch {
	case err == nil && ch.AccessToken != "":
		return ch.AccessToken.Reveal(), nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("channel %s: %w", m.GetChannelId(), err)
	case s.cfg.AccessToken == "":
		return "", ErrNoToken
	}
	return s.cfg.AccessToken, nil
}

// backoff is the wait before try n+1 after n failed ones: exponential from
// RetryMin up to RetryMax, with jitter (half fixed, half random), and never
// shorter than what the platform asked for.
func (s *Role) backoff(n int, asked time.Duration) time.Duration {
	d := s.cfg.RetryMin << min(n-1, 30)
	if d > s.cfg.RetryMax || d <= 0 {
		d = s.cfg.RetryMax
	}
	d = d/2 + rand.N(d/2+1)
	return max(d, asked)
}

// asGraphError returns err's *graph.Error.
func asGraphError(err error) (*graph.Error, bool) {
	var ge *graph.Error
	ok := errors.As(err, &ge)
	return ge, ok
}
