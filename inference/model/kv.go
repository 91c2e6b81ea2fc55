package model

import (
	"fmt"
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

// HalfKV is a KV that keeps keys and values as IEEE half floats
// (kvcache's F16 cache). LoadHalf returns what Load would, as half-float
// bits in place, or nil when the cache keeps float32; Forward then reads
// each KV head's rows through it, converting only those, instead of the
// converted copies of whole rows Load makes.
type HalfKV interface {
	KV
	LoadHalf(layer, seq, pos int) (k, v []uint16)
}

// headRows returns the keys (or values) of KV head h of seq in layer from
// position pos on: n >= 1 rows, row r at rows[r*stride:r*stride+headDim],
// at most limit rows, or n == 0 when nothing is stored at pos. Float32
// caches return their rows in place; half-float ones are converted into
// buf, which is grown as needed. Conversion is exact, so both attention
// paths see the same float32 values whichever way they read them.
func headRows(kv KV, value bool, l, seq, pos, h, headDim, kvDim, limit int, buf *[]float32) (rows []float32, stride, n int) {
	if hk, ok := kv.(HalfKV); ok {
		k, v := hk.LoadHalf(l, seq, pos)
		src := k
		if value {
			src = v
		}
		if src != nil {
			n = min(len(src)/kvDim, limit)
			*buf = grow(*buf, n*headDim)
			dst := *buf
			for r := range n {
				halfToFloat(dst[r*headDim:(r+1)*headDim], src[r*kvDim+h*headDim:r*kvDim+(h+1)*headDim])
			}
			return dst, headDim, n
		}
	}
	k, v := kv.Load(l, seq, pos)
	src := k
	if value {
		src = v
	}
	n = min(len(src)/kvDim, limit)
	if n <= 0 {
		return nil, 0, 0
	}
	return src[h*headDim:], kvDim, n
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
