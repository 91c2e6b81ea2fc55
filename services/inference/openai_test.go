package inference

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/sample"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/role"
)

const testKey = "sk-test-123"

// serveHTTP mounts the role's routes on a test server.
func serveHTTP(t testing.TB, r *Role) string {
	t.Helper()
	mux := http.NewServeMux()
	r.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// post sends a JSON body with the test key and returns the status, the
// headers and the body.
func post(t *testing.T, url, body string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testKey)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// apiErr is the OpenAI error object as a client reads it.
type apiErr struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// checkErrorBody checks the error object's shape: all four keys, a
// message, and the type, param and code wanted ("" is null).
func checkErrorBody(t *testing.T, body []byte, typ, param, code string) {
	t.Helper()
	var keys map[string]map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil || keys["error"] == nil {
		t.Fatalf("body %s is not an error object: %v", body, err)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := keys["error"][k]; !ok {
			t.Errorf("error object lacks %q: %s", k, body)
		}
	}
	var e apiErr
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatal(err)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if e.Error.Message == "" || e.Error.Type != typ || str(e.Error.Param) != param || str(e.Error.Code) != code {
		t.Errorf("error %+v (param %q, code %q), want type %q, param %q, code %q", e.Error, str(e.Error.Param), str(e.Error.Code), typ, param, code)
	}
}

// sse reads a server-sent event stream: the data of each event, and
// whether it ended with [DONE].
func sse(t *testing.T, body []byte) (chunks []map[string]any, done bool) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q is not a data line", line)
		}
		if done {
			t.Fatalf("data after [DONE]: %q", line)
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		var c map[string]any
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %q: %v", data, err)
		}
		chunks = append(chunks, c)
	}
	return chunks, done
}

var storyChat = engine.Input{Chat: []engine.Turn{{Role: engine.System, Content: "Be brief."}, {Role: engine.User, Content: "Tell me a story."}}}

const storyChatJSON = `"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Tell me "},{"type":"text","text":"a story."}]}]`

// TestOpenAIChat: the chat endpoint gives the engine's reply, whole and
// streamed, with usage.
func TestOpenAIChat(t *testing.T) {
	cfg := testConfig(demoModel(t))
	cfg.APIKey = testKey
	f := start(t, cfg, "", "")
	base := serveHTTP(t, f.r)
	want := direct(t, f.r, engine.Request{Input: storyChat, Sampling: sampleOpts(0.7, 0.9, 12, 40)})
	body := `{"model":"` + f.r.ModelID() + `",` + storyChatJSON + `,"temperature":0.7,"top_p":0.9,"seed":12,"max_tokens":40,"user":"u1","unknown_field":{"x":1}}`

	t.Run("whole", func(t *testing.T) {
		code, h, b := post(t, base+"/v1/chat/completions", body)
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Fatalf("status %d %s", code, b)
		}
		var r struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Created int64  `json:"created"`
			Model   string `json:"model"`
			Choices []struct {
				Index   int `json:"index"`
				Message struct {
					Role    string `json:"role"`
					Content string `json:"content"`
				} `json:"message"`
				FinishReason string `json:"finish_reason"`
			} `json:"choices"`
			Usage struct {
				PromptTokens     int `json:"prompt_tokens"`
				CompletionTokens int `json:"completion_tokens"`
				TotalTokens      int `json:"total_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(r.ID, "chatcmpl-") || r.Object != "chat.completion" || r.Created == 0 || r.Model != f.r.ModelID() || len(r.Choices) != 1 {
			t.Fatalf("response %s", b)
		}
		c := r.Choices[0]
		if c.Message.Role != "assistant" || c.Message.Content != want.Text || c.FinishReason != finishName(want.Final.Finish) {
			t.Errorf("choice %+v, want %q (%v)", c, want.Text, want.Final.Finish)
		}
		u := want.Final.Usage
		if r.Usage.PromptTokens != u.PromptTokens || r.Usage.CompletionTokens != u.CompletionTokens || r.Usage.TotalTokens != u.PromptTokens+u.CompletionTokens {
			t.Errorf("usage %+v, want %+v", r.Usage, u)
		}
	})
	t.Run("streamed with usage", func(t *testing.T) {
		streamed := strings.TrimSuffix(body, "}") + `,"stream":true,"stream_options":{"include_usage":true}}`
		code, h, b := post(t, base+"/v1/chat/completions", streamed)
		if code != 200 || h.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d, %s: %s", code, h.Get("Content-Type"), b)
		}
		chunks, done := sse(t, b)
		if !done || len(chunks) < 3 {
			t.Fatalf("%d chunks, done %v", len(chunks), done)
		}
		var text strings.Builder
		var finish any
		for i, c := range chunks {
			if c["object"] != "chat.completion.chunk" || c["id"] != chunks[0]["id"] {
				t.Errorf("chunk %d: %v", i, c)
			}
			if _, ok := c["usage"]; !ok {
				t.Errorf("chunk %d lacks usage (null) with include_usage", i)
			}
			choices := c["choices"].([]any)
			if i == len(chunks)-1 {
				u, _ := c["usage"].(map[string]any)
				if len(choices) != 0 || u == nil || u["completion_tokens"] != float64(want.Final.Usage.CompletionTokens) {
					t.Errorf("last chunk %v, want the usage", c)
				}
				continue
			}
			d := choices[0].(map[string]any)["delta"].(map[string]any)
			if i == 0 && d["role"] != "assistant" {
				t.Errorf("first delta %v lacks the role", d)
			}
			if s, ok := d["content"].(string); ok {
				text.WriteString(s)
			}
			if fr := choices[0].(map[string]any)["finish_reason"]; fr != nil {
				if i != len(chunks)-2 {
					t.Errorf("finish reason on chunk %d of %d", i, len(chunks))
				}
				finish = fr
			}
		}
		if text.String() != want.Text || finish != finishName(want.Final.Finish) {
			t.Errorf("streamed %q (%v), want %q", text.String(), finish, want.Text)
		}
	})
}

func sampleOpts(temp, topP float32, seed uint64, maxTokens int) sample.Options {
	o := seeded(temp, seed, maxTokens)
	o.TopP = topP
	return o
}

// TestOpenAICompletions: the completions endpoint, on text and token
// prompts, whole and streamed.
func TestOpenAICompletions(t *testing.T) {
	f := start(t, testConfig(storiesModel(t)), "", "")
	base := serveHTTP(t, f.r)
	want := direct(t, f.r, engine.Request{Input: engine.Input{IDs: []int32{1, 403}}, Sampling: seeded(0, 0, 60)})
	for _, prompt := range []string{`[1,403]`, `[[1,403]]`} {
		t.Run("tokens "+prompt, func(t *testing.T) {
			code, _, b := post(t, base+"/v1/completions", `{"prompt":`+prompt+`,"temperature":0,"max_tokens":60}`)
			var r struct {
				Object  string `json:"object"`
				Choices []struct {
					Text         string `json:"text"`
					FinishReason string `json:"finish_reason"`
				} `json:"choices"`
				Usage struct {
					CompletionTokens int `json:"completion_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(b, &r); err != nil || code != 200 || r.Object != "text_completion" || len(r.Choices) != 1 {
				t.Fatalf("status %d %s (%v)", code, b, err)
			}
			if r.Choices[0].Text != want.Text || r.Usage.CompletionTokens != want.Final.Usage.CompletionTokens || r.Choices[0].FinishReason != "length" {
				t.Errorf("completion %s, want %q", b, want.Text)
			}
		})
	}
	t.Run("streamed", func(t *testing.T) {
		code, _, b := post(t, base+"/v1/completions", `{"prompt":[1,403],"temperature":0,"max_tokens":60,"stream":true}`)
		chunks, done := sse(t, b)
		if code != 200 || !done {
			t.Fatalf("status %d, done %v", code, done)
		}
		var text strings.Builder
		for _, c := range chunks {
			if c["object"] != "text_completion" {
				t.Errorf("chunk %v", c)
			}
			if _, ok := c["usage"]; ok {
				t.Errorf("chunk %v has usage without include_usage", c)
			}
			text.WriteString(c["choices"].([]any)[0].(map[string]any)["text"].(string))
		}
		if text.String() != want.Text {
			t.Errorf("streamed %q, want %q", text.String(), want.Text)
		}
	})
}

// TestOpenAIErrors: every kind of bad request, through Go's HTTP client,
// gets its status and OpenAI's error object.
func TestOpenAIErrors(t *testing.T) {
	cfg := testConfig(demoModel(t))
	cfg.APIKey = testKey
	f := start(t, cfg, "", "")
	base := serveHTTP(t, f.r)
	model := `"model":"` + f.r.ModelID() + `"`
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	chat := func(extra string) string { return "{" + model + "," + msgs + extra + "}" }
	long := strings.TrimSuffix(strings.Repeat("5,", 3000), ",")
	tests := []struct {
		name, path, body string
		header           []string
		status           int
		typ, param, code string
	}{
		{"no key", "/v1/chat/completions", chat(""), []string{"Authorization", ""}, 401, typeInvalid, "", "invalid_api_key"},
		{"wrong key", "/v1/chat/completions", chat(""), []string{"Authorization", "Bearer sk-wrong"}, 401, typeInvalid, "", "invalid_api_key"},
		{"basic auth", "/v1/chat/completions", chat(""), []string{"Authorization", "Basic " + testKey}, 401, typeInvalid, "", "invalid_api_key"},
		{"not JSON", "/v1/chat/completions", "{nope", nil, 400, typeInvalid, "", ""},
		{"trailing data", "/v1/chat/completions", chat("") + "{}", nil, 400, typeInvalid, "", ""},
		{"temperature of the wrong type", "/v1/chat/completions", chat(`,"temperature":"hot"`), nil, 400, typeInvalid, "temperature", ""},
		{"temperature out of range", "/v1/chat/completions", chat(`,"temperature":3`), nil, 400, typeInvalid, "temperature", ""},
		{"top_p out of range", "/v1/chat/completions", chat(`,"top_p":-0.5`), nil, 400, typeInvalid, "top_p", ""},
		{"presence penalty out of range", "/v1/chat/completions", chat(`,"presence_penalty":9`), nil, 400, typeInvalid, "presence_penalty", ""},
		{"max_tokens zero", "/v1/chat/completions", chat(`,"max_tokens":0`), nil, 400, typeInvalid, "max_tokens", ""},
		{"max_tokens above the limit", "/v1/chat/completions", chat(`,"max_tokens":5000`), nil, 400, typeInvalid, "max_tokens", ""},
		{"max_completion_tokens zero", "/v1/chat/completions", chat(`,"max_tokens":10,"max_completion_tokens":0`), nil, 400, typeInvalid, "max_completion_tokens", ""},
		{"two choices", "/v1/chat/completions", chat(`,"n":2`), nil, 400, typeInvalid, "n", ""},
		{"stop not text", "/v1/chat/completions", chat(`,"stop":5`), nil, 400, typeInvalid, "stop", ""},
		{"too many stops", "/v1/chat/completions", chat(`,"stop":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]`), nil, 400, typeInvalid, "stop", ""},
		{"stream options without stream", "/v1/chat/completions", chat(`,"stream_options":{"include_usage":true}`), nil, 400, typeInvalid, "stream_options", ""},
		{"tools", "/v1/chat/completions", chat(`,"tools":[{"type":"function","function":{"name":"f"}}]`), nil, 400, typeInvalid, "tools", "unsupported"},
		{"logprobs", "/v1/chat/completions", chat(`,"logprobs":true`), nil, 400, typeInvalid, "logprobs", "unsupported"},
		{"json response format", "/v1/chat/completions", chat(`,"response_format":{"type":"json_object"}`), nil, 400, typeInvalid, "response_format", "unsupported"},
		{"unknown model", "/v1/chat/completions", `{"model":"gpt-4o",` + msgs + `}`, nil, 404, typeInvalid, "model", "model_not_found"},
		{"no messages", "/v1/chat/completions", "{" + model + `,"messages":[]}`, nil, 400, typeInvalid, "messages", ""},
		{"tool message", "/v1/chat/completions", "{" + model + `,"messages":[{"role":"tool","content":"x"}]}`, nil, 400, typeInvalid, "messages[0].role", ""},
		{"image content", "/v1/chat/completions", "{" + model + `,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, nil, 400, typeInvalid, "messages[0].content[0]", ""},
		{"null content", "/v1/chat/completions", "{" + model + `,"messages":[{"role":"user","content":null}]}`, nil, 400, typeInvalid, "messages[0].content", ""},
		{"conversation ending with the assistant", "/v1/chat/completions", "{" + model + `,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}`, nil, 400, typeInvalid, "messages", ""},
		{"no prompt", "/v1/completions", "{" + model + "}", nil, 400, typeInvalid, "prompt", ""},
		{"two prompts", "/v1/completions", `{"prompt":["a","b"]}`, nil, 400, typeInvalid, "prompt", ""},
		{"prompt of the wrong type", "/v1/completions", `{"prompt":{"a":1}}`, nil, 400, typeInvalid, "prompt", ""},
		{"empty prompt", "/v1/completions", `{"prompt":""}`, nil, 400, typeInvalid, "prompt", ""},
		{"prompt longer than the context", "/v1/completions", `{"prompt":[` + long + `]}`, nil, 400, typeInvalid, "prompt", "context_length_exceeded"},
		{"echo", "/v1/completions", `{"prompt":"a","echo":true}`, nil, 400, typeInvalid, "echo", "unsupported"},
		{"suffix", "/v1/completions", `{"prompt":"a","suffix":"b"}`, nil, 400, typeInvalid, "suffix", "unsupported"},
		{"best_of", "/v1/completions", `{"prompt":"a","best_of":3}`, nil, 400, typeInvalid, "best_of", "unsupported"},
		{"completion logprobs", "/v1/completions", `{"prompt":"a","logprobs":2}`, nil, 400, typeInvalid, "logprobs", "unsupported"},
		{"body too large", "/v1/completions", `{"prompt":"` + strings.Repeat("a", maxBody) + `"}`, nil, 413, typeInvalid, "", "request_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, h, b := post(t, base+tt.path, tt.body, tt.header...)
			if code != tt.status {
				t.Fatalf("status %d, want %d: %s", code, tt.status, b)
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Errorf("content type %q", h.Get("Content-Type"))
			}
			if code == 401 && h.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			checkErrorBody(t, b, tt.typ, tt.param, tt.code)
		})
	}
	get := func(t *testing.T, path string, auth bool) (int, http.Header, []byte) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+testKey)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	t.Run("wrong method", func(t *testing.T) {
		code, h, b := get(t, "/v1/chat/completions", true)
		if code != 405 || h.Get("Allow") != http.MethodPost {
			t.Fatalf("status %d, Allow %q", code, h.Get("Allow"))
		}
		checkErrorBody(t, b, typeInvalid, "", "")
	})
	t.Run("unknown path", func(t *testing.T) {
		code, _, b := get(t, "/v1/embeddings", true)
		if code != 404 {
			t.Fatalf("status %d", code)
		}
		checkErrorBody(t, b, typeInvalid, "", "")
	})
	t.Run("unknown model by id", func(t *testing.T) {
		code, _, b := get(t, "/v1/models/gpt-4o", true)
		if code != 404 {
			t.Fatalf("status %d", code)
		}
		checkErrorBody(t, b, typeInvalid, "model", "model_not_found")
	})
	t.Run("models need the key", func(t *testing.T) {
		if code, _, _ := get(t, "/v1/models", false); code != 401 {
			t.Fatalf("status %d", code)
		}
		code, _, b := get(t, "/v1/models", true)
		var list struct {
			Object string `json:"object"`
			Data   []struct {
				ID, Object, OwnedBy string
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &list); err != nil || code != 200 || list.Object != "list" || len(list.Data) != 1 || list.Data[0].ID != f.r.ModelID() {
			t.Fatalf("status %d %s", code, b)
		}
		if code, _, b := get(t, "/v1/models/"+f.r.ModelID(), true); code != 200 || !strings.Contains(string(b), `"object":"model"`) {
			t.Fatalf("status %d %s", code, b)
		}
	})
	t.Run("operators' model status stays open", func(t *testing.T) {
		if code, _, b := get(t, "/models", false); code != 200 || !strings.Contains(string(b), `"architecture":"llama"`) {
			t.Fatalf("status %d %s", code, b)
		}
	})
	if n := f.r.Engine().Stats().Completed; n != 0 {
		t.Errorf("the engine ran %d requests for bad ones", n)
	}
}

// TestOpenAIOverloadAndUnavailable: a full queue, by requests
// (CORRAL_QUEUE_SIZE) or by prompt tokens (CORRAL_QUEUE_TOKENS), answers
// 429 with Retry-After at once; an engine that is not running answers 503.
func TestOpenAIOverloadAndUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		adjust func(*Config)
	}{
		{"requests", func(c *Config) { c.QueueSize = 1 }},
		// One waiting request is always taken; its prompt alone passes 1.
		{"prompt tokens", func(c *Config) { c.QueueTokens = 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(slowModel(t))
			cfg.MaxBatch = 1 // the second request stays queued
			tc.adjust(&cfg)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			f := start(t, cfg, "", "")
			base := serveHTTP(t, f.r)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			long := `{"prompt":"` + longPrompt + `","temperature":0,"max_tokens":2000,"stream":true}`
			for i := range 2 {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/completions", strings.NewReader(long))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if i == 0 {
					waitFor(t, 5*time.Second, "the first request runs", func() bool { return f.r.Engine().Stats().Running == 1 })
				}
			}
			waitFor(t, 5*time.Second, "the second request waits", func() bool { return f.r.Engine().Stats().Waiting == 1 })
			t0 := time.Now()
			code, h, b := post(t, base+"/v1/completions", `{"prompt":"x","max_tokens":5}`)
			if code != 429 || h.Get("Retry-After") != "1" {
				t.Fatalf("status %d, Retry-After %q: %s", code, h.Get("Retry-After"), b)
			}
			checkErrorBody(t, b, typeRateLimit, "", "overloaded")
			if took := time.Since(t0); took > time.Second {
				t.Errorf("refusal took %v", took)
			}
		})
	}

	idle, err := New(testConfig(demoModel(t)), role.Deps{DataDir: t.TempDir(), Streams: natsbus.StreamsConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idle.bundle.Close() })
	code, _, b := post(t, serveHTTP(t, idle)+"/v1/completions", `{"prompt":"x"}`)
	if code != 503 {
		t.Fatalf("before Run: status %d %s", code, b)
	}
	checkErrorBody(t, b, typeServer, "", "unavailable")
}

// TestOpenAIClientDisconnect: a client that goes away mid-stream cancels
// its sequence.
func TestOpenAIClientDisconnect(t *testing.T) {
	f := start(t, testConfig(slowModel(t)), "", "")
	base := serveHTTP(t, f.r)
	for _, stream := range []bool{true, false} {
		t.Run(fmt.Sprintf("stream %v", stream), func(t *testing.T) {
			e := f.r.Engine()
			before := e.Stats().Completed
			gone := counter(t, "corral_inference_clients_gone", attribute.String("reason", goneDisconnected))
			ctx, cancel := context.WithCancel(t.Context())
			body := fmt.Sprintf(`{"prompt":%q,"temperature":0,"max_tokens":2000,"stream":%v}`, longPrompt, stream)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/completions", strings.NewReader(body))
			done := make(chan struct{})
			go func() {
				defer close(done)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				defer resp.Body.Close()
				_, _ = bufio.NewReader(resp.Body).ReadString('\n')
				<-ctx.Done()
			}()
			waitFor(t, 5*time.Second, "the sequence runs", func() bool { return e.Stats().Running == 1 })
			time.Sleep(100 * time.Millisecond)
			cancel()
			<-done
			waitFor(t, 2*time.Second, "the sequence ends", func() bool { st := e.Stats(); return st.Running == 0 && st.Completed == before+1 })
			waitFor(t, 2*time.Second, "the client is counted gone", func() bool {
				return counter(t, "corral_inference_clients_gone", attribute.String("reason", goneDisconnected)) == gone+1
			})
		})
	}
}

// TestOpenAISDK drives the API with the official openai package on node,
// streaming and not, and through its error classes. CI has node; a
// machine without node or npm skips, unless CORRAL_REQUIRE_NODE=1.
func TestOpenAISDK(t *testing.T) {
	const sdk = "openai@6.49.0"
	node, nodeErr := exec.LookPath("node")
	npm, npmErr := exec.LookPath("npm")
	if nodeErr != nil || npmErr != nil {
		if os.Getenv("CORRAL_REQUIRE_NODE") == "1" {
			t.Fatalf("node or npm not found (%v, %v) and CORRAL_REQUIRE_NODE=1", nodeErr, npmErr)
		}
		t.Skipf("node or npm not found (%v, %v): the %s test needs both", nodeErr, npmErr, sdk)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"private":true,"type":"module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error", sdk)
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s: %v\n%s", sdk, err, out)
	}
	script, err := os.ReadFile(filepath.Join("testdata", "openai-sdk.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sdk.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(demoModel(t))
	cfg.APIKey = testKey
	f := start(t, cfg, "", "")
	base := serveHTTP(t, f.r)
	cmd := exec.CommandContext(ctx, node, "sdk.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BASE="+base, "KEY="+testKey, "MODEL="+f.r.ModelID())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	type usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
	type failure struct {
		Error, Auth, BadRequest, NotFound bool
		Status                            int
		Code, Param, Type                 *string
	}
	var got struct {
		Chat struct {
			Object, Model, ID, Content, Role, Finish string
			Usage                                    usage
		}
		ChatStream struct {
			Content, Finish, Role string
			Chunks                int
			Usage                 *usage
		}
		Completion struct {
			Object, Text, Finish string
			Usage                usage
		}
		CompletionStream struct{ Text string }
		Models           []string
		WrongKey         failure
		TwoChoices       failure
		UnknownModel     failure
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	chat := direct(t, f.r, engine.Request{Input: storyChat, Sampling: sampleOpts(0.7, 0.9, 12, 40)})
	comp := direct(t, f.r, engine.Request{Input: engine.Input{Text: "Once upon a time"}, Sampling: sampleOpts(0, 1, 0, 20)})
	cu := chat.Final.Usage
	wantUsage := usage{cu.PromptTokens, cu.CompletionTokens, cu.PromptTokens + cu.CompletionTokens}
	if got.Chat.Content != chat.Text || got.Chat.Role != "assistant" || got.Chat.Object != "chat.completion" ||
		got.Chat.Finish != finishName(chat.Final.Finish) || got.Chat.Usage != wantUsage {
		t.Errorf("chat %+v, want %q %+v", got.Chat, chat.Text, wantUsage)
	}
	if got.ChatStream.Content != chat.Text || got.ChatStream.Role != "assistant" || got.ChatStream.Finish != got.Chat.Finish ||
		got.ChatStream.Usage == nil || *got.ChatStream.Usage != wantUsage || got.ChatStream.Chunks < 3 {
		t.Errorf("streamed chat %+v, want %q", got.ChatStream, chat.Text)
	}
	if got.Completion.Text != comp.Text || got.Completion.Object != "text_completion" || got.CompletionStream.Text != comp.Text ||
		got.Completion.Usage.CompletionTokens != comp.Final.Usage.CompletionTokens {
		t.Errorf("completion %+v, streamed %q; want %q", got.Completion, got.CompletionStream.Text, comp.Text)
	}
	if len(got.Models) != 1 || got.Models[0] != f.r.ModelID() {
		t.Errorf("models %v", got.Models)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if w := got.WrongKey; !w.Error || !w.Auth || w.Status != 401 || str(w.Code) != "invalid_api_key" {
		t.Errorf("wrong key: %+v, want an AuthenticationError", w)
	}
	if w := got.TwoChoices; !w.Error || !w.BadRequest || w.Status != 400 || str(w.Param) != "n" {
		t.Errorf("n=2: %+v, want a BadRequestError on n", w)
	}
	if w := got.UnknownModel; !w.Error || !w.NotFound || str(w.Code) != "model_not_found" {
		t.Errorf("unknown model: %+v, want a NotFoundError", w)
	}
}
