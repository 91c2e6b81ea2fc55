package gguf_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
)

// tinyParams is a valid set of hyperparameters with every field set.
func tinyParams() gguf.LlamaParams {
	return gguf.LlamaParams{
		Arch: "llama", ContextLength: 512, EmbeddingLength: 64, BlockCount: 2, FeedForwardLength: 172,
		HeadCount: 8, HeadCountKV: 4, KeyLength: 8, ValueLength: 8, RopeDimCount: 8, VocabSize: 300,
		RopeFreqBase: 500000, RopeScalingType: "linear", RopeScalingFactor: 4, RMSEpsilon: float64(float32(1e-5)),
	}
}

// parseMeta writes the metadata with set and parses the file back.
func parseMeta(t *testing.T, set func(w *gguf.Writer) error) *gguf.File {
	t.Helper()
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	if err := set(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLlamaParamsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		p    gguf.LlamaParams
	}{
		{"every key", tinyParams()},
		{"required only", gguf.LlamaParams{Arch: "llama", EmbeddingLength: 64, BlockCount: 1, FeedForwardLength: 128, HeadCount: 4}},
		{"other architecture prefix", func() gguf.LlamaParams { p := tinyParams(); p.Arch = "qwen2"; return p }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseMeta(t, tt.p.Write)
			if got := f.LlamaParams(); got != tt.p {
				t.Fatalf("read back %+v\nwrote     %+v", got, tt.p)
			}
			if f.Architecture() != tt.p.Arch {
				t.Fatalf("general.architecture %q, want %q", f.Architecture(), tt.p.Arch)
			}
			if n, _ := f.Uint(tt.p.Arch + ".block_count"); n != uint64(tt.p.BlockCount) {
				t.Fatalf("%s.block_count = %d", tt.p.Arch, n)
			}
		})
	}
}

// TestLlamaParamsKeys pins the key names and value types llama.cpp reads.
func TestLlamaParamsKeys(t *testing.T) {
	f := parseMeta(t, tinyParams().Write)
	want := map[string]gguf.ValueType{
		"general.architecture":                   gguf.ValueString,
		"llama.context_length":                   gguf.ValueUint32,
		"llama.embedding_length":                 gguf.ValueUint32,
		"llama.block_count":                      gguf.ValueUint32,
		"llama.feed_forward_length":              gguf.ValueUint32,
		"llama.attention.head_count":             gguf.ValueUint32,
		"llama.attention.head_count_kv":          gguf.ValueUint32,
		"llama.attention.key_length":             gguf.ValueUint32,
		"llama.attention.value_length":           gguf.ValueUint32,
		"llama.rope.dimension_count":             gguf.ValueUint32,
		"llama.vocab_size":                       gguf.ValueUint32,
		"llama.attention.layer_norm_rms_epsilon": gguf.ValueFloat32,
		"llama.rope.freq_base":                   gguf.ValueFloat32,
		"llama.rope.scaling.factor":              gguf.ValueFloat32,
		"llama.rope.scaling.type":                gguf.ValueString,
	}
	if got := len(f.Keys()); got != len(want) {
		t.Errorf("%d keys %v, want %d", got, f.Keys(), len(want))
	}
	for k, typ := range want {
		v, ok := f.Value(k)
		if !ok || v.Type() != typ {
			t.Errorf("%s: present %v, type %v, want %v", k, ok, v.Type(), typ)
		}
	}
}

func TestLlamaParamsDefaults(t *testing.T) {
	p := gguf.LlamaParams{EmbeddingLength: 64, BlockCount: 1, FeedForwardLength: 128, HeadCount: 4}.WithDefaults()
	want := gguf.LlamaParams{
		Arch: "llama", ContextLength: 2048, EmbeddingLength: 64, BlockCount: 1, FeedForwardLength: 128,
		HeadCount: 4, HeadCountKV: 4, KeyLength: 16, ValueLength: 16, RopeDimCount: 16,
		RopeFreqBase: 10000, RMSEpsilon: 1e-5,
	}
	if p != want {
		t.Fatalf("WithDefaults() = %+v\nwant            %+v", p, want)
	}
}

func TestLlamaParamsValidate(t *testing.T) {
	with := func(f func(p *gguf.LlamaParams)) gguf.LlamaParams {
		p := tinyParams()
		f(&p)
		return p
	}
	tests := []struct {
		name    string
		p       gguf.LlamaParams
		message string // "" means valid
	}{
		{"valid", tinyParams(), ""},
		{"no vocab size", with(func(p *gguf.LlamaParams) { p.VocabSize = 0 }), ""},
		{"nothing", gguf.LlamaParams{}, "missing [llama.embedding_length llama.block_count llama.feed_forward_length llama.attention.head_count]"},
		{"no layers", with(func(p *gguf.LlamaParams) { p.BlockCount = 0 }), "missing [llama.block_count]"},
		{"prefix in messages", with(func(p *gguf.LlamaParams) { p.Arch, p.HeadCount = "qwen2", 0 }), "qwen2.attention.head_count"},
		{"negative count", with(func(p *gguf.LlamaParams) { p.FeedForwardLength = -1 }), "llama.feed_forward_length = -1"},
		{"count over the limit", with(func(p *gguf.LlamaParams) { p.ContextLength = gguf.MaxLlamaParam + 1 }), "llama.context_length = 16777217"},
		{"negative epsilon", with(func(p *gguf.LlamaParams) { p.RMSEpsilon = -1 }), "layer_norm_rms_epsilon = -1"},
		{"NaN rope base", with(func(p *gguf.LlamaParams) { p.RopeFreqBase = math.NaN() }), "rope.freq_base = NaN"},
		{"infinite scaling factor", with(func(p *gguf.LlamaParams) { p.RopeScalingFactor = math.Inf(1) }), "rope.scaling.factor = +Inf"},
		{"head too narrow", with(func(p *gguf.LlamaParams) { p.EmbeddingLength, p.KeyLength, p.ValueLength, p.RopeDimCount = 4, 0, 0, 0 }), "key_length = 0"},
		{"heads not a multiple of KV heads", with(func(p *gguf.LlamaParams) { p.HeadCountKV = 3 }), "8 heads is not a multiple of 3 KV heads"},
		{"more KV heads than heads", with(func(p *gguf.LlamaParams) { p.HeadCountKV = 16 }), "8 heads is not a multiple of 16 KV heads"},
		{"value width differs", with(func(p *gguf.LlamaParams) { p.ValueLength = 16 }), "value length 16 differs from key length 8"},
		{"odd RoPE dimension", with(func(p *gguf.LlamaParams) { p.RopeDimCount = 7 }), "RoPE dimension 7 with heads of 8"},
		{"RoPE wider than a head", with(func(p *gguf.LlamaParams) { p.RopeDimCount = 10 }), "RoPE dimension 10 with heads of 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.message == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, gguf.ErrParams) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("Validate: %v, want ErrParams containing %q", err, tt.message)
			}
			// Write refuses what Validate refuses, before setting anything.
			w := gguf.NewWriter(&bytes.Buffer{})
			if err := tt.p.Write(w); !errors.Is(err, gguf.ErrParams) {
				t.Fatalf("Write: %v, want ErrParams", err)
			}
		})
	}
}

// TestLlamaParamsLenientRead: keys of the wrong type read as absent, and
// values too large for the limit read as themselves (capped), so Validate,
// not the reader, reports them.
func TestLlamaParamsLenientRead(t *testing.T) {
	f := parseMeta(t, func(w *gguf.Writer) error {
		for k, v := range map[string]any{
			gguf.KeyArchitecture:             "llama",
			"llama.embedding_length":         "wide",
			"llama.block_count":              int32(-2),
			"llama.feed_forward_length":      uint64(1) << 40,
			"llama.attention.head_count":     uint32(4),
			"llama.rope.freq_base":           "fast",
			"llama.attention.head_count_kv":  float32(2),
			"llama.rope.scaling.type":        uint8(1),
			"llama.attention.key_length":     uint16(16),
			"llama.attention.layer_norm_rms": float32(1), // not a key we read
		} {
			if err := w.Set(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	want := gguf.LlamaParams{Arch: "llama", FeedForwardLength: math.MaxInt32, HeadCount: 4, KeyLength: 16}
	p := f.LlamaParams()
	if p != want {
		t.Fatalf("LlamaParams() = %+v\nwant           %+v", p, want)
	}
	if err := p.Validate(); !errors.Is(err, gguf.ErrParams) || !strings.Contains(err.Error(), "missing [llama.embedding_length llama.block_count]") {
		t.Fatalf("Validate: %v", err)
	}
	if in := f.Info(); in.Params != want {
		t.Fatalf("Info().Params = %+v", in.Params)
	}
}
