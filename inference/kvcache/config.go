package kvcache

import (
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/corral-ai/corral/inference/internal/meminfo"
)

// Type is the element type keys and values are kept in.
type Type uint8

// Element types. F16 is the zero value and the default.
const (
	// F16 keeps IEEE 754 half floats, converted from float32 by rounding to
	// nearest even: half the memory of F32, about 3 decimal digits.
	F16 Type = iota
	// F32 keeps the float32 rows the model computes, unchanged; a model run
	// through an F32 cache gives the same bits as through model.Cache.
	F32
)

// Size is the bytes of one element.
func (t Type) Size() int {
	if t == F32 {
		return 4
	}
	return 2
}

// String returns "f16" or "f32".
func (t Type) String() string {
	switch t {
	case F16:
		return "f16"
	case F32:
		return "f32"
	}
	return fmt.Sprintf("Type(%d)", t)
}

// ParseType reads "f16" or "f32" (any case), the values of CORRAL_KV_TYPE.
func ParseType(s string) (Type, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "f16":
		return F16, nil
	case "f32":
		return F32, nil
	}
	return 0, fmt.Errorf("%w: KV element type %q, want f16 or f32", ErrConfig, s)
}

// Config sizes a Cache.
type Config struct {
	// Layers, KVHeads and HeadDim are the model's shape: a token keeps a
	// key row and a value row of KVHeads·HeadDim elements in every layer.
	Layers, KVHeads, HeadDim int
	// Type is the element type; the zero value is F16.
	Type Type
	// BlockTokens is the tokens per block; 0 means DefaultBlockTokens.
	// Smaller blocks share prefixes more finely and waste less at the end
	// of each sequence, larger ones cost less metadata and fewer page
	// crossings in attention.
	BlockTokens int
	// Budget is the bytes the cache may use for blocks and their
	// metadata (CORRAL_KV_MEMORY); see DefaultBudget.
	Budget int64
}

// Limits of a Config.
const (
	// DefaultBlockTokens is the block size when Config.BlockTokens is 0.
	DefaultBlockTokens = 16
	// MaxBlockTokens bounds Config.BlockTokens.
	MaxBlockTokens = 1024
	// maxBlocks keeps block numbers in an int32 with room for the LRU
	// list's sentinel.
	maxBlocks = math.MaxInt32 - 1
	// maxKVDim bounds KVHeads·HeadDim, far above any model, so that size
	// arithmetic cannot overflow.
	maxKVDim = 1 << 20
	// maxLayers bounds Layers for the same reason.
	maxLayers = 1 << 12
)

// Validate reports what is wrong with c, with defaults applied.
func (c Config) Validate() error {
	_, err := c.layout()
	return err
}

// layout is the arithmetic of a Config, with defaults applied.
type layout struct {
	layers, kvDim, blockTokens int
	headDim                    int
	typ                        Type
	blockElems                 int   // elements of one block: all layers, keys and values
	blockBytes                 int64 // blockElems × element size
	metaBytes                  int64 // metadata per block
	blocks                     int
}

// BlockBytes is what one block costs of the budget: its keys and values
// for BlockTokens tokens and its bookkeeping. It ignores Budget.
func (c Config) BlockBytes() (int64, error) {
	l, err := c.shape()
	if err != nil {
		return 0, err
	}
	return l.blockBytes + l.metaBytes, nil
}

func (c Config) layout() (layout, error) {
	l, err := c.shape()
	if err != nil {
		return layout{}, err
	}
	if c.Budget <= 0 {
		return layout{}, fmt.Errorf("%w: memory budget of %d bytes", ErrConfig, c.Budget)
	}
	n := c.Budget / (l.blockBytes + l.metaBytes)
	if n < 1 {
		return layout{}, fmt.Errorf("%w: a budget of %s holds no block of %s (%d tokens × %d layers × %d keys and values × %v)",
			ErrConfig, formatBytes(c.Budget), formatBytes(l.blockBytes+l.metaBytes), l.blockTokens, l.layers, l.kvDim, c.Type)
	}
	l.blocks = int(min(n, maxBlocks))
	return l, nil
}

// shape is layout without the block count.
func (c Config) shape() (layout, error) {
	bt := c.BlockTokens
	if bt == 0 {
		bt = DefaultBlockTokens
	}
	switch {
	case c.Layers <= 0 || c.Layers > maxLayers:
		return layout{}, fmt.Errorf("%w: %d layers, want 1 to %d", ErrConfig, c.Layers, maxLayers)
	case c.KVHeads <= 0 || c.HeadDim <= 0 || c.KVHeads > maxKVDim || c.HeadDim > maxKVDim || c.KVHeads*c.HeadDim > maxKVDim:
		return layout{}, fmt.Errorf("%w: %d KV heads of %d, want a positive row of at most %d elements", ErrConfig, c.KVHeads, c.HeadDim, maxKVDim)
	case bt < 0 || bt > MaxBlockTokens:
		return layout{}, fmt.Errorf("%w: %d tokens per block, want 1 to %d", ErrConfig, bt, MaxBlockTokens)
	case c.Type != F16 && c.Type != F32:
		return layout{}, fmt.Errorf("%w: element type %v", ErrConfig, c.Type)
	}
	l := layout{layers: c.Layers, kvDim: c.KVHeads * c.HeadDim, headDim: c.HeadDim, blockTokens: bt, typ: c.Type}
	l.blockElems = l.layers * 2 * bt * l.kvDim
	l.blockBytes = int64(l.blockElems) * int64(c.Type.Size())
	l.metaBytes = metaBytesPerBlock(bt)
	return l, nil
}

// metaBytesPerBlock is the bookkeeping each block costs besides its keys
// and values, all allocated up front in New: its record, its token ids, its
// slot in the free stack, and a prefix-index entry (a Go map slot of a
// uint64 key and int32 value with its control byte, at the map's 7/8 load
// factor, rounded up). Block tables of sequences add 4 bytes per block in
// use, allocated as sequences grow.
func metaBytesPerBlock(blockTokens int) int64 {
	const indexEntry = 24
	return int64(unsafe.Sizeof(block{})) + 4*int64(blockTokens) + 4 + indexEntry
}

// Budget defaults.
const (
	// MinBudget is the least DefaultBudget returns.
	MinBudget = 64 << 20
	// UnknownMemory is what DefaultBudget assumes is available when it
	// cannot read MemAvailable (not Linux).
	UnknownMemory = 4 << 30
)

// DefaultBudget is the KV memory to use when CORRAL_KV_MEMORY is unset:
// half of what MemAvailable (from /proc/meminfo) leaves after the model's
// weights (modelBytes, the GGUF file size), and at least MinBudget. The
// other half is for the forward pass's scratch, the page cache and the
// other roles `serve` runs in the same process. Read it before loading
// the model, so that the subtraction accounts for the weights; after
// loading it is merely conservative. When MemAvailable cannot be read it
// assumes UnknownMemory.
//
// Memory is claimed from the system as blocks are first written, not by
// New, so an idle cache costs little even with a large budget.
func DefaultBudget(modelBytes int64) int64 {
	avail, ok := meminfo.Available()
	if !ok {
		avail = UnknownMemory
	}
	return budgetFor(avail, modelBytes)
}

func budgetFor(avail, modelBytes int64) int64 {
	return max((avail-max(modelBytes, 0))/2, MinBudget)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
