package backends

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/corral-ai/corral/services/internal/lifecycle"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/settings"
)

// testConfig uses the real NATS and Redis when NATS_URL / REDIS_URL are
// set, embedded ones in a temporary data folder otherwise.
func testConfig(t *testing.T) Config {
	t.Helper()
	c := DefaultConfig()
	c.DataDir = t.TempDir()
	c.NATSURL = os.Getenv("NATS_URL")
	c.RedisURL = os.Getenv("REDIS_URL")
	return c
}

// start runs Start with a fresh group that is stopped when the test ends.
func start(t *testing.T, cfg Config, needs Needs) (*Backends, error) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	g := lifecycle.NewGroup(t.Context(), log)
	t.Cleanup(func() {
		if err := g.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return Start(t.Context(), cfg, needs, log, g)
}

func TestStartWhatIsNeeded(t *testing.T) {
	tests := []struct {
		name   string
		needs  Needs
		checks []string
	}{
		{"nothing", Needs{}, nil},
		{"nats", Needs{NATS: true}, []string{"jetstream", "nats"}},
		{"redis", Needs{Redis: true}, []string{"redis"}},
		{"all", All(), []string{"jetstream", "nats", "redis"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := start(t, testConfig(t), tt.needs)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for name, check := range b.Checks() {
				names = append(names, name)
				if err := check(t.Context()); err != nil {
					t.Errorf("check %s: %v", name, err)
				}
			}
			if got, want := strings.Join(slices.Sorted(slices.Values(names)), ","), strings.Join(tt.checks, ","); got != want {
				t.Errorf("checks %s, want %s", got, want)
			}
			if (b.NATS != nil) != tt.needs.NATS || (b.JetStream != nil) != tt.needs.NATS || (b.Redis != nil) != tt.needs.Redis {
				t.Errorf("backends %+v do not match needs %+v", b, tt.needs)
			}
			if tt.needs.Redis {
				if err := b.Redis.Ping(t.Context()).Err(); err != nil {
					t.Errorf("redis ping: %v", err)
				}
			}
		})
	}
}

func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestStartFailsNamingTheSetting(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dead := deadAddr(t)
	tests := []struct {
		name  string
		edit  func(*Config)
		needs Needs
		env   string
		want  []string
		not   string
	}{
		{"nats down", func(c *Config) { c.NATSURL = "nats://user:hunter2@" + dead }, Needs{NATS: true},
			EnvNATSURL, []string{"connect to NATS at nats://user:xxxxx@" + dead}, "hunter2"},
		{"redis down", func(c *Config) { c.RedisURL = "redis://" + dead }, Needs{Redis: true},
			EnvRedisURL, []string{"redis at " + dead}, ""},
		{"embedded nats port taken", func(c *Config) { c.NATSURL, c.NATSListen = "", taken.Addr().String() }, Needs{NATS: true},
			EnvNATSListen, []string{taken.Addr().String(), "address already in use"}, ""},
		{"embedded redis port taken", func(c *Config) { c.RedisURL, c.RedisListen = "", taken.Addr().String() }, Needs{Redis: true},
			EnvRedisListen, []string{taken.Addr().String()}, ""},
		{"replicas without a cluster", func(c *Config) { c.StreamReplicas = 3 }, Needs{NATS: true},
			EnvStreamReplicas, []string{"need a JetStream cluster", "not clustered"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.edit(&cfg)
			_, err := start(t, cfg, tt.needs)
			var p settings.Problem
			if !errors.As(err, &p) || p.Env != tt.env {
				t.Fatalf("Start = %v, want a problem with %s", err, tt.env)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tt.not != "" && strings.Contains(err.Error(), tt.not) {
				t.Errorf("error %q shows %q", err, tt.not)
			}
			if tt.env == EnvStreamReplicas && !errors.Is(err, natsbus.ErrNeedsCluster) {
				t.Errorf("error %v is not ErrNeedsCluster", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		env  string
	}{
		{"defaults", func(*Config) {}, ""},
		{"nats urls", func(c *Config) { c.NATSURL = "nats://a:4222,tls://b:4222" }, ""},
		{"nats scheme", func(c *Config) { c.NATSURL = "http://x:4222" }, EnvNATSURL},
		{"nats second url", func(c *Config) { c.NATSURL = "nats://a:4222,b" }, EnvNATSURL},
		{"nats listen", func(c *Config) { c.NATSListen = "4222" }, EnvNATSListen},
		{"no replicas", func(c *Config) { c.StreamReplicas = 0 }, EnvStreamReplicas},
		{"too many replicas", func(c *Config) { c.StreamReplicas = 7 }, EnvStreamReplicas},
		{"redis scheme", func(c *Config) { c.RedisURL = "mysql://x" }, EnvRedisURL},
		{"redis without address", func(c *Config) { c.RedisURL = "redis://" }, EnvRedisURL},
		{"redis listen", func(c *Config) { c.RedisListen = "nowhere" }, EnvRedisListen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.env == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			var p settings.Problem
			if !errors.As(err, &p) || p.Env != tt.env {
				t.Fatalf("Validate = %v, want a problem with %s", err, tt.env)
			}
		})
	}
	c := DefaultConfig()
	c.NATSURL = "http://user:hunter2@x:4222"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Validate = %v, must not show the password", err)
	}
}

func TestFor(t *testing.T) {
	c := DefaultConfig()
	c.NATSURL = "http://wrong"
	c.RedisURL = "mysql://wrong"
	tests := []struct {
		name     string
		needs    Needs
		settings []string
		problems []string
	}{
		{"nothing", Needs{}, nil, nil},
		{"nats", Needs{NATS: true}, []string{EnvNATSURL, EnvNATSListen, EnvStreamReplicas}, []string{EnvNATSURL}},
		{"redis", Needs{Redis: true}, []string{EnvRedisURL, EnvRedisListen}, []string{EnvRedisURL}},
		{"all", All(), []string{EnvNATSURL, EnvNATSListen, EnvStreamReplicas, EnvRedisURL, EnvRedisListen}, []string{EnvNATSURL, EnvRedisURL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			part := c.For(tt.needs)
			var envs []string
			for _, s := range part.Settings() {
				envs = append(envs, s.Env)
			}
			if strings.Join(envs, ",") != strings.Join(tt.settings, ",") {
				t.Errorf("settings %v, want %v", envs, tt.settings)
			}
			err := part.Validate()
			for _, env := range []string{EnvNATSURL, EnvRedisURL} {
				if got, want := err != nil && strings.Contains(err.Error(), env+":"), slices.Contains(tt.problems, env); got != want {
					t.Errorf("problem with %s reported = %v, want %v (%v)", env, got, want, err)
				}
			}
		})
	}
}
