package inference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/corral-ai/corral/inference/bytesize"
	"github.com/corral-ai/corral/inference/engine"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/role"
	"github.com/corral-ai/corral/services/internal/settings"
)

// Definition describes the role to the binary.
var Definition = role.Define("inference",
	"serve the model: the NATS service inference, the OpenAI-compatible API on /v1, GET /models",
	role.Needs{NATS: true}, DefaultConfig, New)

// drainTimeout is how long generations in flight at shutdown may run on
// before they are cancelled (their callers see ERROR_CODE_UNAVAILABLE and
// retry on another replica). It stays below the process's default
// shutdown timeout (30 s), which bounds the whole shutdown.
const drainTimeout = 10 * time.Second

// Role is the running inference role.
type Role struct {
	cfg     Config
	log     *slog.Logger
	tracer  trace.Tracer
	metrics roleMetrics
	nc      *nats.Conn
	streams natsbus.StreamsConfig

	bundle *engine.Bundle
	status Status
	info   *corralv1.ModelInfo
	// size and modTime are the file's at validation, for the readiness
	// check.
	size    int64
	modTime time.Time

	// eng is set by Run once the engine runs, and cleared when it stops;
	// handlers answer "unavailable" while it is nil.
	eng  atomic.Pointer[engine.Engine]
	svc  atomic.Pointer[service]
	rate *tokenRate
	// timing paces the NATS streams' liveness checks.
	timing streamTiming
	// drain is how long Run lets generations finish at shutdown.
	drain time.Duration
	// streams in flight (NATS senders and their readers), for shutdown.
	inflight sync.WaitGroup
}

var _ role.Role = (*Role)(nil)

// New makes sure there is a model to serve (the configured file, or the
// demo model written to DataDir/models), validates it with Inspect and
// loads it. The engine and the NATS service start in Run.
func New(cfg Config, deps role.Deps) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tp := deps.Tracer
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	path, demo := cfg.Path, cfg.Path == ""
	if demo {
		p, created, err := ensureDemo(filepath.Join(deps.DataDir, "models"))
		if err != nil {
			return nil, err
		}
		path = p
		log.Warn(DemoNotice, "model", path, "written_now", created)
	}
	st, err := Inspect(path)
	if err != nil {
		if demo {
			return nil, fmt.Errorf("demo model: %w", err)
		}
		return nil, settings.Problem{Env: EnvModel, Err: err}
	}
	st.Demo = demo
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	threads, err := engine.Threads(cfg.Threads)
	if err != nil {
		return nil, settings.Problem{Env: EnvThreads, Err: err}
	}
	b, err := engine.Load(path, engine.LoadOptions{Threads: cfg.Threads, Logger: log})
	if err != nil {
		if demo {
			return nil, fmt.Errorf("demo model: %w", err)
		}
		return nil, settings.Problem{Env: EnvModel, Err: err}
	}
	r := &Role{
		cfg: cfg, log: log, tracer: tp.Tracer(instrumentation), nc: deps.NATS, streams: deps.Streams,
		bundle: b, status: st, size: fi.Size(), modTime: fi.ModTime(), rate: newTokenRate(10 * time.Second),
		timing: defaultTiming, drain: drainTimeout,
	}
	r.info = modelInfo(b, st)
	if r.metrics, err = newRoleMetrics(deps.Meter); err != nil {
		b.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	log.Info("model", "path", path, "id", r.info.GetId(), "name", st.Name, "architecture", st.Architecture,
		"parameters", st.Parameters, "weight_type", st.WeightType, "bytes", st.FileSize, "demo", demo,
		"chat_template", r.info.GetChatTemplate(), "threads", threads)
	return r, nil
}

func modelInfo(b *engine.Bundle, st Status) *corralv1.ModelInfo {
	in := b.Info()
	return &corralv1.ModelInfo{
		Id: in.ID, Architecture: st.Architecture, Parameters: st.Parameters, Quantization: in.Config.WeightType,
		ContextLength: int32(in.Config.ContextLength), VocabSize: int32(st.VocabSize),
		HasChatTemplate: in.ChatTemplate != "", Name: st.Name, Tokenizer: st.Tokenizer,
		ChatTemplate: in.ChatTemplate, FileSize: st.FileSize, Demo: st.Demo,
	}
}

// Status describes the model the role serves.
func (r *Role) Status() Status { return r.status }

// ModelID is the name requests use for the served model.
func (r *Role) ModelID() string { return r.info.GetId() }

// Engine returns the running engine, or nil before Run started it and
// after it stopped.
func (r *Role) Engine() *engine.Engine { return r.eng.Load() }

// engineStats is the running engine's Stats, false while none runs.
func (r *Role) engineStats() (engine.Stats, bool) {
	if e := r.eng.Load(); e != nil {
		return e.Stats(), true
	}
	return engine.Stats{}, false
}

// Routes adds GET /models (the served model, for operators) and the
// OpenAI-compatible API under /v1.
func (r *Role) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /models", r.serveModels)
	r.openAIRoutes(mux)
}

func (r *Role) serveModels(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string][]Status{"models": {r.status}})
}

// Run starts the engine and the NATS service, serves until ctx ends, then
// stops taking requests, lets those in flight finish for up to
// drainTimeout (then cancels them), and closes the model. HTTP requests
// are drained by the server before Run is asked to stop.
func (r *Role) Run(ctx context.Context) error {
	defer r.bundle.Close()
	e, err := engine.New(r.bundle, engine.Options{
		QueueSize: r.cfg.QueueSize, QueueTokens: r.cfg.QueueTokens, MaxRunning: r.cfg.MaxBatch, KVMemory: r.cfg.KVMemory, KVType: r.cfg.KVType,
		Logger: r.log.With("component", "engine"),
	})
	if err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	kv := e.KV()
	budget := "auto"
	if r.cfg.KVMemory > 0 {
		budget = "configured"
	}
	r.log.Info("kv cache", "type", kv.Type.String(), "memory", bytesize.Format(kv.Bytes), "budget", budget,
		"blocks", kv.Blocks, "block_tokens", kv.BlockTokens, "tokens", kv.Blocks*kv.BlockTokens,
		"bytes_per_token", int64(kv.BytesPerToken), "contexts", kv.Blocks*kv.BlockTokens/max(e.ContextLength(), 1))
	r.eng.Store(e)
	unobserve, err := r.metrics.observe(r.engineStats)
	if err != nil {
		r.eng.Store(nil)
		return errors.Join(fmt.Errorf("metrics: %w", err), e.Close(context.Background()))
	}
	defer unobserve()
	var svc *service
	if r.nc != nil {
		svc, err = startService(r, r.nc, r.streams)
		if err != nil {
			r.eng.Store(nil)
			return errors.Join(fmt.Errorf("start NATS service: %w", err), e.Close(context.Background()))
		}
		r.svc.Store(svc)
		r.log.Info("inference service started", "subject", svc.subjects.generate, "queue_group", corralv1.InferenceQueueGroup, "instance", svc.svc.Info().ID)
	} else {
		r.log.Warn("no NATS connection: the inference service is off; the HTTP API still serves")
	}

	<-ctx.Done()
	if svc != nil {
		if err := svc.stop(); err != nil {
			r.log.Warn("stop NATS service", "err", err)
		}
	}
	drain, cancel := context.WithTimeout(context.Background(), r.drain)
	defer cancel()
	if err := e.Close(drain); err != nil {
		r.log.Warn("generations cancelled at shutdown", "err", err)
	}
	// Every sequence has its final event now; the streams pass them on,
	// unless a client stops taking them before the drain time is up.
	streamed := make(chan struct{})
	go func() { r.inflight.Wait(); close(streamed) }()
	select {
	case <-streamed:
	case <-drain.Done():
		if svc != nil {
			svc.abort()
		}
		<-streamed
	}
	r.eng.Store(nil)
	return nil
}

// Checks has two checks: "model", the file validated at start is still
// there, unchanged; and "inference", the engine runs and, with NATS, the
// service takes requests.
func (r *Role) Checks() map[string]role.Check {
	return map[string]role.Check{"model": r.checkFile, "inference": r.checkServing}
}

// Errors of the readiness checks.
var (
	// ErrChanged means the model file changed after it was validated.
	ErrChanged = errors.New("model file changed since it was validated at start; restart to validate it again")
	// ErrNotServing means the engine or the NATS service is not running.
	ErrNotServing = errors.New("not serving: the engine or the NATS service is not running")
)

func (r *Role) checkFile(context.Context) error {
	fi, err := os.Stat(r.status.Path)
	if err != nil {
		return err
	}
	if fi.Size() != r.size || !fi.ModTime().Equal(r.modTime) {
		return ErrChanged
	}
	return nil
}

func (r *Role) checkServing(context.Context) error {
	if r.eng.Load() == nil {
		return ErrNotServing
	}
	if r.nc != nil {
		if s := r.svc.Load(); s == nil || s.svc.Stopped() {
			return ErrNotServing
		}
	}
	return nil
}
