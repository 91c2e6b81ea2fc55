package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/persona/store/storetest"
)

// within polls cond until it holds or d passes, and reports how long it
// took.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Errorf("%s: not seen within %v", what, d)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%s: seen after %v", what, time.Since(start).Round(time.Millisecond))
}

// TestCacheSeesOtherProcess runs two "processes", each with its own Redis
// and NATS connections: A reads through a cache whose entries would live an
// hour, B makes changes. A must see each change within a second, through
// the persona.updated event alone.
func TestCacheSeesOtherProcess(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	natsURL := storetest.NATSURL(t)
	subject := storetest.Subject(t)
	na := store.NewNATSNotifier(storetest.ConnectNATS(t, natsURL), subject, nil)
	nb := store.NewNATSNotifier(storetest.ConnectNATS(t, natsURL), subject, nil)
	a := e.another(t, na)
	b := e.another(t, nb)
	cache, err := store.NewCache(a, na, store.CacheConfig{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cache.Close() })

	alice, _ := newCreator(t, b, "Alice")
	p := mustCreate(t, b, alice.ID, "Luna", persona.Public)
	p, _ = mustPublish(t, b, p)
	// The events of B's create and publish reach A's cache asynchronously
	// and may drop what the first reads cached, so repeat until a round of
	// reads saw no invalidation; then its repeated reads must have hit.
	hit := false
	for deadline := time.Now().Add(time.Second); !hit && time.Now().Before(deadline); {
		before := cache.Stats()
		for range 3 {
			if v, err := cache.ByHandle(ctx, "luna"); err != nil || v.Number != 1 {
				t.Fatalf("ByHandle() = %+v, %v", v, err)
			}
		}
		after := cache.Stats()
		if after.Invalidations == before.Invalidations {
			hit = after.Hits-before.Hits >= 2
			if !hit {
				t.Fatalf("repeated reads did not hit the cache: %+v then %+v", before, after)
			}
		}
	}
	if !hit {
		t.Errorf("the cache kept being invalidated with nothing changing: %+v", cache.Stats())
	}

	p, _ = mustPublish(t, b, p)
	within(t, time.Second, "a version published elsewhere", func() bool {
		v, err := cache.Live(ctx, p.ID)
		return err == nil && v.Number == 2
	})

	ed := p.Edit()
	ed.Handle = "Selene"
	if p, err = b.Update(ctx, alice.ID, p.ID, p.Revision, ed); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "a handle renamed elsewhere", func() bool {
		_, errOld := cache.ByHandle(ctx, "luna")
		v, errNew := cache.ByHandle(ctx, "selene")
		return errors.Is(errOld, store.ErrNotFound) && errNew == nil && v.PersonaID == p.ID
	})

	ed.Visibility = persona.Private
	if p, err = b.Update(ctx, alice.ID, p.ID, p.Revision, ed); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "a persona made private elsewhere", func() bool {
		_, err := cache.ByHandle(ctx, "selene")
		return errors.Is(err, store.ErrNotFound)
	})
	if _, err := cache.Live(ctx, p.ID); err != nil {
		t.Errorf("a private persona is still live where bound: %v", err)
	}

	// Garbage on the subject is ignored, and the cache keeps listening.
	if err := storetest.ConnectNATS(t, natsURL).Publish(subject, []byte("not a protobuf \xff")); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, alice.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "a persona deleted elsewhere", func() bool {
		_, err := cache.Live(ctx, p.ID)
		return errors.Is(err, store.ErrNotFound)
	})
	if st := cache.Stats(); st.Invalidations < 4 {
		t.Errorf("invalidations %d, want one per change", st.Invalidations)
	}
}

// TestCacheExpiresWithoutEvents checks the fallback when events are lost:
// entries expire after the TTL.
func TestCacheExpiresWithoutEvents(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	cache, err := store.NewCache(e.s, nil, store.CacheConfig{TTL: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := newCreator(t, e.s, "Alice")
	p := mustCreate(t, e.s, alice.ID, "Luna", persona.Public)
	p, _ = mustPublish(t, e.s, p)
	if v, _ := cache.Live(ctx, p.ID); v.Number != 1 {
		t.Fatalf("Live() = %d", v.Number)
	}
	mustPublish(t, e.s, p)
	if v, _ := cache.Live(ctx, p.ID); v.Number != 1 {
		t.Errorf("without events the cache should still hold version 1 before its TTL, got %d", v.Number)
	}
	within(t, 2*time.Second, "expiry of a cached version", func() bool {
		v, err := cache.Live(ctx, p.ID)
		return err == nil && v.Number == 2
	})
	// Versions are immutable and served from memory.
	v1, err := cache.Version(ctx, p.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	hits := cache.Stats().Hits
	if again, _ := cache.Version(ctx, p.ID, 1); again.Number != v1.Number || cache.Stats().Hits != hits+1 {
		t.Errorf("second Version() read missed the cache")
	}
}

func TestCacheResolve(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	cache, err := store.NewCache(e.s, nil, store.CacheConfig{})
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := newCreator(t, e.s, "Alice")
	if _, err := e.s.PutChannel(ctx, store.Channel{Platform: whatsapp, ID: "100", OwnerID: alice.ID, AccessToken: accessToken}); err != nil {
		t.Fatal(err)
	}
	p := mustCreate(t, e.s, alice.ID, "Luna", persona.Private)
	mustPublish(t, e.s, p)
	if err := e.s.Bind(ctx, alice.ID, whatsapp, "100", p.ID); err != nil {
		t.Fatal(err)
	}
	conv := storeConv("100", "user")
	for range 2 {
		r, err := cache.Resolve(ctx, conv)
		if err != nil || r.Source != store.FromChannel || r.Version.PersonaID != p.ID {
			t.Fatalf("Resolve() = %+v, %v", r, err)
		}
	}
	if cache.Stats().Hits == 0 {
		t.Error("Resolve() did not read the persona through the cache")
	}
}

// BenchmarkCacheLive reads a published persona through the cache (a hit
// after the first read) and, for comparison, straight from Redis.
func BenchmarkCacheLive(b *testing.B) {
	url := storetest.RedisURL(b)
	s := storetest.Open(b, store.Config{URL: url}, nil)
	c, _, err := s.CreateCreator(b.Context(), "Bench")
	if err != nil {
		b.Fatal(err)
	}
	p, err := s.Create(b.Context(), c.ID, edit("bench"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Publish(b.Context(), c.ID, p.ID, p.Revision); err != nil {
		b.Fatal(err)
	}
	cache, err := store.NewCache(s, nil, store.CacheConfig{TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("cache", func(b *testing.B) {
		for b.Loop() {
			if _, err := cache.Live(b.Context(), p.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("redis", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Live(b.Context(), p.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}
