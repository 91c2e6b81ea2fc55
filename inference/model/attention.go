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

// matAttn is the matrix path's scratch.
type matAttn struct {
	q, scores []float32 // block rows × headDim, × span
	k         []float32 // span × headDim keys
	keys      kernels.Matrix
}

// attendRun computes attention for rows[lo:hi], which all belong to one
// sequence, per block and KV head: scores = Q·Kᵀ as one matrix product,
// then each row's softmax and weighted sum of values. Positions after a
// row's own are masked.
//
// Batch invariance: a row's output must have the same bits whether it is
// computed here or alone in attendGroup. The kernels give a score the same
// bits from MatMul as from Dot, the queries are scaled the same way before
// either, and both paths sum the values with weightValues.
func (m *llama) attendRun(l int, rows []Entry, lo, hi int, kv KV) error {
	c := &m.cfg
	group := c.Heads / c.KVHeads
	per := max(1, matAttnBlock/group) // tokens per block
	for b := lo; b < hi; b += per {
		e := min(hi, b+per)
		span := 0
		for _, r := range rows[b:e] {
			span = max(span, r.Pos+1)
		}
		for h := range c.KVHeads {
			if err := m.attendBlock(l, rows, b, e, h, span, kv); err != nil {
				return err
			}
		}
	}
	return nil
}

// attendBlock is attendRun for rows[lo:hi] and KV head h over positions
// [0, span).
func (m *llama) attendBlock(l int, rows []Entry, lo, hi, h, span int, kv KV) error {
	c, s := &m.cfg, &m.s
	t := &s.mat
	hd, kvDim, qDim := c.HeadDim, c.KVDim(), c.Heads*c.HeadDim
	group := c.Heads / c.KVHeads
	nq := (hi - lo) * group
	t.k = grow(t.k, span*hd)
	seq := rows[lo].Seq
	for p := 0; p < span; {
		k, _ := kv.Load(l, seq, p)
		nr := min(len(k)/kvDim, span-p)
		if nr == 0 {
			return fmt.Errorf("sequence %d has no keys at position %d", seq, p)
		}
		for r := range nr {
			copy(t.k[(p+r)*hd:(p+r+1)*hd], k[r*kvDim+h*hd:r*kvDim+(h+1)*hd])
		}
		p += nr
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
	if err := m.pool.MatMul(t.scores, &t.keys, t.q, nq); err != nil {
		return fmt.Errorf("scores: %w", err)
	}
	m.bindParallel()
	p := &s.par
	p.l, p.rows, p.lo, p.h, p.span, p.seq, p.kv, p.err = l, rows, lo, h, span, seq, kv, nil
	err = m.pool.Parallel(nq, s.blockFn)
	if err == nil {
		err = p.err
	}
	p.rows, p.kv = nil, nil
	return err
}

// attendBlockRows is the pool's item for attendBlock's query rows [a, b):
// each row's softmax and weighted sum of values.
func (m *llama) attendBlockRows(a, b int) {
	c, s := &m.cfg, &m.s
	p, t := &s.par, &s.mat
	hd, kvDim, qDim := c.HeadDim, c.KVDim(), c.Heads*c.HeadDim
	group := c.Heads / c.KVHeads
	for r := a; r < b; r++ {
		j, g := r/group, r%group
		pos := p.rows[p.lo+j].Pos
		probs := t.scores[r*p.span : r*p.span+pos+1]
		kernels.Softmax(probs)
		out := s.att[(p.lo+j)*qDim+(p.h*group+g)*hd : (p.lo+j)*qDim+(p.h*group+g+1)*hd]
		clear(out)
		if err := weightValues(out, probs, p.l, p.seq, p.h, hd, kvDim, p.kv); err != nil {
			s.fail(err)
			return
		}
	}
}

// scaleQuery writes the query heads in src, scaled by 1/sqrt(headDim), to
// dst; both attention paths scale queries this way, before the scores.
func scaleQuery(dst, src []float32, headDim int) {
	scale := float32(1 / math.Sqrt(float64(headDim)))
	for i, x := range src[:len(dst)] {
		dst[i] = x * scale
	}
}

// weightValues adds Σ probs[p]·v[p] over positions p = 0..len(probs)-1 of
// seq's values for KV head h to out, position after position (WeightedSum
// keeps that order across pages): the one summation both attention paths
// share.
func weightValues(out, probs []float32, l, seq, h, hd, kvDim int, kv KV) error {
	for p := 0; p < len(probs); {
		_, v := kv.Load(l, seq, p)
		nr := min(len(v)/kvDim, len(probs)-p)
		if nr == 0 {
			return fmt.Errorf("sequence %d has no values at position %d", seq, p)
		}
		kernels.WeightedSum(out, probs[p:p+nr], v[h*hd:], kvDim)
		p += nr
	}
	return nil
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
