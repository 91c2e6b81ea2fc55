package chat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"

	"github.com/corral-ai/corral/inference/safety"
	"github.com/corral-ai/corral/persona/store"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/inferclient"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/role"
)

// scope names the role's tracer and meter.
const scope = "github.com/corral-ai/corral/services/chat"

// tracer makes the role's spans through the global provider, as natsbus and
// inferclient do, so one trace runs through every hop.
var tracer = otel.Tracer(scope)

// Definition describes the role to the binary.
var Definition = role.Define("chat", "answer CHAT_IN messages in the voice of a persona and publish the replies to CHAT_OUT",
	role.Needs{NATS: true, Redis: true}, DefaultConfig, New)

// Durable is the name of the chat role's JetStream consumer on CHAT_IN,
// shared by every replica.
const Durable = "chat"

// maxDeliver bounds deliveries of one CHAT_IN message: a message whose
// process keeps dying (a poison message crashing it) goes to the DLQ.
const maxDeliver = 10

// Role is the running chat role.
type Role struct {
	cfg      Config
	log      *slog.Logger
	nc       *nats.Conn
	js       jetstream.JetStream
	streams  natsbus.StreamsConfig
	store    *store.Store
	personas *store.Cache
	state    *state
	safety   *safety.Stage
	guard    *guardModel // nil without CORRAL_GUARD_MODEL; closed when Run ends
	policies *policies
	infer    *inferclient.Client
	metrics  *chatMetrics
	disp     *dispatcher
	now      func() time.Time

	modelMu  sync.Mutex
	ctxLen   int       // the default model's context length, once known
	ctxLenAt time.Time // when it was last asked for
}

var _ role.Role = (*Role)(nil)

// New builds the chat role on the shared NATS connection and Redis client.
func New(cfg Config, deps role.Deps) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.JetStream == nil || deps.NATS == nil || deps.Redis == nil {
		return nil, errors.New("chat: needs NATS, JetStream and Redis")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mp := deps.Meter
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m, err := newMetrics(mp)
	if err != nil {
		return nil, fmt.Errorf("chat metrics: %w", err)
	}
	st, err := store.New(deps.Redis, store.Config{Prefix: cfg.KeyPrefix}, log, nil)
	if err != nil {
		return nil, fmt.Errorf("chat: persona store: %w", err)
	}
	var guard *guardModel
	if cfg.GuardModel != "" {
		if guard, err = openGuard(cfg.GuardModel); err != nil {
			return nil, fmt.Errorf("chat: %w", err)
		}
		log.Info("chat: guard model", "path", cfg.GuardModel, "model", guard.bundle.Info().ID)
	}
	stage, err := safety.New(safety.Options{Guard: guard.asGuard()})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("chat: %w", err), guard.close())
	}
	ic, err := inferclient.New(deps.NATS, inferclient.Options{Namespace: deps.Streams.Namespace, Tracer: deps.Tracer})
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	r := &Role{
		cfg: cfg, log: log, nc: deps.NATS, js: deps.JetStream, streams: deps.Streams,
		store: st, state: &state{rdb: deps.Redis, prefix: cfg.KeyPrefix, now: time.Now},
		safety: stage, guard: guard, policies: &policies{cache: map[string]policy{}}, infer: ic, metrics: m, now: time.Now,
	}
	token := make([]byte, 12)
	if _, err := rand.Read(token); err != nil {
		return nil, fmt.Errorf("chat: process token: %w", err)
	}
	r.disp = &dispatcher{
		cfg: cfg, js: deps.JetStream, log: log, metrics: m, handle: r.handle,
		// A dead process's hold ends soon after JetStream gives its
		// messages to another process.
		hold:  &laneHold{state: r.state, token: hex.EncodeToString(token), ttl: 2 * cfg.AckWait, log: log},
		order: &convOrder{state: r.state, log: log},
		consumer: natsbus.ConsumerConfig{
			Stream:        deps.Streams.StreamName(corralv1.StreamChatIn),
			Durable:       Durable,
			FilterSubject: deps.Streams.Subject(corralv1.SubjectChatIn),
			AckWait:       cfg.AckWait,
			MaxDeliver:    maxDeliver,
			Workers:       cfg.Workers,
			// Messages wait in their conversation's lane while an earlier
			// batch is answered, so more are held than are worked on.
			MaxAckPending: max(1024, 8*cfg.Workers),
			DeadLetter:    deps.Streams.DLQSubject,
			Logger:        log,
		},
	}
	return r, nil
}

// Routes adds nothing: the chat role serves no HTTP.
func (r *Role) Routes(*http.ServeMux) {}

// Checks has none beyond the process's nats, jetstream and redis checks;
// an inference service that is away makes replies wait, not the role
// unready.
func (r *Role) Checks() map[string]role.Check { return nil }

// Run consumes CHAT_IN until ctx ends, lets the batches being answered
// finish, gives back the rest and returns.
func (r *Role) Run(ctx context.Context) error {
	notifier := store.NewNATSNotifier(r.nc, r.streams.Subject(corralv1.SubjectPersonaUpdated), r.log)
	cache, err := store.NewCache(r.store, notifier, store.CacheConfig{})
	if err != nil {
		return fmt.Errorf("chat: persona cache: %w", err)
	}
	r.personas = cache
	defer func() {
		if err := r.guard.close(); err != nil {
			r.log.Warn("chat: closing the guard model", "err", err)
		}
	}()
	defer func() {
		if err := cache.Close(); err != nil {
			r.log.Warn("chat: closing the persona cache", "err", err)
		}
	}()
	return r.disp.run(ctx)
}

// hashKey shortens a conversation key for logs, which must not carry
// user ids.
func hashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:6])
}
