package model_test

import (
	"context"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/model/synth"
)

// TestForwardNoAllocs wants decode steps and prompt batches, once the
// buffers have grown, to allocate nothing: per-token garbage costs the
// collector's time on every generated token.
func TestForwardNoAllocs(t *testing.T) {
	for _, typ := range []gguf.TensorType{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeF16, gguf.TypeQ4_K} {
		t.Run(typ.String(), func(t *testing.T) {
			m, err := model.Open(writeSynth(t, synth.Spec{Shape: testShape(true, 0), Type: typ, Seed: 3}), model.Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			kv := newCache(t, m, 2, 64)
			prompt := make([]model.Entry, 40)
			for i := range prompt {
				prompt[i] = model.Entry{Seq: 1, Pos: i, Token: int32(i * 7 % 300), Logits: i == len(prompt)-1}
			}
			step := []model.Entry{{Seq: 0, Pos: 30, Token: 5, Logits: true}}
			for i := range 31 { // fill sequence 0 and grow every buffer
				if _, err := m.Forward(context.Background(), []model.Entry{{Seq: 0, Pos: i, Token: int32(i), Logits: true}}, kv); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := m.Forward(context.Background(), prompt, kv); err != nil {
				t.Fatal(err)
			}
			for name, batch := range map[string][]model.Entry{"decode": step, "prompt": prompt} {
				allocs := testing.AllocsPerRun(10, func() {
					if _, err := m.Forward(context.Background(), batch, kv); err != nil {
						t.Fatal(err)
					}
				})
				if allocs != 0 {
					t.Errorf("%s: %v allocations per Forward", name, allocs)
				}
			}
		})
	}
}
