package embedded

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

func TestNATSJetStreamWithoutListener(t *testing.T) {
	n, err := StartNATS(NATSConfig{StoreDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Shutdown)
	if u := n.ClientURL(); u != "" {
		t.Errorf("server without listener reports client URL %q", u)
	}
	nc, err := n.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t.1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	info, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().State.Msgs; got != 1 {
		t.Fatalf("stream holds %d messages, want 1", got)
	}
}

func TestNATSListenerAndPersistence(t *testing.T) {
	dir := t.TempDir()
	n, err := StartNATS(NATSConfig{StoreDir: dir, Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(n.ClientURL())
	if err != nil {
		t.Fatalf("connect over TCP to %q: %v", n.ClientURL(), err)
	}
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "P", Subjects: []string{"p"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), "p", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	n.Shutdown()

	n2, err := StartNATS(NATSConfig{StoreDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n2.Shutdown)
	nc2, err := n2.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	js2, _ := jetstream.New(nc2)
	s, err := js2.Stream(t.Context(), "P")
	if err != nil {
		t.Fatalf("stream lost across restart: %v", err)
	}
	m, err := s.GetMsg(t.Context(), 1)
	if err != nil || string(m.Data) != "kept" {
		t.Fatalf("message after restart = %v, %v", m, err)
	}
}

func TestNATSBadListen(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name, listen string
		want         []string
	}{
		{"no port", "nonsense", []string{`"nonsense"`}},
		{"port not a number", "127.0.0.1:http2", []string{`port "http2" is not a number`}},
		{"port in use", taken.Addr().String(), []string{taken.Addr().String(), "address already in use", "cannot listen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := StartNATS(NATSConfig{StoreDir: t.TempDir(), Listen: tt.listen}, nil)
			if err == nil {
				t.Fatal("StartNATS succeeded")
			}
			if tt.name == "port in use" && !errors.Is(err, ErrListen) {
				t.Errorf("error %v is not ErrListen", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			// "not ready" would mean it waited out the timeout instead of
			// failing at once.
			if strings.Contains(err.Error(), "Atoi") || strings.Contains(err.Error(), "not ready") {
				t.Errorf("error %q is not plain", err)
			}
			t.Log(err)
		})
	}
}

func startRedis(t *testing.T, dir string) (*Redis, *redis.Client) {
	t.Helper()
	r, err := StartRedis(RedisConfig{Dir: dir, SnapshotEvery: 20 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	t.Cleanup(func() { c.Close(); r.Close() })
	return r, c
}

func TestRedisSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	r, c := startRedis(t, dir)
	pipe := c.TxPipeline()
	pipe.Set(ctx, "s", "binary\x00\xffvalue", 0)
	pipe.Set(ctx, "ttl", "v", time.Hour)
	pipe.Set(ctx, "gone", "v", time.Millisecond)
	pipe.RPush(ctx, "l", "a", "b", "c")
	pipe.HSet(ctx, "h", "f1", "v1", "f2", "v2")
	pipe.SAdd(ctx, "set", "x", "y")
	pipe.ZAdd(ctx, "z", redis.Z{Score: 1.5, Member: "m1"}, redis.Z{Score: -2, Member: "m2"})
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: "st", ID: "5-1", Values: []string{"k", "v"}})
	pipe.Do(ctx, "SELECT", 3)
	pipe.Set(ctx, "db3", "three", 0)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	time.Sleep(5 * time.Millisecond) // let "gone" expire before the restart
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	_, c2 := startRedis(t, dir)
	if v, _ := c2.Get(ctx, "s").Result(); v != "binary\x00\xffvalue" {
		t.Errorf("string = %q", v)
	}
	if ttl := c2.TTL(ctx, "ttl").Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("ttl key TTL = %v, want within (0, 1h]", ttl)
	}
	if n := c2.Exists(ctx, "gone").Val(); n != 0 {
		t.Errorf("expired key came back")
	}
	if l := c2.LRange(ctx, "l", 0, -1).Val(); strings.Join(l, ",") != "a,b,c" {
		t.Errorf("list = %v", l)
	}
	if h := c2.HGetAll(ctx, "h").Val(); h["f1"] != "v1" || h["f2"] != "v2" || len(h) != 2 {
		t.Errorf("hash = %v", h)
	}
	if ok := c2.SIsMember(ctx, "set", "y").Val(); !ok || c2.SCard(ctx, "set").Val() != 2 {
		t.Errorf("set lost members")
	}
	if s := c2.ZScore(ctx, "z", "m2").Val(); s != -2 {
		t.Errorf("zscore = %v", s)
	}
	if xs := c2.XRange(ctx, "st", "-", "+").Val(); len(xs) != 1 || xs[0].ID != "5-1" || xs[0].Values["k"] != "v" {
		t.Errorf("stream = %v", xs)
	}
	c3 := redis.NewClient(&redis.Options{Addr: c2.Options().Addr, DB: 3})
	defer c3.Close()
	if v := c3.Get(ctx, "db3").Val(); v != "three" {
		t.Errorf("db 3 value = %q", v)
	}
}

func TestRedisSnapshotsWhileRunning(t *testing.T) {
	dir := t.TempDir()
	_, c := startRedis(t, dir)
	if err := c.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, snapshotFile)
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), `"key":"k"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot with the key written to %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRedisTTLExpiresInRealTime(t *testing.T) {
	_, c := startRedis(t, "")
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 30*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Exists(ctx, "k").Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("key with a 30ms TTL still exists after 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRedisCorruptSnapshot(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"not json", "{nope", "corrupt snapshot"},
		{"future version", `{"version": 99}`, "snapshot version 99"},
		{"bad database", `{"version": 1, "dbs": {"42": []}}`, "database 42"},
		{"unknown type", `{"version": 1, "dbs": {"0": [{"key": "k", "type": "hll"}]}}`, "restore key \"k\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, snapshotFile), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := StartRedis(RedisConfig{Dir: dir}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("StartRedis = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestRedisListenInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, err = StartRedis(RedisConfig{Listen: taken.Addr().String()}, nil)
	if !errors.Is(err, ErrListen) || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("StartRedis on a taken port = %v, want ErrListen naming %s", err, taken.Addr())
	}
}

// TestRedisSnapshotWhileWriting snapshots while clients change every kind
// of value, sorted sets included (whose map miniredis hands out live): run
// with -race, a snapshot that reads a value unlocked is a reported race.
func TestRedisSnapshotWhileWriting(t *testing.T) {
	r, c := startRedis(t, t.TempDir())
	ctx := t.Context()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 400 {
			m := strconv.Itoa(i % 7)
			pipe := c.Pipeline()
			pipe.ZAdd(ctx, "z", redis.Z{Score: float64(i), Member: m})
			pipe.HSet(ctx, "h", m, i)
			pipe.RPush(ctx, "l", i)
			pipe.SAdd(ctx, "s", m)
			if i%5 == 0 {
				pipe.ZRem(ctx, "z", m)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			if err := r.Snapshot(); err != nil {
				t.Fatal(err)
			}
			return
		default:
			if err := r.Snapshot(); err != nil {
				t.Fatal(err)
			}
		}
	}
}
