package model_test

import (
	"flag"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/kvcache"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/model/synth"
)

var benchBig = flag.Bool("model.big", false, "also benchmark the llama3-1b shape (writes 0.7-1.3 GB files)")

// benchModel writes a synthetic model of a named shape into a temporary
// folder and opens it with 2 threads.
func benchModel(b *testing.B, shape string, typ gguf.TensorType) model.Model {
	b.Helper()
	sh, err := synth.LookupShape(shape)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "model.gguf")
	if err := synth.WriteFile(path, synth.Spec{Shape: sh, Type: typ, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	m, err := model.Open(path, model.Options{Threads: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

func benchCases() []struct {
	shape string
	typ   gguf.TensorType
} {
	cases := []struct {
		shape string
		typ   gguf.TensorType
	}{
		{"llama-110m", gguf.TypeQ8_0}, {"llama-110m", gguf.TypeQ4_0}, {"llama-110m", gguf.TypeF16}, {"llama-110m", gguf.TypeQ4_K},
	}
	if *benchBig {
		cases = append(cases, struct {
			shape string
			typ   gguf.TensorType
		}{"llama3-1b", gguf.TypeQ8_0}, struct {
			shape string
			typ   gguf.TensorType
		}{"llama3-1b", gguf.TypeQ4_0})
	}
	return cases
}

// BenchmarkDecode measures one token of one sequence after a prompt of 64
// or 1024 tokens, the single-stream generation step. At 64 it is bound by
// memory bandwidth; at 1024 attention over the cache shows too.
func BenchmarkDecode(b *testing.B) {
	for _, c := range benchCases() {
		for _, ctx := range []int{64, 1024} {
			if ctx > 64 && c.typ != gguf.TypeQ4_0 {
				continue
			}
			b.Run(fmt.Sprintf("%s/%s/ctx%d", c.shape, c.typ, ctx), func(b *testing.B) {
				m := benchModel(b, c.shape, c.typ)
				kv := newCache(b, m, 1, ctx+1)
				prefill := make([]model.Entry, ctx)
				for i := range prefill {
					prefill[i] = model.Entry{Pos: i, Token: int32(i%200 + 3)}
				}
				for lo := 0; lo < ctx; lo += 256 {
					if _, err := m.Forward(b.Context(), prefill[lo:min(ctx, lo+256)], kv); err != nil {
						b.Fatal(err)
					}
				}
				step := []model.Entry{{Pos: ctx, Token: 42, Logits: true}}
				b.SetBytes(m.Config().FileSize)
				for b.Loop() {
					if _, err := m.Forward(b.Context(), step, kv); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}

// BenchmarkPrefill measures a prompt of 128 or 512 tokens (llama-bench's
// pp512) as one batch, with an F32 model.Cache or (f16kv) the engine's
// paged F16 cache. cpu-ns/op, the CPU time of all threads, compares
// builds on a busy machine far better than ns/op.
func BenchmarkPrefill(b *testing.B) {
	for _, c := range benchCases() {
		for _, n := range []int{128, 512} {
			for _, f16 := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/pp%d", c.shape, c.typ, n)
				if f16 {
					name += "-f16kv"
				}
				b.Run(name, func(b *testing.B) { benchPrefill(b, c.shape, c.typ, n, f16) })
			}
		}
	}
}

// BenchmarkDecodeBatch measures one batched decode step: the next token of
// 1, 16 or 64 sequences, each after a 192-token context (the middle of
// `corral bench --concurrency`'s 128-token prompts and 128 new tokens),
// over the engine's paged cache with F16 or F32 elements, every row
// wanting logits as the engine's decode rows do. tok/s is the aggregate
// decode rate; attention over the cache is a large share of the step.
func BenchmarkDecodeBatch(b *testing.B) {
	const ctx = 192
	for _, c := range benchCases() {
		if c.typ != gguf.TypeQ8_0 && c.typ != gguf.TypeQ4_0 {
			continue
		}
		for _, typ := range []kvcache.Type{kvcache.F16, kvcache.F32} {
			for _, seqs := range []int{1, 16, 64} {
				b.Run(fmt.Sprintf("%s/%s/%v/seqs%d", c.shape, c.typ, typ, seqs), func(b *testing.B) {
					m := benchModel(b, c.shape, c.typ)
					cfg := m.Config()
					kc := kvcache.Config{Layers: cfg.Layers, KVHeads: cfg.KVHeads, HeadDim: cfg.HeadDim, Type: typ}
					bb, err := kc.BlockBytes()
					if err != nil {
						b.Fatal(err)
					}
					kc.Budget = bb * int64(seqs*((ctx+1+15)/16))
					kv, err := kvcache.New(kc)
					if err != nil {
						b.Fatal(err)
					}
					step := make([]model.Entry, seqs)
					for s := range seqs {
						id := kv.NewSeq()
						prompt := make([]model.Entry, ctx)
						ids := make([]int32, ctx+1)
						for i := range prompt {
							ids[i] = int32((s*131+i*7)%200 + 3)
							prompt[i] = model.Entry{Seq: id, Pos: i, Token: ids[i]}
						}
						if err := kv.Append(id, ids...); err != nil {
							b.Fatal(err)
						}
						if _, err := m.Forward(b.Context(), prompt, kv); err != nil {
							b.Fatal(err)
						}
						step[s] = model.Entry{Seq: id, Pos: ctx, Token: 42, Logits: true}
					}
					cpu0 := processCPU()
					for b.Loop() {
						if _, err := m.Forward(b.Context(), step, kv); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*seqs)/b.Elapsed().Seconds(), "tok/s")
					if cpu := processCPU(); cpu > 0 {
						b.ReportMetric(float64(cpu-cpu0)/float64(b.N), "cpu-ns/op")
					}
				})
			}
		}
	}
}

// benchPrefill runs one BenchmarkPrefill case.
func benchPrefill(b *testing.B, shape string, typ gguf.TensorType, n int, f16 bool) {
	m := benchModel(b, shape, typ)
	var kv model.KV = newCache(b, m, 1, n)
	seq := 0
	if f16 {
		cfg := m.Config()
		c, err := kvcache.New(kvcache.Config{Layers: cfg.Layers, KVHeads: cfg.KVHeads, HeadDim: cfg.HeadDim, Type: kvcache.F16, Budget: 256 << 20})
		if err != nil {
			b.Fatal(err)
		}
		seq = c.NewSeq()
		if err := c.Append(seq, make([]int32, n)...); err != nil {
			b.Fatal(err)
		}
		kv = c
	}
	batch := make([]model.Entry, n)
	for i := range batch {
		batch[i] = model.Entry{Seq: seq, Pos: i, Token: int32(i + 3), Logits: i == n-1}
	}
	// Once before timing: the cache's pages are then in place.
	if _, err := m.Forward(b.Context(), batch, kv); err != nil {
		b.Fatal(err)
	}
	cpu0 := processCPU()
	for b.Loop() {
		if _, err := m.Forward(b.Context(), batch, kv); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "tok/s")
	if cpu := processCPU(); cpu > 0 {
		b.ReportMetric(float64(cpu-cpu0)/float64(b.N), "cpu-ns/op")
	}
}
