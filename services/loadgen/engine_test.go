package loadgen

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeEngine streams 5 tokens: the first after 40ms, then one every 10ms,
// in OpenAI's event shapes; every third request of a level is refused
// with 429 when overload is set.
func fakeEngine(t *testing.T, overload bool) (string, *atomic.Int64) {
	var n atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"object":"list","data":[{"id":"fake-model","object":"model"}]}`)
	})
	stream := func(w http.ResponseWriter, r *http.Request, chat bool) {
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req["model"] != "fake-model" || req["stream"] != true {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		if _, ok := req["messages"]; ok != chat {
			http.Error(w, `{"error":{"message":"wrong endpoint"}}`, http.StatusBadRequest)
			return
		}
		if overload && n.Add(1)%3 == 0 {
			http.Error(w, `{"error":{"message":"busy"}}`, http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		time.Sleep(40 * time.Millisecond)
		for i := range 5 {
			if i > 0 {
				time.Sleep(10 * time.Millisecond)
			}
			if chat {
				fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"t%d \"}}]}\n\n", i)
			} else {
				fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"text\":\"t%d \"}]}\n\n", i)
			}
			f.Flush()
		}
		fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":5}}\n\ndata: [DONE]\n\n")
	}
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { stream(w, r, true) })
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) { stream(w, r, false) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// TestEngineMode checks the levels and what each measures against a
// server of known timing: time to first token at least 40ms, a whole
// request at least 80ms (four more tokens 10ms apart), five tokens a
// request, and latency = TTFT + 4 × TPOT. Only lower bounds on times: a
// busy machine can make the server slower, never faster.
func TestEngineMode(t *testing.T) {
	for _, api := range []string{"chat", "completions"} {
		t.Run(api, func(t *testing.T) {
			url, _ := fakeEngine(t, false)
			rep, err := RunEngine(t.Context(), EngineSpec{URL: url, Concurrency: 5, Requests: 6, MaxTokens: 5, API: api}, BuiltinCorpus(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, l := range rep.Engine.Levels {
				got = append(got, l.Concurrency)
				if l.Requests != max(6, l.Concurrency) || l.Errors != 0 || l.OutputTokens != 5*l.Requests || l.TTFT.Count != int64(l.Requests) {
					t.Errorf("level %+v", l)
				}
				if l.TTFT.P50 < 40 || l.TPOT.P50 <= 0 || l.Latency.P50 < 80 || l.TokensPerS <= 0 {
					t.Errorf("level %d: ttft %v tpot %v latency %v", l.Concurrency, l.TTFT.P50, l.TPOT.P50, l.Latency.P50)
				}
				// Per request, latency = TTFT + 4 × TPOT; so are the means.
				if sum := l.TTFT.Mean + 4*l.TPOT.Mean; math.Abs(sum-l.Latency.Mean) > 0.02*l.Latency.Mean {
					t.Errorf("level %d: mean ttft %v + 4 × tpot %v != latency %v", l.Concurrency, l.TTFT.Mean, l.TPOT.Mean, l.Latency.Mean)
				}
			}
			if fmt.Sprint(got) != "[1 2 4 5]" || rep.Engine.Model != "fake-model" {
				t.Errorf("levels %v, model %q", got, rep.Engine.Model)
			}
		})
	}
}

func TestEngineModeCountsRefusals(t *testing.T) {
	url, _ := fakeEngine(t, true)
	rep, err := RunEngine(t.Context(), EngineSpec{URL: url + "/v1", Concurrency: 2, Requests: 3, MaxTokens: 5, Model: "fake-model"}, BuiltinCorpus(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The warm-up is the first request; of the 6 after it, 2 are refused.
	if rep.Errors != 2 || rep.ErrorsByKind["engine_429"] != 2 {
		t.Fatalf("errors %d %v", rep.Errors, rep.ErrorsByKind)
	}
	var text strings.Builder
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "engine_429 2") {
		t.Errorf("summary:\n%s", text.String())
	}
}
