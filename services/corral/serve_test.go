package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/telemetry"
)

// testConfig is a serve configuration for tests: the real NATS and Redis
// when NATS_URL / REDIS_URL are set, embedded ones otherwise.
func testConfig(t *testing.T) Config {
	t.Helper()
	env := map[string]string{"NATS_URL": os.Getenv("NATS_URL"), "REDIS_URL": os.Getenv("REDIS_URL")}
	cfg, err := parseConfig("serve", []string{"--http", "127.0.0.1:0", "--data", t.TempDir(), "--shutdown-timeout", "10s"}, envOf(env), io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
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
	tel, err := telemetry.Setup(t.Context(), telemetry.Config{ServiceName: "test"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := startServer(t.Context(), cfg, tel)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.addr.String()
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	code, body := get(t, base+"/readyz")
	if code != 200 {
		t.Errorf("/readyz = %d %s", code, body)
	}
	for _, check := range []string{"nats", "jetstream", "redis"} {
		if !strings.Contains(body, `"`+check+`":"ok"`) {
			t.Errorf("/readyz lacks %s ok: %s", check, body)
		}
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d, body lacks runtime metrics", code)
	}
	for _, name := range []string{corralv1.StreamChatIn, corralv1.StreamChatOut, corralv1.StreamChatDLQ} {
		if _, err := s.js.Stream(t.Context(), name); err != nil {
			t.Errorf("stream %s not created at start: %v", name, err)
		}
	}
	if err := s.stop(cfg); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("HTTP still answers after stop")
	}
}

func TestServeFailsClearlyWhenRedisIsDown(t *testing.T) {
	cfg := testConfig(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	cfg.RedisURL = "redis://" + dead
	tel, _ := telemetry.Setup(t.Context(), telemetry.Config{}, io.Discard)
	_, err = startServer(t.Context(), cfg, tel)
	if err == nil || !strings.Contains(err.Error(), "redis at "+dead) {
		t.Fatalf("startServer = %v, want a redis error naming %s", err, dead)
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
	tel, err := telemetry.Setup(t.Context(), telemetry.Config{}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	notGGUF := filepath.Join(t.TempDir(), "weights.bin")
	if err := os.WriteFile(notGGUF, []byte("definitely not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("demo written when none configured", func(t *testing.T) {
		cfg := testConfig(t)
		s, err := startServer(t.Context(), cfg, tel)
		if err != nil {
			t.Fatal(err)
		}
		defer s.stop(cfg)
		if filepath.Dir(s.modelPath) != filepath.Join(cfg.DataDir, "models") {
			t.Errorf("demo model at %s, want it in the data folder", s.modelPath)
		}
		if _, err := os.Stat(s.modelPath); err != nil {
			t.Errorf("demo model not written: %v", err)
		}
	})
	t.Run("not a GGUF file", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Model = notGGUF
		_, err := startServer(t.Context(), cfg, tel)
		if err == nil || !strings.Contains(err.Error(), "CORRAL_MODEL") || !strings.Contains(err.Error(), "magic") {
			t.Fatalf("startServer = %v, want a CORRAL_MODEL error about the file's magic", err)
		}
	})
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
