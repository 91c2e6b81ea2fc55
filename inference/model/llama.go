package model

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/kernels"
)

func init() { Register(gguf.ArchLlama, loadLlama) }

// llama is the Llama 2/3/3.1/3.2 architecture: pre-norm blocks of RMSNorm,
// grouped-query attention with "normal" RoPE (adjacent pairs, as in the
// original LLaMA code and as llama.cpp's converters lay out Q and K), and
// a SwiGLU feed-forward network.
type llama struct {
	cfg     Config
	f       *gguf.File
	pool    *kernels.Pool
	embd    kernels.Matrix
	layers  []llamaLayer
	outNorm []float32
	output  kernels.Matrix
	invFreq []float64 // RoPE inverse frequency of each rotated pair

	mu sync.Mutex // serialises Forward, which owns s
	s  scratch
}

type llamaLayer struct {
	attnNorm, ffnNorm []float32
	wq, wk, wv, wo    kernels.Matrix
	gate, up, down    kernels.Matrix
	// qkv and gateUp, when set, join wq, wk, wv and gate, up
	// (kernels.Concat), which are then empty: one product (and one
	// handing out of work) instead of three and two.
	qkv, gateUp kernels.Matrix
}

// loadLlama reads the hyperparameters and binds every tensor.
func loadLlama(f *gguf.File, o Options) (Model, error) {
	pool := o.Pool
	cfg, params, err := llamaConfig(f)
	if err != nil {
		return nil, err
	}
	m := &llama{cfg: cfg, f: f, pool: pool}
	kvDim, qDim := cfg.KVDim(), cfg.Heads*cfg.HeadDim
	b := binder{f: f, repack: !o.KeepLayout}
	m.embd = b.matrix(gguf.TensorTokenEmbd, cfg.Vocab, cfg.Dim)
	m.layers = make([]llamaLayer, cfg.Layers)
	for i := range m.layers {
		name := func(part string) string { return gguf.LayerTensor(i, part) }
		L := llamaLayer{
			attnNorm: b.vector(name(gguf.LayerAttnNorm), cfg.Dim),
			wq:       b.plain(name(gguf.LayerAttnQ), qDim, cfg.Dim),
			wk:       b.plain(name(gguf.LayerAttnK), kvDim, cfg.Dim),
			wv:       b.plain(name(gguf.LayerAttnV), kvDim, cfg.Dim),
			wo:       b.matrix(name(gguf.LayerAttnOutput), cfg.Dim, qDim),
			ffnNorm:  b.vector(name(gguf.LayerFFNNorm), cfg.Dim),
			gate:     b.plain(name(gguf.LayerFFNGate), cfg.FFN, cfg.Dim),
			up:       b.plain(name(gguf.LayerFFNUp), cfg.FFN, cfg.Dim),
			down:     b.matrix(name(gguf.LayerFFNDown), cfg.Dim, cfg.FFN),
		}
		L.qkv = b.join(&L.wq, &L.wk, &L.wv)
		L.gateUp = b.join(&L.gate, &L.up)
		m.layers[i] = L
	}
	m.outNorm = b.vector(gguf.TensorOutputNorm, cfg.Dim)
	if _, ok := f.Tensor(gguf.TensorOutput); ok {
		m.output = b.matrix(gguf.TensorOutput, cfg.Vocab, cfg.Dim)
	} else {
		m.output, m.cfg.Tied = m.embd, true
	}
	var factors []float32
	if _, ok := f.Tensor(gguf.TensorRopeFreqs); ok {
		factors = b.vector(gguf.TensorRopeFreqs, cfg.RopeDim/2)
	}
	if b.err != nil {
		return nil, b.err
	}
	if m.invFreq, err = ropeFrequencies(cfg, params, factors); err != nil {
		return nil, err
	}
	m.cfg.WeightType = b.dominantType()
	return m, nil
}

// llamaConfig reads the hyperparameters (gguf.LlamaParams) and the
// vocabulary size, which the token embedding's shape decides.
func llamaConfig(f *gguf.File) (Config, gguf.LlamaParams, error) {
	c := Config{Arch: f.Architecture(), FileSize: f.Size()}
	c.Name, _ = f.String(gguf.KeyName)
	p := f.LlamaParams()
	if err := p.Validate(); err != nil {
		return c, p, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	p = p.WithDefaults()
	c.Dim, c.Layers, c.FFN = p.EmbeddingLength, p.BlockCount, p.FeedForwardLength
	c.Heads, c.KVHeads, c.HeadDim = p.HeadCount, p.HeadCountKV, p.KeyLength
	c.RopeDim, c.ContextLength = p.RopeDimCount, p.ContextLength
	c.RopeBase, c.RMSEpsilon = p.RopeFreqBase, float32(p.RMSEpsilon)
	t, ok := f.Tensor(gguf.TensorTokenEmbd)
	if !ok || len(t.Shape) != 2 {
		return c, p, fmt.Errorf("%w: no 2-D %s", ErrFormat, gguf.TensorTokenEmbd)
	}
	c.Vocab = int(t.Shape[1])
	return c, p, nil
}

// binder turns tensors into kernel matrices and vectors, remembering the
// first problem so loading reads as a list.
type binder struct {
	f      *gguf.File
	repack bool // copy Q4_0/Q8_0 matrices into the kernels' interleaved layout
	err    error
	byType map[string]int64
}

func (b *binder) tensor(name string, rows, cols int) *gguf.Tensor {
	if b.err != nil {
		return nil
	}
	t, ok := b.f.Tensor(name)
	if !ok {
		b.err = fmt.Errorf("%w: tensor %s is missing", ErrFormat, name)
		return nil
	}
	shapeOK := (len(t.Shape) == 2 && t.Shape[0] == uint64(cols) && t.Shape[1] == uint64(rows)) ||
		(rows == 1 && len(t.Shape) == 1 && t.Shape[0] == uint64(cols))
	if !shapeOK {
		b.err = fmt.Errorf("%w: tensor %s has shape %v, want [%d %d]", ErrFormat, name, t.Shape, cols, rows)
		return nil
	}
	return t
}

// matrix binds a matrix tensor, interleaved for the kernels when b.repack.
func (b *binder) matrix(name string, rows, cols int) kernels.Matrix {
	m := b.plain(name, rows, cols)
	if b.repack && b.err == nil {
		m = kernels.Repack(m)
	}
	return m
}

// join concatenates matrices that read the same activations into one
// (interleaved when b.repack) and empties them; when they cannot be joined
// (the file layout is kept, or their types or sizes differ) it interleaves
// each as matrix does and returns an empty matrix.
func (b *binder) join(ms ...*kernels.Matrix) kernels.Matrix {
	if b.err != nil {
		return kernels.Matrix{}
	}
	if b.repack {
		parts := make([]kernels.Matrix, len(ms))
		for i, m := range ms {
			parts[i] = *m
		}
		if cat, err := kernels.Concat(parts...); err == nil {
			for _, m := range ms {
				*m = kernels.Matrix{}
			}
			return kernels.Repack(cat)
		}
		for _, m := range ms {
			*m = kernels.Repack(*m)
		}
	}
	return kernels.Matrix{}
}

// plain binds a matrix tensor in the file's layout.
func (b *binder) plain(name string, rows, cols int) kernels.Matrix {
	t := b.tensor(name, rows, cols)
	if t == nil {
		return kernels.Matrix{}
	}
	kt, ok := KernelType(t.Type)
	if !ok {
		b.err = unsupportedType(b.f, name, t.Type)
		return kernels.Matrix{}
	}
	m, err := kernels.NewMatrix(kt, rows, cols, t.Data())
	if err != nil {
		b.err = fmt.Errorf("%w: tensor %s: %v", ErrFormat, name, err)
		return kernels.Matrix{}
	}
	if b.byType == nil {
		b.byType = map[string]int64{}
	}
	b.byType[t.Type.String()] += int64(len(t.Data()))
	return m
}

// vector copies a 1-D tensor into float32s (norms are small).
func (b *binder) vector(name string, n int) []float32 {
	t := b.tensor(name, 1, n)
	if t == nil {
		return nil
	}
	kt, ok := KernelType(t.Type)
	if !ok {
		b.err = unsupportedType(b.f, name, t.Type)
		return nil
	}
	v := make([]float32, n)
	if err := kernels.Dequantize(kt, v, t.Data()); err != nil {
		b.err = fmt.Errorf("%w: tensor %s: %v", ErrFormat, name, err)
		return nil
	}
	return v
}

func (b *binder) dominantType() string {
	best, n := "", int64(-1)
	for t, c := range b.byType {
		if c > n || (c == n && t < best) {
			best, n = t, c
		}
	}
	return best
}

// unsupportedType is the error for tensor name of type typ, which the
// kernels do not run. It counts every such tensor in the file by type and
// lists the types that do run, so that one message says what to
// re-quantise (llama-quantize quietly turns K-quant targets into Q5_0, Q5_1
// or IQ4_NL for rows that are not a multiple of 256 values).
func unsupportedType(f *gguf.File, name string, typ gguf.TensorType) error {
	count := map[gguf.TensorType]int{}
	for _, t := range f.Tensors() {
		if _, ok := KernelType(t.Type); !ok {
			count[t.Type]++
		}
	}
	var in []string
	for _, t := range slices.Sorted(maps.Keys(count)) {
		in = append(in, fmt.Sprintf("%d %s", count[t], t))
	}
	return fmt.Errorf("%w: tensor %s is %s; in this file: %s (the kernels run %s)",
		ErrTensorType, name, typ, strings.Join(in, ", "), strings.Join(SupportedTypes(), ", "))
}

// SupportedTypes names the tensor types KernelType maps, in ggml's order.
func SupportedTypes() []string {
	var out []string
	for t := range gguf.TensorType(64) {
		if _, ok := KernelType(t); ok {
			out = append(out, t.String())
		}
	}
	return out
}

// KernelType maps a GGUF tensor type to the kernels' type; ok is false for
// types the kernels do not implement.
func KernelType(t gguf.TensorType) (kernels.Type, bool) {
	switch t {
	case gguf.TypeF32:
		return kernels.F32, true
	case gguf.TypeF16:
		return kernels.F16, true
	case gguf.TypeBF16:
		return kernels.BF16, true
	case gguf.TypeQ8_0:
		return kernels.Q8_0, true
	case gguf.TypeQ4_0:
		return kernels.Q4_0, true
	case gguf.TypeQ4_K:
		return kernels.Q4_K, true
	case gguf.TypeQ5_K:
		return kernels.Q5_K, true
	case gguf.TypeQ6_K:
		return kernels.Q6_K, true
	case gguf.TypeQ4_1:
		return kernels.Q4_1, true
	case gguf.TypeQ5_0:
		return kernels.Q5_0, true
	case gguf.TypeQ5_1:
		return kernels.Q5_1, true
	case gguf.TypeIQ4_NL:
		return kernels.IQ4_NL, true
	}
	return 0, false
}

func (m *llama) Config() Config   { return m.cfg }
func (m *llama) File() *gguf.File { return m.f }
func (m *llama) Close() error     { return m.f.Close() }

// ropeFrequencies returns the inverse frequency of each rotated pair i:
// base^(-2i/ropeDim), divided by the rope_freqs factor when the file has
// one (Llama 3.1's long-context scaling) and by the linear scaling factor
// when the RoPE scaling type is "linear".
func ropeFrequencies(c Config, p gguf.LlamaParams, factors []float32) ([]float64, error) {
	scale := 1.0
	switch p.RopeScalingType {
	case "", "none":
	case "linear":
		if p.RopeScalingFactor > 0 {
			scale = 1 / p.RopeScalingFactor
		}
	default:
		return nil, fmt.Errorf("%w: RoPE scaling %q is not supported (supported: none, linear, and Llama 3.1's rope_freqs tensor)", ErrFormat, p.RopeScalingType)
	}
	inv := make([]float64, c.RopeDim/2)
	for i := range inv {
		inv[i] = math.Pow(c.RopeBase, -float64(2*i)/float64(c.RopeDim)) * scale
		if factors != nil {
			if factors[i] <= 0 {
				return nil, fmt.Errorf("%w: %s[%d] = %v", ErrFormat, gguf.TensorRopeFreqs, i, factors[i])
			}
			inv[i] /= float64(factors[i])
		}
	}
	return inv, nil
}
