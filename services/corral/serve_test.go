package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/model/synth"
	"github.com/corral-ai/corral/inference/shareddata"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/inference"
	"github.com/corral-ai/corral/services/internal/backends"
	"github.com/corral-ai/corral/services/internal/inferclient"
	"github.com/corral-ai/corral/services/internal/telemetry"
)

// testArgs are serve flags for tests: a free HTTP port chosen by the
// kernel, a fresh data folder.
func testArgs(t *testing.T, extra ...string) []string {
	t.Helper()
	return append([]string{"--http", "127.0.0.1:0", "--data", t.TempDir(), "--shutdown-timeout", "10s"}, extra...)
}

// testEnv is the environment of a test run: the real NATS and Redis when
// NATS_URL / REDIS_URL are set, embedded ones otherwise.
func testEnv() map[string]string {
	return map[string]string{"NATS_URL": os.Getenv("NATS_URL"), "REDIS_URL": os.Getenv("REDIS_URL")}
}

// testConfig is a serve configuration for tests.
func testConfig(t *testing.T, extra ...string) *Config {
	t.Helper()
	cfg, err := serveConfig(testArgs(t, extra...), testEnv())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func testTelemetry(t *testing.T) *telemetry.Telemetry {
	t.Helper()
	tel, err := telemetry.Setup(t.Context(), telemetry.Config{ServiceName: "test"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeEndpoints(t *testing.T) {
	cfg := testConfig(t)
	s, err := startServer(t.Context(), cfg, backends.All(), testTelemetry(t))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.addr.String()
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	code, body := waitReady(t, base)
	if code != 200 {
		t.Errorf("/readyz = %d %s", code, body)
	}
	for _, check := range []string{"nats", "jetstream", "redis", "model", "inference"} {
		if !strings.Contains(body, `"`+check+`":"ok"`) {
			t.Errorf("/readyz lacks %s ok: %s", check, body)
		}
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d, body lacks runtime metrics", code)
	}
	if code, body := get(t, base+"/models"); code != 200 || !strings.Contains(body, `"demo":true`) {
		t.Errorf("/models = %d %s", code, body)
	}
	for _, name := range []string{corralv1.StreamChatIn, corralv1.StreamChatOut, corralv1.StreamChatDLQ} {
		if _, err := s.backends.JetStream.Stream(t.Context(), name); err != nil {
			t.Errorf("stream %s not created at start: %v", name, err)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("HTTP still answers after stop")
	}
}

func TestServeFailsClearlyWhenRedisIsDown(t *testing.T) {
	cfg := testConfig(t)
	dead := freeAddr(t)
	cfg.Backends.RedisURL = "redis://" + dead
	_, err := startServer(t.Context(), cfg, backends.All(), testTelemetry(t))
	if err == nil || !strings.Contains(err.Error(), "redis at "+dead) || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Fatalf("startServer = %v, want a REDIS_URL error naming %s", err, dead)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runInBackground runs the binary's run with args until the test ends
// (or stop is called) and returns the address it serves HTTP on.
func runInBackground(t *testing.T, args ...string) (base string, logs *syncBuffer, stop func() error) {
	t.Helper()
	addr := freeAddr(t)
	args = append(args, "--http", addr, "--log-format", "json")
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, io.Discard, logs) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(60 * time.Second):
				runErr = errors.New("run did not return within 60s of cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	base = "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("run ended before it was ready: %v\n%s", err, logs.String())
		default:
		}
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base, logs, stop
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 60s; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readyChecks reads /readyz and returns each check's state.
// waitReady polls /readyz until it answers 200 or 10 s passed, and
// returns its last answer: roles start running after the server listens.
func waitReady(t *testing.T, base string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, base+"/readyz")
		if code == 200 || time.Now().After(deadline) {
			return code, body
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readyChecks(t *testing.T, base string) map[string]string {
	t.Helper()
	code, body := get(t, base+"/readyz")
	var r struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != 200 || !r.Ready {
		t.Fatalf("/readyz = %d %s (%v)", code, body, err)
	}
	return r.Checks
}

// TestServeRunsEveryRole is the role contract end to end: `serve`, run as
// main runs it, reports each backend's and each role's readiness check,
// serves the roles' routes, and shuts down cleanly when its context ends.
func TestServeRunsEveryRole(t *testing.T) {
	for k, v := range testEnv() {
		t.Setenv(k, v)
	}
	natsURL, args := os.Getenv("NATS_URL"), []string{"serve", "--data", t.TempDir()}
	if natsURL == "" {
		// The embedded server takes other processes' clients here.
		addr := freeAddr(t)
		natsURL, args = "nats://"+addr, append(args, "--nats-listen", addr)
	}
	base, logs, stop := runInBackground(t, args...)
	checks := readyChecks(t, base)
	want := []string{"inference", "jetstream", "model", "nats", "redis", "studio"}
	if got := slices.Sorted(maps.Keys(checks)); !slices.Equal(got, want) {
		t.Errorf("/readyz checks %v, want %v", got, want)
	}
	for name, state := range checks {
		if state != "ok" {
			t.Errorf("check %s: %s", name, state)
		}
	}
	if code, body := get(t, base+"/models"); code != 200 || !strings.Contains(body, `"architecture":"llama"`) {
		t.Errorf("/models = %d %s", code, body)
	}
	if code, body := get(t, base+"/studio"); code != 200 || !strings.Contains(body, "<!doctype html>") {
		t.Errorf("/studio = %d %.100s", code, body)
	}
	// The inference role answers on NATS and on the OpenAI-compatible API.
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	client, err := inferclient.New(nc, inferclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	models, err := client.Models(t.Context())
	if err != nil || len(models.GetModels()) != 1 || !models.GetModels()[0].GetDemo() {
		t.Errorf("NATS models = %v, %v", models, err)
	}
	resp, err := http.Post(base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":5,"seed":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"object":"chat.completion"`) {
		t.Errorf("/v1/chat/completions = %d %s", resp.StatusCode, body)
	}
	code, metrics := get(t, base+"/metrics")
	// The engine's own metrics (corral_engine_*) go through the global
	// meter provider, which only the first telemetry setup of a process
	// wires; in this test binary that may have been another test's.
	for _, m := range []string{"corral_inference_requests_total", "corral_inference_request_duration_seconds_bucket", "corral_inference_engine_running",
		"corral_inference_engine_waiting", "corral_inference_kv_blocks", "corral_inference_prefix_cache_hit_ratio"} {
		if code != 200 || !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("serve after cancel: %v\n%s", err, logs.String())
	}
	for _, want := range []string{`"roles":["chat","gateway","inference","sender","studio"]`, "corral stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

// TestInferenceRoleAlone runs `corral inference`: the same role code on
// NATS alone, without Redis.
func TestInferenceRoleAlone(t *testing.T) {
	t.Setenv("NATS_URL", os.Getenv("NATS_URL"))
	t.Setenv("REDIS_URL", "redis://127.0.0.1:1") // not read: the role needs no Redis
	base, logs, stop := runInBackground(t, "inference", "--data", t.TempDir())
	if got := slices.Sorted(maps.Keys(readyChecks(t, base))); !slices.Equal(got, []string{"inference", "jetstream", "model", "nats"}) {
		t.Errorf("/readyz checks %v, want the model, the service and NATS", got)
	}
	if code, body := get(t, base+"/models"); code != 200 || !strings.Contains(body, `"demo":true`) {
		t.Errorf("/models = %d %s", code, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("inference after cancel: %v", err)
	}
	if strings.Contains(logs.String(), "Redis") {
		t.Errorf("inference alone started Redis:\n%s", logs.String())
	}
}

// TestServeBinaryRestartKeepsData builds the real binary, runs `corral` with
// no NATS_URL or REDIS_URL (so both backends are embedded), stops it with
// SIGTERM and starts it again on the same data folder.
func TestServeBinaryRestartKeepsData(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "corral")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := t.TempDir()
	httpAddr, redisAddr := freeAddr(t), freeAddr(t)

	start := func() (*exec.Cmd, *syncBuffer) {
		cmd := exec.Command(bin, "--http", httpAddr, "--data", data, "--redis-listen", redisAddr)
		cmd.Env = append(os.Environ(), "NATS_URL=", "REDIS_URL=")
		logs := &syncBuffer{}
		cmd.Stderr = logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			resp, err := http.Get("http://" + httpAddr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return cmd, logs
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("not ready within 60s; logs:\n%s", logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stop := func(cmd *exec.Cmd, logs *syncBuffer) {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("exit after SIGTERM: %v; logs:\n%s", err, logs.String())
		}
	}

	cmd, logs := start()
	for _, want := range []string{"using embedded NATS", "using embedded Redis-protocol server", "not meaningful"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, logs.String())
		}
	}
	// Logs to a pipe are JSON.
	if first, _, _ := strings.Cut(logs.String(), "\n"); !strings.HasPrefix(first, "{") {
		t.Errorf("log to a pipe is not JSON: %s", first)
	}
	// A second process on the same data folder must refuse to start.
	second := exec.Command(bin, "--http", freeAddr(t), "--data", data)
	second.Env = append(os.Environ(), "NATS_URL=", "REDIS_URL=")
	if out, err := second.CombinedOutput(); err == nil || !strings.Contains(string(out), "in use by another corral process") {
		t.Errorf("second serve on the same data folder: %v\n%s", err, out)
	}

	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rc.Close()
	if err := rc.HSet(ctx, "persona:test", "name", "Ada").Err(); err != nil {
		t.Fatal(err)
	}
	stop(cmd, logs)
	if !strings.Contains(logs.String(), "corral stopped") {
		t.Errorf("no clean stop in log:\n%s", logs.String())
	}

	cmd, logs = start()
	defer stop(cmd, logs)
	if v := rc.HGet(ctx, "persona:test", "name").Val(); v != "Ada" {
		t.Fatalf("after restart persona name = %q, want Ada", v)
	}
}

func TestServeModelChoice(t *testing.T) {
	tel := testTelemetry(t)
	notGGUF := filepath.Join(t.TempDir(), "weights.bin")
	if err := os.WriteFile(notGGUF, []byte("definitely not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("demo written when none configured", func(t *testing.T) {
		cfg := testConfig(t)
		s, err := startServer(t.Context(), cfg, backends.All(), tel)
		if err != nil {
			t.Fatal(err)
		}
		defer s.stop()
		st := s.roles["inference"].(*inference.Role).Status()
		if filepath.Dir(st.Path) != filepath.Join(cfg.Process.DataDir, "models") || !st.Demo {
			t.Errorf("demo model at %s, want it in the data folder", st.Path)
		}
		if _, err := os.Stat(st.Path); err != nil {
			t.Errorf("demo model not written: %v", err)
		}
	})
	t.Run("not a GGUF file", func(t *testing.T) {
		cfg := testConfig(t, "--model", notGGUF)
		_, err := startServer(t.Context(), cfg, backends.All(), tel)
		if err == nil || !strings.Contains(err.Error(), "--model") || !strings.Contains(err.Error(), "magic") {
			t.Fatalf("startServer = %v, want a --model error about the file's magic", err)
		}
	})
	t.Run("vocabulary only", func(t *testing.T) {
		cfg := testConfig(t, "--model", vocabOnly(t))
		_, err := startServer(t.Context(), cfg, backends.All(), tel)
		if err == nil || !strings.Contains(err.Error(), "--model") || !strings.Contains(err.Error(), "no weights") {
			t.Fatalf("startServer = %v, want a --model error about missing weights", err)
		}
	})
}

// vocabOnly is a GGUF file with a tokenizer and no weights: the shared
// llama-spm vocabulary when ../shared is there, else one written here.
func vocabOnly(t *testing.T) string {
	t.Helper()
	if p, ok := shareddata.Lookup(t, "tokenizers", "llama-spm", "ggml-vocab-llama-spm.gguf"); ok {
		return p
	}
	demo, _, err := synth.EnsureDemo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(demo)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	path := filepath.Join(t.TempDir(), "vocab.gguf")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := gguf.NewWriter(out)
	for _, k := range f.Keys() {
		v, _ := f.Value(k)
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(w.Close(), out.Close()); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckConfig(t *testing.T) {
	vocab := vocabOnly(t)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want []string // in the error, or in stdout when the code is 0
	}{
		{"demo", nil, nil, 0, []string{"CORRAL_MODEL=\n", "CORRAL_HTTP_ADDR=127.0.0.1:0"}},
		{"vocabulary-only model by flag", []string{"--model", vocab}, nil, 1, []string{"--model: ", "no weights"}},
		{"vocabulary-only model by variable", nil, map[string]string{"CORRAL_MODEL": vocab}, 1, []string{"CORRAL_MODEL: ", "no weights"}},
		{"missing model", []string{"--model", filepath.Join(t.TempDir(), "none.gguf")}, nil, 2, []string{"--model", "no such file"}},
		{"bad otlp endpoint", nil, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"}, 2, []string{"OTEL_EXPORTER_OTLP_ENDPOINT"}},
		{"inference role alone", nil, map[string]string{"CORRAL_MODEL": vocab}, 1, []string{"no weights"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cmd := "serve"
			if tt.name == "inference role alone" {
				cmd = "inference"
			}
			var stdout bytes.Buffer
			err := run(t.Context(), append([]string{cmd, "--check-config"}, testArgs(t, tt.args...)...), &stdout, io.Discard)
			if code := exitCode(err); code != tt.code {
				t.Fatalf("exit code %d, want %d (%v)", code, tt.code, err)
			}
			text := stdout.String()
			if err != nil {
				text = err.Error()
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("%q lacks %q", text, w)
				}
			}
		})
	}
}

// syncBuffer is a log sink a child process writes to while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
