package model_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/kernels"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/model/synth"
)

// writeGGUF writes a file with the given metadata and F32 tensors of the
// given shapes (zeros).
func writeGGUF(t *testing.T, meta map[string]any, tensors map[string][]uint64) string {
	names := slices.Sorted(maps.Keys(tensors))
	t.Helper()
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	for k, v := range meta {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		if err := w.AddTensor(name, gguf.TypeF32, tensors[name]...); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		n := uint64(4)
		for _, d := range tensors[name] {
			n *= d
		}
		if err := w.WriteTensor(name, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func llamaMeta() map[string]any {
	return map[string]any{
		gguf.KeyArchitecture: gguf.ArchLlama, "llama.embedding_length": uint32(32),
		"llama.block_count": uint32(1), "llama.feed_forward_length": uint32(64),
		"llama.attention.head_count": uint32(4),
	}
}

// writeTyped writes a GGUF file whose tensors, 32×10 each, have the given
// types (zero bytes).
func writeTyped(t *testing.T, meta map[string]any, types map[string]gguf.TensorType) string {
	t.Helper()
	names := slices.Sorted(maps.Keys(types))
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	for k, v := range meta {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		if err := w.AddTensor(name, types[name], 32, 10); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		typ := types[name]
		if err := w.WriteTensor(name, make([]byte, 10*32/typ.BlockSize()*typ.TypeSize())); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "typed.gguf")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenErrors(t *testing.T) {
	small := writeSynth(t, synth.Spec{Shape: testShape(true, 0), Type: gguf.TypeQ8_0, Seed: 1})
	// IQ4_NL matrices fit in the file's 18 bytes a block but the assembly
	// kernels hold them as Q8_0's 34: the check must count that. The file
	// then fails later, for what it lacks (no token embedding).
	iq := map[string]gguf.TensorType{}
	for i := range 40 {
		iq[fmt.Sprintf("blk.%d.ffn_up.weight", i)] = gguf.TypeIQ4_NL
	}
	widened := writeTyped(t, llamaMeta(), iq)
	const widenedFile = 40 * 10 * 18
	widenedErr, widenedMsg := model.ErrTooLarge, "formats without their own kernels are widened to Q8_0"
	if kernels.CurrentLevel() < kernels.AVX2 {
		widenedErr, widenedMsg = model.ErrFormat, "no 2-D token_embd.weight" // portable kernels keep IQ4_NL as it is
	}
	tests := []struct {
		name    string
		path    string
		opts    model.Options
		want    error
		message string
	}{
		{"larger than memory", small, model.Options{MemAvailable: 1 << 20}, model.ErrTooLarge, "memory is available"},
		{"widened beyond memory", widened, model.Options{MemAvailable: widenedFile + 100}, widenedErr, widenedMsg},
		// The file's own layout is used in place: nothing is widened.
		{"kept layout is not widened", widened, model.Options{MemAvailable: widenedFile + 100, KeepLayout: true}, model.ErrFormat, "no 2-D token_embd.weight"},
		{"unknown architecture", writeGGUF(t, map[string]any{gguf.KeyArchitecture: "mamba"}, nil), model.Options{}, model.ErrArchitecture, `"mamba" (supported: llama)`},
		{"missing hyperparameter", writeGGUF(t, map[string]any{gguf.KeyArchitecture: gguf.ArchLlama}, nil), model.Options{}, model.ErrFormat, "llama.embedding_length"},
		{"missing tensor", writeGGUF(t, llamaMeta(), map[string][]uint64{gguf.TensorTokenEmbd: {32, 10}}), model.Options{}, model.ErrFormat, "blk.0.attn_norm.weight is missing"},
		{"wrong shape", writeGGUF(t, llamaMeta(), map[string][]uint64{gguf.TensorTokenEmbd: {32, 10}, "blk.0.attn_norm.weight": {31}}), model.Options{}, model.ErrFormat, "has shape [31]"},
		{"unsupported tensor type", writeTyped(t, llamaMeta(), map[string]gguf.TensorType{gguf.TensorTokenEmbd: gguf.TypeMXFP4, "blk.0.attn_q.weight": gguf.TypeMXFP4, "blk.0.ffn_up.weight": gguf.TypeQ8_1}), model.Options{}, model.ErrTensorType,
			"token_embd.weight is MXFP4; in this file: 1 Q8_1, 2 MXFP4 (the kernels run F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_NL, BF16)"},
		{"not a file", filepath.Join(t.TempDir(), "absent.gguf"), model.Options{}, os.ErrNotExist, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := model.Open(tt.path, tt.opts)
			if err == nil {
				m.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("error %q, want %v containing %q", err, tt.want, tt.message)
			}
		})
	}
	m, err := model.Open(small, model.Options{MemAvailable: -1})
	if err != nil {
		t.Fatalf("skipping the memory check: %v", err)
	}
	m.Close()
}

func TestConfig(t *testing.T) {
	path := writeSynth(t, synth.Spec{Shape: testShape(false, 0), Type: gguf.TypeQ4_K, Seed: 1})
	m, err := model.Open(path, model.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := m.Config()
	want := model.Config{Arch: "llama", Name: "test", Dim: 256, Layers: 2, Heads: 8, KVHeads: 2, HeadDim: 32,
		FFN: 512, Vocab: 320, ContextLength: 512, RopeBase: 500000, RopeDim: 32, RMSEpsilon: 1e-5,
		Tied: false, WeightType: "Q4_K", FileSize: c.FileSize}
	if c != want {
		t.Fatalf("Config() = %+v\nwant       %+v", c, want)
	}
	if st, _ := os.Stat(path); c.FileSize != st.Size() || c.KVDim() != 64 {
		t.Fatalf("FileSize %d (file %d), KVDim %d", c.FileSize, st.Size(), c.KVDim())
	}
	if v, ok := m.File().String(gguf.KeyTokenizerModel); !ok || v != "llama" {
		t.Fatalf("File() tokenizer model %q", v)
	}
}
