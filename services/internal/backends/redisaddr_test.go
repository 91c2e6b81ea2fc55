package backends

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/corral-ai/corral/services/internal/lifecycle"
)

// TestEmbeddedRedisPublishesItsAddress checks the address file's life: it
// appears once the embedded server listens, names an address a client
// reaches, and is gone once the backends stop.
func TestEmbeddedRedisPublishesItsAddress(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	log := slog.New(slog.DiscardHandler)
	g := lifecycle.NewGroup(t.Context(), log)
	b, err := Start(t.Context(), cfg, Needs{Redis: true}, log, g)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := ReadRedisAddr(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if b.RedisURL != "redis://"+addr {
		t.Errorf("RedisURL = %q, file says %q", b.RedisURL, addr)
	}
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	if err := rc.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatalf("published address %s does not answer: %v", addr, err)
	}
	if err := b.Redis.Get(t.Context(), "k").Err(); err != nil {
		t.Errorf("the shared client does not see what the address's client wrote: %v", err)
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRedisAddr(cfg.DataDir); !errors.Is(err, ErrNoRedisAddr) {
		t.Errorf("after stop ReadRedisAddr = %v, want ErrNoRedisAddr", err)
	}
}

func TestExternalRedisPublishesNothing(t *testing.T) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		t.Skip("needs REDIS_URL")
	}
	cfg := DefaultConfig()
	cfg.DataDir, cfg.RedisURL = t.TempDir(), url
	b, err := start(t, cfg, Needs{Redis: true})
	if err != nil {
		t.Fatal(err)
	}
	if b.RedisURL != url {
		t.Errorf("RedisURL = %q, want %q", b.RedisURL, url)
	}
	if _, err := ReadRedisAddr(cfg.DataDir); !errors.Is(err, ErrNoRedisAddr) {
		t.Errorf("ReadRedisAddr = %v, want ErrNoRedisAddr", err)
	}
}

func TestReadRedisAddr(t *testing.T) {
	tests := []struct {
		name    string
		content *string
		want    string
		wantErr string
	}{
		{"missing", nil, "", "no embedded Redis address"},
		{"empty", ptr(""), "", "no embedded Redis address"},
		{"blank line", ptr("\n"), "", "no embedded Redis address"},
		{"address", ptr("127.0.0.1:6390\n"), "127.0.0.1:6390", ""},
		{"without newline", ptr("[::1]:6390"), "[::1]:6390", ""},
		{"garbage", ptr("not an address\n"), "", "not host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != nil {
				path := RedisAddrFile(dir)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(*tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadRedisAddr(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ReadRedisAddr = %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ReadRedisAddr = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if err := RemoveRedisAddr(t.TempDir()); err != nil {
		t.Errorf("RemoveRedisAddr without a file: %v", err)
	}
}

func ptr(s string) *string { return &s }

func TestDialable(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:6390": "127.0.0.1:6390",
		"0.0.0.0:6390":   "127.0.0.1:6390",
		"[::]:6390":      "[::1]:6390",
		"10.1.2.3:6390":  "10.1.2.3:6390",
		"redis:6390":     "redis:6390",
		"nonsense":       "nonsense",
	} {
		if got := dialable(in); got != want {
			t.Errorf("dialable(%q) = %q, want %q", in, got, want)
		}
	}
}
