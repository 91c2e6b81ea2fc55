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
	k         []float32 // span × headDim keys
	kp, vp    []page    // a decode token's pages of one KV head's keys and values
	keys      kernels.Matrix
	acts      kernels.Activations
	outs      [1][]float32 // MatMulLocal's output, kept so the call allocates nothing
}

// attendRun computes attention for rows[lo:hi], which all belong to one
// sequence, per block and KV head: scores = Q·Kᵀ as one matrix product,
// then each row's softmax and weighted sum of values. Positions after a
// row's own are masked. The (block, KV head) pairs are the pool's items,
// each done by one thread from gathering the keys to the weighted sums,
// the largest (last) blocks first.
//
// Batch invariance: a row's output must have the same bits whether it is
// computed here or alone in attendGroup. The kernels give a score the same
// bits from MatMul as from Dot, the queries are scaled the same way before
// either, and both paths sum the values with weightValues.
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
	n := (hi - lo + per - 1) / per * c.KVHeads
	err := m.pool.ParallelThreads(n, s.runFn)
	if err == nil {
		err = p.err
	}
	p.rows, p.kv = nil, nil
	return err
}

// attendRunItems is the pool's item for attendRun: item i, counted from
// the last, is block i/KVHeads and KV head i%KVHeads.
func (m *llama) attendRunItems(thread, a, b int) {
	c, s := &m.cfg, &m.s
	p := &s.par
	per := max(1, matAttnBlock/(c.Heads/c.KVHeads))
	n := (p.hi - p.lo + per - 1) / per * c.KVHeads
	for i := a; i < b; i++ {
		it := n - 1 - i
		lo := p.lo + it/c.KVHeads*per
		hi := min(p.hi, lo+per)
		span := 0
		for _, r := range p.rows[lo:hi] {
			span = max(span, r.Pos+1)
		}
		if err := m.attendBlock(&s.mats[thread], p.l, p.rows, lo, hi, it%c.KVHeads, span, p.kv); err != nil {
			s.fail(err)
			return
		}
	}
}

// attendBlock is attendRun for rows[lo:hi] and KV head h over positions
// [0, span), on the calling thread with scratch t.
func (m *llama) attendBlock(t *matAttn, l int, rows []Entry, lo, hi, h, span int, kv KV) error {
	c, s := &m.cfg, &m.s
	hd, kvDim, qDim := c.HeadDim, c.KVDim(), c.Heads*c.HeadDim
	group := c.Heads / c.KVHeads
	nq := (hi - lo) * group
	t.k = grow(t.k, span*hd)
	seq := rows[lo].Seq
	for p := 0; p < span; {
		pg := headPage(kv, false, l, seq, p, h, hd, kvDim, span-p)
		if pg.n == 0 {
			return fmt.Errorf("sequence %d has no keys at position %d", seq, p)
		}
		pg.gather(t.k[p*hd:], pg.n, hd)
		p += pg.n
	}
	// Query rows of this KV head's group, scaled by 1/sqrt(headDim) now so
	// the scores come out scaled.
	t.q = grow(t.q, nq*hd)
	for j := range hi - lo {
		scaleQuery(t.q[j*group*hd:(j+1)*group*hd], s.q[(lo+j)*qDim+h*group*hd:(lo+j)*qDim+(h+1)*group*hd], hd)
	}
	keys, err := kernels.NewMatrix(kernels.F32, span, hd, floatBytes(t.k))
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
	for r := range nq {
		j, g := r/group, r%group
		pos := rows[lo+j].Pos
		probs := t.scores[r*span : r*span+pos+1]
		kernels.Softmax(probs)
		out := s.att[(lo+j)*qDim+(h*group+g)*hd : (lo+j)*qDim+(h*group+g+1)*hd]
		clear(out)
		if err := weightValues(out, probs, 1, l, seq, h, hd, kvDim, kv); err != nil {
			return err
		}
	}
	return nil
}

// scaleQuery writes the query heads in src, scaled by 1/sqrt(headDim), to
// dst; both attention paths scale queries this way, before the scores.
func scaleQuery(dst, src []float32, headDim int) {
	scale := float32(1 / math.Sqrt(float64(headDim)))
	for i, x := range src[:len(dst)] {
		dst[i] = x * scale
	}
}

// weightValues adds Σ probs[p]·v[p] over positions p of seq's values for
// KV head h to out, for n query heads of h's group at once: head g's
// probabilities are probs[g*span : (g+1)*span] (span = len(probs)/n) and
// its output out[g*hd : (g+1)*hd]. It goes page by page and, in a page,
// head by head, so the group reads each page once; every output is still
// one multiply-add chain in position order (WeightedSum's arithmetic
// across pages): the one summation both attention paths share.
func weightValues(out, probs []float32, n, l, seq, h, hd, kvDim int, kv KV) error {
	span := len(probs) / n
	for p := 0; p < span; {
		pg := headPage(kv, true, l, seq, p, h, hd, kvDim, span-p)
		if pg.n == 0 {
			return fmt.Errorf("sequence %d has no values at position %d", seq, p)
		}
		weighPage(out, probs, n, p, pg, hd)
		p += pg.n
	}
	return nil
}

// weighPage is weightValues' step for one page pg of values, holding
// positions from p on.
func weighPage(out, probs []float32, n, p int, pg page, hd int) {
	span := len(probs) / n
	for g := range n {
		pg.weigh(out[g*hd:(g+1)*hd], probs[g*span+p:g*span+p+pg.n])
	}
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
