package kvcache

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"unsafe"

	"github.com/corral-ai/corral/inference/kernels"
)

// Errors returned by the package, wrapped with detail.
var (
	// ErrOutOfBlocks means the pool has too few free or evictable blocks
	// for an Append; the error is an *OutOfBlocksError. The
	// scheduler answers it by preempting a sequence, never by dropping one.
	ErrOutOfBlocks = errors.New("kv cache out of blocks")
	// ErrSequence means a sequence id is not open.
	ErrSequence = errors.New("unknown kv cache sequence")
	// ErrPosition means a position or length is outside what a sequence
	// holds, or a write would change a block the sequence shares.
	ErrPosition = errors.New("bad kv cache position")
	// ErrRow means a key or value row has the wrong length.
	ErrRow = errors.New("bad kv cache row")
	// ErrConfig means a Config is invalid.
	ErrConfig = errors.New("bad kv cache config")
)

// OutOfBlocksError says how many blocks an operation needed and how many
// were free or evictable. It matches ErrOutOfBlocks with errors.Is.
type OutOfBlocksError struct {
	Need, Available int
}

func (e *OutOfBlocksError) Error() string {
	return fmt.Sprintf("kv cache out of blocks: need %d, %d free or evictable", e.Need, e.Available)
}

// Is makes errors.Is(err, ErrOutOfBlocks) true.
func (e *OutOfBlocksError) Is(target error) bool { return target == ErrOutOfBlocks }

// none marks the absence of a block (no parent, end of a list).
const none = -1

// block is the bookkeeping of one block of the pool.
type block struct {
	hash      uint64 // chained hash of its tokens, when published
	refs      int32  // block-table entries of open sequences that hold it
	pins      int32  // Pins that hold it
	parent    int32  // block before it in its chain when published, or none
	parentGen uint32 // gen of parent when it was published
	// gen changes whenever the block leaves the prefix index, so a child
	// published under its old contents no longer matches it.
	gen        uint32
	prev, next int32 // LRU links while evictable
	published  bool  // in the prefix index; its contents never change
}

// sequence is one open sequence's block table.
type sequence struct {
	blocks []int32 // len == ceil(n / blockTokens)
	n      int     // positions appended
	done   int     // positions committed: their keys and values are stored
	pub    int     // leading blocks published (or taken from the index)
	// stuck is the block whose publication failed on a hash collision, or
	// none; blocks from there on stay private.
	stuck int
}

// Cache is a paged key/value cache: one pool of fixed-size blocks shared by
// all sequences, with a prefix index over full blocks. See the package
// documentation for the locking rules.
type Cache struct {
	layout
	hash func(parent uint64, ids []int32) uint64

	mu   sync.Mutex
	meta []block // blocks, then the LRU list's sentinel
	ids  []int32 // token ids, blockTokens per block
	free []int32 // stack of blocks holding nothing
	// index maps a chained hash to the published block with it; the
	// block's parent identity and ids are checked on every hit.
	index   map[uint64]int32
	lruLen  int
	used    int // blocks with refs > 0
	pinned  int // blocks with pins > 0
	seqs    []*sequence
	freeIDs []int
	open    int
	seed    maphash.Seed
	scratch []byte
	stats   counters

	// Exactly one of these holds the pool: block after block, each
	// holding layer after layer, each holding blockTokens key rows, then
	// blockTokens value rows.
	f32 []float32
	f16 []uint16
}

// counters are the cumulative figures of Stats.
type counters struct {
	lookups, lookupTokens, hitTokens, evictions, copies, refused uint64
}

// New allocates the pool and its bookkeeping for cfg.
func New(cfg Config) (*Cache, error) {
	l, err := cfg.layout()
	if err != nil {
		return nil, err
	}
	c := &Cache{
		layout:  l,
		meta:    make([]block, l.blocks+1),
		ids:     make([]int32, l.blocks*l.blockTokens),
		free:    make([]int32, l.blocks),
		index:   make(map[uint64]int32, l.blocks),
		seed:    maphash.MakeSeed(),
		scratch: make([]byte, 8+4*l.blockTokens),
	}
	c.hash = c.chain
	if l.typ == F32 {
		c.f32 = make([]float32, l.blocks*l.blockElems)
		kernels.AdviseHuge(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(c.f32))), 4*len(c.f32)))
	} else {
		c.f16 = make([]uint16, l.blocks*l.blockElems)
		kernels.AdviseHuge(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(c.f16))), 2*len(c.f16)))
	}
	for i := range c.meta {
		c.meta[i].parent = none
	}
	s := &c.meta[l.blocks]
	s.prev, s.next = int32(l.blocks), int32(l.blocks)
	// Hand out low block numbers first.
	for i := range c.free {
		c.free[i] = int32(l.blocks - 1 - i)
	}
	return c, nil
}

// Type is the element type of the cache.
func (c *Cache) Type() Type { return c.typ }

// BlockTokens is the tokens per block.
func (c *Cache) BlockTokens() int { return c.blockTokens }

// Blocks is the number of blocks in the pool.
func (c *Cache) Blocks() int { return c.blocks }

// RowLen is the elements of one key or value row: KVHeads·HeadDim.
func (c *Cache) RowLen() int { return c.kvDim }

// MemoryBytes is what New allocated: the pool and the per-block
// bookkeeping (the prefix index counted at its estimated size). Block
// tables of open sequences add 4 bytes per block they hold.
func (c *Cache) MemoryBytes() int64 {
	return int64(c.blocks) * (c.blockBytes + c.metaBytes)
}

// BytesPerToken is MemoryBytes over the tokens the pool holds.
func (c *Cache) BytesPerToken() float64 {
	return float64(c.MemoryBytes()) / float64(c.blocks*c.blockTokens)
}

// NewSeq opens an empty sequence and returns its id, the Seq of the
// model's batch entries. Ids of freed sequences are reused.
func (c *Cache) NewSeq() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.newSeq()
}

func (c *Cache) newSeq() int {
	s := &sequence{stuck: none}
	c.open++
	if n := len(c.freeIDs); n > 0 {
		id := c.freeIDs[n-1]
		c.freeIDs = c.freeIDs[:n-1]
		c.seqs[id] = s
		return id
	}
	c.seqs = append(c.seqs, s)
	return len(c.seqs) - 1
}

// seq returns the open sequence id. c.mu must be held.
func (c *Cache) seq(id int) (*sequence, error) {
	if id < 0 || id >= len(c.seqs) || c.seqs[id] == nil {
		return nil, fmt.Errorf("%w: %d", ErrSequence, id)
	}
	return c.seqs[id], nil
}

// Len is the number of positions appended to seq, or 0 for an unknown
// sequence.
func (c *Cache) Len(seq int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.seq(seq)
	if err != nil {
		return 0
	}
	return s.n
}

// Fork opens a new sequence sharing every block of src, its last partial
// block included: the first Append to either copies that block first. It
// allocates nothing.
func (c *Cache) Fork(src int) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.seq(src)
	if err != nil {
		return 0, fmt.Errorf("fork: %w", err)
	}
	for _, b := range s.blocks {
		c.acquire(b)
	}
	id := c.newSeq()
	d := c.seqs[id]
	*d = *s
	d.blocks = append([]int32(nil), s.blocks...)
	return id, nil
}

// Available is the number of blocks an Append can get: free ones and
// cached ones no sequence or Pin holds.
func (c *Cache) Available() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.free) + c.lruLen
}

// BlocksNeeded is how many blocks Append(seq, n tokens) would take from
// the pool: new blocks past the last one, plus one when the last block is
// partial and shared (copy on write). It is 0 for an unknown sequence.
func (c *Cache) BlocksNeeded(seq, n int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.seq(seq)
	if err != nil {
		return 0
	}
	return c.needed(s, n)
}

func (c *Cache) needed(s *sequence, n int) int {
	if n <= 0 {
		return 0
	}
	bt := c.blockTokens
	need := (s.n+n+bt-1)/bt - len(s.blocks)
	if s.n%bt != 0 && !c.writable(s.blocks[len(s.blocks)-1]) {
		need++
	}
	return need
}

// writable says whether a sequence holding b may write into it: nobody
// else holds it and it is not in the prefix index. c.mu or the caller's
// exclusion of bookkeeping calls must hold.
func (c *Cache) writable(b int32) bool {
	m := &c.meta[b]
	return m.refs == 1 && !m.published
}

// Append reserves the next positions of seq for tokens, so that the
// forward pass can Store their keys and values: it adds blocks as needed
// and copies a shared last block first. When the pool cannot provide the
// blocks it returns an *OutOfBlocksError and changes nothing.
func (c *Cache) Append(seq int, tokens ...int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.seq(seq)
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	if need := c.needed(s, len(tokens)); need > len(c.free)+c.lruLen {
		c.stats.refused++
		return &OutOfBlocksError{Need: need, Available: len(c.free) + c.lruLen}
	}
	if len(tokens) == 0 {
		return nil
	}
	bt := c.blockTokens
	if s.n%bt != 0 {
		last := &s.blocks[len(s.blocks)-1]
		if !c.writable(*last) {
			*last = c.copyBlock(*last)
		}
	}
	for _, t := range tokens {
		if s.n%bt == 0 {
			s.blocks = append(s.blocks, c.alloc())
		}
		c.ids[int(s.blocks[len(s.blocks)-1])*bt+s.n%bt] = t
		s.n++
	}
	return nil
}

// copyBlock gives the caller a private copy of b in place of its hold on
// b. c.mu must be held and a block must be available.
func (c *Cache) copyBlock(b int32) int32 {
	d := c.alloc()
	e, bt := c.blockElems, c.blockTokens
	if c.f32 != nil {
		copy(c.f32[int(d)*e:int(d+1)*e], c.f32[int(b)*e:int(b+1)*e])
	} else {
		copy(c.f16[int(d)*e:int(d+1)*e], c.f16[int(b)*e:int(b+1)*e])
	}
	copy(c.ids[int(d)*bt:int(d+1)*bt], c.ids[int(b)*bt:int(b+1)*bt])
	c.release(b)
	c.stats.copies++
	return d
}

// alloc takes a block for a sequence: a free one, else the least recently
// used cached one. c.mu must be held and a block must be available.
func (c *Cache) alloc() int32 {
	var b int32
	if n := len(c.free); n > 0 {
		b = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		b = c.meta[c.blocks].prev // the LRU tail
		c.evict(b)
	}
	c.meta[b].refs = 1
	c.used++
	return b
}

// evict takes b, evictable, out of the LRU list and the prefix index.
func (c *Cache) evict(b int32) {
	c.lruRemove(b)
	m := &c.meta[b]
	if c.index[m.hash] == b {
		delete(c.index, m.hash)
	}
	m.published = false
	m.parent = none
	m.gen++
	c.stats.evictions++
}

// acquire adds a hold on b for a block table. c.mu must be held.
func (c *Cache) acquire(b int32) {
	m := &c.meta[b]
	if m.refs == 0 {
		if m.pins == 0 {
			c.lruRemove(b)
		}
		c.used++
	}
	m.refs++
}

// release drops a block table's hold on b: a block nobody holds goes to
// the LRU list when it is published and unpinned, to the free stack when
// it is not published. c.mu must be held.
func (c *Cache) release(b int32) {
	m := &c.meta[b]
	m.refs--
	if m.refs > 0 {
		return
	}
	c.used--
	switch {
	case !m.published:
		c.free = append(c.free, b)
	case m.pins == 0:
		c.lruPush(b)
	}
}

// lruPush makes b the most recently used evictable block.
func (c *Cache) lruPush(b int32) {
	s := int32(c.blocks)
	h := c.meta[s].next
	c.meta[b].prev, c.meta[b].next = s, h
	c.meta[h].prev = b
	c.meta[s].next = b
	c.lruLen++
}

func (c *Cache) lruRemove(b int32) {
	m := &c.meta[b]
	c.meta[m.prev].next = m.next
	c.meta[m.next].prev = m.prev
	m.prev, m.next = none, none
	c.lruLen--
}

// Truncate shortens seq to its first n positions, for preemption with
// recompute or a rollback, and returns the blocks past them to the pool
// (cached ones stay reusable until evicted).
func (c *Cache) Truncate(seq, n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.seq(seq)
	if err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	if n < 0 || n > s.n {
		return fmt.Errorf("%w: truncate sequence %d of %d positions to %d", ErrPosition, seq, s.n, n)
	}
	c.truncate(s, n)
	return nil
}

func (c *Cache) truncate(s *sequence, n int) {
	bt := c.blockTokens
	keep := (n + bt - 1) / bt
	// Release from the end, so that a chain's later blocks are older in
	// the LRU list than its earlier ones and are evicted first.
	for i := len(s.blocks) - 1; i >= keep; i-- {
		c.release(s.blocks[i])
	}
	s.blocks = s.blocks[:keep]
	s.n = n
	s.done = min(s.done, n)
	s.pub = min(s.pub, n/bt)
	if s.stuck >= n/bt {
		s.stuck = none
	}
}

// Free closes seq and returns its blocks to the pool; its published blocks
// stay in the prefix cache until evicted.
func (c *Cache) Free(seq int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.seq(seq)
	if err != nil {
		return fmt.Errorf("free: %w", err)
	}
	c.truncate(s, 0)
	c.seqs[seq] = nil
	c.freeIDs = append(c.freeIDs, seq)
	c.open--
	return nil
}
