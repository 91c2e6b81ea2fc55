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
	q, scores, out []float32 // block rows × headDim, × span, × headDim
	k, vt          []float32 // span × headDim keys; headDim × span values, transposed
}

// attendRun computes attention for rows[lo:hi], which all belong to one
// sequence, with two matrix products per block and KV head: scores = Q·Kᵀ
// and out = softmax(scores)·V. Positions after a row's own are masked.
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
	t.k, t.vt = grow(t.k, span*hd), grow(t.vt, hd*span)
	seq := rows[lo].Seq
	for p := 0; p < span; {
		k, v := kv.Load(l, seq, p)
		nr := min(len(k), len(v)) / kvDim
		nr = min(nr, span-p)
		if nr == 0 {
			return fmt.Errorf("sequence %d has no keys at position %d", seq, p)
		}
		for r := range nr {
			copy(t.k[(p+r)*hd:(p+r+1)*hd], k[r*kvDim+h*hd:r*kvDim+(h+1)*hd])
			vr := v[r*kvDim+h*hd : r*kvDim+(h+1)*hd]
			for d, x := range vr {
				t.vt[d*span+p+r] = x
			}
		}
		p += nr
	}
	// Query rows of this KV head's group, scaled by 1/sqrt(headDim) now so
	// the scores come out scaled.
	t.q = grow(t.q, nq*hd)
	scale := float32(1 / math.Sqrt(float64(hd)))
	for j := range hi - lo {
		src := s.q[(lo+j)*qDim+h*group*hd : (lo+j)*qDim+(h+1)*group*hd]
		dst := t.q[j*group*hd : (j+1)*group*hd]
		for i, x := range src {
			dst[i] = x * scale
		}
	}
	keys, err := kernels.NewMatrix(kernels.F32, span, hd, floatBytes(t.k))
	if err != nil {
		return err
	}
	t.scores = grow(t.scores, nq*span)
	if err := m.pool.MatMul(t.scores, &keys, t.q, nq); err != nil {
		return fmt.Errorf("scores: %w", err)
	}
	if err := m.pool.Parallel(nq, func(a, b int) {
		for r := a; r < b; r++ {
			pos := rows[lo+r/group].Pos
			row := t.scores[r*span : (r+1)*span]
			softmax(row[:pos+1])
			clear(row[pos+1:])
		}
	}); err != nil {
		return err
	}
	values, err := kernels.NewMatrix(kernels.F32, hd, span, floatBytes(t.vt))
	if err != nil {
		return err
	}
	t.out = grow(t.out, nq*hd)
	if err := m.pool.MatMul(t.out, &values, t.scores, nq); err != nil {
		return fmt.Errorf("values: %w", err)
	}
	for j := range hi - lo {
		copy(s.att[(lo+j)*qDim+h*group*hd:(lo+j)*qDim+(h+1)*group*hd], t.out[j*group*hd:(j+1)*group*hd])
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
