package synth

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/kernels"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// Shape is the geometry of a Llama model.
type Shape struct {
	Name          string
	Dim           int // embedding length
	Layers        int
	Heads         int
	KVHeads       int
	FFN           int // feed-forward hidden length
	Vocab         int
	ContextLength int
	RopeBase      float32
	Tied          bool // no output.weight: the token embedding is the classifier
	// RopeScale, when above 1, is Llama 3.1-style long-context RoPE
	// scaling with this factor (low and high frequency factors 1 and 4, an
	// original context of 8192), written as the rope_freqs.weight tensor
	// as llama.cpp's converter does.
	RopeScale float64
}

// params returns the shape's hyperparameters as the file states them.
func (sh Shape) params() gguf.LlamaParams {
	return gguf.LlamaParams{
		ContextLength:     sh.ContextLength,
		EmbeddingLength:   sh.Dim,
		BlockCount:        sh.Layers,
		FeedForwardLength: sh.FFN,
		HeadCount:         sh.Heads,
		HeadCountKV:       sh.KVHeads,
		RopeDimCount:      sh.Dim / max(sh.Heads, 1),
		VocabSize:         sh.Vocab,
		RMSEpsilon:        1e-5,
		RopeFreqBase:      float64(sh.RopeBase),
	}
}

// Named benchmark shapes, as `corral model synth --shape` names them.
var shapes = []Shape{
	{Name: "llama-110m", Dim: 768, Layers: 12, Heads: 12, KVHeads: 12, FFN: 2048, Vocab: 32000, ContextLength: 2048, RopeBase: 10000, Tied: true},
	// Llama 3.2 1B.
	{Name: "llama3-1b", Dim: 2048, Layers: 16, Heads: 32, KVHeads: 8, FFN: 8192, Vocab: 128256, ContextLength: 131072, RopeBase: 500000, Tied: true, RopeScale: 32},
	// Llama 3.1 8B.
	{Name: "llama3-8b", Dim: 4096, Layers: 32, Heads: 32, KVHeads: 8, FFN: 14336, Vocab: 128256, ContextLength: 131072, RopeBase: 500000, RopeScale: 8},
}

// Errors returned by the package.
var (
	// ErrShape means an unknown shape name or an invalid Shape.
	ErrShape = errors.New("bad model shape")
	// ErrType means a weight type synth cannot write.
	ErrType = errors.New("unsupported weight type")
)

// ShapeNames lists the named shapes.
func ShapeNames() []string {
	names := make([]string, len(shapes))
	for i, s := range shapes {
		names[i] = s.Name
	}
	return names
}

// LookupShape returns the shape called name.
func LookupShape(name string) (Shape, error) {
	for _, s := range shapes {
		if s.Name == name {
			return s, nil
		}
	}
	return Shape{}, fmt.Errorf("%w: %q (known: %v)", ErrShape, name, ShapeNames())
}

// Types lists the weight types synth writes, by their GGUF names.
var Types = []gguf.TensorType{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K}

// fileType returns llama.cpp's general.file_type for a model of mostly t.
func fileType(t gguf.TensorType) uint32 {
	switch t {
	case gguf.TypeF16:
		return 1
	case gguf.TypeQ4_0:
		return 2
	case gguf.TypeQ8_0:
		return 7
	case gguf.TypeQ4_K:
		return 15 // Q4_K_M is the closest named mix
	case gguf.TypeQ5_K:
		return 17
	case gguf.TypeQ6_K:
		return 18
	case gguf.TypeBF16:
		return 32
	}
	return 0
}

// Spec is everything Write needs.
type Spec struct {
	Shape Shape
	// Type is the type of every matrix; norms are always F32.
	Type gguf.TensorType
	// Seed makes the weights; equal specs give identical files.
	Seed uint64
	// Vocab is the tokenizer to embed; nil means a placeholder vocabulary
	// of Shape.Vocab tokens (see PlaceholderVocab).
	Vocab *tokenizer.Vocab
	// Name goes into general.name; empty means the shape's name.
	Name string

	// outputBias, when set (one value per token, untied shapes only), steers
	// the random model's choices: every token embedding gets a constant
	// first component, which survives the layers as a steady direction of
	// the final hidden state, and output.weight's first column is this
	// bias, so it adds roughly bias × (that component) to each logit.
	outputBias []float32
}

// validate checks the shape fits the weight type's blocks.
func (s Spec) validate() error {
	sh := s.Shape
	if err := sh.params().Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrShape, err)
	}
	// The head width is not written, so readers take dim / heads.
	if sh.Vocab <= 0 || sh.Dim%sh.Heads != 0 {
		return fmt.Errorf("%w: %d tokens, dim %d, %d heads", ErrShape, sh.Vocab, sh.Dim, sh.Heads)
	}
	kt, ok := model.KernelType(s.Type)
	if !ok {
		return fmt.Errorf("%w: %s", ErrType, s.Type)
	}
	for _, n := range []int{sh.Dim, sh.FFN} {
		if _, err := kt.RowBytes(n); err != nil {
			return fmt.Errorf("%w: rows of %d values do not fit %s blocks of %d", ErrShape, n, s.Type, kt.BlockSize())
		}
	}
	if s.outputBias != nil && (sh.Tied || len(s.outputBias) != sh.Vocab) {
		return fmt.Errorf("%w: output bias needs an untied shape and one value per token", ErrShape)
	}
	if s.Vocab != nil && len(s.Vocab.Tokens) != sh.Vocab {
		return fmt.Errorf("%w: vocabulary has %d tokens, shape wants %d", ErrShape, len(s.Vocab.Tokens), sh.Vocab)
	}
	return nil
}

// tensor is one tensor to write: its name, type and (rows, cols).
type tensor struct {
	name       string
	typ        gguf.TensorType
	rows, cols int
	ones       bool      // a norm: all ones
	values     []float32 // fixed contents (one row), instead of random
	col0       []float32 // when set, the first value of each row
}

func (s Spec) tensors() []tensor {
	sh := s.Shape
	kvDim := sh.Dim / sh.Heads * sh.KVHeads
	t := []tensor{{name: gguf.TensorTokenEmbd, typ: s.Type, rows: sh.Vocab, cols: sh.Dim}}
	if s.outputBias != nil {
		t[0].col0 = make([]float32, sh.Vocab)
		for i := range t[0].col0 {
			t[0].col0[i] = 1
		}
	}
	if sh.RopeScale > 1 {
		f := Llama3RopeFactors(sh.Dim/sh.Heads, float64(sh.RopeBase), sh.RopeScale)
		t = append(t, tensor{name: gguf.TensorRopeFreqs, typ: gguf.TypeF32, rows: 1, cols: len(f), values: f})
	}
	for l := range sh.Layers {
		name := func(part string) string { return gguf.LayerTensor(l, part) }
		t = append(t,
			tensor{name: name(gguf.LayerAttnNorm), typ: gguf.TypeF32, rows: 1, cols: sh.Dim, ones: true},
			tensor{name: name(gguf.LayerAttnQ), typ: s.Type, rows: sh.Dim, cols: sh.Dim},
			tensor{name: name(gguf.LayerAttnK), typ: s.Type, rows: kvDim, cols: sh.Dim},
			tensor{name: name(gguf.LayerAttnV), typ: s.Type, rows: kvDim, cols: sh.Dim},
			tensor{name: name(gguf.LayerAttnOutput), typ: s.Type, rows: sh.Dim, cols: sh.Dim},
			tensor{name: name(gguf.LayerFFNNorm), typ: gguf.TypeF32, rows: 1, cols: sh.Dim, ones: true},
			tensor{name: name(gguf.LayerFFNGate), typ: s.Type, rows: sh.FFN, cols: sh.Dim},
			tensor{name: name(gguf.LayerFFNDown), typ: s.Type, rows: sh.Dim, cols: sh.FFN},
			tensor{name: name(gguf.LayerFFNUp), typ: s.Type, rows: sh.FFN, cols: sh.Dim},
		)
	}
	t = append(t, tensor{name: gguf.TensorOutputNorm, typ: gguf.TypeF32, rows: 1, cols: sh.Dim, ones: true})
	if !sh.Tied {
		t = append(t, tensor{name: gguf.TensorOutput, typ: s.Type, rows: sh.Vocab, cols: sh.Dim, col0: s.outputBias})
	}
	return t
}

// Size returns the bytes of tensor data the spec describes (the file adds
// its metadata and alignment padding).
func (s Spec) Size() int64 {
	var n int64
	for _, t := range s.tensors() {
		kt, _ := model.KernelType(t.typ)
		rb, _ := kt.RowBytes(t.cols)
		n += int64(rb) * int64(t.rows)
	}
	return n
}

// Write writes the model to w.
func Write(w io.Writer, s Spec) error {
	if err := s.validate(); err != nil {
		return err
	}
	sh := s.Shape
	voc := s.Vocab
	if voc == nil {
		voc = PlaceholderVocab(sh.Vocab)
	}
	name := s.Name
	if name == "" {
		name = sh.Name
	}
	g := gguf.NewWriter(w)
	if err := sh.params().Write(g); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	meta := []struct {
		key string
		val any
	}{
		{gguf.KeyName, name},
		{gguf.KeyFileType, fileType(s.Type)},
		{gguf.KeyQuantizationVersion, uint32(2)},
	}
	for _, m := range meta {
		if err := g.Set(m.key, m.val); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	if err := voc.Write(g); err != nil {
		return fmt.Errorf("synth: vocabulary: %w", err)
	}
	ts := s.tensors()
	for _, t := range ts {
		shape := []uint64{uint64(t.cols), uint64(t.rows)}
		if t.rows == 1 {
			shape = shape[:1]
		}
		if err := g.AddTensor(t.name, t.typ, shape...); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	for i, t := range ts {
		r := newRowReader(t, s.Seed, uint64(i))
		if err := g.WriteTensorFrom(t.name, r); err != nil {
			return fmt.Errorf("synth: write %s: %w", t.name, err)
		}
	}
	if err := g.Close(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// WriteFile writes the model to path through a temporary file in the same
// folder, so path never holds a partial model.
func WriteFile(path string, s Spec) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := Write(f, s); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// rowReader produces a tensor's bytes one row at a time.
type rowReader struct {
	t      tensor
	kt     kernels.Type
	rng    *rand.Rand
	row    int
	vals   []float32
	buf    []byte
	unread []byte
}

// scale is the half-width of a uniform distribution with standard
// deviation 0.02.
var scale = float32(0.02 * math.Sqrt(3))

func newRowReader(t tensor, seed, index uint64) *rowReader {
	kt, _ := model.KernelType(t.typ)
	rb, _ := kt.RowBytes(t.cols)
	return &rowReader{
		t:    t,
		kt:   kt,
		rng:  rand.New(rand.NewPCG(seed, index*0x9e3779b97f4a7c15+1)),
		vals: make([]float32, t.cols),
		buf:  make([]byte, rb),
	}
}

func (r *rowReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.unread) == 0 {
			if r.row == r.t.rows {
				if n == 0 {
					return 0, io.EOF
				}
				return n, nil
			}
			if err := r.next(); err != nil {
				return n, err
			}
		}
		c := copy(p[n:], r.unread)
		r.unread = r.unread[c:]
		n += c
	}
	return n, nil
}

func (r *rowReader) next() error {
	switch {
	case r.t.values != nil:
		copy(r.vals, r.t.values)
	case r.t.ones:
		for i := range r.vals {
			r.vals[i] = 1
		}
	default:
		// Two values from each 64-bit draw: the top 24 bits of each half.
		for i := 0; i < len(r.vals); i += 2 {
			u := r.rng.Uint64()
			r.vals[i] = (float32(u>>40)/(1<<24)*2 - 1) * scale
			if i+1 < len(r.vals) {
				r.vals[i+1] = (float32(u>>8&(1<<24-1))/(1<<24)*2 - 1) * scale
			}
		}
	}
	if r.t.col0 != nil {
		r.vals[0] = r.t.col0[r.row]
	}
	if err := kernels.Quantize(r.kt, r.buf, r.vals); err != nil {
		return err
	}
	r.unread = r.buf
	r.row++
	return nil
}

// sortedTypes returns the type names synth accepts, for messages.
func sortedTypes() []string {
	var s []string
	for _, t := range Types {
		s = append(s, t.String())
	}
	slices.Sort(s)
	return s
}

// ParseType returns the weight type named s (case-insensitive, "q4_k").
func ParseType(s string) (gguf.TensorType, error) {
	for _, t := range Types {
		if strings.EqualFold(t.String(), s) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (known: %v)", ErrType, s, sortedTypes())
}

// Llama3RopeFactors returns the rope_freqs.weight values of Llama 3.1-style
// scaling for heads of headDim: each rotated pair's frequency is divided by
// its factor. Pairs whose wavelength is under 8192/4 positions keep their
// frequency, those over 8192 are divided by scale, and the band between
// blends the two smoothly.
func Llama3RopeFactors(headDim int, base, scale float64) []float32 {
	const (
		original = 8192.0
		lowFreq  = 1.0
		highFreq = 4.0
	)
	f := make([]float32, headDim/2)
	for i := range f {
		freq := math.Pow(base, -float64(2*i)/float64(headDim))
		wavelen := 2 * math.Pi / freq
		switch {
		case wavelen < original/highFreq:
			f[i] = 1
		case wavelen > original/lowFreq:
			f[i] = float32(scale)
		default:
			smooth := (original/wavelen - lowFreq) / (highFreq - lowFreq)
			f[i] = float32(1 / ((1-smooth)/scale + smooth))
		}
	}
	return f
}
