package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/corral-ai/corral/services/internal/backends"
	"github.com/corral-ai/corral/services/internal/gcpace"
	"github.com/corral-ai/corral/services/internal/lifecycle"
	"github.com/corral-ai/corral/services/internal/role"
	"github.com/corral-ai/corral/services/internal/settings"
	"github.com/corral-ai/corral/services/internal/telemetry"
)

// runServe implements `corral serve`: every role, on every backend.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runRoles(ctx, "serve", roles, backends.All(), args, stdout, stderr)
}

// runRoles runs the roles defs on the backends needs until ctx ends: what
// `corral serve` and `corral ROLE` share.
func runRoles(ctx context.Context, name string, defs []role.Definition, needs backends.Needs, args []string, stdout, stderr io.Writer) error {
	var checkOnly bool
	cfg, err := parseConfig(name, defs, needs, args, os.Getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&checkOnly, "check-config", false, "validate the configuration (opening the model file), print it with secrets masked, and exit")
	})
	if err != nil {
		return err
	}
	if checkOnly {
		return cfg.check(ctx, stdout)
	}
	defer gcpace.Start(uint64(cfg.Process.GCHeapFloor)).Stop()
	tel, err := telemetry.Setup(ctx, cfg.Telemetry, stderr)
	if err != nil {
		return err
	}
	log := tel.Logger
	log.Info("corral starting", append([]any{"version", versionString(), "command", name}, cfg.describe()...)...)

	srv, err := startServer(ctx, cfg, needs, tel)
	if err != nil {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(err, tel.Shutdown(flushCtx))
	}
	select {
	case <-ctx.Done():
		log.Info("shutdown requested, draining", "timeout", cfg.Process.ShutdownTimeout.String())
	case <-srv.group.Failed():
		log.Error("a component failed, shutting down", "timeout", cfg.Process.ShutdownTimeout.String())
	}
	stopErr := srv.stop()
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

// check implements --check-config: print the configuration, then run the
// roles' deep checks (opening the model file, say) without starting anything.
func (c *Config) check(ctx context.Context, stdout io.Writer) error {
	d := c.describe()
	for i := 0; i < len(d); i += 2 {
		fmt.Fprintf(stdout, "%s=%s\n", d[i], d[i+1])
	}
	var errs []error
	for _, r := range c.roles {
		if r.Verify == nil {
			continue
		}
		if err := r.Verify(ctx); err != nil {
			errs = append(errs, c.explain(err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return nil
}

// server is everything a run started.
type server struct {
	log      *slog.Logger
	group    *lifecycle.Group
	health   *lifecycle.Health
	http     *http.Server
	addr     net.Addr
	backends *backends.Backends
	roles    map[string]role.Role
	delay    time.Duration
	timeout  time.Duration
}

// startServer brings up the backends, then each role (New, Routes, Run,
// checks), then the HTTP listener. If anything fails, what already started
// is stopped again.
func startServer(ctx context.Context, cfg *Config, needs backends.Needs, tel *telemetry.Telemetry) (s *server, err error) {
	log := tel.Logger
	s = &server{
		log: log, group: lifecycle.NewGroup(ctx, log), health: &lifecycle.Health{},
		roles: map[string]role.Role{}, delay: cfg.Process.ShutdownDelay, timeout: cfg.Process.ShutdownTimeout,
	}
	defer func() {
		if err != nil {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
			defer cancel()
			if stopErr := s.group.Stop(stopCtx); stopErr != nil {
				err = errors.Join(err, fmt.Errorf("undo partial start: %w", stopErr))
			}
		}
	}()
	dataDir := cfg.Process.DataDir
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return s, fmt.Errorf("data folder: %w", err)
	}
	unlock, err := lockDataDir(dataDir)
	if err != nil {
		return s, err
	}
	s.group.OnStop("data folder lock", func(context.Context) error { return unlock() })

	for _, r := range cfg.roles {
		needs = needs.Or(r.def.Needs)
	}
	s.backends, err = backends.Start(ctx, cfg.Backends, needs, log, s.group)
	if err != nil {
		return s, cfg.explain(err)
	}
	checks := map[string]bool{}
	if err := s.addChecks("backends", checks, s.backends.Checks()); err != nil {
		return s, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.health.Live)
	mux.HandleFunc("GET /readyz", s.health.Ready)
	mux.Handle("GET /metrics", tel.MetricsHandler())
	for _, pr := range cfg.roles {
		if err := s.startRole(pr, cfg, tel, mux, checks); err != nil {
			return s, err
		}
	}

	ln, err := net.Listen("tcp", cfg.Process.HTTPAddr)
	if err != nil {
		return s, cfg.explain(settings.Problem{Env: envHTTPAddr, Err: err})
	}
	s.addr = ln.Addr()
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.group.Go("http", func(context.Context) error {
		if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	log.Info("corral ready", "http", s.addr.String(), "roles", slices.Sorted(maps.Keys(s.roles)))
	return s, nil
}

// startRole builds one role on the backends it declared, adds its routes,
// runs it under the group and adds its readiness checks.
func (s *server) startRole(pr preparedRole, cfg *Config, tel *telemetry.Telemetry, mux *http.ServeMux, checks map[string]bool) error {
	name := pr.def.Name
	deps := role.Deps{
		Logger:  s.log.With("role", name),
		Meter:   tel.MeterProvider(),
		Tracer:  tel.TracerProvider(),
		DataDir: cfg.Process.DataDir,
	}
	if pr.def.Needs.NATS {
		deps.NATS, deps.JetStream, deps.Streams = s.backends.NATS, s.backends.JetStream, s.backends.Streams
	}
	if pr.def.Needs.Redis {
		deps.Redis = s.backends.Redis
	}
	r, err := pr.New(deps)
	if err != nil {
		return fmt.Errorf("role %s: %w", name, cfg.explain(err))
	}
	s.roles[name] = r
	r.Routes(mux)
	s.group.Go("role "+name, func(ctx context.Context) error {
		err := r.Run(ctx)
		if err == nil && ctx.Err() == nil {
			return errors.New("stopped before shutdown")
		}
		return err
	})
	return s.addChecks("role "+name, checks, r.Checks())
}

// addChecks adds readiness checks in name order; a name already taken is
// an error.
func (s *server) addChecks(owner string, taken map[string]bool, checks map[string]role.Check) error {
	names := make([]string, 0, len(checks))
	for n := range checks {
		if taken[n] {
			return fmt.Errorf("%s: readiness check %q is already taken", owner, n)
		}
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		taken[n] = true
		s.health.AddCheck(n, checks[n])
	}
	return nil
}

// stop shuts down in order: report not ready, wait for load balancers to
// notice, stop taking requests and finish those in flight, then stop the
// roles and the backends, all within the shutdown timeout.
func (s *server) stop() error {
	s.health.SetDraining()
	time.Sleep(s.delay)
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
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
