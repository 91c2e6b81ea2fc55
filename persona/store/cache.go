package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corral-ai/corral/persona"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// CacheConfig configures a Cache.
type CacheConfig struct {
	// TTL bounds how long an entry is used without being read again from
	// Redis; it is what limits staleness when a change event is lost (a
	// NATS disconnect). Default 30s.
	TTL time.Duration
	// MaxEntries bounds each of the cache's maps; when one is full, some
	// entries are dropped. Default 10000.
	MaxEntries int
}

// Defaults of CacheConfig.
const (
	DefaultCacheTTL        = 30 * time.Second
	DefaultCacheMaxEntries = 10000
)

// Cache is the persona read path of chat processes: newest versions by
// persona id and by handle, and versions by number, kept in memory. Every
// change a Store commits is announced through the Notifier, and the cache
// drops what the change touched as soon as the event arrives; entries also
// expire after CacheConfig.TTL. A read racing with a change never puts the
// old value back: fills that started before an invalidation are discarded.
type Cache struct {
	s    *Store
	cfg  CacheConfig
	stop func() error
	now  func() time.Time

	mu       sync.Mutex
	epoch    uint64 // advanced by every invalidation
	live     map[string]liveItem
	handles  map[string]handleItem
	versions map[string]map[uint32]persona.Version

	hits, misses, invalidations atomic.Int64
}

type liveItem struct {
	v        persona.Version
	pickable bool
	expires  time.Time
}

type handleItem struct {
	id      string
	expires time.Time
}

// CacheStats counts cache activity since the cache was made.
type CacheStats struct {
	Hits, Misses, Invalidations int64
}

// NewCache returns a cache over s that listens to n for changes; with a nil
// n it relies on expiry alone. Close stops listening.
func NewCache(s *Store, n Notifier, cfg CacheConfig) (*Cache, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultCacheTTL
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultCacheMaxEntries
	}
	c := &Cache{
		s: s, cfg: cfg, now: time.Now,
		live:     map[string]liveItem{},
		handles:  map[string]handleItem{},
		versions: map[string]map[uint32]persona.Version{},
	}
	if n != nil {
		stop, err := n.Subscribe(c.invalidate)
		if err != nil {
			return nil, fmt.Errorf("persona cache: %w", err)
		}
		c.stop = stop
	}
	return c, nil
}

// Close stops listening for changes. The cache keeps answering, from
// Redis once its entries expire.
func (c *Cache) Close() error {
	if c.stop == nil {
		return nil
	}
	return c.stop()
}

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Invalidations: c.invalidations.Load()}
}

// invalidate drops what a change touched.
func (c *Cache) invalidate(ch Change) {
	c.invalidations.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.live, ch.PersonaID)
	for _, h := range ch.Handles {
		delete(c.handles, h)
	}
	if ch.Kind == Deleted {
		delete(c.versions, ch.PersonaID)
		for h, it := range c.handles {
			if it.id == ch.PersonaID {
				delete(c.handles, h)
			}
		}
	}
}

// Live is Store.Live through the cache.
func (c *Cache) Live(ctx context.Context, id string) (persona.Version, error) {
	v, _, err := c.liveEntry(ctx, id)
	return v, err
}

func (c *Cache) liveEntry(ctx context.Context, id string) (persona.Version, bool, error) {
	c.mu.Lock()
	it, ok := c.live[id]
	epoch := c.epoch
	c.mu.Unlock()
	if ok && c.now().Before(it.expires) {
		c.hits.Add(1)
		return it.v, it.pickable, nil
	}
	c.misses.Add(1)
	v, pickable, err := c.s.liveEntry(ctx, id)
	if err != nil {
		return persona.Version{}, false, err
	}
	c.mu.Lock()
	if c.epoch == epoch {
		makeRoom(c.live, c.cfg.MaxEntries)
		c.live[id] = liveItem{v: v, pickable: pickable, expires: c.now().Add(c.cfg.TTL)}
	}
	c.mu.Unlock()
	return v, pickable, nil
}

// ByHandle is Store.ByHandle through the cache.
func (c *Cache) ByHandle(ctx context.Context, handle string) (persona.Version, error) {
	hk := persona.HandleKey(handle)
	c.mu.Lock()
	it, ok := c.handles[hk]
	epoch := c.epoch
	c.mu.Unlock()
	id := it.id
	if !ok || !c.now().Before(it.expires) {
		var err error
		if id, err = c.s.handleID(ctx, hk); err != nil {
			return persona.Version{}, err
		}
		c.mu.Lock()
		if c.epoch == epoch {
			makeRoom(c.handles, c.cfg.MaxEntries)
			c.handles[hk] = handleItem{id: id, expires: c.now().Add(c.cfg.TTL)}
		}
		c.mu.Unlock()
	}
	v, pickable, err := c.liveEntry(ctx, id)
	if err != nil {
		return persona.Version{}, err
	}
	if !pickable {
		return persona.Version{}, notFound("persona handle", handle)
	}
	return v, nil
}

// Version is Store.Version through the cache; versions never change, so
// they are kept until their persona is deleted.
func (c *Cache) Version(ctx context.Context, id string, n uint32) (persona.Version, error) {
	c.mu.Lock()
	v, ok := c.versions[id][n]
	epoch := c.epoch
	c.mu.Unlock()
	if ok {
		c.hits.Add(1)
		return v, nil
	}
	c.misses.Add(1)
	v, err := c.s.version(ctx, id, n)
	if err != nil {
		return persona.Version{}, err
	}
	c.mu.Lock()
	if c.epoch == epoch {
		if c.versions[id] == nil {
			makeRoom(c.versions, c.cfg.MaxEntries)
			c.versions[id] = map[uint32]persona.Version{}
		}
		makeRoom(c.versions[id], c.cfg.MaxEntries)
		c.versions[id][n] = v
	}
	c.mu.Unlock()
	return v, nil
}

// Resolve is Store.Resolve with the personas read through the cache; the
// user's pick and the channel's binding are read from Redis each time.
func (c *Cache) Resolve(ctx context.Context, conv corralv1.Conversation) (r Resolution, err error) {
	ctx, sp := span(ctx, "Cache.Resolve")
	defer func() { end(sp, err) }()
	return c.s.resolve(ctx, conv, c.liveEntry)
}

// makeRoom drops about a tenth of m's entries when m is full. Which ones
// is left to map order: the cache is a bound on memory, not an LRU.
func makeRoom[K comparable, V any](m map[K]V, limit int) {
	if len(m) < limit {
		return
	}
	drop := limit/10 + 1
	for k := range m {
		delete(m, k)
		if drop--; drop == 0 {
			return
		}
	}
}
