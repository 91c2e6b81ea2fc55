package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/model/synth"
	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/persona/store/storetest"
	"github.com/corral-ai/corral/services/inference"
	"github.com/corral-ai/corral/services/internal/inferclient"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/natstest"
	"github.com/corral-ai/corral/services/internal/role"
	"github.com/corral-ai/corral/services/studio"
	"github.com/corral-ai/corral/services/studio/studiotest"
)

// The studio end to end: the studio role and the inference role in one
// process, as `corral serve` runs them, on a NATS namespace and Redis key
// prefix of the test's own, spoken to over a real websocket.

// studioEnv is a running studio and inference service.
type studioEnv struct {
	base   string // http://host:port
	st     *store.Store
	token  string
	owner  string
	infer  *inferclient.Client
	logs   *syncBuffer
	engine *inference.Role
}

// slowModelFile writes a random-weight model of the demo's size, with its
// vocabulary and chat template but without its bias towards ending: a
// greedy reply runs to its token limit, so a preview is still running
// when a test cancels it.
func slowModelFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "slow.gguf")
	v := synth.DemoVocab()
	err := synth.WriteFile(p, synth.Spec{
		Shape: synth.Shape{Name: "endless", Dim: 256, Layers: 4, Heads: 8, KVHeads: 4, FFN: 768,
			Vocab: len(v.Tokens), ContextLength: 4096, RopeBase: 10000},
		Type: gguf.TypeQ8_0, Seed: 1, Vocab: v,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startStudio runs both roles; model "" serves the demo model.
func startStudio(t *testing.T, model string, mutate ...func(*studio.Config)) *studioEnv {
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
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// The engine's debug lines say how each request finished.
	ilog := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	icfg := inference.DefaultConfig()
	icfg.Path = model
	// Personas may ask for replies of up to persona.MaxReplyTokensMax.
	icfg.MaxTokens = persona.MaxReplyTokensMax
	eng, err := inference.New(icfg, role.Deps{Logger: ilog.With("role", "inference"), DataDir: t.TempDir(), NATS: nc, Streams: streams})
	if err != nil {
		t.Fatal(err)
	}
	scfg := studio.DefaultConfig()
	scfg.KeyPrefix = prefix
	for _, m := range mutate {
		m(&scfg)
	}
	st, err := studio.New(scfg, role.Deps{Logger: log.With("role", "studio"), NATS: nc, Redis: rdb, Streams: streams})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range []role.Role{eng, st} {
		r.Routes(mux)
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		srv.Close()
	})
	for _, r := range []role.Role{eng, st} {
		for name, check := range r.Checks() {
			deadline := time.Now().Add(30 * time.Second)
			for check(t.Context()) != nil {
				if time.Now().After(deadline) {
					t.Fatalf("check %s not ready: %v", name, check(t.Context()))
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	pst, err := store.New(rdb, store.Config{Prefix: prefix}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cr, token, err := pst.CreateCreator(t.Context(), "Ada")
	if err != nil {
		t.Fatal(err)
	}
	ic, err := inferclient.New(nc, inferclient.Options{Namespace: streams.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	return &studioEnv{base: srv.URL, st: pst, token: token, owner: cr.ID, infer: ic, logs: logs, engine: eng}
}

func (e *studioEnv) wsURL() string { return "ws" + strings.TrimPrefix(e.base, "http") + studio.PathWS }

func (e *studioEnv) signIn(t *testing.T) *studiotest.Client {
	t.Helper()
	c := studiotest.Dial(t, e.wsURL(), nil)
	c.Must("auth", map[string]any{"token": e.token}, nil)
	return c
}

// running is how many sequences the engine runs or has waiting.
func (e *studioEnv) running(t *testing.T) int {
	t.Helper()
	s, err := e.infer.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return int(s.GetRunning() + s.GetWaiting())
}

// waitIdle polls the engine's stats until it runs no sequence, has none
// waiting and no sequence holds a KV block (the prefix cache may keep
// blocks nobody holds). A cancelled sequence ends within an engine step;
// the bound is for a machine busy with other work.
func (e *studioEnv) waitIdle(t *testing.T, why string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := e.infer.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		seqs, blocks := s.GetRunning()+s.GetWaiting(), s.GetKvBlocksUsed()
		if seqs == 0 && blocks == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the engine runs %d sequences holding %d KV blocks, want none", why, seqs, blocks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// finishedAs waits until the engine's log says how the preview with the
// given request id ended and returns its finish reason.
func (e *studioEnv) finishedAs(t *testing.T, id string) string {
	t.Helper()
	re := regexp.MustCompile(`msg="request finished".* request=studio-ws\d+-` + regexp.QuoteMeta(id) + ` finish=(\w+)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(e.logs.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine's log does not say how preview %s finished", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type studioPersona struct {
	ID        string `json:"id"`
	Revision  uint64 `json:"revision"`
	Published uint32 `json:"published"`
}

// studioCreate makes a persona replying with up to maxTokens tokens at
// the given temperature.
func studioCreate(t *testing.T, c *studiotest.Client, handle string, temperature float64, maxTokens int) studioPersona {
	t.Helper()
	var out struct {
		Persona studioPersona `json:"persona"`
	}
	c.Must("persona.create", map[string]any{"persona": map[string]any{
		"handle": handle, "name": "Luna",
		"instructions": "You are Luna, a cheerful astronomy guide. Keep answers short and friendly.",
		"greeting":     "Hi, I'm Luna! Ask me about the night sky.",
		"generation":   map[string]any{"temperature": temperature, "top_p": 1, "max_reply_tokens": maxTokens},
	}}, &out)
	return out.Persona
}

func hello(id string) map[string]any {
	return map[string]any{"persona_id": id, "messages": []map[string]string{{"role": "user", "content": "Tell me about the moon."}}}
}

type previewResult struct {
	FinishReason string `json:"finish_reason"`
	Usage        struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

func TestStudioPreviewPublishRollback(t *testing.T) {
	e := startStudio(t, "")
	c := e.signIn(t)
	p := studioCreate(t, c, "luna", 1, 48) // the demo model ends at once when greedy

	// Sampled at temperature 1 the demo model still ends at once now and
	// then (a few previews in a hundred): such a preview is retried.
	var (
		f        studiotest.Frame
		res      previewResult
		previews int
	)
	for previews < 5 {
		f = c.Call("preview.chat", hello(p.ID))
		f.Decode(t, &res)
		previews++
		if res.FinishReason != "stop" || res.Usage.CompletionTokens > 0 {
			break
		}
	}
	var text strings.Builder
	for _, ev := range f.Events {
		if ev.Event != "delta" {
			t.Fatalf("event %q in a preview", ev.Event)
		}
		var d struct{ Text string }
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		text.WriteString(d.Text)
	}
	if len(f.Events) == 0 || text.Len() == 0 || res.Usage.PromptTokens == 0 || res.Usage.CompletionTokens == 0 {
		t.Fatalf("preview streamed %d events (%q), result %+v", len(f.Events), text.String(), res)
	}
	if res.FinishReason != "stop" && res.FinishReason != "length" {
		t.Fatalf("finish reason %q", res.FinishReason)
	}

	// A conversation longer than the model's context, and a model the
	// service does not serve, are the creator's to fix.
	long := strings.Repeat("Tell me everything about the moon and the stars. ", 80)
	tooLong := []map[string]string{{"role": "user", "content": long}, {"role": "assistant", "content": long}, {"role": "user", "content": long}}
	c.Fail("preview.chat", map[string]any{"persona_id": p.ID, "messages": tooLong}, "prompt_too_long")
	var other struct {
		Persona studioPersona `json:"persona"`
	}
	c.Must("persona.create", map[string]any{"persona": map[string]any{"handle": "nova", "name": "Nova",
		"instructions": "You are Nova.", "generation": map[string]any{"temperature": 1, "top_p": 1, "max_reply_tokens": 32, "model": "no-such-model"}}}, &other)
	if bad := c.Fail("preview.chat", hello(other.Persona.ID), "invalid"); bad.Field("generation.model") == "" {
		t.Errorf("unknown model names no field: %+v", bad)
	}

	var pub struct {
		Persona studioPersona `json:"persona"`
		Version struct {
			Number uint32 `json:"number"`
		} `json:"version"`
	}
	c.Must("persona.publish", map[string]any{"persona_id": p.ID, "revision": p.Revision}, &pub)
	if pub.Version.Number != 1 || pub.Persona.Published != 1 {
		t.Fatalf("publish = %+v", pub)
	}
	// Publishing asks the engine to warm the prefix; a service without
	// the warm endpoint says UNSUPPORTED, which is logged, not an error.
	waitLog(t, e.logs, "prefix warm")
	c.Must("persona.publish", map[string]any{"persona_id": p.ID, "revision": pub.Persona.Revision}, &pub)
	var rb struct {
		Version struct{ Number, From uint32 } `json:"version"`
	}
	c.Must("persona.rollback", map[string]any{"persona_id": p.ID, "revision": pub.Persona.Revision, "version": 1}, &rb)
	if rb.Version.Number != 3 || rb.Version.From != 1 {
		t.Fatalf("rollback = %+v", rb)
	}

	var stats struct {
		Engine *struct {
			Ratio float64 `json:"prefix_cache_hit_ratio"`
		} `json:"engine"`
		Preview struct {
			Previews     int `json:"previews"`
			PromptTokens int `json:"prompt_tokens"`
		} `json:"preview"`
		Usage []any `json:"usage"`
	}
	c.Must("persona.stats", map[string]any{"persona_id": p.ID}, &stats)
	if stats.Engine == nil || stats.Preview.Previews != previews || stats.Preview.PromptTokens != previews*res.Usage.PromptTokens {
		t.Fatalf("stats = %+v", stats)
	}
}

func waitLog(t *testing.T, logs *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q:\n%s", want, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStudioCancelledPreviewFreesItsSequence(t *testing.T) {
	e := startStudio(t, slowModelFile(t), func(c *studio.Config) { c.MaxPreviews = 1 })
	c := e.signIn(t)
	// The longest reply a persona may ask for, so that it is still being
	// generated when the cancel arrives, even on a fast machine.
	p := studioCreate(t, c, "luna", 0, persona.MaxReplyTokensMax-100)

	id := c.NextID()
	c.Send(id, "preview.chat", hello(p.ID))
	c.WaitEvents(id, 1)
	if n := e.running(t); n != 1 {
		t.Fatalf("the engine runs %d sequences during a preview, want 1", n)
	}
	// One preview at a time on this connection, and ids stay unique.
	c.Fail("preview.chat", hello(p.ID), "limit")
	c.Send(id, "preview.chat", hello(p.ID))

	var cancelled struct{ Cancelled bool }
	c.Must("preview.cancel", map[string]any{"target": id}, &cancelled)
	if !cancelled.Cancelled {
		t.Fatal("preview.cancel found no preview")
	}
	// Two answers carry the id: the duplicate's refusal and the preview's
	// end, in either order.
	for range 2 {
		f := c.Await(id)
		switch {
		case f.Error != nil && f.Error.Code == "duplicate_id":
		case f.Error == nil:
			var res previewResult
			f.Decode(t, &res)
			if res.FinishReason != "cancelled" {
				t.Fatalf("cancelled preview ended %q", res.FinishReason)
			}
		default:
			t.Fatalf("answer %+v", f.Error)
		}
	}
	e.waitIdle(t, "after preview.cancel")
	if why := e.finishedAs(t, id); why != "cancelled" {
		t.Fatalf("the engine ended the cancelled preview with %q", why)
	}

	// Closing the connection mid-preview frees the sequence too.
	c2 := e.signIn(t)
	id2 := c2.NextID()
	c2.Send(id2, "preview.chat", hello(p.ID))
	c2.WaitEvents(id2, 1)
	_ = c2.WS.Close()
	e.waitIdle(t, "after the browser went away")
}

// TestStudioPreviewCancelRightBehindIt: a browser that sends
// preview.cancel right behind its preview.chat, before any answer or
// event, finds the preview running: the studio takes a preview's place in
// the order it reads the frames, not when the preview's goroutine runs.
func TestStudioPreviewCancelRightBehindIt(t *testing.T) {
	e := startStudio(t, slowModelFile(t), func(c *studio.Config) { c.MaxPreviews = 1 })
	c := e.signIn(t)
	p := studioCreate(t, c, "luna", 0, persona.MaxReplyTokensMax-100)
	for range 10 {
		id, cid := c.NextID(), c.NextID()
		c.Send(id, "preview.chat", hello(p.ID))
		c.Send(cid, "preview.cancel", map[string]any{"target": id})
		var cancelled struct{ Cancelled bool }
		c.Await(cid).Decode(t, &cancelled)
		if !cancelled.Cancelled {
			t.Fatal("preview.cancel right behind preview.chat found no preview")
		}
		var res previewResult
		c.Await(id).Decode(t, &res)
		if res.FinishReason != "cancelled" {
			t.Fatalf("cancelled preview ended %q", res.FinishReason)
		}
		e.waitIdle(t, "after preview.cancel")
	}
}

func TestStudioSlowPreviewReaderIsDropped(t *testing.T) {
	e := startStudio(t, slowModelFile(t), func(c *studio.Config) {
		// The reply's text must be more than the kernel buffers between
		// the studio and the browser, and the queue, can hold, even when
		// a busy machine merges its tokens into few large deltas: hence
		// the longest reply a persona may ask for.
		c.SendQueue, c.SocketBuffer = 16, 4096
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(e.logs.String())
		}
	})
	fast := e.signIn(t)
	long := studioCreate(t, fast, "slowpoke", 0, 4000)
	short := studioCreate(t, fast, "quick", 0, 32)

	// The slow browser's socket takes almost nothing into its kernel
	// buffer, and it stops reading once its preview starts.
	dialer := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
			return errors.Join(err, serr)
		}}
		return d.Dial(network, addr)
	}}
	ws, _, err := dialer.Dial(e.wsURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, req := range []map[string]any{
		{"id": "1", "op": "auth", "token": e.token},
		{"id": "2", "op": "preview.chat", "persona_id": long.ID, "messages": []map[string]string{{"role": "user", "content": "Tell me about the moon."}}},
	} {
		if err := ws.WriteJSON(req); err != nil {
			t.Fatal(err)
		}
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ws.ReadMessage(); err != nil { // the auth answer
		t.Fatal(err)
	}

	// Another browser's preview runs beside it and finishes.
	var res previewResult
	fast.Must("preview.chat", hello(short.ID), &res)
	if res.FinishReason != "stop" && res.FinishReason != "length" {
		t.Fatalf("the other preview ended %q", res.FinishReason)
	}
	// The slow browser is dropped, and its sequence with it.
	waitLog(t, e.logs, "too slow")
	e.waitIdle(t, "after the slow browser was dropped")
	fast.Must("persona.list", nil, nil)
}
