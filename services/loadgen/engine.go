package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// EngineSpec is what engine mode measures: an OpenAI-compatible server
// (Corral's inference role, llama.cpp's server, vLLM) under 1, 2, 4, ...
// concurrent streaming chat requests.
type EngineSpec struct {
	// URL is the server's base URL, with or without the /v1.
	URL string `json:"url"`
	// Model is sent as the request's model; empty asks GET /v1/models.
	Model string `json:"model"`
	// APIKey is sent as the bearer token.
	APIKey string `json:"-"`
	// Concurrency is the highest level; the levels double from 1 to it.
	Concurrency int `json:"concurrency"`
	// Requests per level (at least the level's concurrency).
	Requests int `json:"requests"`
	// MaxTokens bounds every reply.
	MaxTokens int `json:"max_tokens"`
	// API is "chat" (/v1/chat/completions, the default) or "completions"
	// (/v1/completions: a raw prompt, for models without a chat template).
	API string `json:"api"`
	// Seed picks the prompts from the corpus.
	Seed uint64 `json:"seed"`
}

// Validate reports values that cannot run.
func (e *EngineSpec) Validate() error {
	if u, err := url.Parse(e.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("engine %q: want an http(s) URL such as http://127.0.0.1:8080/v1", e.URL)
	}
	if e.Concurrency < 1 || e.Concurrency > 1024 || e.Requests < 1 || e.Requests > 1_000_000 || e.MaxTokens < 1 || e.MaxTokens > 32768 {
		return bad("engine: want concurrency 1 to 1024, requests 1 to 1000000, max-tokens 1 to 32768")
	}
	if e.API != "" && e.API != "chat" && e.API != "completions" {
		return bad("engine-api %q: want chat or completions", e.API)
	}
	return nil
}

// Levels are the concurrencies measured: 1, 2, 4, ... and the highest.
func (e *EngineSpec) Levels() []int {
	var out []int
	for c := 1; c < e.Concurrency; c *= 2 {
		out = append(out, c)
	}
	return append(out, e.Concurrency)
}

// base is the URL ending in /v1.
func (e *EngineSpec) base() string {
	b := strings.TrimRight(e.URL, "/")
	if !strings.HasSuffix(b, "/v1") {
		b += "/v1"
	}
	return b
}

// EngineReport is engine mode's result.
type EngineReport struct {
	URL    string        `json:"url"`
	Model  string        `json:"model"`
	Levels []EngineLevel `json:"levels"`
}

// EngineLevel is one concurrency level's numbers.
type EngineLevel struct {
	Concurrency int `json:"concurrency"`
	Requests    int `json:"requests"`
	Errors      int `json:"errors"`
	// OutputTokens are the completion tokens of the level's replies.
	OutputTokens int     `json:"output_tokens"`
	ElapsedS     float64 `json:"elapsed_s"`
	// TokensPerS is output tokens a second over the level; RequestsPerS
	// finished requests a second.
	TokensPerS   float64 `json:"tokens_per_s"`
	RequestsPerS float64 `json:"requests_per_s"`
	// TTFT is time to the first content token; TPOT the time per output
	// token after the first; Latency the whole request.
	TTFT    Summary `json:"ttft_ms"`
	TPOT    Summary `json:"tpot_ms"`
	Latency Summary `json:"latency_ms"`
}

// streamed is what one streaming request measured.
type streamed struct {
	ttft, total time.Duration
	tokens      int
}

// RunEngine measures the engine at every level. progress, when not nil,
// gets a line per level.
func RunEngine(ctx context.Context, e EngineSpec, corpus Corpus, progress io.Writer) (*Report, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	if e.Model == "" {
		m, err := e.firstModel(ctx, client)
		if err != nil {
			return nil, err
		}
		e.Model = m
	}
	// One request first, not counted: the first one pays for connections
	// and caches that the levels should not.
	if _, err := e.stream(ctx, client, corpus[0]); err != nil {
		return nil, fmt.Errorf("engine warm-up request: %w", err)
	}
	rep := &Report{Mode: "engine", Started: time.Now(), ErrorsByKind: map[string]int64{}, SLOPassed: true,
		Engine: &EngineReport{URL: e.URL, Model: e.Model}}
	rng := rngFor(e.Seed, streamArrivals, 1, 0)
	for _, c := range e.Levels() {
		n := max(e.Requests, c)
		prompts := make([]string, n)
		for i := range prompts {
			prompts[i] = corpus[rng.IntN(len(corpus))]
		}
		lvl, errs, err := e.level(ctx, client, c, prompts)
		if err != nil {
			return nil, err
		}
		for k, v := range errs {
			rep.ErrorsByKind[k] += v
			rep.Errors += v
		}
		rep.Engine.Levels = append(rep.Engine.Levels, lvl)
		if progress != nil {
			fmt.Fprintf(progress, "concurrency %d: %d requests, %.1f tokens/s, ttft p50 %.1fms, tpot p50 %.2fms, %d errors\n",
				c, lvl.Requests, lvl.TokensPerS, lvl.TTFT.P50, lvl.TPOT.P50, lvl.Errors)
		}
	}
	rep.ElapsedS = time.Since(rep.Started).Seconds()
	last := rep.Engine.Levels[len(rep.Engine.Levels)-1]
	rep.E2E, rep.FirstPart = last.Latency, last.TTFT
	rep.Sent, rep.Replies = int64(last.Requests), int64(last.Requests-last.Errors)
	rep.ThroughputPerS = last.RequestsPerS
	return rep, nil
}

// level runs prompts through c concurrent workers.
func (e *EngineSpec) level(ctx context.Context, client *http.Client, c int, prompts []string) (EngineLevel, map[string]int64, error) {
	var (
		next           atomic.Int64
		mu             sync.Mutex
		ttft, tpot, lt Histogram
		tokens, failed int
		errs           = map[string]int64{}
		wg             sync.WaitGroup
	)
	began := time.Now()
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(prompts) || ctx.Err() != nil {
					return
				}
				s, err := e.stream(ctx, client, prompts[i])
				mu.Lock()
				if err != nil {
					failed++
					errs[engineErrorKind(err)]++
				} else {
					tokens += s.tokens
					ttft.Record(s.ttft)
					lt.Record(s.total)
					if s.tokens > 1 {
						// As vLLM's benchmark defines it: the time after
						// the first token, over the tokens after it.
						tpot.Record((s.total - s.ttft) / time.Duration(s.tokens-1))
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return EngineLevel{}, nil, fmt.Errorf("engine level %d: %w", c, err)
	}
	el := time.Since(began).Seconds()
	done := len(prompts) - failed
	return EngineLevel{Concurrency: c, Requests: len(prompts), Errors: failed, OutputTokens: tokens, ElapsedS: el,
		TokensPerS: float64(tokens) / el, RequestsPerS: float64(done) / el,
		TTFT: ttft.Summary(), TPOT: tpot.Summary(), Latency: lt.Summary()}, errs, nil
}

// engineError is a request the engine answered with an error status.
type engineError struct {
	status int
	body   string
}

func (e *engineError) Error() string { return fmt.Sprintf("engine answered %d: %s", e.status, e.body) }

func engineErrorKind(err error) string {
	var ee *engineError
	if errors.As(err, &ee) {
		return fmt.Sprintf("engine_%d", ee.status)
	}
	return "engine_network"
}

type chatChunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		Text string `json:"text"`
	} `json:"choices"`
	Usage *struct {
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// stream runs one streaming request and times its tokens. A content
// chunk counts as one token unless the final usage says otherwise.
func (e *EngineSpec) stream(ctx context.Context, client *http.Client, prompt string) (streamed, error) {
	fields := map[string]any{
		"model":          e.Model,
		"max_tokens":     e.MaxTokens,
		"stream":         true,
		"stream_options": map[string]bool{"include_usage": true},
	}
	path := "/chat/completions"
	if e.API == "completions" {
		fields["prompt"], path = prompt, "/completions"
	} else {
		fields["messages"] = []map[string]string{{"role": "user", "content": prompt}}
	}
	body, _ := json.Marshal(fields)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.base()+path, bytes.NewReader(body))
	if err != nil {
		return streamed{}, fmt.Errorf("engine request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if e.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.APIKey)
	}
	began := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return streamed{}, fmt.Errorf("engine request: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return streamed{}, &engineError{status: res.StatusCode, body: strings.TrimSpace(string(b))}
	}
	var s streamed
	chunks, usage := 0, -1
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			break
		}
		var c chatChunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return streamed{}, fmt.Errorf("engine stream: bad event %q: %w", data, err)
		}
		if c.Usage != nil {
			usage = c.Usage.CompletionTokens
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content == "" && ch.Text == "" {
				continue
			}
			if chunks == 0 {
				s.ttft = time.Since(began)
			}
			chunks++
		}
	}
	if err := sc.Err(); err != nil {
		return streamed{}, fmt.Errorf("engine stream: %w", err)
	}
	s.total = time.Since(began)
	s.tokens = chunks
	if usage >= 0 {
		s.tokens = usage
	}
	if chunks == 0 {
		s.ttft = s.total
	}
	return s, nil
}

// firstModel asks the server which model it serves.
func (e *EngineSpec) firstModel(ctx context.Context, client *http.Client) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base()+"/models", nil)
	if err != nil {
		return "", fmt.Errorf("engine models: %w", err)
	}
	if e.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.APIKey)
	}
	res, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("engine models: %w", err)
	}
	defer res.Body.Close()
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&list); err != nil || res.StatusCode != http.StatusOK || len(list.Data) == 0 {
		return "", fmt.Errorf("engine models: status %d, no model listed (give --engine-model)", res.StatusCode)
	}
	return list.Data[0].ID, nil
}

// WriteText writes the engine table.
func (r *EngineReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "engine %s, model %s\n", r.URL, r.Model)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  concurrency\trequests\terrors\ttokens/s\treq/s\tttft p50\tttft p99\ttpot p50\ttpot p99\tlatency p99\t")
	for _, l := range r.Levels {
		fmt.Fprintf(tw, "  %d\t%d\t%d\t%.1f\t%.2f\t%.1f\t%.1f\t%.2f\t%.2f\t%.1f\t\n", l.Concurrency, l.Requests, l.Errors,
			l.TokensPerS, l.RequestsPerS, l.TTFT.P50, l.TTFT.P99, l.TPOT.P50, l.TPOT.P99, l.Latency.P99)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "  (times in ms)")
}
