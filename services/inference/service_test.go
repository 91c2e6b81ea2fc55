package inference

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/corral-ai/corral/inference/engine"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/inferclient"
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
// way: seq counts from 0, only the last event has a finish reason.
func collect(t *testing.T, s *inferclient.Stream) collected {
	t.Helper()
	var c collected
	var text strings.Builder
	for {
		ev, err := s.Recv()
		if err == io.EOF {
			break
		}
		if ev == nil {
			c.err = err
			break
		}
		if ev.GetSeq() != uint32(c.events) {
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
	long := &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_Prompt{Prompt: "once upon a time"},
		Sampling: &corralv1.SamplingOptions{Temperature: ptr[float32](1), Seed: ptr[uint64](3), MaxTokens: ptr[int32](2000)}}
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
			if e.Stats().Running != 1 {
				t.Fatalf("stats %+v right after the client went: want the sequence running", e.Stats())
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
