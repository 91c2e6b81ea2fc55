// Package backends starts the shared backends every role is built on: a NATS
// connection with JetStream and Corral's streams, and a Redis client. With no
// URL configured it runs them embedded in the process (a real nats-server
// with JetStream, a Redis-protocol server), keeping their data in the data
// folder.
//
// While an embedded Redis-protocol server runs, its address is published in
// the data folder (RedisAddrFile), so that other corral commands on the same
// folder (`corral creator`, `corral channel`) reach the running server
// instead of the snapshot it owns.
package backends

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/embedded"
	"github.com/corral-ai/corral/services/internal/lifecycle"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/settings"
)

// Names of the settings Config declares.
const (
	EnvNATSURL        = "NATS_URL"
	EnvNATSListen     = "CORRAL_NATS_LISTEN"
	EnvStreamReplicas = "CORRAL_STREAM_REPLICAS"
	EnvRedisURL       = "REDIS_URL"
	EnvRedisListen    = "CORRAL_REDIS_LISTEN"
)

// Config says where the backends are.
type Config struct {
	// DataDir holds the embedded servers' data (nats/ and redis/). The
	// process sets it from its data folder; it is not a setting of its own.
	DataDir string
	// NATSURL lists external NATS servers, comma-separated; empty starts an
	// embedded server with JetStream in DataDir.
	NATSURL string
	// NATSListen is where the embedded NATS server accepts other processes;
	// empty means in-process only.
	NATSListen string
	// StreamReplicas is the number of copies of each JetStream stream
	// (default 1; more needs a JetStream cluster).
	StreamReplicas int
	// RedisURL is an external Redis (redis://, rediss:// or unix://); empty
	// starts an embedded Redis-protocol server kept in DataDir.
	RedisURL string
	// RedisListen is the address of the embedded Redis-protocol server
	// (default 127.0.0.1:0, a free port).
	RedisListen string
}

// DefaultConfig returns the defaults: embedded NATS and Redis, one replica.
func DefaultConfig() Config {
	var c Config
	settings.Defaults(&c)
	return c
}

// Settings declares the backend settings.
func (c *Config) Settings() []settings.Setting {
	return []settings.Setting{
		{Env: EnvNATSURL, Flag: "nats", Help: "external NATS (comma-separated URLs); empty starts an embedded NATS server with JetStream in the data folder",
			Set: settings.String(&c.NATSURL)},
		{Env: EnvNATSListen, Flag: "nats-listen", Help: "host:port where the embedded NATS server accepts other processes; empty means in-process only",
			Set: settings.String(&c.NATSListen)},
		{Env: EnvStreamReplicas, Flag: "stream-replicas", Default: "1", Help: "JetStream replicas of the CHAT_IN, CHAT_OUT and CHAT_DLQ streams (more than 1 needs a NATS cluster)",
			Set: settings.Int(&c.StreamReplicas)},
		{Env: EnvRedisURL, Flag: "redis", Help: "external Redis (redis://, rediss:// or unix://); empty starts an embedded Redis-protocol server kept in the data folder",
			Set: settings.String(&c.RedisURL)},
		{Env: EnvRedisListen, Flag: "redis-listen", Default: "127.0.0.1:0", Help: "host:port of the embedded Redis-protocol server (port 0 picks a free one)",
			Set: settings.String(&c.RedisListen)},
	}
}

// Validate reports settings that cannot work, each as a settings.Problem.
func (c Config) Validate() error {
	var errs []error
	bad := func(env, format string, a ...any) { errs = append(errs, settings.Bad(env, format, a...)) }
	if c.NATSURL != "" {
		for _, u := range strings.Split(c.NATSURL, ",") {
			if err := checkURL(u, "nats", "tls", "ws", "wss"); err != nil {
				bad(EnvNATSURL, "%v", err)
			}
		}
	}
	if c.NATSListen != "" {
		if _, _, err := net.SplitHostPort(c.NATSListen); err != nil {
			bad(EnvNATSListen, "%q is not host:port", c.NATSListen)
		}
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		bad(EnvStreamReplicas, "%d: want 1 to 5", c.StreamReplicas)
	}
	if c.RedisURL != "" {
		if err := checkURL(c.RedisURL, "redis", "rediss", "unix"); err != nil {
			bad(EnvRedisURL, "%v", err)
		}
	} else if _, _, err := net.SplitHostPort(c.RedisListen); err != nil {
		bad(EnvRedisListen, "%q is not host:port", c.RedisListen)
	}
	return errors.Join(errs...)
}

func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("%q is not a URL", settings.RedactURLs(raw))
	}
	for _, s := range schemes {
		if u.Scheme == s {
			if u.Host == "" && u.Path == "" {
				return fmt.Errorf("%q has no address", u.Redacted())
			}
			return nil
		}
	}
	return fmt.Errorf("%q: scheme must be one of %s", u.Redacted(), strings.Join(schemes, ", "))
}

// For returns the part of c that the backends in n read: their settings
// only, and only their problems, so a process that runs no NATS neither
// offers nor checks the NATS settings.
func (c *Config) For(n Needs) settings.Component { return part{c, n} }

type part struct {
	c *Config
	n Needs
}

func (p part) Settings() []settings.Setting {
	var out []settings.Setting
	for _, s := range p.c.Settings() {
		if p.n.reads(s.Env) {
			out = append(out, s)
		}
	}
	return out
}

func (p part) Validate() error {
	err := p.c.Validate()
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	var errs []error
	for _, e := range j.Unwrap() {
		var pr settings.Problem
		if errors.As(e, &pr) && !p.n.reads(pr.Env) {
			continue
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// reads reports whether the backends in n read the setting env.
func (n Needs) reads(env string) bool {
	switch env {
	case EnvNATSURL, EnvNATSListen, EnvStreamReplicas:
		return n.NATS
	case EnvRedisURL, EnvRedisListen:
		return n.Redis
	}
	return true
}

// Needs says which backends a role uses.
type Needs struct {
	// NATS is a NATS connection with JetStream and Corral's streams.
	NATS bool
	// Redis is a Redis client.
	Redis bool
}

// All is every backend, what `corral serve` starts.
func All() Needs { return Needs{NATS: true, Redis: true} }

// Or is the union of n and o.
func (n Needs) Or(o Needs) Needs { return Needs{NATS: n.NATS || o.NATS, Redis: n.Redis || o.Redis} }

// Backends are the started backends; a field is nil when it was not needed.
type Backends struct {
	// NATS is the connection every role shares.
	NATS *nats.Conn
	// JetStream is the JetStream context on NATS.
	JetStream jetstream.JetStream
	// Streams names Corral's streams and subjects.
	Streams natsbus.StreamsConfig
	// Redis is the client every role shares.
	Redis redis.UniversalClient
	// RedisURL is where Redis is: the configured REDIS_URL, or redis://
	// and the embedded server's address.
	RedisURL string

	checks map[string]func(context.Context) error
}

// Start brings up what needs asks for, in order NATS then Redis, and
// registers on g how to stop each (in reverse). If it fails halfway, what
// started is already on g: stopping g undoes it. Errors about one setting
// are settings.Problems.
func Start(ctx context.Context, cfg Config, needs Needs, log *slog.Logger, g *lifecycle.Group) (*Backends, error) {
	b := &Backends{checks: map[string]func(context.Context) error{}}
	if needs.NATS {
		if err := b.startNATS(ctx, cfg, log, g); err != nil {
			return b, err
		}
	}
	if needs.Redis {
		if err := b.startRedis(ctx, cfg, log, g); err != nil {
			return b, err
		}
	}
	return b, nil
}

// Checks are the readiness checks of the started backends: nats,
// jetstream and redis.
func (b *Backends) Checks() map[string]func(context.Context) error { return b.checks }

func (b *Backends) startNATS(ctx context.Context, cfg Config, log *slog.Logger, g *lifecycle.Group) error {
	opts := []nats.Option{
		nats.Name("corral"),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil means we closed it ourselves
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
	}
	var err error
	if cfg.NATSURL == "" {
		dir := filepath.Join(cfg.DataDir, "nats")
		emb, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: dir, Listen: cfg.NATSListen}, log.With("component", "nats"))
		if err != nil {
			if errors.Is(err, embedded.ErrListen) {
				return settings.Problem{Env: EnvNATSListen, Err: err}
			}
			return err
		}
		g.OnStop("embedded nats", func(context.Context) error { emb.Shutdown(); return nil })
		if b.NATS, err = emb.Connect(opts...); err != nil {
			return fmt.Errorf("connect embedded nats: %w", err)
		}
		log.Info("using embedded NATS with JetStream", "store", dir, "listen", emb.ClientURL())
	} else {
		if b.NATS, err = nats.Connect(cfg.NATSURL, opts...); err != nil {
			return settings.Problem{Env: EnvNATSURL, Err: fmt.Errorf("connect to NATS at %s: %w", settings.RedactURLs(cfg.NATSURL), err)}
		}
		log.Info("using external NATS", "url", b.NATS.ConnectedUrlRedacted())
	}
	nc := b.NATS
	g.OnStop("nats connection", func(ctx context.Context) error { return natsbus.Drain(ctx, nc) })
	// An asynchronous publish whose acknowledgement never comes (a server
	// lost mid-request) is forgotten after the timeout instead of staying
	// pending for the life of the connection; its caller stopped waiting
	// long before (the gateway's publish timeout).
	if b.JetStream, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	b.Streams = natsbus.DefaultStreamsConfig()
	b.Streams.Replicas = cfg.StreamReplicas
	if err := natsbus.EnsureStreams(ctx, b.JetStream, b.Streams); err != nil {
		if errors.Is(err, natsbus.ErrNeedsCluster) {
			return settings.Problem{Env: EnvStreamReplicas, Err: err}
		}
		return fmt.Errorf("jetstream streams: %w", err)
	}
	log.Info("jetstream streams ready", "streams", []string{b.Streams.StreamName(corralv1.StreamChatIn), b.Streams.StreamName(corralv1.StreamChatOut), b.Streams.StreamName(corralv1.StreamChatDLQ)}, "replicas", cfg.StreamReplicas)
	b.checks["nats"] = func(context.Context) error {
		if !nc.IsConnected() {
			return fmt.Errorf("not connected (%s)", nc.Status())
		}
		return nil
	}
	js := b.JetStream
	b.checks["jetstream"] = func(ctx context.Context) error {
		_, err := js.AccountInfo(ctx)
		return err
	}
	return nil
}

func (b *Backends) startRedis(ctx context.Context, cfg Config, log *slog.Logger, g *lifecycle.Group) error {
	redis.SetLogger(redisLogger{log.With("component", "redis-client")})
	var opts *redis.Options
	env := EnvRedisURL
	if cfg.RedisURL == "" {
		env = EnvRedisListen
		dir := filepath.Join(cfg.DataDir, "redis")
		emb, err := embedded.StartRedis(embedded.RedisConfig{Dir: dir, Listen: cfg.RedisListen}, log.With("component", "redis"))
		if err != nil {
			if errors.Is(err, embedded.ErrListen) {
				return settings.Problem{Env: env, Err: err}
			}
			return err
		}
		g.OnStop("embedded redis", func(context.Context) error { return emb.Close() })
		addr := dialable(emb.Addr())
		// Registered after the server, so it goes before the server stops.
		stopPublishing, err := publishRedisAddr(cfg.DataDir, addr)
		if err != nil {
			return err
		}
		g.OnStop("embedded redis address", func(context.Context) error { return stopPublishing() })
		opts = &redis.Options{Addr: addr}
		b.RedisURL = "redis://" + addr
		log.Info("using embedded Redis-protocol server", "addr", addr, "snapshot", dir, "address file", RedisAddrFile(cfg.DataDir))
	} else {
		var err error
		if opts, err = redis.ParseURL(cfg.RedisURL); err != nil {
			return settings.Problem{Env: env, Err: err}
		}
		b.RedisURL = cfg.RedisURL
		log.Info("using external Redis", "addr", opts.Addr, "db", opts.DB)
	}
	rc := redis.NewClient(opts)
	b.Redis = rc
	g.OnStop("redis client", func(context.Context) error { return rc.Close() })
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rc.Ping(pingCtx).Err(); err != nil {
		return settings.Problem{Env: env, Err: fmt.Errorf("redis at %s: %w", opts.Addr, err)}
	}
	b.checks["redis"] = func(ctx context.Context) error { return rc.Ping(ctx).Err() }
	return nil
}

// redisLogger sends go-redis's own messages (pool dial failures and the
// like) to the process log instead of the standard logger.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, fmt.Sprintf(format, v...))
}
