// Package storetest gives tests of the persona store, and of what stands
// on it, a Redis and a NATS server: the ones named by REDIS_URL and
// NATS_URL when those are set (real, shared servers), otherwise private
// in-process ones (miniredis, as the embedded server of `corral serve`
// uses, and nats-server) started for the test.
//
// Tests on shared servers must not collide: Open gives every test its own
// key prefix and deletes its keys at the end, and Subject gives it its own
// NATS subject.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/corral-ai/corral/persona/store"
)

// Environment variables naming external servers.
const (
	EnvRedisURL = "REDIS_URL"
	EnvNATSURL  = "NATS_URL"
)

// RedisURL returns REDIS_URL when it is set, and otherwise starts a private
// miniredis whose TTLs follow the wall clock, as the embedded server's do,
// and stops it when t ends.
func RedisURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvRedisURL); u != "" {
		return u
	}
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatalf("storetest: start miniredis: %v", err)
	}
	t.Cleanup(m.Close)
	return "redis://" + m.Addr()
}

// Name returns a string unique to this call: the test's name reduced to
// letters, digits and '_', then a random suffix.
func Name(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, r := range t.Name() {
		if b.Len() >= 32 {
			break
		}
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return b.String() + "_" + hex.EncodeToString(rnd[:])
}

// Prefix returns a key prefix unique to this call and, when t ends, deletes
// every key under it from the Redis at url.
func Prefix(t testing.TB, url string) string {
	t.Helper()
	prefix := "test:" + Name(t) + ":"
	t.Cleanup(func() { deleteKeys(t, url, prefix) })
	return prefix
}

func deleteKeys(t testing.TB, url, prefix string) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Errorf("storetest: cleanup: %v", err)
		return
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			rdb.Del(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		rdb.Del(ctx, batch...)
	}
	if err := iter.Err(); err != nil {
		t.Errorf("storetest: cleanup of %s*: %v", prefix, err)
	}
}

// Open opens a store for t. An empty cfg.URL becomes RedisURL(t) and an
// empty cfg.Prefix a fresh Prefix; the store is closed and its keys deleted
// when t ends.
func Open(t testing.TB, cfg store.Config, notifier store.Notifier) *store.Store {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = RedisURL(t)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = Prefix(t, cfg.URL)
	}
	s, err := store.Open(t.Context(), cfg, nil, notifier)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// NATSURL returns NATS_URL when it is set, and otherwise starts a private
// nats-server on a free loopback port, stopped when t ends.
func NATSURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvNATSURL); u != "" {
		return u
	}
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("storetest: nats-server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("storetest: nats-server did not start")
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

// ConnectNATS connects to url and closes the connection when t ends.
func ConnectNATS(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("storetest "+t.Name()))
	if err != nil {
		t.Fatalf("storetest: connect to NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Subject returns a NATS subject unique to this call, for persona events of
// one test.
func Subject(t testing.TB) string {
	t.Helper()
	return "test.persona.updated." + Name(t)
}
