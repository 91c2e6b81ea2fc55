package model

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/corral-ai/corral/inference/kernels"
)

// scratch holds a forward pass's buffers, grown to the largest batch seen.
type scratch struct {
	x, xb, out []float32 // n*dim: residual stream, normed input, product
	q, att     []float32 // n*qDim
	k, v       []float32 // n*kvDim
	gate, up   []float32 // n*ffn
	cos, sin   []float32 // n*ropeDim/2
	logits     []float32 // nOut*vocab
	single     []int     // rows attended one at a time
	kept       []Entry   // rows that want logits
	mats       []matAttn // one per pool thread
	acts       kernels.Activations
	outs       [3][]float32 // outputs of a joined product

	// par is the state the parallel attention and SwiGLU items read; the
	// functions handed to the pool are made once (by bindParallel), so a
	// forward pass allocates nothing.
	par struct {
		l, lo, hi, h, span, seq, ffn int
		perHead                      bool // attendRun's items are whole KV heads
		rows                         []Entry
		kv                           KV
		mu                           sync.Mutex
		err                          error // the first item's error
	}
	swigluFn        func(lo, hi int)
	storeFn         func(lo, hi int)
	singleFn, runFn func(thread, lo, hi int)
}

// bindParallel makes the functions the pool runs for attention and SwiGLU.
func (m *llama) bindParallel() {
	s := &m.s
	if s.singleFn == nil {
		s.singleFn, s.swigluFn, s.runFn, s.storeFn = m.attendSingles, m.swigluRows, m.attendRunItems, m.ropeStoreRows
	}
}

// fail records the first error of a parallel step.
func (s *scratch) fail(err error) {
	s.par.mu.Lock()
	if s.par.err == nil {
		s.par.err = err
	}
	s.par.mu.Unlock()
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Forward implements Model.
func (m *llama) Forward(ctx context.Context, batch []Entry, kv KV) ([]float32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &m.cfg
	nOut := 0
	for i, e := range batch {
		if e.Token < 0 || int(e.Token) >= c.Vocab {
			return nil, fmt.Errorf("%w: entry %d: token %d outside the vocabulary of %d", ErrBatch, i, e.Token, c.Vocab)
		}
		if e.Pos < 0 || e.Seq < 0 {
			return nil, fmt.Errorf("%w: entry %d: sequence %d, position %d", ErrBatch, i, e.Seq, e.Pos)
		}
		if e.Logits {
			nOut++
		}
	}
	if len(batch) == 0 {
		return nil, nil
	}
	n, dim, qDim, kvDim := len(batch), c.Dim, c.Heads*c.HeadDim, c.KVDim()
	s := &m.s
	s.x, s.xb, s.out = grow(s.x, n*dim), grow(s.xb, n*dim), grow(s.out, n*dim)
	s.q, s.att = grow(s.q, n*qDim), grow(s.att, n*qDim)
	s.k, s.v = grow(s.k, n*kvDim), grow(s.v, n*kvDim)
	s.gate, s.up = grow(s.gate, n*c.FFN), grow(s.up, n*c.FFN)
	half := len(m.invFreq)
	s.cos, s.sin = grow(s.cos, n*half), grow(s.sin, n*half)

	for i, e := range batch {
		if err := m.embd.DequantizeRow(s.x[i*dim:(i+1)*dim], int(e.Token)); err != nil {
			return nil, fmt.Errorf("embed token %d: %w", e.Token, err)
		}
		for j, f := range m.invFreq {
			sn, cs := math.Sincos(float64(e.Pos) * f)
			s.cos[i*half+j], s.sin[i*half+j] = float32(cs), float32(sn)
		}
	}

	rows := batch
	for l := range m.layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		last := l == len(m.layers)-1
		if err := m.attention(l, rows, kv); err != nil {
			return nil, err
		}
		if last && nOut < len(rows) {
			// Only the rows that want logits matter after the last
			// attention (its keys and values are stored already).
			rows = m.keepOutputRows(rows)
		}
		if err := m.feedForward(l, len(rows)); err != nil {
			return nil, err
		}
	}
	if nOut == 0 {
		return nil, nil
	}
	// rows now holds exactly the entries that want logits, in order.
	m.normRows(s.xb, s.x, m.outNorm, nOut)
	s.logits = grow(s.logits, nOut*c.Vocab)
	if err := m.pool.MatMul(s.logits, &m.output, s.xb[:nOut*dim], nOut); err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	return s.logits, nil
}

// keepOutputRows moves the residual and attention rows of the entries that
// want logits to the front and returns those entries.
func (m *llama) keepOutputRows(rows []Entry) []Entry {
	s, dim, qDim := &m.s, m.cfg.Dim, m.cfg.Heads*m.cfg.HeadDim
	kept := s.kept[:0]
	for i, e := range rows {
		if !e.Logits {
			continue
		}
		j := len(kept)
		copy(s.x[j*dim:(j+1)*dim], s.x[i*dim:(i+1)*dim])
		copy(s.att[j*qDim:(j+1)*qDim], s.att[i*qDim:(i+1)*qDim])
		kept = append(kept, e)
	}
	s.kept = kept
	return kept
}

// normRows applies RMSNorm with weight w to the first n rows of src.
func (m *llama) normRows(dst, src, w []float32, n int) {
	dim, eps := m.cfg.Dim, m.cfg.RMSEpsilon
	for i := range n {
		kernels.RMSNorm(dst[i*dim:(i+1)*dim], src[i*dim:(i+1)*dim], w, eps)
	}
}

// attention runs layer l's attention block up to (not including) the
// output projection for all rows: QKV products, RoPE, cache writes and
// the attention itself, leaving the heads' outputs in s.att.
func (m *llama) attention(l int, rows []Entry, kv KV) error {
	s, c, L := &m.s, &m.cfg, &m.layers[l]
	n, dim, qDim, kvDim := len(rows), c.Dim, c.Heads*c.HeadDim, c.KVDim()
	m.normRows(s.xb, s.x, L.attnNorm, n)
	if err := s.acts.Set(s.xb[:n*dim], n, dim); err != nil {
		return err
	}
	if L.qkv.Rows > 0 {
		s.outs[0], s.outs[1], s.outs[2] = s.q[:n*qDim], s.k[:n*kvDim], s.v[:n*kvDim]
		err := m.pool.MatMulParts(s.outs[:3], &L.qkv, &s.acts)
		s.outs = [3][]float32{}
		if err != nil {
			return fmt.Errorf("layer %d attn_qkv: %w", l, err)
		}
	} else {
		for _, p := range []struct {
			out []float32
			w   *kernels.Matrix
			nm  string
		}{{s.q, &L.wq, "q"}, {s.k, &L.wk, "k"}, {s.v, &L.wv, "v"}} {
			if err := m.pool.MatMulActs(p.out[:n*p.w.Rows], p.w, &s.acts); err != nil {
				return fmt.Errorf("layer %d attn_%s: %w", l, p.nm, err)
			}
		}
	}
	// RoPE and the cache writes (a half-float cache converts every value)
	// are spread over the pool for a batch of several rows; alone, the
	// other threads would wait.
	m.bindParallel()
	s.par.l, s.par.rows, s.par.kv, s.par.err = l, rows, kv, nil
	if n >= parallelStoreRows {
		err := m.pool.Parallel(n, s.storeFn)
		if err == nil {
			err = s.par.err
		}
		if err != nil {
			return err
		}
	} else if m.ropeStoreRows(0, n); s.par.err != nil {
		return s.par.err
	}
	// Long runs of one sequence (prompt chunks) go through the matrix
	// kernels a block at a time; single tokens (decode steps) are spread
	// over the pool one (token, KV head) pair per work item.
	s.single = s.single[:0]
	for lo := 0; lo < n; {
		hi := lo + 1
		for hi < n && rows[hi].Seq == rows[lo].Seq {
			hi++
		}
		if (hi-lo)*(c.Heads/c.KVHeads) < matAttnRows || !littleEndian {
			for i := lo; i < hi; i++ {
				s.single = append(s.single, i)
			}
		} else if err := m.attendRun(l, rows, lo, hi, kv); err != nil {
			return fmt.Errorf("layer %d attention: %w", l, err)
		}
		lo = hi
	}
	s.par.l, s.par.rows, s.par.kv, s.par.err = l, rows, kv, nil
	if len(s.mats) < m.pool.Threads() {
		s.mats = make([]matAttn, m.pool.Threads())
	}
	err := m.pool.ParallelThreads(len(s.single)*c.KVHeads, s.singleFn)
	if err == nil {
		err = s.par.err
	}
	s.par.rows, s.par.kv = nil, nil
	if err != nil {
		return fmt.Errorf("layer %d attention: %w", l, err)
	}
	return nil
}

// parallelStoreRows is the batch size from which ropeStoreRows runs on
// the pool.
const parallelStoreRows = 4

// ropeStoreRows applies RoPE to the queries and keys of rows [lo, hi) of
// the layer in s.par and stores their keys and values; a failure goes to
// s.fail.
func (m *llama) ropeStoreRows(lo, hi int) {
	s, c := &m.s, &m.cfg
	qDim, kvDim, half := c.Heads*c.HeadDim, c.KVDim(), len(m.invFreq)
	for i := lo; i < hi; i++ {
		e := s.par.rows[i]
		cs, sn := s.cos[i*half:(i+1)*half], s.sin[i*half:(i+1)*half]
		rope(s.q[i*qDim:(i+1)*qDim], c.HeadDim, cs, sn)
		k := s.k[i*kvDim : (i+1)*kvDim]
		rope(k, c.HeadDim, cs, sn)
		if err := s.par.kv.Store(s.par.l, e.Seq, e.Pos, k, s.v[i*kvDim:(i+1)*kvDim]); err != nil {
			s.fail(fmt.Errorf("layer %d: store keys of sequence %d position %d: %w", s.par.l, e.Seq, e.Pos, err))
			return
		}
	}
}

// attendSingles is the pool's item for the rows attended one at a time:
// items j of [lo, hi) are (row s.single[j/KVHeads], KV head j%KVHeads).
func (m *llama) attendSingles(thread, lo, hi int) {
	s, c := &m.s, &m.cfg
	for j := lo; j < hi; j++ {
		i := s.single[j/c.KVHeads]
		if err := m.attendGroup(&s.mats[thread], s.par.l, s.par.rows[i], i, j%c.KVHeads, s.par.kv); err != nil {
			s.fail(err)
			return
		}
	}
}

// attendGroup computes the outputs of the query heads that share KV head h
// for row i, with the calling thread's scratch t: kernels.DotRows (or,
// reading an F16 cache in place, DotRowsHalfMulti for all the group's
// query heads at once) scores a page of cached keys in one call, and the
// query heads of the group share each page of keys and of values
// (WeightedSumHalfMulti). Its arithmetic is attendBlock's, so a token
// gets the same bits alone as in a prompt chunk.
func (m *llama) attendGroup(t *matAttn, l int, e Entry, i, h int, kv KV) error {
	s, c := &m.s, &m.cfg
	hd, kvDim, qDim := c.HeadDim, c.KVDim(), c.Heads*c.HeadDim
	group := c.Heads / c.KVHeads
	span := e.Pos + 1
	t.scores = grow(t.scores, group*span)
	scores := t.scores
	q := s.q[i*qDim+h*group*hd : i*qDim+(h+1)*group*hd]
	// Scaled in place: nothing reads this row's queries after attention.
	scaleQuery(q, q, hd)
	t.kp, t.vp = t.kp[:0], t.vp[:0]
	for p := 0; p < span; {
		k, v := headPages(kv, l, e.Seq, p, h, hd, kvDim, span-p)
		if k.n == 0 {
			return fmt.Errorf("sequence %d has no keys or values at position %d", e.Seq, p)
		}
		t.kp, t.vp = append(t.kp, k), append(t.vp, v)
		p += k.n
	}
	// A page is a short run (2 KiB at 16 tokens of 64 half floats) in a
	// block of its own, too short for the hardware prefetchers to find:
	// read page after page, each waits on memory. Asking for the page
	// prefetchPages ahead of the one being computed keeps the next ones
	// on their way (in BenchmarkDecodeBatch, 16 sequences, it cut the
	// attention's time by 38%; every page up front did worse, as the
	// first ones left the L1 cache before their turn).
	for _, pg := range t.kp[:min(len(t.kp), prefetchPages)] {
		pg.prefetch(pg.n, hd)
	}
	p := 0
	for j, pg := range t.kp {
		if j+prefetchPages < len(t.kp) {
			t.kp[j+prefetchPages].prefetch(t.kp[j+prefetchPages].n, hd)
		}
		pg.dotsGroup(scores[p:], span, q, hd)
		p += pg.n
	}
	for _, pg := range t.vp[:min(len(t.vp), prefetchPages)] {
		pg.prefetch(pg.n, hd)
	}
	for g := range group {
		kernels.Softmax(scores[g*span : (g+1)*span])
	}
	out := s.att[i*qDim+h*group*hd : i*qDim+(h+1)*group*hd]
	clear(out)
	p = 0
	for j, pg := range t.vp {
		if j+prefetchPages < len(t.vp) {
			t.vp[j+prefetchPages].prefetch(t.vp[j+prefetchPages].n, hd)
		}
		pg.weighGroup(out, hd, scores[p:group*span], span)
		p += pg.n
	}
	return nil
}

// prefetchPages is how many pages ahead a decode token's attention asks
// for its keys and values (2 measured best of 2, 4 and 8).
const prefetchPages = 2

// feedForward finishes layer l for the first n rows: the attention output
// projection and residual, then the SwiGLU block and residual.
func (m *llama) feedForward(l, n int) error {
	s, c, L := &m.s, &m.cfg, &m.layers[l]
	dim, qDim, ffn := c.Dim, c.Heads*c.HeadDim, c.FFN
	if err := m.pool.MatMul(s.out[:n*dim], &L.wo, s.att[:n*qDim], n); err != nil {
		return fmt.Errorf("layer %d attn_output: %w", l, err)
	}
	kernels.Add(s.x[:n*dim], s.out[:n*dim])
	m.normRows(s.xb, s.x, L.ffnNorm, n)
	if err := s.acts.Set(s.xb[:n*dim], n, dim); err != nil {
		return err
	}
	if L.gateUp.Rows > 0 {
		s.outs[0], s.outs[1] = s.gate[:n*ffn], s.up[:n*ffn]
		err := m.pool.MatMulParts(s.outs[:2], &L.gateUp, &s.acts)
		s.outs = [3][]float32{}
		if err != nil {
			return fmt.Errorf("layer %d ffn_gate_up: %w", l, err)
		}
	} else {
		if err := m.pool.MatMulActs(s.gate[:n*ffn], &L.gate, &s.acts); err != nil {
			return fmt.Errorf("layer %d ffn_gate: %w", l, err)
		}
		if err := m.pool.MatMulActs(s.up[:n*ffn], &L.up, &s.acts); err != nil {
			return fmt.Errorf("layer %d ffn_up: %w", l, err)
		}
	}
	if n*ffn >= 1<<16 {
		m.bindParallel()
		s.par.ffn = ffn
		if err := m.pool.Parallel(n, s.swigluFn); err != nil {
			return err
		}
	} else {
		kernels.SiLUMul(s.gate[:n*ffn], s.up[:n*ffn])
	}
	if err := m.pool.MatMul(s.out[:n*dim], &L.down, s.gate[:n*ffn], n); err != nil {
		return fmt.Errorf("layer %d ffn_down: %w", l, err)
	}
	kernels.Add(s.x[:n*dim], s.out[:n*dim])
	return nil
}

// swigluRows is the pool's item for SwiGLU over rows [lo, hi).
func (m *llama) swigluRows(lo, hi int) {
	s := &m.s
	ffn := s.par.ffn
	kernels.SiLUMul(s.gate[lo*ffn:hi*ffn], s.up[lo*ffn:hi*ffn])
}
