package inference

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/engine"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// BenchmarkGenerate measures what each API adds to a generation: the same
// greedy 128-token request on stories260K (so fast that the transport
// shows) in process, through the NATS service (an in-process nats-server
// unless NATS_URL is set) and as OpenAI server-sent events. Compare the
// tokens/s of the three.
//
//	go test -run '^$' -bench Generate -benchtime 20x ./services/inference/
func BenchmarkGenerate(b *testing.B) {
	f := start(b, testConfig(storiesModel(b)), "", "")
	const maxTokens = 128
	req := engine.Request{Input: engine.Input{IDs: []int32{1}}, Sampling: seeded(0, 0, maxTokens)}
	wire := &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_PromptTokens{PromptTokens: &corralv1.TokenIDs{Ids: []int32{1}}},
		Sampling: &corralv1.SamplingOptions{Temperature: ptr[float32](0), MaxTokens: ptr[int32](maxTokens)}}
	tokens := func(b *testing.B, n int) {
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tokens/s")
	}
	b.Run("engine", func(b *testing.B) {
		n := 0
		for b.Loop() {
			s, err := f.r.Engine().Submit(b.Context(), req)
			if err != nil {
				b.Fatal(err)
			}
			n += s.Collect().Final.Usage.CompletionTokens
		}
		tokens(b, n)
	})
	b.Run("nats", func(b *testing.B) {
		n := 0
		for b.Loop() {
			s, err := f.client.Generate(b.Context(), wire)
			if err != nil {
				b.Fatal(err)
			}
			for {
				ev, err := s.Recv()
				if err != nil {
					b.Fatal(err)
				}
				if ev.GetFinishReason() != corralv1.FinishReason_FINISH_REASON_UNSPECIFIED {
					n += int(ev.GetUsage().GetCompletionTokens())
					break
				}
			}
		}
		tokens(b, n)
	})
	b.Run("openai-sse", func(b *testing.B) {
		base := serveHTTP(b, f.r)
		body := `{"prompt":[1],"temperature":0,"max_tokens":128,"stream":true}`
		n := 0
		for b.Loop() {
			resp, err := http.Post(base+"/v1/completions", "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			out, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !strings.HasSuffix(string(out), "data: [DONE]\n\n") {
				b.Fatalf("%v: %s", err, out)
			}
			n += maxTokens
		}
		tokens(b, n)
	})
}
