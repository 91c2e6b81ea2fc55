package kvcache

import (
	"fmt"

	"github.com/corral-ai/corral/inference/kernels"
)

// Store, Load, LoadHead and LoadHeadHalf are the forward pass's side of
// the cache. They take no lock; see the package documentation for when
// they may run.
//
// Inside a block, each layer holds its keys, then its values; each of
// those holds KV head after KV head, and a head the block's tokens one
// after another, HeadDim values each. Attention reads one head of one
// sequence at a time, so a page of a head is one contiguous run (2 KiB
// for 16 tokens of 64 half floats) that the processor streams, instead
// of 128 bytes out of every 1.5 KiB row.

// rows locates the rows of seq in layer from pos to the end of pos's block
// or of the sequence: the offset in the pool of layer's keys in pos's
// block (its values follow, blockTokens × kvDim later), pos's offset in
// the block, and the row count. n is 0 when nothing is there.
func (c *Cache) rows(layer, seq, pos int) (base, off, n int, b int32) {
	if layer < 0 || layer >= c.layers || seq < 0 || seq >= len(c.seqs) || pos < 0 {
		return 0, 0, 0, 0
	}
	s := c.seqs[seq]
	if s == nil || pos >= s.n {
		return 0, 0, 0, 0
	}
	bt := c.blockTokens
	i := pos / bt
	off = pos % bt
	b = s.blocks[i]
	n = min(bt, s.n-i*bt) - off
	return int(b)*c.blockElems + layer*2*bt*c.kvDim, off, n, b
}

// Store writes the key and value rows of the token at pos of seq in layer
// (model.KV). pos must have been reserved by Append, in a block seq does
// not share. F16 caches round each value to the nearest half float, ties
// to even (toHalf).
func (c *Cache) Store(layer, seq, pos int, k, v []float32) error {
	base, off, n, b := c.rows(layer, seq, pos)
	if n == 0 {
		return fmt.Errorf("%w: store at layer %d, sequence %d, position %d: not reserved", ErrPosition, layer, seq, pos)
	}
	if !c.writable(b) {
		return fmt.Errorf("%w: store at sequence %d, position %d: the block is shared or cached", ErrPosition, seq, pos)
	}
	kd, hd, bt := c.kvDim, c.headDim, c.blockTokens
	if len(k) != kd || len(v) != kd {
		return fmt.Errorf("%w: rows of %d and %d values, want %d", ErrRow, len(k), len(v), kd)
	}
	vb := base + bt*kd
	for h := 0; h < kd; h += hd {
		ko, vo := base+h*bt+off*hd, vb+h*bt+off*hd
		if c.f32 != nil {
			copy(c.f32[ko:ko+hd], k[h:h+hd])
			copy(c.f32[vo:vo+hd], v[h:h+hd])
			continue
		}
		toHalf(c.f16[ko:ko+hd], k[h:h+hd])
		toHalf(c.f16[vo:vo+hd], v[h:h+hd])
	}
	return nil
}

// Load returns the key and value rows of seq in layer from pos to the end
// of pos's block or of the sequence, n ≥ 1 rows of RowLen values back to
// back, or nil when seq holds nothing at pos (model.KV). The rows are
// gathered from the heads' runs into new slices (and converted from half
// floats): a slow fallback for callers that want whole rows; the model
// reads LoadHead and LoadHeadHalf.
func (c *Cache) Load(layer, seq, pos int) (k, v []float32) {
	base, off, n, _ := c.rows(layer, seq, pos)
	if n == 0 {
		return nil, nil
	}
	kd, hd, bt := c.kvDim, c.headDim, c.blockTokens
	k, v = make([]float32, n*kd), make([]float32, n*kd)
	vb := base + bt*kd
	for r := range n {
		for h := 0; h < kd; h += hd {
			ko, vo := base+h*bt+(off+r)*hd, vb+h*bt+(off+r)*hd
			dk, dv := k[r*kd+h:r*kd+h+hd], v[r*kd+h:r*kd+h+hd]
			if c.f32 != nil {
				copy(dk, c.f32[ko:ko+hd])
				copy(dv, c.f32[vo:vo+hd])
				continue
			}
			for i := range hd {
				dk[i] = kernels.F16ToF32(c.f16[ko+i])
				dv[i] = kernels.F16ToF32(c.f16[vo+i])
			}
		}
	}
	return k, v
}

// head locates KV head h's run of rows from pos on: the offsets of its
// keys and values and the row count, 0 when nothing is there.
func (c *Cache) head(layer, seq, pos, h int) (ko, vo, n int) {
	if h < 0 || h*c.headDim >= c.kvDim {
		return 0, 0, 0
	}
	base, off, n, _ := c.rows(layer, seq, pos)
	if n == 0 {
		return 0, 0, 0
	}
	ko = base + (h*c.blockTokens+off)*c.headDim
	return ko, ko + c.blockTokens*c.kvDim, n
}

// LoadHead returns the keys and values of KV head h of seq in layer from
// pos to the end of pos's block or of the sequence: n ≥ 1 rows of HeadDim
// values back to back, in place (model.HeadKV). It returns nil for an F16
// cache or when seq holds nothing at pos. Callers must not write them.
func (c *Cache) LoadHead(layer, seq, pos, h int) (k, v []float32) {
	if c.f32 == nil {
		return nil, nil
	}
	ko, vo, n := c.head(layer, seq, pos, h)
	if n == 0 {
		return nil, nil
	}
	e := n * c.headDim
	return c.f32[ko : ko+e : ko+e], c.f32[vo : vo+e : vo+e]
}

// LoadHeadHalf is LoadHead for an F16 cache: the rows as IEEE half-float
// bits, in place. It returns nil for an F32 cache.
func (c *Cache) LoadHeadHalf(layer, seq, pos, h int) (k, v []uint16) {
	if c.f16 == nil {
		return nil, nil
	}
	ko, vo, n := c.head(layer, seq, pos, h)
	if n == 0 {
		return nil, nil
	}
	e := n * c.headDim
	return c.f16[ko : ko+e : ko+e], c.f16[vo : vo+e : vo+e]
}
