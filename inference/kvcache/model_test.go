package kvcache

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// check verifies the cache's bookkeeping against itself: holds, lists,
// index and chains.
func (c *Cache) check() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	refs := make([]int32, c.blocks)
	open := 0
	for id, s := range c.seqs {
		if s == nil {
			continue
		}
		open++
		bt := c.blockTokens
		if len(s.blocks) != (s.n+bt-1)/bt || s.done > s.n || s.pub > s.done/bt {
			return fmt.Errorf("sequence %d: %d blocks, %d positions, %d committed, %d published", id, len(s.blocks), s.n, s.done, s.pub)
		}
		for i, b := range s.blocks {
			refs[b]++
			if i < s.pub && !c.meta[b].published {
				return fmt.Errorf("sequence %d: block %d (%d) counted published but is not", id, i, b)
			}
			// A published block's parent is the block before it.
			if m := &c.meta[b]; m.published && (i == 0 && m.parent != none || i > 0 && m.parent != s.blocks[i-1]) {
				return fmt.Errorf("sequence %d: block %d (%d) has parent %d, the table has %v", id, i, b, m.parent, s.blocks[:i])
			}
		}
	}
	if open != c.open {
		return fmt.Errorf("%d open sequences, counted %d", open, c.open)
	}
	where := make([]string, c.blocks)
	for _, b := range c.free {
		if where[b] != "" {
			return fmt.Errorf("block %d twice on the free stack", b)
		}
		where[b] = "free"
	}
	n, order := 0, map[int32]int{}
	for b := c.meta[c.blocks].next; b != int32(c.blocks); b = c.meta[b].next {
		if where[b] != "" {
			return fmt.Errorf("block %d in the LRU list and %s", b, where[b])
		}
		where[b] = "lru"
		order[b] = n
		n++
		if n > c.blocks {
			return errors.New("LRU list loops")
		}
	}
	if n != c.lruLen {
		return fmt.Errorf("LRU list has %d blocks, counted %d", n, c.lruLen)
	}
	used, pinned, published := 0, 0, 0
	for b := range c.blocks {
		m := &c.meta[b]
		if m.refs != refs[b] {
			return fmt.Errorf("block %d: %d refs, tables hold it %d times", b, m.refs, refs[b])
		}
		if m.refs > 0 {
			used++
		}
		if m.pins > 0 {
			pinned++
		}
		want := "held"
		switch {
		case m.refs > 0 || m.pins > 0:
			if !m.published && m.pins > 0 {
				return fmt.Errorf("block %d pinned but not published", b)
			}
		case m.published:
			want = "lru"
		default:
			want = "free"
		}
		if want == "held" && where[b] != "" || want != "held" && where[b] != want {
			return fmt.Errorf("block %d (refs %d, pins %d, published %v) is %q", b, m.refs, m.pins, m.published, where[b])
		}
		if !m.published {
			continue
		}
		published++
		if c.index[m.hash] != int32(b) {
			return fmt.Errorf("published block %d not indexed under its hash", b)
		}
		if p := m.parent; p != none {
			if !c.meta[p].published || c.meta[p].gen != m.parentGen {
				return fmt.Errorf("published block %d has a stale parent %d", b, p)
			}
			// A chain's later blocks are evicted before its earlier ones.
			if ob, ok := order[int32(b)]; ok {
				if op, ok := order[p]; ok && op > ob {
					return fmt.Errorf("block %d is newer in the LRU list than its parent %d", b, p)
				}
			}
		}
	}
	if used != c.used || pinned != c.pinned || published != len(c.index) {
		return fmt.Errorf("counted %d used, %d pinned, %d indexed; found %d, %d, %d", c.used, c.pinned, len(c.index), used, pinned, published)
	}
	return nil
}

// budgetOf is the budget that buys exactly blocks blocks of cfg's shape.
func budgetOf(cfg Config, blocks int) int64 {
	b, err := cfg.BlockBytes()
	if err != nil {
		panic(err)
	}
	return b * int64(blocks)
}

// machine runs random operations on a Cache and on a reference model of
// it: every sequence's tokens, and keys and values that are a function of
// the token prefix, as a real model's are. Any wrong reuse, lost write or
// write through a shared block shows as a row that differs from the
// function.
type machine struct {
	t     testing.TB
	c     *Cache
	rng   *rand.Rand
	bases [][]int32 // prompts that new sequences start from
	seqs  map[int]*refSeq
	pins  []*Pin
}

type refSeq struct {
	tokens []int32
	stored int // positions whose rows were stored
}

// row is the key (or value) row of the token at the end of prefix in
// layer: multiples of 1/8 below 64 in magnitude, exact in a half float.
func row(prefix []int32, layer int, value bool, n int) []float32 {
	h := fnv.New64a()
	for _, t := range prefix {
		h.Write([]byte{byte(t), byte(t >> 8)})
	}
	h.Write([]byte{byte(layer), 0})
	if value {
		h.Write([]byte{1})
	}
	r := rand.New(rand.NewPCG(h.Sum64(), 7))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.IntN(1024)-512) / 8
	}
	return out
}

func newMachine(t testing.TB, cfg Config, seed uint64) *machine {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := &machine{t: t, c: c, rng: rand.New(rand.NewPCG(seed, 1)), seqs: map[int]*refSeq{}}
	for range 4 {
		p := make([]int32, 1+m.rng.IntN(5*c.blockTokens))
		for i := range p {
			p[i] = int32(m.rng.IntN(4))
		}
		m.bases = append(m.bases, p)
	}
	return m
}

func (m *machine) fail(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf(format, args...)
}

// store computes the rows of positions [r.stored, upto) of seq, one
// goroutine per layer, while another pins and unpins a prefix: Store runs
// concurrently with Store of other positions and with bookkeeping that
// leaves block tables alone.
func (m *machine) store(id int, r *refSeq, upto int) {
	m.t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, m.c.layers)
	for l := range m.c.layers {
		wg.Go(func() {
			for pos := r.stored; pos < upto; pos++ {
				k := row(r.tokens[:pos+1], l, false, m.c.kvDim)
				v := row(r.tokens[:pos+1], l, true, m.c.kvDim)
				if err := m.c.Store(l, id, pos, k, v); err != nil {
					errs <- fmt.Errorf("store sequence %d position %d: %w", id, pos, err)
					return
				}
			}
		})
	}
	wg.Go(func() { m.c.Unpin(m.c.Pin(m.bases[1])); _ = m.c.Stats() })
	wg.Wait()
	close(errs)
	for err := range errs {
		m.fail("%v", err)
	}
	r.stored = max(r.stored, upto)
}

// appendTokens appends and computes tokens to seq id, committing a random
// number of the new positions; on out-of-blocks it checks nothing changed.
func (m *machine) appendTokens(id int, tokens []int32) bool {
	m.t.Helper()
	r := m.seqs[id]
	before, avail := m.c.Len(id), m.c.Available()
	need := m.c.BlocksNeeded(id, len(tokens))
	if err := m.c.Append(id, tokens...); err != nil {
		var oob *OutOfBlocksError
		if !errors.As(err, &oob) || !errors.Is(err, ErrOutOfBlocks) || oob.Need != need || need <= avail {
			m.fail("append %d tokens needing %d blocks of %d: %v", len(tokens), need, avail, err)
		}
		if m.c.Len(id) != before || m.c.Available() != avail {
			m.fail("refused append changed the cache")
		}
		return false
	}
	r.tokens = append(r.tokens, tokens...)
	m.store(id, r, len(r.tokens))
	if err := m.c.Commit(id, before+m.rng.IntN(len(tokens)+1)); err != nil {
		m.fail("commit: %v", err)
	}
	return true
}

func (m *machine) open() {
	base := m.bases[m.rng.IntN(len(m.bases))]
	prompt := slices.Clone(base[:1+m.rng.IntN(len(base))])
	for range m.rng.IntN(3) {
		prompt = append(prompt, int32(m.rng.IntN(4)))
	}
	id := m.c.NewSeq()
	m.seqs[id] = &refSeq{}
	hit, err := m.c.Prefix(id, prompt[:len(prompt)-1])
	if err != nil || hit%m.c.blockTokens != 0 || hit > len(prompt)-1 || hit != m.c.Len(id) {
		m.fail("prefix of %d tokens: %d, %v", len(prompt)-1, hit, err)
	}
	m.seqs[id].tokens = slices.Clone(prompt[:hit])
	m.seqs[id].stored = hit
	m.verify(id)
	if !m.appendTokens(id, prompt[hit:]) {
		m.free(id)
	}
}

func (m *machine) free(id int) {
	if err := m.c.Free(id); err != nil {
		m.fail("free %d: %v", id, err)
	}
	delete(m.seqs, id)
}

// verify reads every stored position of seq id, from several goroutines
// at once as the forward pass's workers do, and compares with the rows
// the prefix gives.
func (m *machine) verify(id int) {
	m.t.Helper()
	r := m.seqs[id]
	if got := m.c.Len(id); got != len(r.tokens) {
		m.fail("sequence %d holds %d positions, want %d", id, got, len(r.tokens))
	}
	var wg sync.WaitGroup
	errs := make(chan error, m.c.layers)
	for l := range m.c.layers {
		wg.Go(func() {
			for pos := 0; pos < r.stored; {
				k, v := m.c.Load(l, id, pos)
				n := len(k) / m.c.kvDim
				if n == 0 || len(v) != len(k) || pos%m.c.blockTokens+n > m.c.blockTokens {
					errs <- fmt.Errorf("sequence %d layer %d position %d: %d key and %d value values", id, l, pos, len(k), len(v))
					return
				}
				for j := range min(n, r.stored-pos) {
					p := pos + j
					wk := row(r.tokens[:p+1], l, false, m.c.kvDim)
					wv := row(r.tokens[:p+1], l, true, m.c.kvDim)
					if !slices.Equal(k[j*m.c.kvDim:(j+1)*m.c.kvDim], wk) || !slices.Equal(v[j*m.c.kvDim:(j+1)*m.c.kvDim], wv) {
						errs <- fmt.Errorf("sequence %d layer %d position %d: wrong rows", id, l, p)
						return
					}
				}
				pos += n
			}
			if k, _ := m.c.Load(l, id, len(r.tokens)); k != nil {
				errs <- fmt.Errorf("sequence %d: rows past its end", id)
			}
		})
	}
	// Bookkeeping that leaves tables and blocks alone may run meanwhile.
	wg.Go(func() { _ = m.c.Stats(); _ = m.c.Cached(m.bases[0]) })
	wg.Wait()
	close(errs)
	for err := range errs {
		m.fail("%v", err)
	}
}

func (m *machine) anySeq() (int, bool) {
	if len(m.seqs) == 0 {
		return 0, false
	}
	ids := make([]int, 0, len(m.seqs))
	for id := range m.seqs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids[m.rng.IntN(len(ids))], true
}

// step runs one operation chosen by op.
func (m *machine) step(op int) {
	m.t.Helper()
	id, ok := m.anySeq()
	switch op % 9 {
	case 0, 1:
		m.open()
	case 2, 3: // decode steps or a prefill chunk
		if ok {
			n := 1
			if op%9 == 3 {
				n = m.rng.IntN(2 * m.c.blockTokens)
			}
			tokens := make([]int32, n)
			for i := range tokens {
				tokens[i] = int32(m.rng.IntN(4))
			}
			m.appendTokens(id, tokens)
		}
	case 4:
		if ok {
			d, err := m.c.Fork(id)
			if err != nil {
				m.fail("fork: %v", err)
			}
			r := m.seqs[id]
			m.seqs[d] = &refSeq{tokens: slices.Clone(r.tokens), stored: r.stored}
		}
	case 5:
		if ok {
			r := m.seqs[id]
			n := m.rng.IntN(len(r.tokens) + 1)
			if err := m.c.Truncate(id, n); err != nil {
				m.fail("truncate: %v", err)
			}
			r.tokens, r.stored = r.tokens[:n], min(r.stored, n)
		}
	case 6:
		if ok {
			m.free(id)
		}
	case 7:
		base := m.bases[m.rng.IntN(len(m.bases))]
		p := m.c.Pin(base)
		if p.Tokens() != m.c.Cached(base) {
			m.fail("pinned %d tokens, %d cached", p.Tokens(), m.c.Cached(base))
		}
		m.pins = append(m.pins, p)
	case 8:
		if len(m.pins) > 0 {
			i := m.rng.IntN(len(m.pins))
			m.c.Unpin(m.pins[i])
			m.pins = slices.Delete(m.pins, i, i+1)
		}
	}
	if err := m.c.check(); err != nil {
		m.fail("after operation %d: %v", op%9, err)
	}
	if id, ok := m.anySeq(); ok {
		m.verify(id)
	}
}

// TestModelRandom runs random operations against the reference model, with
// the real hash and with one that collides all the time, on pools small
// enough to run out.
func TestModelRandom(t *testing.T) {
	hashes := map[string]func(*Cache){
		"maphash": func(*Cache) {},
		"colliding hash": func(c *Cache) {
			c.hash = func(parent uint64, ids []int32) uint64 { return (parent + uint64(ids[0])) % 3 }
		},
	}
	for _, typ := range []Type{F16, F32} {
		for _, bt := range []int{1, 4, 16} {
			for name, setHash := range hashes {
				t.Run(fmt.Sprintf("%v/%d tokens a block/%s", typ, bt, name), func(t *testing.T) {
					cfg := Config{Layers: 2, KVHeads: 2, HeadDim: 4, Type: typ, BlockTokens: bt}
					cfg.Budget = budgetOf(cfg, max(12, 48/bt))
					var seen Stats
					for seed := range uint64(8) {
						m := newMachine(t, cfg, seed)
						setHash(m.c)
						for range 300 {
							m.step(m.rng.IntN(1000))
						}
						for id := range m.seqs {
							m.free(id)
						}
						for _, p := range m.pins {
							m.c.Unpin(p)
						}
						if err := m.c.check(); err != nil {
							t.Fatal(err)
						}
						s := m.c.Stats()
						if s.Used != 0 || s.Pinned != 0 || s.Free+s.Evictable != s.Blocks || s.Sequences != 0 {
							t.Fatalf("after freeing everything: %+v", s)
						}
						seen.HitTokens += s.HitTokens
						seen.Copies += s.Copies
						seen.Evictions += s.Evictions
						seen.OutOfBlocks += s.OutOfBlocks
					}
					// The operations must have reached every path.
					if seen.HitTokens == 0 || seen.Copies == 0 && bt > 1 || seen.Evictions == 0 || seen.OutOfBlocks == 0 {
						t.Fatalf("paths not exercised: %+v", seen)
					}
					t.Logf("%d hit tokens, %d copies, %d evictions, %d refusals", seen.HitTokens, seen.Copies, seen.Evictions, seen.OutOfBlocks)
				})
			}
		}
	}
}

// FuzzOperations runs the operations the input names against the
// reference model.
func FuzzOperations(f *testing.F) {
	f.Add([]byte{0, 0, 2, 3, 4, 5, 0, 7, 6, 8, 1})
	f.Add([]byte{0, 4, 2, 4, 3, 5, 5, 6, 6, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{200, 7, 0, 1, 6, 6, 6, 0, 0, 3, 3, 3, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) < 1 || len(ops) > 200 {
			return
		}
		cfg := Config{Layers: 2, KVHeads: 1, HeadDim: 4, Type: Type(ops[0] & 1), BlockTokens: 1 + int(ops[0]>>1)%5}
		cfg.Budget = budgetOf(cfg, 16)
		m := newMachine(t, cfg, uint64(ops[0]))
		if ops[0]&0x80 != 0 {
			m.c.hash = func(parent uint64, ids []int32) uint64 { return parent ^ uint64(ids[0]&1) }
		}
		for _, op := range ops[1:] {
			m.step(int(op))
		}
	})
}

// TestForkThenDedup forks a sequence before it commits blocks that are
// cached already: when it commits, the fork must move to the cached
// blocks with it, so that whoever holds a published block holds its
// parent (the fuzzer's first find).
func TestForkThenDedup(t *testing.T) {
	cfg := Config{Layers: 1, KVHeads: 1, HeadDim: 2, BlockTokens: 2, Type: F32}
	cfg.Budget = budgetOf(cfg, 8)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if err := c.check(); err != nil {
			t.Fatalf("after %s: %v", what, err)
		}
	}
	a := c.NewSeq()
	step("append a", c.Append(a, 1, 2))
	step("commit a", c.Commit(a, 2))
	s := c.NewSeq()
	step("append s", c.Append(s, 1, 2, 3, 4))
	d, err := c.Fork(s)
	step("fork", err)
	step("commit s", c.Commit(s, 4))
	if st := c.Stats(); st.Used != 2 || st.Free != 6 {
		t.Fatalf("the duplicate block was not freed: %+v", st)
	}
	step("free a", c.Free(a))
	step("free s", c.Free(s))
	step("truncate the fork", c.Truncate(d, 2))
	step("free the fork", c.Free(d))
	if n := c.Cached([]int32{1, 2, 3, 4}); n != 4 {
		t.Fatalf("%d tokens cached, want 4", n)
	}
}
