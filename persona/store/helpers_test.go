package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/persona/store/storetest"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// testKey is a fixed secret key for channel tokens in tests.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// env is one store on a test's own key prefix, plus a raw Redis client to
// look behind the store's back.
type env struct {
	cfg store.Config
	s   *store.Store
	raw *redis.Client
}

func newEnv(t *testing.T) env {
	t.Helper()
	url := storetest.RedisURL(t)
	cfg := store.Config{URL: url, Prefix: storetest.Prefix(t, url), SecretKey: testKey}
	return env{cfg: cfg, s: storetest.Open(t, cfg, nil), raw: rawClient(t, url)}
}

// another opens a second store on the same server and prefix: another
// process, as far as Redis can tell.
func (e env) another(t *testing.T, n store.Notifier) *store.Store {
	t.Helper()
	return storetest.Open(t, e.cfg, n)
}

func rawClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// dump returns every key under the env's prefix with its value as text,
// for checks that something is or is not stored.
func (e env) dump(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	keys, err := e.raw.Keys(ctx, e.cfg.Prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\n")
		switch e.raw.Type(ctx, k).Val() {
		case "string":
			b.WriteString(e.raw.Get(ctx, k).Val())
		case "hash":
			for f, v := range e.raw.HGetAll(ctx, k).Val() {
				b.WriteString(f + "=" + v + "\n")
			}
		case "set":
			b.WriteString(strings.Join(e.raw.SMembers(ctx, k).Val(), "\n"))
		case "zset":
			b.WriteString(strings.Join(e.raw.ZRange(ctx, k, 0, -1).Val(), "\n"))
		case "list":
			b.WriteString(strings.Join(e.raw.LRange(ctx, k, 0, -1).Val(), "\n"))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func newCreator(t *testing.T, s *store.Store, name string) (store.Creator, string) {
	t.Helper()
	c, tok, err := s.CreateCreator(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return c, tok
}

// edit returns a valid Edit with the handle.
func edit(handle string) persona.Edit {
	e := persona.NewEdit()
	e.Handle = handle
	e.Name = "Luna"
	e.Instructions = "Talk about the night sky."
	e.Greeting = "Hi!"
	return e
}

func mustCreate(t *testing.T, s *store.Store, owner, handle string, vis persona.Visibility) persona.Persona {
	t.Helper()
	e := edit(handle)
	e.Visibility = vis
	p, err := s.Create(t.Context(), owner, e)
	if err != nil {
		t.Fatalf("create @%s: %v", handle, err)
	}
	return p
}

func mustPublish(t *testing.T, s *store.Store, p persona.Persona) (persona.Persona, persona.Version) {
	t.Helper()
	v, err := s.Publish(t.Context(), p.OwnerID, p.ID, p.Revision)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	p, err = s.Get(t.Context(), p.OwnerID, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return p, v
}

func storeConv(channel, user string) corralv1.Conversation {
	return corralv1.Conversation{Platform: corralv1.Platform_PLATFORM_WHATSAPP, ChannelID: channel, UserID: user}
}
