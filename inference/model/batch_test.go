package model_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/kernels"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/model/synth"
)

// useLevel selects the kernels of level l until the test ends.
func useLevel(t *testing.T, l kernels.Level) {
	t.Helper()
	if kernels.SetLevel(l) != l {
		t.Fatalf("kernel level %s is not available", l)
	}
	t.Cleanup(func() { kernels.SetLevel(kernels.Available()) })
}

// TestBatchMatchesSingle runs 8 sequences, each at a different position,
// as one batch and one token at a time, and wants the same logits, bit for
// bit: the kernels and both attention paths are batch invariant, and the
// activations' re-quantisation before each product would turn any
// last-bit difference into a visible one.
func TestBatchMatchesSingle(t *testing.T) {
	synthetic := func(typ gguf.TensorType, keep bool) func(t *testing.T) model.Model {
		return func(t *testing.T) model.Model {
			m, err := model.Open(writeSynth(t, synth.Spec{Shape: testShape(true, 8), Type: typ, Seed: 9}), model.Options{Threads: 2, KeepLayout: keep})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			return m
		}
	}
	models := map[string]func(t *testing.T) model.Model{
		"stories260K": func(t *testing.T) model.Model { return stories(t) },
	}
	// Both layouts: repacked at load (the default) and as in the file, with
	// every kernel level the machine runs (each must be batch invariant;
	// they need not give each other's bits).
	for _, typ := range []gguf.TensorType{gguf.TypeQ4_K, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeF16} {
		for l := range kernels.Available() + 1 {
			for _, keep := range []bool{false, true} {
				name := "synthetic " + typ.String() + " " + l.String()
				if keep {
					name += " kept layout"
				}
				models[name] = func(t *testing.T) model.Model {
					useLevel(t, l)
					return synthetic(typ, keep)(t)
				}
			}
		}
	}
	for name, open := range models {
		t.Run(name, func(t *testing.T) {
			m := open(t)
			const seqs = 8
			lengths := []int{1, 3, 9, 2, 17, 5, 30, 12} // tokens per sequence; the last is the batch's
			prompt := func(s, i int) int32 { return int32((s*31 + i*7 + 1) % 256) }
			single := newCache(t, m, seqs, 32)
			want := make([][]float32, seqs)
			for s, n := range lengths {
				for i := range n {
					logits, err := m.Forward(t.Context(), []model.Entry{{Seq: s, Pos: i, Token: prompt(s, i), Logits: i == n-1}}, single)
					if err != nil {
						t.Fatal(err)
					}
					if i == n-1 {
						want[s] = append([]float32(nil), logits...)
					}
				}
			}
			batched := newCache(t, m, seqs, 32)
			// Fill all but each sequence's last token as one prefill batch,
			// asking for no logits, then run the 8 last tokens together.
			var prefill, step []model.Entry
			for s, n := range lengths {
				for i := range n - 1 {
					prefill = append(prefill, model.Entry{Seq: s, Pos: i, Token: prompt(s, i)})
				}
				step = append(step, model.Entry{Seq: s, Pos: n - 1, Token: prompt(s, n-1), Logits: true})
			}
			if out, err := m.Forward(t.Context(), prefill, batched); err != nil || len(out) != 0 {
				t.Fatalf("prefill: %d logits, %v", len(out), err)
			}
			got, err := m.Forward(t.Context(), step, batched)
			if err != nil {
				t.Fatal(err)
			}
			v := m.Config().Vocab
			if len(got) != seqs*v {
				t.Fatalf("%d logits, want %d", len(got), seqs*v)
			}
			for s := range seqs {
				for i, w := range want[s] {
					g := got[s*v+i]
					if math.Float32bits(g) != math.Float32bits(w) {
						t.Fatalf("sequence %d logit %d: batched %v, single %v", s, i, g, w)
					}
				}
			}
		})
	}
}

func TestForwardErrors(t *testing.T) {
	m := stories(t)
	kv := newCache(t, m, 1, 4)
	tests := []struct {
		name  string
		batch []model.Entry
		want  error
	}{
		{"token beyond vocabulary", []model.Entry{{Token: 512}}, model.ErrBatch},
		{"negative token", []model.Entry{{Token: -1}}, model.ErrBatch},
		{"negative position", []model.Entry{{Pos: -1, Token: 1}}, model.ErrBatch},
		{"position beyond cache", []model.Entry{{Pos: 4, Token: 1}}, nil},
		{"sequence beyond cache", []model.Entry{{Seq: 1, Token: 1}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Forward(t.Context(), tt.batch, kv)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
	if out, err := m.Forward(t.Context(), nil, kv); err != nil || out != nil {
		t.Fatalf("empty batch: %v, %v", out, err)
	}
}

// cancellingKV cancels a context when the first layer's keys are stored,
// and records the deepest layer Forward reached.
type cancellingKV struct {
	*model.Cache
	cancel  context.CancelFunc
	deepest int
}

func (c *cancellingKV) Store(layer, seq, pos int, k, v []float32) error {
	c.deepest = max(c.deepest, layer)
	c.cancel()
	return c.Cache.Store(layer, seq, pos, k, v)
}

// TestForwardCancel: a context that ends during a pass stops it before the
// next layer, and one that ended before stops it before the first.
func TestForwardCancel(t *testing.T) {
	m := stories(t)
	if m.Config().Layers < 2 {
		t.Fatalf("need at least 2 layers, have %d", m.Config().Layers)
	}
	batch := []model.Entry{{Pos: 0, Token: 1}, {Pos: 1, Token: 2, Logits: true}}

	ctx, cancel := context.WithCancel(t.Context())
	kv := &cancellingKV{Cache: newCache(t, m, 1, 4), cancel: cancel}
	out, err := m.Forward(ctx, batch, kv)
	if !errors.Is(err, context.Canceled) || out != nil {
		t.Fatalf("cancelled during layer 0: %v, %d logits; want context.Canceled", err, len(out))
	}
	if kv.deepest != 0 {
		t.Fatalf("the pass went on to layer %d after its context ended", kv.deepest)
	}

	kv = &cancellingKV{Cache: newCache(t, m, 1, 4), cancel: func() {}, deepest: -1}
	if _, err := m.Forward(ctx, batch, kv); !errors.Is(err, context.Canceled) || kv.deepest != -1 {
		t.Fatalf("ended context: %v, stored up to layer %d", err, kv.deepest)
	}
	// The model stays usable.
	if _, err := m.Forward(t.Context(), batch, newCache(t, m, 1, 4)); err != nil {
		t.Fatal(err)
	}
}
