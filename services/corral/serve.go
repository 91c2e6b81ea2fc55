package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/model/synth"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/embedded"
	"github.com/corral-ai/corral/services/internal/lifecycle"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/telemetry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var checkOnly bool
	cfg, err := parseConfig("serve", args, os.Getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&checkOnly, "check-config", false, "validate the configuration, print it and exit")
	})
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fmt.Sprintf("configuration: %v", err)}
	}
	if checkOnly {
		d := cfg.describe()
		for i := 0; i < len(d); i += 2 {
			fmt.Fprintf(stdout, "%s=%s\n", d[i], d[i+1])
		}
		return nil
	}
	tel, err := telemetry.Setup(ctx, telemetry.Config{
		ServiceName: "corral", Version: version,
		LogFormat: cfg.LogFormat, LogLevel: cfg.LogLevel, OTLPEndpoint: cfg.OTLPEndpoint,
	}, stderr)
	if err != nil {
		return err
	}
	log := tel.Logger
	redis.SetLogger(redisLogger{log.With("component", "redis-client")})
	log.Info("corral starting", append([]any{"version", version}, cfg.describe()...)...)

	srv, err := startServer(ctx, cfg, tel)
	if err != nil {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(err, tel.Shutdown(flushCtx))
	}
	select {
	case <-ctx.Done():
		log.Info("shutdown requested, draining", "timeout", cfg.ShutdownTimeout.String())
	case <-srv.group.Failed():
		log.Error("a component failed, shutting down", "timeout", cfg.ShutdownTimeout.String())
	}
	stopErr := srv.stop(cfg)
	flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(flushCtx); err != nil {
		stopErr = errors.Join(stopErr, fmt.Errorf("flush telemetry: %w", err))
	}
	if stopErr != nil {
		log.Error("shutdown finished with errors", "err", stopErr)
		return stopErr
	}
	log.Info("corral stopped")
	return nil
}

// server is everything `serve` started, in start order.
type server struct {
	log    *slog.Logger
	group  *lifecycle.Group
	health *lifecycle.Health
	http   *http.Server
	addr   net.Addr
	nc     *nats.Conn
	js     jetstream.JetStream
	redis  *redis.Client
	// modelPath is the GGUF file the engine serves.
	modelPath string
}

// startServer brings up the backends and the HTTP listener. If anything
// fails, what already started is stopped again.
func startServer(ctx context.Context, cfg Config, tel *telemetry.Telemetry) (s *server, err error) {
	log := tel.Logger
	s = &server{log: log, group: lifecycle.NewGroup(ctx, log), health: &lifecycle.Health{}}
	defer func() {
		if err != nil {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
			defer cancel()
			if stopErr := s.group.Stop(stopCtx); stopErr != nil {
				err = errors.Join(err, fmt.Errorf("undo partial start: %w", stopErr))
			}
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return s, fmt.Errorf("data folder: %w", err)
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return s, err
	}
	s.group.OnStop("data folder lock", func(context.Context) error { return unlock() })
	if err := s.checkModel(cfg); err != nil {
		return s, err
	}
	if err := s.startNATS(ctx, cfg); err != nil {
		return s, err
	}
	if err := s.startRedis(ctx, cfg); err != nil {
		return s, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.health.Live)
	mux.HandleFunc("GET /readyz", s.health.Ready)
	mux.Handle("GET /metrics", tel.MetricsHandler())

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return s, fmt.Errorf("http listen %s: %w", cfg.HTTPAddr, err)
	}
	s.addr = ln.Addr()
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.group.Go("http", func(context.Context) error {
		if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	log.Info("corral ready", "http", s.addr.String())
	return s, nil
}

// demoNotice is what the log (and later the studio page) says while the
// demo model is in use.
const demoNotice = "no model configured: serving Corral's demo model, whose random weights make replies that are not meaningful; " +
	"point Corral at a real Llama GGUF with CORRAL_MODEL=/path/to/model.gguf or --model " +
	"(for example Llama 3.2 1B or 3B Instruct, or Llama 3.1 8B Instruct, in Q4_K_M or Q8_0)"

// checkModel makes sure there is a model to serve: the configured GGUF file,
// which must parse, or the demo model, written to the data folder on first
// start. It sets s.modelPath.
func (s *server) checkModel(cfg Config) error {
	if cfg.Model == "" {
		path, created, err := synth.EnsureDemo(filepath.Join(cfg.DataDir, "models"))
		if err != nil {
			return fmt.Errorf("demo model: %w", err)
		}
		s.modelPath = path
		s.log.Warn(demoNotice, "model", path, "written_now", created)
		return nil
	}
	f, err := gguf.Open(cfg.Model)
	if err != nil {
		return fmt.Errorf("CORRAL_MODEL: %w", err)
	}
	defer f.Close()
	in := f.Info()
	if !slices.Contains(model.Architectures(), in.Architecture) {
		return fmt.Errorf("CORRAL_MODEL %s: architecture %q is not supported (supported: %s)",
			cfg.Model, in.Architecture, strings.Join(model.Architectures(), ", "))
	}
	s.modelPath = cfg.Model
	s.log.Info("model", "path", cfg.Model, "name", in.Name, "architecture", in.Architecture,
		"parameters", in.Parameters, "bytes", in.FileSize)
	return nil
}

func (s *server) startNATS(ctx context.Context, cfg Config) error {
	opts := []nats.Option{
		nats.Name("corral"),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil means we closed it ourselves
				s.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { s.log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
	}
	var err error
	if cfg.NATSURL == "" {
		dir := filepath.Join(cfg.DataDir, "nats")
		emb, err := embedded.StartNATS(embedded.NATSConfig{StoreDir: dir, Listen: cfg.NATSListen}, s.log.With("component", "nats"))
		if err != nil {
			return err
		}
		s.group.OnStop("embedded nats", func(context.Context) error { emb.Shutdown(); return nil })
		if s.nc, err = emb.Connect(opts...); err != nil {
			return fmt.Errorf("connect embedded nats: %w", err)
		}
		s.log.Info("using embedded NATS with JetStream", "store", dir, "listen", emb.ClientURL())
	} else {
		if s.nc, err = nats.Connect(cfg.NATSURL, opts...); err != nil {
			return fmt.Errorf("connect NATS_URL: %w", err)
		}
		s.log.Info("using external NATS", "url", s.nc.ConnectedUrlRedacted())
	}
	nc := s.nc
	s.group.OnStop("nats connection", func(ctx context.Context) error { return natsbus.Drain(ctx, nc) })
	if s.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	streams := natsbus.DefaultStreamsConfig()
	streams.Replicas = cfg.StreamReplicas
	if err := natsbus.EnsureStreams(ctx, s.js, streams); err != nil {
		return fmt.Errorf("jetstream streams: %w", err)
	}
	s.log.Info("jetstream streams ready", "streams", []string{streams.StreamName(corralv1.StreamChatIn), streams.StreamName(corralv1.StreamChatOut), streams.StreamName(corralv1.StreamChatDLQ)}, "replicas", cfg.StreamReplicas)
	s.health.AddCheck("nats", func(context.Context) error {
		if !nc.IsConnected() {
			return fmt.Errorf("not connected (%s)", nc.Status())
		}
		return nil
	})
	s.health.AddCheck("jetstream", func(ctx context.Context) error {
		_, err := s.js.AccountInfo(ctx)
		return err
	})
	return nil
}

func (s *server) startRedis(ctx context.Context, cfg Config) error {
	var opts *redis.Options
	if cfg.RedisURL == "" {
		dir := filepath.Join(cfg.DataDir, "redis")
		emb, err := embedded.StartRedis(embedded.RedisConfig{Dir: dir, Listen: cfg.RedisListen}, s.log.With("component", "redis"))
		if err != nil {
			return err
		}
		s.group.OnStop("embedded redis", func(context.Context) error { return emb.Close() })
		opts = &redis.Options{Addr: emb.Addr()}
		s.log.Info("using embedded Redis-protocol server", "addr", emb.Addr(), "snapshot", dir)
	} else {
		var err error
		if opts, err = redis.ParseURL(cfg.RedisURL); err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		s.log.Info("using external Redis", "addr", opts.Addr, "db", opts.DB)
	}
	s.redis = redis.NewClient(opts)
	rc := s.redis
	s.group.OnStop("redis client", func(context.Context) error { return rc.Close() })
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rc.Ping(pingCtx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", opts.Addr, err)
	}
	s.health.AddCheck("redis", func(ctx context.Context) error { return rc.Ping(ctx).Err() })
	return nil
}

// stop shuts down in order: report not ready, wait for load balancers to
// notice, stop taking requests and finish those in flight, then stop the
// roles and the backends, all within the shutdown timeout.
func (s *server) stop(cfg Config) error {
	s.health.SetDraining()
	time.Sleep(cfg.ShutdownDelay)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := s.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := s.group.Stop(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// redisLogger sends go-redis's own messages (pool dial failures and the
// like) to the process log instead of the standard logger.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, fmt.Sprintf(format, v...))
}
