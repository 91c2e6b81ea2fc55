package kvcache_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/corral-ai/corral/inference/kvcache"
)

// tiny is a small shape for bookkeeping tests: 4 tokens a block.
var tiny = kvcache.Config{Layers: 2, KVHeads: 1, HeadDim: 4, BlockTokens: 4, Type: kvcache.F32}

// newCache makes a cache of cfg's shape with exactly blocks blocks.
func newCache(t testing.TB, cfg kvcache.Config, blocks int) *kvcache.Cache {
	t.Helper()
	b, err := cfg.BlockBytes()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Budget = b * int64(blocks)
	c, err := kvcache.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Blocks() != blocks {
		t.Fatalf("%d blocks, want %d", c.Blocks(), blocks)
	}
	return c
}

// seqOf opens a sequence, appends tokens, stores a row for each (its
// token id in every element) and commits them.
func seqOf(t testing.TB, c *kvcache.Cache, tokens []int32) int {
	t.Helper()
	id := c.NewSeq()
	extend(t, c, id, tokens...)
	return id
}

// extend appends tokens to seq, stores their rows and commits everything.
func extend(t testing.TB, c *kvcache.Cache, id int, tokens ...int32) {
	t.Helper()
	start := c.Len(id)
	if err := c.Append(id, tokens...); err != nil {
		t.Fatal(err)
	}
	for i, tok := range tokens {
		storeRow(t, c, id, start+i, float32(tok))
	}
	if err := c.Commit(id, c.Len(id)); err != nil {
		t.Fatal(err)
	}
}

func storeRow(t testing.TB, c *kvcache.Cache, id, pos int, x float32) {
	t.Helper()
	k := slices.Repeat([]float32{x}, c.RowLen())
	v := slices.Repeat([]float32{-x}, c.RowLen())
	for l := range 2 {
		if err := c.Store(l, id, pos, k, v); err != nil {
			t.Fatal(err)
		}
	}
}

// rowsOf reads back the first key element of every position of seq in
// layer 1.
func rowsOf(t testing.TB, c *kvcache.Cache, id int) []float32 {
	t.Helper()
	var out []float32
	for pos := 0; pos < c.Len(id); {
		k, v := c.Load(1, id, pos)
		if len(k) == 0 || len(v) != len(k) {
			t.Fatalf("sequence %d position %d: %d keys, %d values", id, pos, len(k), len(v))
		}
		for r := 0; r < len(k); r += c.RowLen() {
			if v[r] != -k[r] {
				t.Fatalf("sequence %d position %d: key %v, value %v", id, pos, k[r], v[r])
			}
			out = append(out, k[r])
		}
		pos += len(k) / c.RowLen()
	}
	return out
}

func ids(n int, from int32) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = from + int32(i)
	}
	return out
}

func floats(x []int32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// gauges is the part of Stats the bookkeeping tests compare.
type gauges struct{ used, cached, evictable, pinned, free, copies int }

func gaugesOf(s kvcache.Stats) gauges {
	return gauges{s.Used, s.Cached, s.Evictable, s.Pinned, s.Free, int(s.Copies)}
}

func TestBookkeeping(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, c *kvcache.Cache)
		want gauges
	}{
		{"append within a block", func(t *testing.T, c *kvcache.Cache) {
			seqOf(t, c, ids(3, 1))
		}, gauges{used: 1, free: 7}},
		{"append across block ends", func(t *testing.T, c *kvcache.Cache) {
			id := seqOf(t, c, ids(5, 1))
			extend(t, c, id, 9, 9, 9, 9)
		}, gauges{used: 3, free: 5}},
		{"free sends private blocks to the free stack and full ones to the cache", func(t *testing.T, c *kvcache.Cache) {
			id := seqOf(t, c, ids(10, 1))
			if err := c.Free(id); err != nil {
				t.Fatal(err)
			}
		}, gauges{cached: 2, evictable: 2, free: 6}},
		{"uncommitted full blocks are not cached", func(t *testing.T, c *kvcache.Cache) {
			id := c.NewSeq()
			if err := c.Append(id, ids(8, 1)...); err != nil {
				t.Fatal(err)
			}
			if err := c.Commit(id, 7); err != nil {
				t.Fatal(err)
			}
			if err := c.Free(id); err != nil {
				t.Fatal(err)
			}
		}, gauges{cached: 1, evictable: 1, free: 7}},
		{"fork shares every block", func(t *testing.T, c *kvcache.Cache) {
			id := seqOf(t, c, ids(6, 1))
			if _, err := c.Fork(id); err != nil {
				t.Fatal(err)
			}
		}, gauges{used: 2, free: 6}},
		{"append after fork copies the shared partial block", func(t *testing.T, c *kvcache.Cache) {
			id := seqOf(t, c, ids(6, 1))
			f, err := c.Fork(id)
			if err != nil {
				t.Fatal(err)
			}
			extend(t, c, f, 50)
			extend(t, c, id, 60)
			if got, want := rowsOf(t, c, f), floats(append(ids(6, 1), 50)); !slices.Equal(got, want) {
				t.Fatalf("fork holds %v, want %v", got, want)
			}
			if got, want := rowsOf(t, c, id), floats(append(ids(6, 1), 60)); !slices.Equal(got, want) {
				t.Fatalf("original holds %v, want %v", got, want)
			}
		}, gauges{used: 3, free: 5, copies: 1}},
		{"append after fork at a block end copies nothing", func(t *testing.T, c *kvcache.Cache) {
			id := seqOf(t, c, ids(4, 1))
			f, err := c.Fork(id)
			if err != nil {
				t.Fatal(err)
			}
			extend(t, c, f, 50)
		}, gauges{used: 2, free: 6}},
		{"truncate releases the blocks past the end", func(t *testing.T, c *kvcache.Cache) {
			id := c.NewSeq()
			if err := c.Append(id, ids(11, 1)...); err != nil {
				t.Fatal(err)
			}
			if err := c.Truncate(id, 3); err != nil {
				t.Fatal(err)
			}
			if c.Len(id) != 3 {
				t.Fatalf("length %d after truncating to 3", c.Len(id))
			}
		}, gauges{used: 1, free: 7}},
		{"truncate into a cached block, then append, copies it", func(t *testing.T, c *kvcache.Cache) {
			id := seqOf(t, c, ids(8, 1))
			if err := c.Truncate(id, 6); err != nil {
				t.Fatal(err)
			}
			extend(t, c, id, 70)
			if got, want := rowsOf(t, c, id), floats(append(ids(6, 1), 70)); !slices.Equal(got, want) {
				t.Fatalf("holds %v, want %v", got, want)
			}
			if n := c.Cached(ids(8, 1)); n != 8 {
				t.Fatalf("%d tokens cached, want the original 8", n)
			}
		}, gauges{used: 2, cached: 1, evictable: 1, free: 5, copies: 1}},
		{"truncate to zero and recompute", func(t *testing.T, c *kvcache.Cache) {
			id := seqOf(t, c, ids(9, 1))
			if err := c.Truncate(id, 0); err != nil {
				t.Fatal(err)
			}
			if n, err := c.Prefix(id, ids(9, 1)[:8]); err != nil || n != 8 {
				t.Fatalf("prefix after truncate: %d, %v", n, err)
			}
			extend(t, c, id, 9)
			if got, want := rowsOf(t, c, id), floats(ids(9, 1)); !slices.Equal(got, want) {
				t.Fatalf("holds %v, want %v", got, want)
			}
		}, gauges{used: 3, free: 5}},
		{"identical prefixes share blocks once committed", func(t *testing.T, c *kvcache.Cache) {
			a := seqOf(t, c, ids(9, 1))
			b := seqOf(t, c, ids(9, 1)) // computed again, not looked up
			if got, want := rowsOf(t, c, b), floats(ids(9, 1)); !slices.Equal(got, want) {
				t.Fatalf("holds %v, want %v", got, want)
			}
			_ = a
		}, gauges{used: 4, free: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, tiny, 8)
			tt.run(t, c)
			if got := gaugesOf(c.Stats()); got != tt.want {
				t.Fatalf("stats %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestOutOfBlocks(t *testing.T) {
	c := newCache(t, tiny, 3)
	a := seqOf(t, c, ids(10, 1)) // 3 blocks, the last partial
	f, err := c.Fork(a)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		seq        int
		tokens     int
		need       int
		wantRefuse bool
	}{
		{"a copy of the shared last block and a new one", a, 3, 2, true},
		{"copy of the shared last block", f, 1, 1, true},
		{"nothing", a, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := c.BlocksNeeded(tt.seq, tt.tokens); n != tt.need {
				t.Fatalf("BlocksNeeded = %d, want %d", n, tt.need)
			}
			before := c.Stats()
			err := c.Append(tt.seq, make([]int32, tt.tokens)...)
			if !tt.wantRefuse {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var oob *kvcache.OutOfBlocksError
			if !errors.Is(err, kvcache.ErrOutOfBlocks) || !errors.As(err, &oob) || oob.Need != tt.need || oob.Available != 0 {
				t.Fatalf("Append: %v", err)
			}
			after := c.Stats()
			if gaugesOf(after) != gaugesOf(before) || c.Len(tt.seq) != 10 || after.OutOfBlocks != before.OutOfBlocks+1 {
				t.Fatalf("refused append changed the cache: %+v, then %+v", before, after)
			}
		})
	}
	// Freeing the fork lets the original grow in place.
	if err := c.Free(f); err != nil {
		t.Fatal(err)
	}
	if n := c.BlocksNeeded(a, 2); n != 0 {
		t.Fatalf("BlocksNeeded after the fork left = %d", n)
	}
	extend(t, c, a, 11, 12)
}

func TestSequenceErrors(t *testing.T) {
	c := newCache(t, tiny, 4)
	id := seqOf(t, c, ids(5, 1))
	gone := c.NewSeq()
	if err := c.Free(gone); err != nil {
		t.Fatal(err)
	}
	row := make([]float32, c.RowLen())
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"append to a freed sequence", c.Append(gone, 1), kvcache.ErrSequence},
		{"append to a negative id", c.Append(-1, 1), kvcache.ErrSequence},
		{"free twice", c.Free(gone), kvcache.ErrSequence},
		{"fork of an unknown sequence", func() error { _, err := c.Fork(99); return err }(), kvcache.ErrSequence},
		{"prefix of an unknown sequence", func() error { _, err := c.Prefix(99, ids(4, 1)); return err }(), kvcache.ErrSequence},
		{"prefix of a started sequence", func() error { _, err := c.Prefix(id, ids(4, 1)); return err }(), kvcache.ErrPosition},
		{"truncate past the end", c.Truncate(id, 6), kvcache.ErrPosition},
		{"truncate to a negative length", c.Truncate(id, -1), kvcache.ErrPosition},
		{"commit past the end", c.Commit(id, 6), kvcache.ErrPosition},
		{"commit of an unknown sequence", c.Commit(gone, 0), kvcache.ErrSequence},
		{"store past the reserved positions", c.Store(0, id, 5, row, row), kvcache.ErrPosition},
		{"store at a negative position", c.Store(0, id, -1, row, row), kvcache.ErrPosition},
		{"store into a layer past the last", c.Store(2, id, 4, row, row), kvcache.ErrPosition},
		{"store into an unknown sequence", c.Store(0, gone, 0, row, row), kvcache.ErrPosition},
		{"store into a cached block", c.Store(0, id, 0, row, row), kvcache.ErrPosition},
		{"store a short key row", c.Store(0, id, 4, row[1:], row), kvcache.ErrRow},
		{"store a long value row", c.Store(0, id, 4, row, append(row, 1)), kvcache.ErrRow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Fatalf("error %v, want %v", tt.err, tt.want)
			}
		})
	}
	loads := []struct {
		name            string
		layer, seq, pos int
	}{
		{"past the end", 0, id, 5},
		{"negative position", 0, id, -1},
		{"unknown layer", 2, id, 0},
		{"negative layer", -1, id, 0},
		{"freed sequence", 0, gone, 0},
		{"id never handed out", 0, 1000, 0},
	}
	for _, tt := range loads {
		t.Run("load "+tt.name, func(t *testing.T) {
			if k, v := c.Load(tt.layer, tt.seq, tt.pos); k != nil || v != nil {
				t.Fatalf("Load returned %d and %d values", len(k), len(v))
			}
		})
	}
	if got, want := rowsOf(t, c, id), floats(ids(5, 1)); !slices.Equal(got, want) {
		t.Fatalf("failed calls changed the rows: %v, want %v", got, want)
	}
	if c.Len(gone) != 0 || c.BlocksNeeded(gone, 3) != 0 {
		t.Fatal("freed sequence reports a length or a need")
	}
}

func TestPrefixReuse(t *testing.T) {
	prompt := ids(10, 1) // 2 full blocks and 2 tokens
	tests := []struct {
		name    string
		tokens  []int32
		want    int
		wantHit bool
	}{
		{"the same prompt without its last token", prompt[:9], 8, true},
		{"the same prompt", prompt, 8, true},
		{"a longer prompt", append(slices.Clone(prompt), ids(10, 50)...), 8, true},
		{"one block and a bit", prompt[:7], 4, true},
		{"less than a block", prompt[:3], 0, false},
		{"first block differs", append([]int32{99}, prompt[1:]...), 0, false},
		{"second block differs", append(slices.Clone(prompt[:5]), 99, 7, 8, 9), 4, true},
		{"nothing", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, tiny, 8)
			if err := c.Free(seqOf(t, c, prompt)); err != nil {
				t.Fatal(err)
			}
			if n := c.Cached(tt.tokens); n != tt.want {
				t.Fatalf("Cached = %d, want %d", n, tt.want)
			}
			id := c.NewSeq()
			n, err := c.Prefix(id, tt.tokens)
			if err != nil || n != tt.want || c.Len(id) != n {
				t.Fatalf("Prefix = %d, %v (length %d), want %d", n, err, c.Len(id), tt.want)
			}
			if got, want := rowsOf(t, c, id), floats(tt.tokens[:n]); !slices.Equal(got, want) {
				t.Fatalf("reused rows %v, want %v", got, want)
			}
			s := c.Stats()
			if s.Lookups != 1 || s.LookupTokens != uint64(len(tt.tokens)) || s.HitTokens != uint64(n) {
				t.Fatalf("stats: %d lookups of %d tokens, %d hit", s.Lookups, s.LookupTokens, s.HitTokens)
			}
			if s.Used != n/4 {
				t.Fatalf("%d blocks used, want %d", s.Used, n/4)
			}
			// The rest is computed as usual, and two sequences now share
			// the reused blocks.
			extend(t, c, id, tt.tokens[n:]...)
			if got, want := rowsOf(t, c, id), floats(tt.tokens); !slices.Equal(got, want) {
				t.Fatalf("rows %v, want %v", got, want)
			}
		})
	}
}

// TestEvictionOrder fills a pool, frees it into the prefix cache and
// checks which prefixes new blocks take first.
func TestEvictionOrder(t *testing.T) {
	a, b := ids(8, 1), ids(8, 100) // two blocks each
	tests := []struct {
		name string
		// touch runs after a and b were computed and freed, a first.
		touch func(t *testing.T, c *kvcache.Cache)
		// want is the tokens of a and b still cached after each of 4
		// single-block allocations.
		want [][2]int
	}{
		{"least recently freed first, chain ends before starts", nil,
			[][2]int{{4, 8}, {0, 8}, {0, 4}, {0, 0}}},
		{"a hit makes a prefix recent", func(t *testing.T, c *kvcache.Cache) {
			id := c.NewSeq()
			if n, err := c.Prefix(id, a); err != nil || n != 8 {
				t.Fatalf("prefix: %d, %v", n, err)
			}
			if err := c.Free(id); err != nil {
				t.Fatal(err)
			}
		}, [][2]int{{8, 4}, {8, 0}, {4, 0}, {0, 0}}},
		{"using a first block keeps the chain's start", func(t *testing.T, c *kvcache.Cache) {
			id := c.NewSeq()
			if n, err := c.Prefix(id, a[:4]); err != nil || n != 4 {
				t.Fatalf("prefix: %d, %v", n, err)
			}
			if err := c.Free(id); err != nil {
				t.Fatal(err)
			}
		}, [][2]int{{4, 8}, {4, 4}, {4, 0}, {0, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, tiny, 4)
			sa := seqOf(t, c, a)
			sb := seqOf(t, c, b)
			if err := c.Free(sa); err != nil {
				t.Fatal(err)
			}
			if err := c.Free(sb); err != nil {
				t.Fatal(err)
			}
			if tt.touch != nil {
				tt.touch(t, c)
			}
			for i, want := range tt.want {
				seqOf(t, c, []int32{int32(500 + i)})
				if got := [2]int{c.Cached(a), c.Cached(b)}; got != want {
					t.Fatalf("after %d allocations: %v cached, want %v", i+1, got, want)
				}
			}
			if s := c.Stats(); s.Evictions != 4 {
				t.Fatalf("%d evictions, want 4", s.Evictions)
			}
		})
	}
}

func TestPinning(t *testing.T) {
	persona := ids(8, 1)
	c := newCache(t, tiny, 4)
	warm := seqOf(t, c, append(slices.Clone(persona), 9, 9)) // 2 full blocks, 1 partial
	p := c.Pin(persona)
	if p.Tokens() != 8 {
		t.Fatalf("pinned %d tokens, want 8", p.Tokens())
	}
	if err := c.Free(warm); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Pinned != 2 || s.Cached != 2 || s.Evictable != 0 || s.Free != 2 {
		t.Fatalf("after warming: %+v", s)
	}
	// Two other sequences take the two free blocks; a third finds no
	// block, because the pinned ones are not evictable.
	seqOf(t, c, []int32{50})
	seqOf(t, c, []int32{51})
	if err := c.Append(c.NewSeq(), 52); !errors.Is(err, kvcache.ErrOutOfBlocks) {
		t.Fatalf("append with only pinned blocks left: %v", err)
	}
	if c.Cached(persona) != 8 {
		t.Fatal("pinned prefix lost")
	}
	// A conversation reuses the pinned prefix.
	conv := c.NewSeq()
	if n, err := c.Prefix(conv, persona); err != nil || n != 8 {
		t.Fatalf("prefix of the pinned persona: %d, %v", n, err)
	}
	if got := rowsOf(t, c, conv); !slices.Equal(got, floats(persona)) {
		t.Fatalf("reused rows %v", got)
	}
	if err := c.Free(conv); err != nil {
		t.Fatal(err)
	}
	// Pins nest.
	p2 := c.Pin(persona[:5])
	if p2.Tokens() != 4 {
		t.Fatalf("second pin holds %d tokens", p2.Tokens())
	}
	c.Unpin(p)
	c.Unpin(p) // twice: no effect
	if s := c.Stats(); s.Pinned != 1 || s.Evictable != 1 {
		t.Fatalf("after one unpin: %+v", s)
	}
	c.Unpin(p2)
	c.Unpin(nil)
	if s := c.Stats(); s.Pinned != 0 || s.Evictable != 2 {
		t.Fatalf("after both unpins: %+v", s)
	}
	if err := c.Append(c.NewSeq(), 52); err != nil {
		t.Fatalf("append once unpinned: %v", err)
	}
	if c.Cached(persona) != 4 {
		t.Fatalf("after one eviction %d tokens cached, want the first block", c.Cached(persona))
	}
	if p := c.Pin(ids(8, 300)); p.Tokens() != 0 {
		t.Fatalf("pin of an uncached prefix holds %d tokens", p.Tokens())
	}
}
