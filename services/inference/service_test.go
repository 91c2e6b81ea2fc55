package inference

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/protobuf/proto"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/tokenizer"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/inferclient"
	"github.com/corral-ai/corral/services/internal/natstest"
)

// collected is a whole stream as a client saw it.
type collected struct {
	text   string
	tokens []int32
	final  *corralv1.GenerateEvent
	events int
	err    error
}

// collect reads a stream to its end, checking the event contract on the
// way: seq counts up by one, only the last event has a finish reason.
func collect(t *testing.T, s *inferclient.Stream) collected {
	t.Helper()
	var c collected
	var text strings.Builder
	var first uint32
	for {
		ev, err := s.Recv()
		if err == io.EOF {
			break
		}
		if ev == nil {
			c.err = err
			break
		}
		if c.events == 0 {
			first = ev.GetSeq()
		}
		if ev.GetSeq() != first+uint32(c.events) {
			t.Fatalf("event %d has seq %d", c.events, ev.GetSeq())
		}
		c.events++
		text.WriteString(ev.GetText())
		c.tokens = append(c.tokens, ev.GetTokenIds()...)
		if ev.GetFinishReason() != corralv1.FinishReason_FINISH_REASON_UNSPECIFIED {
			c.final, c.err = ev, err
		} else if err != nil {
			t.Fatalf("error %v on a non-final event", err)
		}
	}
	c.text = text.String()
	return c
}

func generate(t *testing.T, c *inferclient.Client, req *corralv1.GenerateRequest) collected {
	t.Helper()
	s, err := c.Generate(t.Context(), req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	defer s.Close()
	return collect(t, s)
}

func ptr[T any](v T) *T { return &v }

// TestGenerateMatchesEngine: the NATS service streams the tokens, the text,
// the finish reason and the counts the in-process engine gives for the same
// request, greedy and seeded.
func TestGenerateMatchesEngine(t *testing.T) {
	storiesF := start(t, testConfig(storiesModel(t)), "", "")
	demoF := start(t, testConfig(demoModel(t)), storiesF.url, "")
	tests := []struct {
		name   string
		f      *fixture
		wire   *corralv1.GenerateRequest
		direct engine.Request
	}{
		{"stories greedy token prompt", storiesF,
			&corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_PromptTokens{PromptTokens: &corralv1.TokenIDs{Ids: []int32{1}}},
				Sampling: &corralv1.SamplingOptions{Temperature: ptr[float32](0), MaxTokens: ptr[int32](200)}},
			engine.Request{Input: engine.Input{IDs: []int32{1}}, Sampling: seeded(0, 0, 200)}},
		{"stories seeded", storiesF,
			&corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_PromptTokens{PromptTokens: &corralv1.TokenIDs{Ids: []int32{1, 403, 411}}},
				Sampling: &corralv1.SamplingOptions{Temperature: ptr[float32](1), TopP: ptr[float32](1), Seed: ptr[uint64](42), MaxTokens: ptr[int32](150)}},
			engine.Request{Input: engine.Input{IDs: []int32{1, 403, 411}}, Sampling: seeded(1, 42, 150)}},
		{"demo chat seeded with stop string", demoF,
			&corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_Chat{Chat: &corralv1.ChatTurns{Turns: []*corralv1.ChatTurn{
				{Role: corralv1.ChatRole_CHAT_ROLE_SYSTEM, Content: "You are terse."},
				{Role: corralv1.ChatRole_CHAT_ROLE_USER, Content: "Tell me about the sea."}}}},
				Sampling: &corralv1.SamplingOptions{Temperature: ptr[float32](0.9), TopP: ptr[float32](1), Seed: ptr[uint64](7), MaxTokens: ptr[int32](120), Stop: []string{"zzz-never"}}},
			engine.Request{Input: engine.Input{Chat: []engine.Turn{{Role: engine.System, Content: "You are terse."}, {Role: engine.User, Content: "Tell me about the sea."}}},
				Sampling: withStop(seeded(0.9, 7, 120), "zzz-never")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := direct(t, tt.f.r, tt.direct)
			got := generate(t, tt.f.client, tt.wire)
			if got.err != nil {
				t.Fatalf("stream error: %v", got.err)
			}
			if !slices.Equal(got.tokens, want.Tokens) || got.text != want.Text {
				t.Fatalf("NATS gave %d tokens %q,\nthe engine %d tokens %q", len(got.tokens), got.text, len(want.Tokens), want.Text)
			}
			f := got.final
			wantFinish, _ := finishOf(want.Final)
			if f.GetFinishReason() != wantFinish || f.GetUsage().GetCompletionTokens() != int32(want.Final.Usage.CompletionTokens) ||
				f.GetUsage().GetPromptTokens() != int32(want.Final.Usage.PromptTokens) || f.GetModel() != tt.f.r.ModelID() ||
				f.GetRequestId() == "" || f.GetTimings().GetTotal().AsDuration() <= 0 {
				t.Errorf("final event %v; the engine's %+v", f, want.Final)
			}
			if tt.wire.GetSampling().Seed != nil && f.GetSeed() != tt.wire.GetSampling().GetSeed() {
				t.Errorf("seed %d, want %d", f.GetSeed(), tt.wire.GetSampling().GetSeed())
			}
			if len(got.tokens) == 0 {
				t.Error("no tokens generated")
			}
		})
	}
}

// TestGenerateVanishedClient: a client that goes away mid-stream has its
// sequence cancelled within a second or two, long before the reply would
// have ended (about eight seconds of generation).
func TestGenerateVanishedClient(t *testing.T) {
	f := start(t, testConfig(slowModel(t)), "", "")
	long := long(2000)
	tests := []struct {
		name   string
		reason string
		vanish func(t *testing.T) // starts the stream, reads a little, goes away
	}{
		{"connection closed", goneNoResponders, func(t *testing.T) {
			nc := connect(t, f.url)
			s, err := newClient(t, nc, f.ns, inferclient.Options{}).Generate(t.Context(), long)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			nc.Close()
		}},
		{"hung: subscribed but silent", goneProbeTimeout, func(t *testing.T) {
			msgs := raw(t, f.nc, f.subject(corralv1.SubjectInferenceGenerate), long, 8)
			probe := <-msgs
			if probe.Header.Get(corralv1.HeaderProbe) == "" {
				t.Fatalf("first message is not the accepting probe: %v", probe.Header)
			}
			if err := probe.Respond(nil); err != nil {
				t.Fatal(err)
			}
			// From here on nothing is answered: no credit, no probe.
			waitFor(t, 5*time.Second, "events flow", func() bool { return len(msgs) > 0 })
		}},
		{"context cancelled", goneCancelled, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			s, err := f.client.Generate(ctx, long)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			cancel()
			if _, err := s.Recv(); !errors.Is(err, context.Canceled) {
				t.Errorf("Recv after cancel = %v", err)
			}
		}},
		{"closed", goneCancelled, func(t *testing.T) {
			s, err := f.client.Generate(t.Context(), long)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if _, err := s.Recv(); !errors.Is(err, inferclient.ErrClosed) {
				t.Errorf("Recv after Close = %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := f.r.Engine()
			before := e.Stats().Completed
			goneBefore := counter(t, "corral_inference_clients_gone", attribute.String("reason", tt.reason))
			tt.vanish(t)
			// Still running, or already ended: a cancel can free it within
			// one step (milliseconds), long before its natural end.
			if st := e.Stats(); st.Running != 1 && st.Completed != before+1 {
				t.Fatalf("stats %+v right after the client went: want the sequence running or just ended", st)
			}
			gone := time.Now()
			waitFor(t, 4*time.Second, "the sequence ends", func() bool {
				st := e.Stats()
				return st.Running == 0 && st.Completed == before+1
			})
			t.Logf("sequence gone %v after the client", time.Since(gone))
			waitFor(t, time.Second, "the gone client is counted", func() bool {
				return counter(t, "corral_inference_clients_gone", attribute.String("reason", tt.reason)) == goneBefore+1
			})
		})
	}
}

// TestGenerateCancelledBeforeFirstToken: a caller that gives up before it
// has read a single event, at each point of a stream's start, costs the
// replica its sequence only until the service hears of it (a cancel, or
// the first probe finding nobody): then the engine runs nothing, has
// nothing waiting and no sequence holds a KV block. A caller whose context
// ended before Generate sends nothing at all.
func TestGenerateCancelledBeforeFirstToken(t *testing.T) {
	f := start(t, testConfig(slowModel(t)), "", "")
	long := long(2000)
	// vanish publishes the request as a bare client and goes away before
	// the service can have accepted it, leaving nobody on the inbox.
	vanish := func(t *testing.T, leave func(nc *nats.Conn, sub *nats.Subscription)) {
		nc := connect(t, f.url)
		inbox := nc.NewInbox()
		sub, err := nc.Subscribe(inbox, func(*nats.Msg) {})
		if err != nil {
			t.Fatal(err)
		}
		data, err := proto.Marshal(long)
		if err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg(f.subject(corralv1.SubjectInferenceGenerate))
		m.Reply, m.Data = inbox, data
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		leave(nc, sub) // in the same write as the request, so before the first probe
	}
	tests := []struct {
		name string
		// reason is the gone reason the service counts, "" when the
		// request must not reach it.
		reason string
		cancel func(t *testing.T)
	}{
		{"context ended before Generate", "", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if s, err := f.client.Generate(ctx, long); !errors.Is(err, context.Canceled) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Generate with an ended context = %v, want context.Canceled", err)
			}
		}},
		{"unsubscribed before the service accepted", goneNoResponders, func(t *testing.T) {
			vanish(t, func(_ *nats.Conn, sub *nats.Subscription) { _ = sub.Unsubscribe() })
		}},
		{"connection closed before the service accepted", goneNoResponders, func(t *testing.T) {
			vanish(t, func(nc *nats.Conn, _ *nats.Subscription) { nc.Close() })
		}},
		{"context ended right after acceptance", goneCancelled, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			s, err := f.client.Generate(ctx, long)
			if err != nil {
				t.Fatal(err)
			}
			cancel()
			if ev, err := s.Recv(); ev != nil || !errors.Is(err, context.Canceled) {
				t.Errorf("Recv after cancel = %v, %v", ev, err)
			}
		}},
		{"closed right after acceptance", goneCancelled, func(t *testing.T) {
			s, err := f.client.Generate(t.Context(), long)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			if ev, err := s.Recv(); ev != nil || !errors.Is(err, inferclient.ErrClosed) {
				t.Errorf("Recv after Close = %v, %v", ev, err)
			}
		}},
	}
	handled := func() int {
		for _, ep := range f.r.svc.Load().svc.Stats().Endpoints {
			if ep.Name == corralv1.InferenceEndpointGenerate {
				return ep.NumRequests
			}
		}
		t.Fatal("no generate endpoint in the service's stats")
		return 0
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := f.r.Engine()
			before, requests := e.Stats().Completed, handled()
			goneBefore := counter(t, "corral_inference_clients_gone", attribute.String("reason", tt.reason))
			tt.cancel(t)
			if tt.reason == "" {
				// Requests are handled in the order they arrive: once a
				// later one is answered, an earlier one would have been.
				short := proto.CloneOf(long)
				short.Sampling.MaxTokens = ptr[int32](4)
				if c := generate(t, f.client, short); c.err != nil {
					t.Fatal(c.err)
				}
				if n := handled(); n != requests+1 {
					t.Fatalf("the service handled %d generate requests, want 1 (the later one only)", n-requests)
				}
				return
			}
			gone := time.Now()
			waitFor(t, 4*time.Second, "the engine idle again", func() bool {
				st := e.Stats()
				return st.Running == 0 && st.Waiting == 0 && st.KV.Used == 0 && st.Completed == before+1
			})
			t.Logf("sequence gone %v after the client", time.Since(gone))
			waitFor(t, time.Second, "the gone client is counted", func() bool {
				return counter(t, "corral_inference_clients_gone", attribute.String("reason", tt.reason)) == goneBefore+1
			})
		})
	}
}

// TestModelsStatsWarm: the unary endpoints.
func TestModelsStatsWarm(t *testing.T) {
	f := start(t, testConfig(demoModel(t)), "", "")
	models, err := f.client.Models(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(models.GetModels()) != 1 {
		t.Fatalf("models %v", models)
	}
	m := models.GetModels()[0]
	if m.GetId() != f.r.ModelID() || m.GetArchitecture() != "llama" || m.GetParameters() == 0 || m.GetQuantization() != "Q8_0" ||
		m.GetContextLength() != 2048 || m.GetVocabSize() == 0 || !m.GetHasChatTemplate() || m.GetChatTemplate() == "" ||
		m.GetTokenizer() != "SentencePiece" || m.GetFileSize() == 0 || m.GetDemo() {
		t.Errorf("model info %v", m)
	}

	if c := generate(t, f.client, &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_Prompt{Prompt: "count"},
		Sampling: &corralv1.SamplingOptions{Seed: ptr[uint64](1), MaxTokens: ptr[int32](20)}}); len(c.tokens) == 0 {
		t.Fatalf("no tokens: %v", c.final)
	}
	st, err := f.client.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.GetRequestsTotal() != f.r.Engine().Stats().Completed || st.GetRequestsTotal() == 0 || st.GetRunning() != 0 || st.GetWaiting() != 0 ||
		st.GetTokensPerSecond() <= 0 || st.GetModel().GetId() != f.r.ModelID() || st.GetInstanceId() == "" || st.GetQueueCapacity() != int32(f.r.cfg.QueueSize) {
		t.Errorf("stats %v", st)
	}

	warmTests := []struct {
		name string
		req  *corralv1.WarmRequest
		want error
	}{
		{"system prompt", &corralv1.WarmRequest{Input: &corralv1.WarmRequest_Chat{Chat: &corralv1.ChatTurns{Turns: []*corralv1.ChatTurn{
			{Role: corralv1.ChatRole_CHAT_ROLE_SYSTEM, Content: "You are a pirate."}, {Role: corralv1.ChatRole_CHAT_ROLE_USER, Content: "hi"}}}}}, nil},
		{"text shorter than a block", &corralv1.WarmRequest{Input: &corralv1.WarmRequest_Prompt{Prompt: "a persona"}}, nil},
		{"no prefix", &corralv1.WarmRequest{}, inferclient.ErrInvalidRequest},
		{"unknown model", &corralv1.WarmRequest{Model: "x", Input: &corralv1.WarmRequest_Prompt{Prompt: "a"}}, inferclient.ErrModelNotFound},
		{"too long", &corralv1.WarmRequest{Input: &corralv1.WarmRequest_PromptTokens{PromptTokens: &corralv1.TokenIDs{Ids: make([]int32, 3000)}}}, inferclient.ErrPromptTooLong},
	}
	for _, tt := range warmTests {
		t.Run("warm "+tt.name, func(t *testing.T) {
			if _, err := f.client.Warm(t.Context(), tt.req); !errors.Is(err, tt.want) {
				t.Fatalf("Warm = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("warm then generate", func(t *testing.T) {
		system := &corralv1.ChatTurn{Role: corralv1.ChatRole_CHAT_ROLE_SYSTEM,
			Content: "You are Captain Corral, a cheerful pirate who answers every question about the sea in two short sentences."}
		user := func(text string) *corralv1.ChatTurn {
			return &corralv1.ChatTurn{Role: corralv1.ChatRole_CHAT_ROLE_USER, Content: text}
		}
		w, err := f.client.Warm(t.Context(), &corralv1.WarmRequest{Input: &corralv1.WarmRequest_Chat{Chat: &corralv1.ChatTurns{Turns: []*corralv1.ChatTurn{system, user("hi")}}}})
		if err != nil {
			t.Fatal(err)
		}
		if w.GetCachedTokens() < 16 || w.GetCachedTokens() > w.GetPromptTokens() || w.GetComputedTokens() != w.GetCachedTokens() || w.GetTook().AsDuration() <= 0 {
			t.Fatalf("warm %v", w)
		}
		c := generate(t, f.client, &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_Chat{Chat: &corralv1.ChatTurns{Turns: []*corralv1.ChatTurn{system, user("where is the treasure?")}}},
			Sampling: &corralv1.SamplingOptions{Seed: ptr[uint64](1), MaxTokens: ptr[int32](5)}})
		if got := c.final.GetUsage().GetCachedPromptTokens(); got < 16 {
			t.Fatalf("cached prompt tokens %d after warming %d", got, w.GetCachedTokens())
		}
		st, err := f.client.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.GetKvBlocksTotal() == 0 || st.GetPrefixCacheHitRatio() <= 0 || st.GetPrefixCacheHitRatio() > 1 || st.GetKvBlocksUsed() != 0 {
			t.Fatalf("stats %v", st)
		}
	})
	t.Run("undecodable stats request", func(t *testing.T) {
		resp, err := f.nc.Request(f.subject(corralv1.SubjectInferenceStats), []byte{0xff}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Nats-Service-Error-Code") != "1" {
			t.Errorf("headers %v", resp.Header)
		}
	})
}

// TestNoService: with no replica on the subject the client fails fast.
func TestNoService(t *testing.T) {
	url := natstest.URL(t)
	c := newClient(t, connect(t, url), natstest.Name(t), inferclient.Options{})
	t0 := time.Now()
	_, err := c.Generate(t.Context(), &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_Prompt{Prompt: "hi"}})
	if !errors.Is(err, inferclient.ErrNoService) || !inferclient.Retryable(err) {
		t.Fatalf("Generate = %v, want ErrNoService", err)
	}
	if _, err := c.Models(t.Context()); !errors.Is(err, inferclient.ErrNoService) {
		t.Fatalf("Models = %v, want ErrNoService", err)
	}
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("took %v", took)
	}
}

// TestReplicasShareWork: two replicas in one queue group each take part of
// the requests.
func TestReplicasShareWork(t *testing.T) {
	a := start(t, testConfig(demoModel(t)), "", "")
	b := start(t, testConfig(demoModel(t)), a.url, a.ns)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := a.client.Generate(t.Context(), &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_Prompt{Prompt: "hello"},
				Sampling: &corralv1.SamplingOptions{Seed: ptr(uint64(i)), MaxTokens: ptr[int32](8)}})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			for {
				ev, err := s.Recv()
				if err != nil {
					errs <- err
					return
				}
				if ev.GetFinishReason() != corralv1.FinishReason_FINISH_REASON_UNSPECIFIED {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	na, nb := a.r.Engine().Stats().Completed, b.r.Engine().Stats().Completed
	if na+nb != n || na == 0 || nb == 0 {
		t.Fatalf("replicas ran %d and %d of %d requests; want both some", na, nb, n)
	}
	t.Logf("replicas ran %d and %d", na, nb)
}

// TestTraceContext: the client's span parents the service's, which parents
// the engine's.
func TestTraceContext(t *testing.T) {
	f := start(t, testConfig(demoModel(t)), "", "")
	ctx, root := tracers.Tracer("test").Start(t.Context(), "test root")
	s, err := f.client.Generate(ctx, &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_Prompt{Prompt: "hi"},
		Sampling: &corralv1.SamplingOptions{MaxTokens: ptr[int32](4)}})
	if err != nil {
		t.Fatal(err)
	}
	collect(t, s)
	root.End()
	byName := map[string]sdktrace.ReadOnlySpan{}
	waitFor(t, 5*time.Second, "the spans end", func() bool {
		for _, sp := range spans.Ended() {
			if sp.SpanContext().TraceID() == root.SpanContext().TraceID() {
				key := sp.Name() + "/" + sp.SpanKind().String()
				byName[key] = sp
			}
		}
		return byName["engine.generate/internal"] != nil && byName["inference.generate/server"] != nil
	})
	client, server, eng := byName["inference.generate/client"], byName["inference.generate/server"], byName["engine.generate/internal"]
	if client == nil || client.Parent().SpanID() != root.SpanContext().SpanID() {
		t.Fatalf("client span %v does not descend from the root", client)
	}
	if server.Parent().SpanID() != client.SpanContext().SpanID() || !server.Parent().IsRemote() {
		t.Errorf("server span's parent %v, want the client span %v", server.Parent(), client.SpanContext())
	}
	if eng.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("engine span's parent %v, want the server span", eng.Parent())
	}
}

// TestSupersede: a newer request with the same conversation key cancels
// the older one, whose stream ends with ErrSuperseded.
func TestSupersede(t *testing.T) {
	f := start(t, testConfig(slowModel(t)), "", "")
	req := func(max int32) *corralv1.GenerateRequest {
		r := long(max)
		r.ConversationKey = "whatsapp.1.2"
		return r
	}
	old, err := f.client.Generate(t.Context(), req(2000))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := old.Recv(); err != nil {
		t.Fatal(err)
	}
	newer := generate(t, f.client, req(5))
	if newer.err != nil || newer.final.GetUsage().GetCompletionTokens() == 0 {
		t.Fatalf("newer request: %v %v", newer.err, newer.final)
	}
	c := collect(t, old)
	if !errors.Is(c.err, inferclient.ErrSuperseded) || c.final.GetFinishReason() != corralv1.FinishReason_FINISH_REASON_CANCELLED {
		t.Fatalf("older request ended with %v, %v; want CANCELLED, ErrSuperseded", c.err, c.final)
	}
	if inferclient.Retryable(c.err) {
		t.Error("superseded is retryable")
	}
}

// TestStalledService: a replica that drops off NATS mid-stream leaves its
// client with ErrStalled after its stall timeout, and its sequence is
// cancelled when it notices.
func TestStalledService(t *testing.T) {
	f := start(t, testConfig(slowModel(t)), "", "")
	c := newClient(t, connect(t, f.url), f.ns, inferclient.Options{StallTimeout: time.Second})
	s, err := c.Generate(t.Context(), long(2000))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	f.nc.Close()
	t0 := time.Now()
	for {
		_, err := s.Recv()
		if err == nil {
			continue
		}
		if !errors.Is(err, inferclient.ErrStalled) || !inferclient.Retryable(err) {
			t.Fatalf("Recv = %v, want ErrStalled", err)
		}
		break
	}
	if took := time.Since(t0); took > 3*time.Second {
		t.Errorf("stall noticed after %v", took)
	}
	waitFor(t, 3*time.Second, "the orphaned sequence ends", func() bool { return f.r.Engine().Stats().Running == 0 })
}

// TestShutdown: at shutdown a generation in flight finishes within the
// drain time; one that would run longer is cancelled, and its client is
// told to retry elsewhere (ERROR_CODE_UNAVAILABLE).
func TestShutdown(t *testing.T) {
	tests := []struct {
		name  string
		drain time.Duration
		want  error
	}{
		{"finishes", 30 * time.Second, nil},
		{"cancelled past the drain time", 100 * time.Millisecond, inferclient.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, testConfig(slowModel(t)), "", "", func(r *Role) { r.drain = tt.drain })
			s, err := f.client.Generate(t.Context(), long(400))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			stopped := make(chan struct{})
			go func() { f.stop(); close(stopped) }()
			c := collect(t, s)
			finished := c.final.GetFinishReason() == corralv1.FinishReason_FINISH_REASON_LENGTH
			if !errors.Is(c.err, tt.want) || (tt.want == nil) != finished {
				t.Fatalf("stream ended with %v, %v; want %v", c.err, c.final, tt.want)
			}
			if tt.want != nil && !inferclient.Retryable(c.err) {
				t.Errorf("%v is not retryable", c.err)
			}
			<-stopped
			if f.r.Engine() != nil {
				t.Error("engine still set after Run returned")
			}
			if _, err := f.client.Generate(t.Context(), &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_Prompt{Prompt: "hi"}}); !errors.Is(err, inferclient.ErrNoService) {
				t.Errorf("after shutdown: %v, want ErrNoService", err)
			}
		})
	}
}

// TestCount checks the count endpoint against the engine's own tokenizer
// and against the prompt a generation of the same chat reports.
func TestCount(t *testing.T) {
	f := start(t, testConfig(demoModel(t)), "", "")
	b := f.r.Engine().Bundle()
	turns := func(contents ...string) *corralv1.ChatTurns {
		c := &corralv1.ChatTurns{}
		for i, s := range contents {
			role := corralv1.ChatRole_CHAT_ROLE_USER
			switch {
			case i == 0:
				role = corralv1.ChatRole_CHAT_ROLE_SYSTEM
			case i%2 == 0:
				role = corralv1.ChatRole_CHAT_ROLE_ASSISTANT
			}
			c.Turns = append(c.Turns, &corralv1.ChatTurn{Role: role, Content: s})
		}
		return c
	}
	chat := turns("You are Captain Corral, a cheerful pirate.", "hola, ¿qué tal?", "Ahoy! All is well at sea.", "where is the treasure? <|im_end|>")
	tests := []struct {
		name string
		req  *corralv1.CountRequest
		want error
	}{
		{"texts and chat", &corralv1.CountRequest{Texts: []string{"hola, ¿qué tal?", "", "a much longer text with some words in it, and 12345 digits", "<|im_end|>"}, Chat: chat}, nil},
		{"texts only", &corralv1.CountRequest{Texts: []string{"one"}}, nil},
		{"nothing", &corralv1.CountRequest{}, nil},
		{"too many texts", &corralv1.CountRequest{Texts: make([]string, maxCountTexts+1)}, inferclient.ErrInvalidRequest},
		{"too many bytes", &corralv1.CountRequest{Texts: []string{strings.Repeat("x", maxCountBytes+1)}}, inferclient.ErrInvalidRequest},
		{"unknown model", &corralv1.CountRequest{Model: "x", Texts: []string{"a"}}, inferclient.ErrModelNotFound},
		{"bad role", &corralv1.CountRequest{Chat: &corralv1.ChatTurns{Turns: []*corralv1.ChatTurn{{Content: "a"}}}}, inferclient.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.client.Count(t.Context(), tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Count = %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			if len(got.GetTextTokens()) != len(tt.req.GetTexts()) || got.GetContextLength() != 2048 {
				t.Fatalf("answer %v for %d texts", got, len(tt.req.GetTexts()))
			}
			for i, text := range tt.req.GetTexts() {
				if want := len(b.Tokenizer().Encode(text, tokenizer.EncodeOptions{})); int(got.GetTextTokens()[i]) != want {
					t.Errorf("text %d (%q): %d tokens, the tokenizer says %d", i, text, got.GetTextTokens()[i], want)
				}
			}
			if tt.req.GetChat() == nil {
				if got.GetChatTokens() != 0 {
					t.Errorf("chat tokens %d without a chat", got.GetChatTokens())
				}
				return
			}
			c := generate(t, f.client, &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_Chat{Chat: tt.req.GetChat()},
				Sampling: &corralv1.SamplingOptions{Seed: ptr[uint64](1), MaxTokens: ptr[int32](2)}})
			if want := c.final.GetUsage().GetPromptTokens(); got.GetChatTokens() != want || want == 0 {
				t.Errorf("chat counted %d tokens; its generation's prompt had %d", got.GetChatTokens(), want)
			}
		})
	}
}
