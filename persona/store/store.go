package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Errors returned by the store. Each is matched with errors.Is; the
// returned errors wrap them with detail.
var (
	// ErrNotFound means the persona, version, creator or channel does not
	// exist (or was deleted).
	ErrNotFound = errors.New("not found")
	// ErrNotPublished means the persona exists but has no published
	// version, or may not be used where it was asked for (a private
	// persona picked by handle).
	ErrNotPublished = errors.New("no published version available")
	// ErrConflict means the change was based on an older revision than the
	// stored one; reload and apply it again.
	ErrConflict = errors.New("changed by someone else since it was read")
	// ErrForbidden means the actor does not own what it tried to change.
	ErrForbidden = errors.New("not the owner")
	// ErrHandleTaken means another persona has the handle (ignoring case).
	ErrHandleTaken = errors.New("handle taken")
	// ErrLimit means a creator reached the most personas allowed.
	ErrLimit = errors.New("limit reached")
	// ErrUnauthenticated means an API token is malformed, unknown or
	// revoked.
	ErrUnauthenticated = errors.New("invalid or revoked token")
	// ErrNoSecretKey means a channel's access token was to be sealed or
	// opened without a secret key configured.
	ErrNoSecretKey = errors.New("no secret key configured for channel access tokens")
	// ErrSealed means a sealed access token could not be opened: the secret
	// key is not the one it was sealed with, or the data is damaged.
	ErrSealed = errors.New("cannot open the sealed access token")
	// ErrContended means a change was retried too often because others kept
	// changing the same keys; try again.
	ErrContended = errors.New("too much concurrent change, try again")
	// ErrInvalidArgument means an argument other than a persona (a creator
	// name, a channel id, a token) is malformed.
	ErrInvalidArgument = errors.New("invalid argument")
)

// Config configures a Store.
type Config struct {
	// URL of the Redis server: redis://[user:password@]host:port[/db] or
	// rediss:// for TLS. Required.
	URL string
	// Prefix starts every key the store writes, so deployments and tests
	// can share a server; default "corral:".
	Prefix string
	// SecretKey encrypts channel access tokens at rest (AES-256-GCM); 32
	// bytes, see ParseSecretKey. Without it channels cannot be added or
	// their tokens read; everything else works.
	SecretKey []byte
	// MaxPersonasPerCreator bounds how many personas one creator may own;
	// default 100.
	MaxPersonasPerCreator int
	// ReferenceTTL is how long a conversation's use of a version keeps that
	// version readable after the persona is deleted; set it to at least the
	// history TTL. Default 7 days.
	ReferenceTTL time.Duration
	// HistoryLimit is the most messages kept per conversation; default 50.
	HistoryLimit int
	// HistoryTTL is how long a conversation's history is kept after its last
	// message; default 7 days.
	HistoryTTL time.Duration
	// ChoiceTTL is how long a user's pick of a persona lasts after it was
	// made or last used; default 90 days.
	ChoiceTTL time.Duration
}

// Defaults of Config.
const (
	DefaultPrefix                = "corral:"
	DefaultMaxPersonasPerCreator = 100
	DefaultReferenceTTL          = 7 * 24 * time.Hour
	DefaultHistoryLimit          = 50
	DefaultHistoryTTL            = 7 * 24 * time.Hour
	DefaultChoiceTTL             = 90 * 24 * time.Hour
)

// withDefaults fills unset fields.
func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.MaxPersonasPerCreator == 0 {
		c.MaxPersonasPerCreator = DefaultMaxPersonasPerCreator
	}
	if c.ReferenceTTL == 0 {
		c.ReferenceTTL = DefaultReferenceTTL
	}
	if c.HistoryLimit == 0 {
		c.HistoryLimit = DefaultHistoryLimit
	}
	if c.HistoryTTL == 0 {
		c.HistoryTTL = DefaultHistoryTTL
	}
	if c.ChoiceTTL == 0 {
		c.ChoiceTTL = DefaultChoiceTTL
	}
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("redis URL is required"))
	}
	if c.SecretKey != nil && len(c.SecretKey) != SecretKeySize {
		errs = append(errs, fmt.Errorf("secret key is %d bytes, want %d", len(c.SecretKey), SecretKeySize))
	}
	if c.MaxPersonasPerCreator < 0 || c.HistoryLimit < 0 || c.ReferenceTTL < 0 || c.HistoryTTL < 0 || c.ChoiceTTL < 0 {
		errs = append(errs, errors.New("limits and TTLs must not be negative"))
	}
	if c.Prefix != "" && strings.ContainsAny(c.Prefix, " \t\r\n*?[]") {
		errs = append(errs, fmt.Errorf("key prefix %q holds spaces or glob characters", c.Prefix))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("persona store config: %w", err)
	}
	return nil
}

// Store keeps personas, their versions, creators, channels, users' persona
// choices and conversation histories in Redis. It is safe for concurrent
// use by many goroutines and many processes: every change is a Redis
// transaction that refuses to overwrite what another writer changed.
type Store struct {
	rdb      redis.UniversalClient
	ownsRDB  bool // Close closes rdb only when Open made it
	cfg      Config
	k        keys
	log      *slog.Logger
	notifier Notifier
	sealer   *sealer
	now      func() time.Time
}

// Open connects to Redis and checks that it answers. notifier announces
// committed persona changes to other processes' caches; nil announces
// nothing. Close releases the connection.
func Open(ctx context.Context, cfg Config, log *slog.Logger, notifier Notifier) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("persona store: parse redis URL: %w", err)
	}
	rdb := redis.NewClient(opts)
	s, err := newStore(rdb, cfg, log, notifier)
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	s.ownsRDB = true
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		_ = s.rdb.Close()
		return nil, fmt.Errorf("persona store: connect to redis at %s: %w", opts.Addr, err)
	}
	return s, nil
}

// New returns a Store on a Redis client the caller already has (a role's
// shared client, say) and keeps owning: Close does not close it, and New
// does not contact Redis. cfg.URL is ignored; the other fields apply as in
// Open.
func New(rdb redis.UniversalClient, cfg Config, log *slog.Logger, notifier Notifier) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("persona store: no redis client")
	}
	cfg.URL = "redis://given-client" // only to pass Validate; never dialled
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newStore(rdb, cfg, log, notifier)
}

func newStore(rdb redis.UniversalClient, cfg Config, log *slog.Logger, notifier Notifier) (*Store, error) {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		rdb:      rdb,
		cfg:      cfg,
		k:        keys{prefix: cfg.Prefix},
		log:      log.With("component", "persona/store"),
		notifier: notifier,
		now:      func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) },
	}
	if cfg.SecretKey != nil {
		var err error
		if s.sealer, err = newSealer(cfg.SecretKey); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Close closes the Redis connection when Open made it; a Store made by New
// leaves its client to the caller.
func (s *Store) Close() error {
	if !s.ownsRDB {
		return nil
	}
	return s.rdb.Close()
}

// Ping checks that Redis answers, for readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("persona store: ping redis: %w", err)
	}
	return nil
}

// maxAttempts bounds the retries of a transaction whose watched keys
// changed under it.
const maxAttempts = 16

// txn runs fn in a WATCH transaction on keys, retrying when another client
// changed a watched key before EXEC. fn reads through tx and queues its
// writes with tx.TxPipelined; checks it makes on what it read (revision,
// owner) decide the outcome of the retry.
func (s *Store) txn(ctx context.Context, fn func(tx *redis.Tx) error, keys ...string) error {
	for range maxAttempts {
		err := s.rdb.Watch(ctx, fn, keys...)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		return err
	}
	return ErrContended
}

var tracer = otel.Tracer("github.com/corral-ai/corral/persona/store")

// span starts the span of one store operation. end records err on it.
func span(ctx context.Context, op string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return tracer.Start(ctx, "persona.store."+op, trace.WithAttributes(attrs...), trace.WithSpanKind(trace.SpanKindClient))
}

func end(sp trace.Span, err error) {
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNotPublished) {
		sp.RecordError(err)
		sp.SetStatus(codes.Error, err.Error())
	}
	sp.End()
}

// newID returns a random id with the given prefix: 26 base32 characters,
// 130 bits.
func newID(prefix string) string {
	return prefix + strings.ToLower(rand.Text())
}

// getJSON reads a JSON value; a missing key is ErrNotFound.
func getJSON(ctx context.Context, c redis.Cmdable, key string, v any) error {
	data, err := c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

func encode(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return data, nil
}
