package model

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/corral-ai/corral/inference/kernels"
)

const (
	// matAttnRows is how many query rows (tokens × heads per KV head) of one
	// sequence make the matrix path worth its gathering and dispatches.
	matAttnRows = 16
	// matAttnBlock is how many query rows one block of the matrix path
	// takes. Blocks keep the scratch small and skip most of the masked
	// upper triangle: each block only reads positions up to its last token.
	matAttnBlock = 128
)

// matAttn is one thread's scratch for the matrix path.
type matAttn struct {
	q, scores []float32 // block rows × headDim, × span
	k, v      []float32 // span × headDim keys, values (see gatherHead)
	vals      []float32 // values of the head being attended, vs apart
	vs        int
	n         []int  // positions each query row attends to
	kp, vp    []page // a decode token's pages of one KV head's keys and values
	keys      kernels.Matrix
	acts      kernels.Activations
	outs      [1][]float32 // MatMulLocal's output, kept so the call allocates nothing
}

// attendRun computes attention for rows[lo:hi], which all belong to one
// sequence, per block and KV head: scores = Q·Kᵀ as one matrix product,
// then each row's softmax and weighted sum of values. Positions after a
// row's own are masked. The pool's items are whole KV heads when they
// share out evenly over the threads, else (block, KV head) pairs, the
// largest (last) blocks first; one thread does an item from gathering the
// keys and values to the weighted sums.
//
// Batch invariance: a row's output must have the same bits whether it is
// computed here or alone in attendGroup. The kernels give a score the same
// bits from MatMul as from Dot, the queries are scaled the same way before
// either, and both paths sum the values in position order with
// WeightedSum's arithmetic (kernels.WeightedSums here, page.weighGroup there).
func (m *llama) attendRun(l int, rows []Entry, lo, hi int, kv KV) error {
	c, s := &m.cfg, &m.s
	group := c.Heads / c.KVHeads
	per := max(1, matAttnBlock/group) // tokens per block
	if len(s.mats) < m.pool.Threads() {
		s.mats = make([]matAttn, m.pool.Threads())
	}
	m.bindParallel()
	p := &s.par
	p.l, p.rows, p.lo, p.hi, p.kv, p.err = l, rows, lo, hi, kv, nil
	// When the KV heads share out evenly over the threads, an item is one
	// KV head with all its blocks: its keys and values are gathered (and
	// converted from half floats) once, not once per block.
	p.perHead = c.KVHeads%m.pool.Threads() == 0
	n := (hi - lo + per - 1) / per * c.KVHeads
	if p.perHead {
		n = c.KVHeads
	}
	err := m.pool.ParallelThreads(n, s.runFn)
	if err == nil {
		err = p.err
	}
	p.rows, p.kv = nil, nil
	return err
}

// attendRunItems is the pool's item for attendRun: KV head i with all its
// blocks (perHead), or item i counted from the last, block i/KVHeads and
// KV head i%KVHeads.
func (m *llama) attendRunItems(thread, a, b int) {
	c, s := &m.cfg, &m.s
	p := &s.par
	t := &s.mats[thread]
	per := max(1, matAttnBlock/(c.Heads/c.KVHeads))
	blocks := (p.hi - p.lo + per - 1) / per
	span := func(lo, hi int) int {
		n := 0
		for _, r := range p.rows[lo:hi] {
			n = max(n, r.Pos+1)
		}
		return n
	}
	for i := a; i < b; i++ {
		h, b0, b1 := i, 0, blocks
		if !p.perHead {
			it := blocks*c.KVHeads - 1 - i
			h, b0 = it%c.KVHeads, it/c.KVHeads
			b1 = b0 + 1
		}
		lo, hi := p.lo+b0*per, min(p.hi, p.lo+b1*per)
		if err := m.gatherHead(t, p.l, p.rows[lo].Seq, h, span(lo, hi), p.kv); err != nil {
			s.fail(err)
			return
		}
		for blk := b0; blk < b1; blk++ {
			lo, hi := p.lo+blk*per, min(p.hi, p.lo+(blk+1)*per)
			if err := m.attendBlock(t, p.l, p.rows, lo, hi, h, span(lo, hi)); err != nil {
				s.fail(err)
				return
			}
		}
		t.vals = nil // may be the cache's memory
	}
}

// gatherHead puts the keys of KV head h of seq in layer at positions
// [0, span) into t.k, row after row, and sets t.vals, t.vs to its values
// there: in place when one float32 page holds the whole span, else
// gathered (and converted from half floats) into t.v. Keys and values come
// from one walk over the pages, each read once per item, not once per
// query row.
func (m *llama) gatherHead(t *matAttn, l, seq, h, span int, kv KV) error {
	c := &m.cfg
	hd, kvDim := c.HeadDim, c.KVDim()
	t.k = grow(t.k, span*hd)
	for p := 0; p < span; {
		k, v := headPages(kv, l, seq, p, h, hd, kvDim, span-p)
		if k.n == 0 {
			return fmt.Errorf("sequence %d has no keys or values at position %d", seq, p)
		}
		k.gather(t.k[p*hd:], k.n, hd)
		if p == 0 && v.n == span && v.f32 != nil {
			t.vals, t.vs = v.f32, v.stride
		} else {
			t.v = grow(t.v, span*hd)
			v.gather(t.v[p*hd:], v.n, hd)
			t.vals, t.vs = t.v, hd
		}
		p += k.n
	}
	return nil
}

// attendBlock is attendRun for rows[lo:hi] and KV head h over positions
// [0, span), on the calling thread with scratch t, whose keys and values
// gatherHead has set for at least span positions.
func (m *llama) attendBlock(t *matAttn, l int, rows []Entry, lo, hi, h, span int) error {
	c, s := &m.cfg, &m.s
	hd, qDim := c.HeadDim, c.Heads*c.HeadDim
	group := c.Heads / c.KVHeads
	nq := (hi - lo) * group
	// Query rows of this KV head's group, scaled by 1/sqrt(headDim) now so
	// the scores come out scaled.
	t.q = grow(t.q, nq*hd)
	for j := range hi - lo {
		scaleQuery(t.q[j*group*hd:(j+1)*group*hd], s.q[(lo+j)*qDim+h*group*hd:(lo+j)*qDim+(h+1)*group*hd], hd)
	}
	keys, err := kernels.NewMatrix(kernels.F32, span, hd, floatBytes(t.k[:span*hd]))
	if err != nil {
		return err
	}
	t.keys = keys // in the scratch, so that its address does not escape
	t.scores = grow(t.scores, nq*span)
	if err := t.acts.Set(t.q[:nq*hd], nq, hd); err != nil {
		return err
	}
	t.outs[0] = t.scores
	err = kernels.MatMulLocal(t.outs[:], &t.keys, &t.acts)
	t.outs[0] = nil
	if err != nil {
		return fmt.Errorf("scores: %w", err)
	}
	if cap(t.n) < nq {
		t.n = make([]int, nq)
	}
	t.n = t.n[:nq]
	for r := range nq {
		n := rows[lo+r/group].Pos + 1
		kernels.Softmax(t.scores[r*span : r*span+n])
		t.n[r] = n
	}
	// The weighted sums of the block's rows share each value row they read
	// (kernels.WeightedSums); each output gets page.weighGroup's bits, which
	// are WeightedSum's in position order over any paging.
	v, vs := t.vals, t.vs
	for j := range hi - lo {
		clear(s.att[(lo+j)*qDim+h*group*hd : (lo+j)*qDim+(h+1)*group*hd])
	}
	if group == 1 {
		kernels.WeightedSums(s.att[lo*qDim+h*hd:], qDim, hd, t.scores, span, t.n, v, vs)
		return nil
	}
	for j := range hi - lo {
		kernels.WeightedSums(s.att[(lo+j)*qDim+h*group*hd:], hd, hd, t.scores[j*group*span:], span, t.n[j*group:(j+1)*group], v, vs)
	}
	return nil
}

// scaleQuery writes the query heads in src, scaled by 1/sqrt(headDim), to
// dst; both attention paths scale queries this way, before the scores.
func scaleQuery(dst, src []float32, headDim int) {
	copy(dst, src)
	kernels.Scale(dst, float32(1/math.Sqrt(float64(headDim))))
}

// littleEndian says whether float32s in memory have the byte order of F32
// matrices; the matrix path needs it, and big-endian machines do without.
var littleEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 1 }()

// floatBytes views float32s as their bytes, which on a little-endian
// machine is how the kernels read F32 matrices.
func floatBytes(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}
