package kvcache

import (
	"fmt"

	"github.com/corral-ai/corral/inference/kernels"
)

// Store, Load and LoadHalf are the forward pass's side of the cache. They
// take no lock; see the package documentation for when they may run.

// rows locates the rows of seq in layer from pos to the end of pos's block
// or of the sequence: the offset of pos's key row in the pool, the offset
// of its value row, and the row count. n is 0 when nothing is there.
func (c *Cache) rows(layer, seq, pos int) (k, v, n int, b int32) {
	if layer < 0 || layer >= c.layers || seq < 0 || seq >= len(c.seqs) || pos < 0 {
		return 0, 0, 0, 0
	}
	s := c.seqs[seq]
	if s == nil || pos >= s.n {
		return 0, 0, 0, 0
	}
	bt, kd := c.blockTokens, c.kvDim
	i, off := pos/bt, pos%bt
	b = s.blocks[i]
	n = min(bt, s.n-i*bt) - off
	k = int(b)*c.blockElems + (layer*2*bt+off)*kd
	return k, k + bt*kd, n, b
}

// Store writes the key and value rows of the token at pos of seq in layer
// (model.KV). pos must have been reserved by Append, in a block seq does
// not share. F16 caches round each value to the nearest half float, ties
// to even (toHalf).
func (c *Cache) Store(layer, seq, pos int, k, v []float32) error {
	ko, vo, n, b := c.rows(layer, seq, pos)
	if n == 0 {
		return fmt.Errorf("%w: store at layer %d, sequence %d, position %d: not reserved", ErrPosition, layer, seq, pos)
	}
	if !c.writable(b) {
		return fmt.Errorf("%w: store at sequence %d, position %d: the block is shared or cached", ErrPosition, seq, pos)
	}
	kd := c.kvDim
	if len(k) != kd || len(v) != kd {
		return fmt.Errorf("%w: rows of %d and %d values, want %d", ErrRow, len(k), len(v), kd)
	}
	if c.f32 != nil {
		copy(c.f32[ko:ko+kd], k)
		copy(c.f32[vo:vo+kd], v)
		return nil
	}
	toHalf(c.f16[ko:ko+kd], k)
	toHalf(c.f16[vo:vo+kd], v)
	return nil
}

// Load returns the key and value rows of seq in layer from pos to the end
// of pos's block or of the sequence, n ≥ 1 rows of RowLen values back to
// back, or nil when seq holds nothing at pos (model.KV). The slices alias
// the pool: callers must not write them. An F32 cache returns its rows in
// place; an F16 cache converts them into new slices, a fallback until the
// model reads half floats with LoadHalf.
func (c *Cache) Load(layer, seq, pos int) (k, v []float32) {
	ko, vo, n, _ := c.rows(layer, seq, pos)
	if n == 0 {
		return nil, nil
	}
	e := n * c.kvDim
	if c.f32 != nil {
		return c.f32[ko : ko+e : ko+e], c.f32[vo : vo+e : vo+e]
	}
	k, v = make([]float32, e), make([]float32, e)
	for i := range e {
		k[i] = kernels.F16ToF32(c.f16[ko+i])
		v[i] = kernels.F16ToF32(c.f16[vo+i])
	}
	return k, v
}

// LoadHalf is Load for an F16 cache: the rows as IEEE half-float bits, in
// place. It returns nil for an F32 cache.
func (c *Cache) LoadHalf(layer, seq, pos int) (k, v []uint16) {
	if c.f16 == nil {
		return nil, nil
	}
	ko, vo, n, _ := c.rows(layer, seq, pos)
	if n == 0 {
		return nil, nil
	}
	e := n * c.kvDim
	return c.f16[ko : ko+e : ko+e], c.f16[vo : vo+e : vo+e]
}
