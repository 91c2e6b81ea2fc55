package studio_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/persona/store/storetest"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/natstest"
	"github.com/corral-ai/corral/services/internal/role"
	"github.com/corral-ai/corral/services/studio"
	"github.com/corral-ai/corral/services/studio/studiotest"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a running studio on its own NATS namespace and Redis key prefix,
// with no inference service in that namespace, and a creator.
type env struct {
	t       *testing.T
	srv     *httptest.Server
	st      *store.Store // the same data, for arranging what the studio only reads
	token   string
	creator store.Creator
	logs    *syncBuffer
	stop    func() // ends Run and waits for it; safe to call twice
}

func newEnv(t *testing.T, mutate ...func(*studio.Config)) *env {
	t.Helper()
	rurl := storetest.RedisURL(t)
	prefix := storetest.Prefix(t, rurl)
	opts, err := redis.ParseURL(rurl)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	nc := natstest.Connect(t)
	streams := natsbus.StreamsConfig{Namespace: natstest.Name(t)}

	cfg := studio.DefaultConfig()
	cfg.KeyPrefix = prefix
	for _, m := range mutate {
		m(&cfg)
	}
	logs := &syncBuffer{}
	r, err := studio.New(cfg, role.Deps{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		NATS:   nc, Redis: rdb, Streams: streams,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	r.Routes(mux)
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("Run did not return within 20s of its context ending")
			}
		})
	}
	t.Cleanup(func() {
		stop()
		srv.Close()
	})
	waitFor(t, "the studio is ready", func() bool { return r.Checks()["studio"](t.Context()) == nil })

	notifier := store.NewNATSNotifier(nc, streams.Subject(corralv1.SubjectPersonaUpdated), nil)
	key := make([]byte, store.SecretKeySize)
	st, err := store.New(rdb, store.Config{Prefix: prefix, SecretKey: key}, nil, notifier)
	if err != nil {
		t.Fatal(err)
	}
	cr, token, err := st.CreateCreator(t.Context(), "Ada")
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, st: st, token: token, creator: cr, logs: logs, stop: stop}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) wsURL() string { return "ws" + strings.TrimPrefix(e.srv.URL, "http") + studio.PathWS }

// dial opens a connection that is not signed in.
func (e *env) dial() *studiotest.Client { return studiotest.Dial(e.t, e.wsURL(), nil) }

// signIn opens a connection signed in with token.
func (e *env) signIn(token string) *studiotest.Client {
	c := e.dial()
	c.Must("auth", map[string]any{"token": token}, nil)
	return c
}

// personaView is a persona as the protocol shows it.
type personaView struct {
	ID         string       `json:"id"`
	Handle     string       `json:"handle"`
	Visibility string       `json:"visibility"`
	Revision   uint64       `json:"revision"`
	Published  uint32       `json:"published"`
	Draft      persona.Spec `json:"draft"`
}

// editOf is a valid persona's JSON form.
func editOf(handle string) map[string]any {
	return map[string]any{
		"handle": handle, "visibility": "private", "name": "Luna",
		"instructions": "You are Luna, a cheerful astronomy guide. Keep answers short and friendly.",
		"greeting":     "Hi, I'm Luna! Ask me about the night sky.",
		"examples":     []map[string]string{{"user": "What is a comet?", "assistant": "A dusty snowball of ice that grows a tail near the Sun."}},
		"traits":       []string{"cheerful", "curious"},
	}
}

// create makes a persona through the protocol.
func create(t *testing.T, c *studiotest.Client, handle string) personaView {
	t.Helper()
	var out struct {
		Persona personaView `json:"persona"`
	}
	c.Must("persona.create", map[string]any{"persona": editOf(handle)}, &out)
	return out.Persona
}
