package kvcache

import (
	"slices"
	"testing"
)

// TestHashCollisions injects weak hashes: prefixes that collide must never
// reuse each other's blocks, only cost misses.
func TestHashCollisions(t *testing.T) {
	tests := []struct {
		name string
		hash func(parent uint64, ids []int32) uint64
		// first is computed and cached, then second looked up.
		first, second []int32
		want          int // tokens of second reused
		cachedFirst   int // tokens of first still cached after second is computed
	}{
		{"constant hash, different first blocks", func(uint64, []int32) uint64 { return 1 },
			[]int32{1, 2, 3, 4, 5}, []int32{6, 7, 8, 9, 10}, 0, 4},
		{"constant hash, same first block", func(uint64, []int32) uint64 { return 1 },
			[]int32{1, 2, 3, 4, 5}, []int32{1, 2, 3, 4, 6}, 4, 4},
		{"hash of the ids only, same block after different parents", func(_ uint64, ids []int32) uint64 { return uint64(ids[0]) },
			[]int32{1, 1, 1, 1, 7, 7, 7, 7, 0}, []int32{2, 2, 2, 2, 7, 7, 7, 7, 0}, 0, 8},
		{"hash of the ids only, shared first block", func(_ uint64, ids []int32) uint64 { return uint64(ids[0]) },
			[]int32{1, 1, 1, 1, 7, 7, 7, 7, 0}, []int32{1, 1, 1, 1, 7, 7, 7, 8, 0}, 4, 8},
		{"hash ignoring the last id", func(p uint64, ids []int32) uint64 { return p*31 + uint64(ids[0]+ids[1]+ids[2]) },
			[]int32{1, 2, 3, 4, 0}, []int32{1, 2, 3, 5, 0}, 0, 4},
		{"real hash", nil,
			[]int32{1, 2, 3, 4, 5, 6, 7, 8, 0}, []int32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 8, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Layers: 1, KVHeads: 1, HeadDim: 2, BlockTokens: 4, Type: F32}
			cfg.Budget = budgetOf(cfg, 16)
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tt.hash != nil {
				c.hash = tt.hash
			}
			// Each position's key is its token id plus 1000 times the
			// sequence's number, so a wrong reuse shows.
			run := func(n int, tokens []int32) int {
				id := c.NewSeq()
				hit, err := c.Prefix(id, tokens[:len(tokens)-1])
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Append(id, tokens[hit:]...); err != nil {
					t.Fatal(err)
				}
				for pos := hit; pos < len(tokens); pos++ {
					r := []float32{float32(tokens[pos] + int32(1000*n)), 0}
					if err := c.Store(0, id, pos, r, r); err != nil {
						t.Fatal(err)
					}
				}
				if err := c.Commit(id, len(tokens)); err != nil {
					t.Fatal(err)
				}
				for pos := range tokens {
					k, _ := c.Load(0, id, pos)
					own, first := float32(tokens[pos]+int32(1000*n)), float32(tokens[pos]+1000)
					if k[0] != own && !(pos < hit && k[0] == first) {
						t.Fatalf("sequence %d position %d: key %v", n, pos, k[0])
					}
				}
				if err := c.check(); err != nil {
					t.Fatal(err)
				}
				return hit
			}
			run(1, tt.first)
			if hit := run(2, tt.second); hit != tt.want {
				t.Fatalf("second prompt reused %d tokens, want %d", hit, tt.want)
			}
			if n := c.Cached(tt.first); n != tt.cachedFirst {
				t.Fatalf("first prompt has %d tokens cached, want %d", n, tt.cachedFirst)
			}
			if n := c.Cached(slices.Clone(tt.second)); n < tt.want {
				t.Fatalf("second prompt has %d tokens cached, want at least %d", n, tt.want)
			}
		})
	}
}

// TestStaleParent evicts a chain's first block by hand, leaving its child
// indexed, and refills the block with other tokens: the child must not
// be found under its new contents.
func TestStaleParent(t *testing.T) {
	cfg := Config{Layers: 1, KVHeads: 1, HeadDim: 2, BlockTokens: 2, Type: F32}
	cfg.Budget = budgetOf(cfg, 4)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A hash of the ids only: the refilled parent gets the old hash back.
	c.hash = func(_ uint64, ids []int32) uint64 { return uint64(ids[0]) }
	id := c.NewSeq()
	if err := c.Append(id, 1, 2, 3, 4); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(id, 4); err != nil {
		t.Fatal(err)
	}
	if err := c.Free(id); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	parent := c.index[1]
	c.evict(parent) // out of the normal order, which would evict the child first
	c.free = append(c.free, parent)
	c.mu.Unlock()
	// Tokens 1, 9 hash like 1, 2 and take the evicted block back.
	id = c.NewSeq()
	if err := c.Append(id, 1, 9); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(id, 2); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	again := c.index[1]
	c.mu.Unlock()
	if again != parent {
		t.Fatalf("the refilled block is %d, want %d", again, parent)
	}
	if n := c.Cached([]int32{1, 9, 3, 4}); n != 2 {
		t.Fatalf("%d tokens cached, want 2: the old child must not match the new parent", n)
	}
}
