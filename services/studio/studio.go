package studio

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/corral-ai/corral/inference/safety"
	"github.com/corral-ai/corral/persona/store"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/inferclient"
	"github.com/corral-ai/corral/services/internal/role"
)

// scope names the role's tracer and meter.
const scope = "github.com/corral-ai/corral/services/studio"

// Definition describes the role to the binary.
var Definition = role.Define("studio", "serve the persona studio: the /studio page and its websocket /studio/ws",
	role.Needs{NATS: true, Redis: true}, DefaultConfig, New)

// Paths of the studio.
const (
	PathPage = "/studio"
	PathWS   = "/studio/ws"
)

// authTimeout is how long a connection may stay signed out.
const authTimeout = 30 * time.Second

// Role is the running studio.
type Role struct {
	cfg      Config
	log      *slog.Logger
	tracer   trace.Tracer
	metrics  *studioMetrics
	store    *store.Store
	notifier *store.NATSNotifier
	infer    *inferclient.Client
	stage    *safety.Stage
	upgrader websocket.Upgrader
	origins  []string
	page     http.Handler

	mu         sync.Mutex
	running    bool // between Run's start and its end: connections are taken
	conns      map[*conn]struct{}
	byCreator  map[string]map[*conn]struct{}
	owners     map[string]string // persona id → owner, for pushing deletions
	connsDone  sync.WaitGroup    // one per registered connection
	changes    chan store.Change // from the NATS subscription to Run's goroutine
	background sync.WaitGroup    // warm-ups after publishing
	runCtx     context.Context   // Run's context, for background work

	hits previewHits
}

var _ role.Role = (*Role)(nil)

// New builds the studio on the shared NATS connection and Redis client.
func New(cfg Config, deps role.Deps) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.NATS == nil || deps.Redis == nil {
		return nil, errors.New("studio: needs NATS and Redis")
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
		return nil, fmt.Errorf("studio metrics: %w", err)
	}
	notifier := store.NewNATSNotifier(deps.NATS, deps.Streams.Subject(corralv1.SubjectPersonaUpdated), log)
	st, err := store.New(deps.Redis, store.Config{Prefix: cfg.KeyPrefix}, log, notifier)
	if err != nil {
		return nil, fmt.Errorf("studio: %w", err)
	}
	ic, err := inferclient.New(deps.NATS, inferclient.Options{Namespace: deps.Streams.Namespace, Tracer: tp})
	if err != nil {
		return nil, fmt.Errorf("studio: %w", err)
	}
	stage, err := safety.New(safety.Options{})
	if err != nil {
		return nil, fmt.Errorf("studio: %w", err)
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, fmt.Errorf("studio page: %w", err)
	}
	r := &Role{
		cfg: cfg, log: log, tracer: tp.Tracer(scope), metrics: m,
		store: st, notifier: notifier, infer: ic, stage: stage,
		page:      pageHandler(static),
		conns:     map[*conn]struct{}{},
		byCreator: map[string]map[*conn]struct{}{},
		owners:    map[string]string{},
		changes:   make(chan store.Change, 256),
		hits:      previewHits{byPersona: map[string]*hitCount{}},
	}
	for _, o := range cfg.Origins {
		r.origins = append(r.origins, strings.ToLower(strings.TrimRight(o, "/")))
	}
	r.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		CheckOrigin:      r.checkOrigin,
	}
	return r, nil
}

// Routes adds the page and the websocket.
func (r *Role) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathWS, r.serveWS)
	mux.Handle("GET "+PathPage, r.page)
	mux.Handle("GET "+PathPage+"/", r.page)
}

// Run listens for persona changes (to show them in every tab of their
// owner) until ctx ends, then closes every connection (1001, going away),
// waits for them and for warm-ups in flight.
func (r *Role) Run(ctx context.Context) error {
	stop, err := r.notifier.Subscribe(func(c store.Change) {
		select {
		case r.changes <- c:
		default:
			r.metrics.changesDropped.Add(ctx, 1)
			r.log.Warn("studio: persona change not shown live: too many at once", "persona", c.PersonaID)
		}
	})
	if err != nil {
		return fmt.Errorf("studio: %w", err)
	}
	r.mu.Lock()
	r.running, r.runCtx = true, ctx
	r.mu.Unlock()
	r.log.Info("studio: serving", "page", PathPage, "websocket", PathWS)

	for done := false; !done; {
		select {
		case c := <-r.changes:
			r.push(ctx, c)
		case <-ctx.Done():
			done = true
		}
	}

	r.mu.Lock()
	r.running = false
	open := make([]*conn, 0, len(r.conns))
	for c := range r.conns {
		open = append(open, c)
	}
	r.mu.Unlock()
	for _, c := range open {
		c.close(websocket.CloseGoingAway, "server shutting down", "shutdown")
	}
	r.connsDone.Wait()
	r.background.Wait()
	if err := stop(); err != nil {
		r.log.Warn("studio: unsubscribe from persona changes", "err", err)
	}
	return nil
}

// Checks has the persona store's: nothing works without Redis.
func (r *Role) Checks() map[string]role.Check {
	return map[string]role.Check{"studio": func(ctx context.Context) error {
		r.mu.Lock()
		running := r.running
		r.mu.Unlock()
		if !running {
			return errors.New("not running")
		}
		return r.store.Ping(ctx)
	}}
}

// checkOrigin allows upgrades without an Origin header (not a browser),
// from the studio's own host, and from the configured origins.
func (r *Role) checkOrigin(req *http.Request) bool {
	origin := req.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, req.Host) {
		return true
	}
	o := strings.ToLower(strings.TrimRight(origin, "/"))
	return slices.Contains(r.origins, "*") || slices.Contains(r.origins, o)
}

func validOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.User == nil
}

// register adds a connection unless the role is not running.
func (r *Role) register(c *conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running {
		return false
	}
	r.conns[c] = struct{}{}
	r.connsDone.Add(1)
	return true
}

func (r *Role) unregister(c *conn) {
	r.mu.Lock()
	delete(r.conns, c)
	if id := c.creatorID(); id != "" {
		if set := r.byCreator[id]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(r.byCreator, id)
			}
		}
	}
	r.mu.Unlock()
	r.connsDone.Done()
}

// signedIn files c under its creator, for live updates.
func (r *Role) signedIn(c *conn, creatorID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.byCreator[creatorID]
	if set == nil {
		set = map[*conn]struct{}{}
		r.byCreator[creatorID] = set
	}
	set[c] = struct{}{}
}

// owned remembers who owns a persona, so its deletion reaches them.
func (r *Role) owned(personaID, owner string) {
	r.mu.Lock()
	r.owners[personaID] = owner
	r.mu.Unlock()
}

// push sends a committed change to every connection of the persona's
// owner. The event carries the persona as it now is, so a tab can update
// its form without asking.
func (r *Role) push(ctx context.Context, ch store.Change) {
	ev := event{Event: "persona.changed"}
	var owner string
	data := map[string]any{"persona_id": ch.PersonaID, "change": ch.Kind.String(), "published": ch.Published}
	if ch.Kind == store.Deleted {
		r.mu.Lock()
		owner = r.owners[ch.PersonaID]
		delete(r.owners, ch.PersonaID)
		r.mu.Unlock()
	} else {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		p, err := r.store.Inspect(lctx, ch.PersonaID)
		cancel()
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				r.log.Warn("studio: reading a changed persona", "persona", ch.PersonaID, "err", err)
			}
			return
		}
		owner = p.OwnerID
		r.owned(p.ID, owner)
		data["persona"] = viewPersona(p)
	}
	if owner == "" {
		return
	}
	ev.Data = data
	r.mu.Lock()
	targets := make([]*conn, 0, len(r.byCreator[owner]))
	for c := range r.byCreator[owner] {
		targets = append(targets, c)
	}
	r.mu.Unlock()
	for _, c := range targets {
		c.sendEvent(ev)
	}
}

// serveWS upgrades to a websocket and runs the connection until it ends.
func (r *Role) serveWS(w http.ResponseWriter, req *http.Request) {
	if !r.checkOrigin(req) {
		r.metrics.refused.Add(req.Context(), 1)
		r.log.Warn("studio: websocket from a foreign origin refused", "origin", req.Header.Get("Origin"), "host", req.Host)
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	ws, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		// The upgrader has answered the request already.
		r.log.Info("studio: websocket upgrade failed", "err", err)
		return
	}
	if tc, ok := ws.NetConn().(*net.TCPConn); ok {
		buf := r.cfg.SocketBuffer
		if buf <= 0 {
			buf = DefaultSocketBuffer
		}
		_ = tc.SetWriteBuffer(buf)
	}
	c := newConn(r, ws)
	if !r.register(c) {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "not serving"), time.Now().Add(time.Second))
		_ = ws.Close()
		return
	}
	defer r.unregister(c)
	c.run()
}
