package model

import (
	"fmt"
	"unsafe"

	"github.com/corral-ai/corral/inference/kernels"
)

// KV is the key/value cache a forward pass reads and writes. The engine
// owns it; rows are Config().KVDim() float32 values (all KV heads of one
// token, head after head).
//
// Within one layer Forward first stores the rows of every batch entry, then
// loads; loads run concurrently on the pool's threads and must not change
// the cache.
type KV interface {
	// Store saves the key and value rows of the token at pos of seq in
	// layer. k and v are only valid during the call.
	Store(layer, seq, pos int, k, v []float32) error
	// Load returns the stored key and value rows of seq in layer from
	// position pos on: n >= 1 rows back to back, n*KVDim values each. A
	// paged cache may return fewer rows than stored (up to the end of a
	// page); Forward asks again from where the returned rows end. It
	// returns nil when nothing is stored at pos.
	Load(layer, seq, pos int) (k, v []float32)
}

// HeadKV is a KV that keeps each KV head's rows of a page together
// (kvcache's layout), so that attention, which works one KV head at a
// time, reads one contiguous run per page. LoadHead returns the rows of
// KV head h of seq in layer from pos on, n >= 1 rows of HeadDim values
// back to back, as float32 (nil when the cache keeps half floats, or
// nothing is stored at pos); LoadHeadHalf returns them as IEEE half-float
// bits (nil when the cache keeps float32). The kernels read half floats
// directly (kernels.DotRowsHalf, WeightedSumHalf) with the bits of the
// float32 routines on the converted values.
type HeadKV interface {
	KV
	LoadHead(layer, seq, pos, h int) (k, v []float32)
	LoadHeadHalf(layer, seq, pos, h int) (k, v []uint16)
}

// page is a run of one KV head's keys or values: n rows, row r at
// [r*stride, r*stride+headDim) of f32, or of f16 when the cache keeps
// half floats.
type page struct {
	f32       []float32
	f16       []uint16
	stride, n int
}

// headPages returns the keys and the values of KV head h of seq in layer
// from position pos on, at most limit rows each, from one lookup; n == 0
// when nothing is stored at pos. Rows come in place from a HeadKV, else
// from Load's whole rows.
func headPages(kv KV, l, seq, pos, h, headDim, kvDim, limit int) (keys, values page) {
	if hk, ok := kv.(HeadKV); ok {
		if k, v := hk.LoadHeadHalf(l, seq, pos, h); k != nil {
			n := min(len(k)/headDim, limit)
			return page{f16: k, stride: headDim, n: n}, page{f16: v, stride: headDim, n: n}
		}
		if k, v := hk.LoadHead(l, seq, pos, h); k != nil {
			n := min(len(k)/headDim, limit)
			return page{f32: k, stride: headDim, n: n}, page{f32: v, stride: headDim, n: n}
		}
		return page{}, page{}
	}
	k, v := kv.Load(l, seq, pos)
	n := min(len(k)/kvDim, limit)
	if n <= 0 {
		return page{}, page{}
	}
	return page{f32: k[h*headDim:], stride: kvDim, n: n}, page{f32: v[h*headDim:], stride: kvDim, n: n}
}

// dotsGroup sets out[g*os+r] to the dot product of row r < p.n with
// query g, xs holding the queries of width values one after the other:
// kernels.DotRows per query, or for a half-float page DotRowsHalfMulti,
// all queries at once (each row read and converted once) with the same
// bits.
func (p page) dotsGroup(out []float32, os int, xs []float32, width int) {
	if p.f16 != nil {
		kernels.DotRowsHalfMulti(out, os, p.n, p.f16, p.stride, xs, width)
		return
	}
	for g := range len(xs) / width {
		kernels.DotRows(out[g*os:g*os+p.n], p.f32, p.stride, xs[g*width:(g+1)*width])
	}
}

// weighGroup adds, for each query head g of a KV head's group, the page's
// rows weighted by a[g*as+r] (r < p.n) to out[g*width:(g+1)*width]:
// kernels.WeightedSum per head, or for a half-float page
// WeightedSumHalfMulti, all heads at once (each row read and converted
// once) with the same bits. Called page after page, every output is one
// multiply-add chain in position order, WeightedSum's arithmetic over any
// paging, as kernels.WeightedSums computes it for prompt chunks.
func (p page) weighGroup(out []float32, width int, a []float32, as int) {
	if p.f16 != nil {
		kernels.WeightedSumHalfMulti(out, width, a, as, p.n, p.f16, p.stride)
		return
	}
	for g := range len(out) / width {
		kernels.WeightedSum(out[g*width:(g+1)*width], a[g*as:g*as+p.n], p.f32, p.stride)
	}
}

// prefetch asks for the page's first n rows without waiting for them.
func (p page) prefetch(n, headDim int) {
	if n <= 0 {
		return
	}
	var at unsafe.Pointer
	bytes := 0
	if p.f16 != nil {
		at, bytes = unsafe.Pointer(&p.f16[0]), 2*((n-1)*p.stride+headDim)
	} else {
		at, bytes = unsafe.Pointer(&p.f32[0]), 4*((n-1)*p.stride+headDim)
	}
	prefetchLines(at, (bytes+63)/64)
}

// gather copies rows [0, n) into dst (n*headDim values), converting half
// floats exactly.
func (p page) gather(dst []float32, n, headDim int) {
	for r := range n {
		d := dst[r*headDim : (r+1)*headDim]
		if p.f16 != nil {
			halfToFloat(d, p.f16[r*p.stride:r*p.stride+headDim])
		} else {
			copy(d, p.f32[r*p.stride:r*p.stride+headDim])
		}
	}
}

// Cache is a contiguous KV for a fixed number of sequences (ids 0..Seqs-1)
// of up to Positions tokens each.
type Cache struct {
	layers, seqs, positions, kvDim int
	k, v                           []float32 // [layer][seq][pos][kvDim]
}

var _ KV = (*Cache)(nil)

// NewCache allocates a cache for seqs sequences of positions tokens of a
// model of shape c.
func NewCache(c Config, seqs, positions int) (*Cache, error) {
	n := int64(c.Layers) * int64(seqs) * int64(positions) * int64(c.KVDim())
	if seqs <= 0 || positions <= 0 || n <= 0 || n > 1<<34 {
		return nil, fmt.Errorf("kv cache: %d sequences of %d positions of a %d-layer model is out of range", seqs, positions, c.Layers)
	}
	return &Cache{
		layers: c.Layers, seqs: seqs, positions: positions, kvDim: c.KVDim(),
		k: make([]float32, n), v: make([]float32, n),
	}, nil
}

// Positions is how many tokens each sequence can hold.
func (c *Cache) Positions() int { return c.positions }

func (c *Cache) offset(layer, seq, pos int) (int, bool) {
	if layer < 0 || layer >= c.layers || seq < 0 || seq >= c.seqs || pos < 0 || pos >= c.positions {
		return 0, false
	}
	return ((layer*c.seqs+seq)*c.positions + pos) * c.kvDim, true
}

// Store implements KV.
func (c *Cache) Store(layer, seq, pos int, k, v []float32) error {
	off, ok := c.offset(layer, seq, pos)
	if !ok {
		return fmt.Errorf("kv cache: layer %d, sequence %d, position %d is outside %d layers × %d sequences × %d positions",
			layer, seq, pos, c.layers, c.seqs, c.positions)
	}
	if len(k) != c.kvDim || len(v) != c.kvDim {
		return fmt.Errorf("kv cache: rows of %d and %d values, want %d", len(k), len(v), c.kvDim)
	}
	copy(c.k[off:off+c.kvDim], k)
	copy(c.v[off:off+c.kvDim], v)
	return nil
}

// Load implements KV; it returns every row from pos to the end of the
// sequence's space, stored or not.
func (c *Cache) Load(layer, seq, pos int) (k, v []float32) {
	off, ok := c.offset(layer, seq, pos)
	if !ok {
		return nil, nil
	}
	end, _ := c.offset(layer, seq, 0)
	end += c.positions * c.kvDim
	return c.k[off:end], c.v[off:end]
}
