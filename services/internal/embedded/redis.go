package embedded

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// RedisConfig configures the embedded Redis-protocol server.
type RedisConfig struct {
	// Dir holds the snapshot file; empty keeps nothing on disk.
	Dir string
	// Listen is the TCP address to serve on; empty means 127.0.0.1 on a
	// free port.
	Listen string
	// SnapshotEvery is how often a changed data set is written to disk
	// (default 1s). It is also written at Close.
	SnapshotEvery time.Duration
}

const (
	snapshotFile    = "redis-snapshot.json"
	snapshotVersion = 1
	redisDatabases  = 16
)

// Redis is a running embedded Redis-protocol server. It answers the Redis
// commands Corral uses (strings, hashes, lists, sets, sorted sets, streams,
// TTLs, transactions, Lua) on a real TCP port, so the same go-redis client
// code runs against it and against a production Redis. Its data lives in
// memory and is snapshotted to Dir after writes and at Close, so what
// creators save survives a restart; a crash loses at most SnapshotEvery.
type Redis struct {
	m     *miniredis.Miniredis
	path  string
	log   *slog.Logger
	dirty atomic.Bool
	// saving makes snapshots one at a time: they share the temp file.
	saving sync.Mutex

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// StartRedis loads the snapshot in cfg.Dir, if there is one, and starts
// serving.
func StartRedis(cfg RedisConfig, log *slog.Logger) (*Redis, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.SnapshotEvery <= 0 {
		cfg.SnapshotEvery = time.Second
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	r := &Redis{m: miniredis.NewMiniRedis(), log: log, stop: make(chan struct{}), done: make(chan struct{})}
	// Keys with a TTL expire as wall-clock time passes, as in Redis.
	r.m.ClockTTL(true)
	if cfg.Dir != "" {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("embedded redis: %w", err)
		}
		r.path = filepath.Join(cfg.Dir, snapshotFile)
		n, err := r.load()
		if err != nil {
			return nil, fmt.Errorf("embedded redis: load %s: %w", r.path, err)
		}
		if n > 0 {
			log.Info("embedded redis restored snapshot", "keys", n, "path", r.path)
		}
	}
	if err := r.m.StartAddr(cfg.Listen); err != nil {
		return nil, fmt.Errorf("embedded redis: %w on %s: %w", ErrListen, cfg.Listen, err)
	}
	r.m.Server().SetPreHook(func(_ *server.Peer, cmd string, _ ...string) bool {
		if !r.m.Server().IsReadOnlyCommand(cmd) {
			r.dirty.Store(true)
		}
		return false
	})
	go r.snapshotLoop(cfg.SnapshotEvery)
	return r, nil
}

// Addr is the host:port clients connect to.
func (r *Redis) Addr() string { return r.m.Addr() }

// URL is a redis:// URL for Addr.
func (r *Redis) URL() string { return "redis://" + r.m.Addr() }

// Close stops serving and writes a last snapshot. Safe to call twice.
func (r *Redis) Close() error {
	r.closeOnce.Do(func() {
		close(r.stop)
		<-r.done
		r.m.Close()
		r.closeErr = r.Snapshot()
	})
	return r.closeErr
}

func (r *Redis) snapshotLoop(every time.Duration) {
	defer close(r.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			if r.dirty.Load() {
				if err := r.Snapshot(); err != nil {
					r.log.Error("embedded redis snapshot failed", "err", err)
				}
			}
		}
	}
}

// snapshot is the file format: every key of every database with its type,
// value and absolute expiry.
type snapshot struct {
	Version int            `json:"version"`
	Saved   time.Time      `json:"saved"`
	DBs     map[int][]item `json:"dbs"`
}

type item struct {
	Key      string             `json:"key"`
	Type     string             `json:"type"`
	ExpireAt int64              `json:"expire_at_ms,omitempty"` // unix ms; 0 = none
	String   []byte             `json:"string,omitempty"`
	List     [][]byte           `json:"list,omitempty"`
	Hash     map[string][]byte  `json:"hash,omitempty"`
	Set      []string           `json:"set,omitempty"`
	ZSet     map[string]float64 `json:"zset,omitempty"`
	Stream   []streamEntry      `json:"stream,omitempty"`
}

type streamEntry struct {
	ID     string   `json:"id"`
	Values []string `json:"values"`
}

// Snapshot writes the data set to disk now (atomically: temp file and
// rename). Types Corral does not use (HyperLogLog) are skipped with a
// warning; stream consumer groups are not kept.
func (r *Redis) Snapshot() error {
	if r.path == "" {
		return nil
	}
	r.saving.Lock()
	defer r.saving.Unlock()
	r.dirty.Store(false)
	snap := snapshot{Version: snapshotVersion, Saved: time.Now().UTC(), DBs: map[int][]item{}}
	now := time.Now()
	for i := range redisDatabases {
		db := r.m.DB(i)
		for _, k := range db.Keys() {
			it, err := readItem(db, k, now)
			if err != nil {
				r.log.Warn("embedded redis snapshot skips key", "db", i, "key", k, "err", err)
				continue
			}
			snap.DBs[i] = append(snap.DBs[i], it)
		}
	}
	data, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	tmp := r.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		r.dirty.Store(true)
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := os.Rename(tmp, r.path); err != nil {
		r.dirty.Store(true)
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

var errUnsupportedType = errors.New("type not kept in snapshots")

func readItem(db *miniredis.RedisDB, k string, now time.Time) (item, error) {
	it := item{Key: k, Type: db.Type(k)}
	if ttl := db.TTL(k); ttl > 0 {
		it.ExpireAt = now.Add(ttl).UnixMilli()
	}
	var err error
	switch it.Type {
	case "string":
		var s string
		s, err = db.Get(k)
		it.String = []byte(s)
	case "list":
		var l []string
		l, err = db.List(k)
		for _, v := range l {
			it.List = append(it.List, []byte(v))
		}
	case "hash":
		var fields []string
		fields, err = db.HKeys(k)
		it.Hash = make(map[string][]byte, len(fields))
		for _, f := range fields {
			it.Hash[f] = []byte(db.HGet(k, f))
		}
	case "set":
		it.Set, err = db.Members(k)
	case "zset":
		it.ZSet, err = sortedSet(db, k)
	case "stream":
		var entries []miniredis.StreamEntry
		entries, err = db.Stream(k)
		for _, e := range entries {
			it.Stream = append(it.Stream, streamEntry{ID: e.ID, Values: e.Values})
		}
	default:
		return it, fmt.Errorf("%s: %w", it.Type, errUnsupportedType)
	}
	return it, err
}

// sortedSet copies the sorted set k. miniredis's SortedSet hands out its
// live map, which a ZADD may change while the snapshot encodes it, so the
// members and their scores are copied in calls that each hold its lock;
// a member removed between them is left out.
func sortedSet(db *miniredis.RedisDB, k string) (map[string]float64, error) {
	members, err := db.ZMembers(k)
	if err != nil {
		return nil, err
	}
	scores, err := db.ZMScore(k, members)
	if err != nil {
		return nil, err
	}
	still, err := db.ZMembers(k)
	if err != nil {
		return nil, err
	}
	present := make(map[string]bool, len(still))
	for _, m := range still {
		present[m] = true
	}
	out := make(map[string]float64, len(members))
	for i, m := range members {
		if present[m] {
			out[m] = scores[i]
		}
	}
	return out, nil
}

// load restores the snapshot, dropping keys whose expiry has passed, and
// returns how many keys it restored.
func (r *Redis) load() (int, error) {
	data, err := os.ReadFile(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return 0, fmt.Errorf("corrupt snapshot (move it away to start empty): %w", err)
	}
	if snap.Version != snapshotVersion {
		return 0, fmt.Errorf("snapshot version %d, want %d", snap.Version, snapshotVersion)
	}
	now := time.Now()
	n := 0
	for i, items := range snap.DBs {
		if i < 0 || i >= redisDatabases {
			return n, fmt.Errorf("snapshot names database %d, want 0..%d", i, redisDatabases-1)
		}
		db := r.m.DB(i)
		for _, it := range items {
			if it.ExpireAt != 0 && it.ExpireAt <= now.UnixMilli() {
				continue
			}
			if err := restoreItem(db, it); err != nil {
				return n, fmt.Errorf("restore key %q: %w", it.Key, err)
			}
			if it.ExpireAt != 0 {
				db.SetTTL(it.Key, time.UnixMilli(it.ExpireAt).Sub(now))
			}
			n++
		}
	}
	return n, nil
}

func restoreItem(db *miniredis.RedisDB, it item) error {
	var err error
	switch it.Type {
	case "string":
		err = db.Set(it.Key, string(it.String))
	case "list":
		vals := make([]string, len(it.List))
		for i, v := range it.List {
			vals[i] = string(v)
		}
		_, err = db.Push(it.Key, vals...)
	case "hash":
		fv := make([]string, 0, 2*len(it.Hash))
		for f, v := range it.Hash {
			fv = append(fv, f, string(v))
		}
		db.HSet(it.Key, fv...)
	case "set":
		_, err = db.SetAdd(it.Key, it.Set...)
	case "zset":
		for m, s := range it.ZSet {
			if _, err = db.ZAdd(it.Key, s, m); err != nil {
				break
			}
		}
	case "stream":
		for _, e := range it.Stream {
			if _, err = db.XAdd(it.Key, e.ID, e.Values); err != nil {
				break
			}
		}
	default:
		err = fmt.Errorf("%s: %w", it.Type, errUnsupportedType)
	}
	return err
}
