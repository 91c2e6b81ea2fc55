package kvcache

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
)

// rootHash is the parent hash of a chain's first block.
const rootHash uint64 = 0x9e3779b97f4a7c15

// chain hashes a block's token ids together with its parent's hash, so
// that a block's hash stands for the whole prefix up to its end. The seed
// is random per Cache: prompts cannot be crafted to collide, and a
// collision would only cost a miss, since every hit is checked.
func (c *Cache) chain(parent uint64, ids []int32) uint64 {
	b := binary.LittleEndian.AppendUint64(c.scratch[:0], parent)
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint32(b, uint32(id))
	}
	return maphash.Bytes(c.seed, b)
}

// match returns the published block holding ids right after parent (none
// for a chain's first block) and its hash. A hash hit counts only when the
// block's parent identity and ids are the ones asked for, so a collision
// never reuses the wrong keys and values. c.mu must be held.
func (c *Cache) match(parent int32, parentHash uint64, ids []int32) (int32, uint64, bool) {
	h := c.hash(parentHash, ids)
	b, ok := c.index[h]
	if !ok {
		return 0, h, false
	}
	m := &c.meta[b]
	if m.parent != parent || parent != none && m.parentGen != c.meta[parent].gen {
		return 0, h, false
	}
	bt := c.blockTokens
	if !slices.Equal(c.ids[int(b)*bt:int(b+1)*bt], ids) {
		return 0, h, false
	}
	return b, h, true
}

// walk calls fn for each cached block of the prompt prefix tokens, in
// order, until fn returns false or a block is missing. c.mu must be held.
func (c *Cache) walk(tokens []int32, fn func(b int32) bool) {
	parent, h := int32(none), rootHash
	bt := c.blockTokens
	for i := 0; (i+1)*bt <= len(tokens); i++ {
		b, bh, ok := c.match(parent, h, tokens[i*bt:(i+1)*bt])
		if !ok || !fn(b) {
			return
		}
		parent, h = b, bh
	}
}

// Prefix starts the empty sequence seq with every cached full block of
// the token prefix tokens and returns how many tokens that reused (a
// multiple of BlockTokens). The caller then Appends and computes the rest.
// To get logits for a prompt's last token, pass the prompt without it:
// Prefix never reuses past what it is given. Each call counts as a lookup
// in Stats.
func (c *Cache) Prefix(seq int, tokens []int32) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.seq(seq)
	if err != nil {
		return 0, fmt.Errorf("prefix: %w", err)
	}
	if s.n != 0 {
		return 0, fmt.Errorf("%w: prefix of sequence %d, which already holds %d positions", ErrPosition, seq, s.n)
	}
	c.walk(tokens, func(b int32) bool {
		c.acquire(b)
		s.blocks = append(s.blocks, b)
		return true
	})
	s.n = len(s.blocks) * c.blockTokens
	s.done, s.pub = s.n, len(s.blocks)
	c.stats.lookups++
	c.stats.lookupTokens += uint64(len(tokens))
	c.stats.hitTokens += uint64(s.n)
	return s.n, nil
}

// Cached is how many leading tokens of tokens the prefix cache holds (a
// multiple of BlockTokens), without using them or counting a lookup.
func (c *Cache) Cached(tokens []int32) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	c.walk(tokens, func(int32) bool { n++; return true })
	return n * c.blockTokens
}

// Commit declares that positions [0, n) of seq hold their keys and values
// (the forward pass that stored them succeeded), and publishes the full
// blocks among them to the prefix cache. A block whose prefix is cached
// already is replaced by the cached one and returned to the pool.
func (c *Cache) Commit(seq, n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.seq(seq)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if n < 0 || n > s.n {
		return fmt.Errorf("%w: commit %d positions of sequence %d, which holds %d", ErrPosition, n, seq, s.n)
	}
	s.done = max(s.done, n)
	bt := c.blockTokens
	for s.pub < s.done/bt && s.stuck == none {
		c.publish(s, s.pub)
	}
	return nil
}

// publish puts block i of s, full and committed, into the prefix index,
// or swaps it for the identical cached block. Blocks before i are
// published. c.mu must be held.
func (c *Cache) publish(s *sequence, i int) {
	bt := c.blockTokens
	parent, ph := int32(none), rootHash
	if i > 0 {
		parent = s.blocks[i-1]
		ph = c.meta[parent].hash
	}
	b := s.blocks[i]
	ids := c.ids[int(b)*bt : int(b+1)*bt]
	e, h, ok := c.match(parent, ph, ids)
	_, taken := c.index[h]
	switch {
	case ok:
		c.swap(s, i, e)
		// Forks that share b (and so the prefix up to it) move to e too:
		// a sequence holding a published block must hold its parent just
		// before it, or the parent could be evicted first.
		for _, t := range c.seqs {
			if c.meta[b].refs == 0 {
				break
			}
			if t != nil && t != s && i < len(t.blocks) && t.blocks[i] == b {
				c.swap(t, i, e)
			}
		}
	case taken:
		// A different prefix has this hash: keep the block private, and
		// the rest of the sequence with it (their chains would need it).
		s.stuck = i
		return
	default:
		c.index[h] = b
		m := &c.meta[b]
		m.hash, m.parent, m.published = h, parent, true
		if parent != none {
			m.parentGen = c.meta[parent].gen
		}
	}
	s.pub++
}

// swap replaces block i of s with e, which holds the same tokens after
// the same prefix. c.mu must be held.
func (c *Cache) swap(s *sequence, i int, e int32) {
	c.acquire(e)
	c.release(s.blocks[i])
	s.blocks[i] = e
}

// Pin holds the cached blocks of a prefix so they are not evicted, until
// Unpin: a persona's system prompt, warmed once and reused by every
// conversation.
type Pin struct {
	blocks []int32
	tokens int
}

// Tokens is how many leading tokens the Pin holds.
func (p *Pin) Tokens() int { return p.tokens }

// Pin holds every cached full block of the token prefix tokens. To warm a
// prefix, compute and Commit it in a sequence first (Prefix, Append, a
// forward pass, Commit), then Pin it and Free the sequence.
func (c *Cache) Pin(tokens []int32) *Pin {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := &Pin{}
	c.walk(tokens, func(b int32) bool {
		m := &c.meta[b]
		if m.pins == 0 {
			if m.refs == 0 {
				c.lruRemove(b)
			}
			c.pinned++
		}
		m.pins++
		p.blocks = append(p.blocks, b)
		return true
	})
	p.tokens = len(p.blocks) * c.blockTokens
	return p
}

// Unpin lets the blocks of p be evicted again once no sequence holds
// them. A second Unpin of the same Pin does nothing.
func (c *Cache) Unpin(p *Pin) {
	if p == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range slices.Backward(p.blocks) {
		m := &c.meta[b]
		m.pins--
		if m.pins > 0 {
			continue
		}
		c.pinned--
		if m.refs == 0 {
			c.lruPush(b)
		}
	}
	p.blocks, p.tokens = nil, 0
}
