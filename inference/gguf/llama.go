package gguf

import (
	"fmt"
	"math"
)

// LlamaParams are the hyperparameters of a Llama-family model, as the
// "<arch>.*" metadata keys hold them (llama.cpp's names; most of its other
// architectures use the same keys). This type is the one place that knows
// those keys: File.LlamaParams reads them, Write writes them, and Validate
// says whether a model can be built from them.
//
// A zero field means the key is absent. WithDefaults fills the optional ones
// with the values llama.cpp assumes.
type LlamaParams struct {
	// Arch is the key prefix, general.architecture; "" means ArchLlama.
	Arch string

	ContextLength     int // context_length: trained context in tokens; default 2048
	EmbeddingLength   int // embedding_length: width of the residual stream (required)
	BlockCount        int // block_count: layers (required)
	FeedForwardLength int // feed_forward_length: hidden width of the FFN (required)
	HeadCount         int // attention.head_count (required)
	HeadCountKV       int // attention.head_count_kv; default HeadCount
	KeyLength         int // attention.key_length: head width; default EmbeddingLength/HeadCount
	ValueLength       int // attention.value_length; default KeyLength
	RopeDimCount      int // rope.dimension_count: dimensions RoPE rotates per head; default KeyLength
	VocabSize         int // vocab_size: informative; the token embedding's shape decides

	RopeFreqBase      float64 // rope.freq_base; default 10000
	RopeScalingType   string  // rope.scaling.type: "", "none", "linear", ...
	RopeScalingFactor float64 // rope.scaling.factor
	RMSEpsilon        float64 // attention.layer_norm_rms_epsilon; default 1e-5
}

// Key names after the "<arch>." prefix.
const (
	keyContextLength     = "context_length"
	keyEmbeddingLength   = "embedding_length"
	keyBlockCount        = "block_count"
	keyFeedForwardLength = "feed_forward_length"
	keyHeadCount         = "attention.head_count"
	keyHeadCountKV       = "attention.head_count_kv"
	keyKeyLength         = "attention.key_length"
	keyValueLength       = "attention.value_length"
	keyRopeDimCount      = "rope.dimension_count"
	keyVocabSize         = "vocab_size"
	keyRopeFreqBase      = "rope.freq_base"
	keyRopeScalingType   = "rope.scaling.type"
	keyRopeScalingFactor = "rope.scaling.factor"
	keyRMSEpsilon        = "attention.layer_norm_rms_epsilon"
)

// MaxLlamaParam bounds every count and length of LlamaParams, so a hostile
// file cannot make a reader allocate without bound.
const MaxLlamaParam = 1 << 24

// ints lists the integer fields with their keys, in the order Write writes
// them (llama.cpp's converter order).
func (p *LlamaParams) ints() []struct {
	key      string
	v        *int
	required bool
} {
	return []struct {
		key      string
		v        *int
		required bool
	}{
		{keyContextLength, &p.ContextLength, false},
		{keyEmbeddingLength, &p.EmbeddingLength, true},
		{keyBlockCount, &p.BlockCount, true},
		{keyFeedForwardLength, &p.FeedForwardLength, true},
		{keyHeadCount, &p.HeadCount, true},
		{keyHeadCountKV, &p.HeadCountKV, false},
		{keyKeyLength, &p.KeyLength, false},
		{keyValueLength, &p.ValueLength, false},
		{keyRopeDimCount, &p.RopeDimCount, false},
		{keyVocabSize, &p.VocabSize, false},
	}
}

// floats lists the float fields with their keys, in the order Write writes
// them.
func (p *LlamaParams) floats() []struct {
	key string
	v   *float64
} {
	return []struct {
		key string
		v   *float64
	}{
		{keyRMSEpsilon, &p.RMSEpsilon},
		{keyRopeFreqBase, &p.RopeFreqBase},
		{keyRopeScalingFactor, &p.RopeScalingFactor},
	}
}

func (p LlamaParams) arch() string {
	if p.Arch == "" {
		return ArchLlama
	}
	return p.Arch
}

// key returns the full key name, such as "llama.block_count".
func (p LlamaParams) key(suffix string) string { return p.arch() + "." + suffix }

// LlamaParams reads the hyperparameters under the file's architecture
// prefix as the file states them: a key that is absent, or does not hold a
// non-negative integer (a number, for the float ones), reads as zero. No
// defaults are applied and nothing is checked; see WithDefaults and Validate.
func (f *File) LlamaParams() LlamaParams {
	p := LlamaParams{Arch: f.Architecture()}
	for _, e := range p.ints() {
		if v, ok := f.Uint(p.key(e.key)); ok {
			*e.v = int(min(v, math.MaxInt32))
		}
	}
	for _, e := range p.floats() {
		*e.v, _ = f.Float(p.key(e.key))
	}
	p.RopeScalingType, _ = f.String(p.key(keyRopeScalingType))
	return p
}

// WithDefaults returns p with a value for each hyperparameter that is
// zero: the ones a Llama GGUF may leave out as llama.cpp derives them (KV
// heads, key and value lengths, RoPE dimensions and base), and, for files
// llama.cpp itself would refuse for lacking them, the usual Llama values
// (a 2048 context, an RMS epsilon of 1e-5) so older converters' files
// still run.
func (p LlamaParams) WithDefaults() LlamaParams {
	p.Arch = p.arch()
	if p.ContextLength == 0 {
		p.ContextLength = 2048
	}
	if p.HeadCountKV == 0 {
		p.HeadCountKV = p.HeadCount
	}
	if p.KeyLength == 0 && p.HeadCount > 0 {
		p.KeyLength = p.EmbeddingLength / p.HeadCount
	}
	if p.ValueLength == 0 {
		p.ValueLength = p.KeyLength
	}
	if p.RopeDimCount == 0 {
		p.RopeDimCount = p.KeyLength
	}
	if p.RopeFreqBase == 0 {
		p.RopeFreqBase = 10000
	}
	if p.RMSEpsilon == 0 {
		p.RMSEpsilon = 1e-5
	}
	return p
}

// Validate reports whether a Llama model can be built from p once the
// defaults are applied: the required keys are present, every count lies in
// 1..MaxLlamaParam, the heads share KV heads evenly, keys and values have one
// width, and RoPE rotates an even number of dimensions within a head. The
// error wraps ErrParams and names the keys.
func (p LlamaParams) Validate() error {
	d := p.WithDefaults()
	var missing, bad []string
	for _, e := range d.ints() {
		switch v := *e.v; {
		case v == 0 && e.required:
			missing = append(missing, d.key(e.key))
		case v < 0 || v > MaxLlamaParam || (v == 0 && e.key != keyVocabSize):
			bad = append(bad, fmt.Sprintf("%s = %d", d.key(e.key), v))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %v", ErrParams, missing)
	}
	for _, e := range d.floats() {
		v := *e.v
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) || (v == 0 && e.key != keyRopeScalingFactor) {
			bad = append(bad, fmt.Sprintf("%s = %v", d.key(e.key), v))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: out of range: %v", ErrParams, bad)
	}
	switch {
	case d.HeadCount%d.HeadCountKV != 0:
		return fmt.Errorf("%w: %d heads is not a multiple of %d KV heads", ErrParams, d.HeadCount, d.HeadCountKV)
	case d.ValueLength != d.KeyLength:
		return fmt.Errorf("%w: value length %d differs from key length %d", ErrParams, d.ValueLength, d.KeyLength)
	case d.RopeDimCount > d.KeyLength || d.RopeDimCount%2 != 0:
		return fmt.Errorf("%w: RoPE dimension %d with heads of %d", ErrParams, d.RopeDimCount, d.KeyLength)
	}
	return nil
}

// Write validates p and sets general.architecture and every hyperparameter
// that is not zero on w: counts as uint32, floats as float32, as llama.cpp
// writes them. Absent optional keys stay absent, so readers apply their
// defaults.
func (p LlamaParams) Write(w *Writer) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := w.Set(KeyArchitecture, p.arch()); err != nil {
		return err
	}
	for _, e := range p.ints() {
		if *e.v != 0 {
			if err := w.Set(p.key(e.key), uint32(*e.v)); err != nil {
				return err
			}
		}
	}
	for _, e := range p.floats() {
		if *e.v != 0 {
			if err := w.Set(p.key(e.key), float32(*e.v)); err != nil {
				return err
			}
		}
	}
	if p.RopeScalingType != "" {
		return w.Set(p.key(keyRopeScalingType), p.RopeScalingType)
	}
	return nil
}
