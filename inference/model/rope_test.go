package model

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
)

func metaFile(t *testing.T, kv map[string]any) *gguf.File {
	t.Helper()
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	for k, v := range kv {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
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

func TestRopeFrequencies(t *testing.T) {
	c := Config{Arch: "llama", RopeBase: 10000, RopeDim: 8}
	plain := []float64{1, math.Pow(10000, -0.25), math.Pow(10000, -0.5), math.Pow(10000, -0.75)}
	tests := []struct {
		name    string
		meta    map[string]any
		factors []float32
		want    []float64
		err     error
	}{
		{"plain", nil, nil, plain, nil},
		{"scaling none", map[string]any{"llama.rope.scaling.type": "none"}, nil, plain, nil},
		{"linear", map[string]any{"llama.rope.scaling.type": "linear", "llama.rope.scaling.factor": float32(4)}, nil,
			[]float64{plain[0] / 4, plain[1] / 4, plain[2] / 4, plain[3] / 4}, nil},
		{"rope_freqs factors", nil, []float32{1, 2, 4, 8}, []float64{plain[0], plain[1] / 2, plain[2] / 4, plain[3] / 8}, nil},
		{"yarn refused", map[string]any{"llama.rope.scaling.type": "yarn"}, nil, nil, ErrFormat},
		{"zero factor refused", nil, []float32{1, 0, 1, 1}, nil, ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ropeFrequencies(c, metaFile(t, tt.meta).LlamaParams(), tt.factors)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			for i, w := range tt.want {
				if math.Abs(got[i]-w) > 1e-12*w {
					t.Fatalf("pair %d: %v, want %v", i, got[i], w)
				}
			}
		})
	}
}
