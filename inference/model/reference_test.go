package model_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/kernels"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/model/synth"
)

// refModel is a plain float64 Llama forward pass over dequantised weights,
// written for clarity, to check the fast path on any weight type. Products
// see the activations as ggml defines them for the weight type (refActs).
type refModel struct {
	dim, heads, kvHeads, hd, ffn, vocab int
	eps                                 float64
	invFreq                             []float64
	embd, out                           refMat
	outNorm                             []float64
	layers                              []refLayer
}

// refMat is a dequantised matrix and the type it was stored in.
type refMat struct {
	w   [][]float64
	typ kernels.Type
}

type refLayer struct {
	attnNorm, ffnNorm          []float64
	wq, wk, wv, wo, w1, w2, w3 refMat
}

func refKernelType(t gguf.TensorType) kernels.Type {
	return map[gguf.TensorType]kernels.Type{
		gguf.TypeF32: kernels.F32, gguf.TypeF16: kernels.F16, gguf.TypeBF16: kernels.BF16,
		gguf.TypeQ8_0: kernels.Q8_0, gguf.TypeQ4_0: kernels.Q4_0, gguf.TypeQ4_K: kernels.Q4_K,
		gguf.TypeQ5_K: kernels.Q5_K, gguf.TypeQ6_K: kernels.Q6_K,
	}[t]
}

func loadRef(t *testing.T, path string) *refModel {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := func(key string) int {
		v, ok := f.Uint(key)
		if !ok {
			t.Fatalf("missing %s", key)
		}
		return int(v)
	}
	mat := func(name string) refMat {
		tn, ok := f.Tensor(name)
		if !ok {
			return refMat{}
		}
		cols, rows := int(tn.Shape[0]), 1
		if len(tn.Shape) > 1 {
			rows = int(tn.Shape[1])
		}
		flat := make([]float32, rows*cols)
		if err := kernels.Dequantize(refKernelType(tn.Type), flat, tn.Data()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m := make([][]float64, rows)
		for r := range m {
			m[r] = make([]float64, cols)
			for c := range m[r] {
				m[r][c] = float64(flat[r*cols+c])
			}
		}
		return refMat{m, refKernelType(tn.Type)}
	}
	vec := func(name string) []float64 { return mat(name).w[0] }
	r := &refModel{
		dim: u("llama.embedding_length"), heads: u("llama.attention.head_count"),
		kvHeads: u("llama.attention.head_count_kv"), ffn: u("llama.feed_forward_length"), eps: 1e-5,
	}
	r.hd = r.dim / r.heads
	base, _ := f.Float("llama.rope.freq_base")
	var factors []float64
	if tn, ok := f.Tensor(gguf.TensorRopeFreqs); ok {
		_ = tn
		factors = vec(gguf.TensorRopeFreqs)
	}
	for i := 0; i < r.hd/2; i++ {
		fr := 1 / math.Pow(base, float64(2*i)/float64(r.hd))
		if factors != nil {
			fr /= factors[i]
		}
		r.invFreq = append(r.invFreq, fr)
	}
	r.embd = mat(gguf.TensorTokenEmbd)
	r.vocab = len(r.embd.w)
	r.out = mat(gguf.TensorOutput)
	if r.out.w == nil {
		r.out = r.embd
	}
	r.outNorm = vec(gguf.TensorOutputNorm)
	for l := range u("llama.block_count") {
		n := func(part string) string { return gguf.LayerTensor(l, part) }
		r.layers = append(r.layers, refLayer{
			attnNorm: vec(n(gguf.LayerAttnNorm)), ffnNorm: vec(n(gguf.LayerFFNNorm)),
			wq: mat(n(gguf.LayerAttnQ)), wk: mat(n(gguf.LayerAttnK)), wv: mat(n(gguf.LayerAttnV)),
			wo: mat(n(gguf.LayerAttnOutput)), w1: mat(n(gguf.LayerFFNGate)),
			w2: mat(n(gguf.LayerFFNDown)), w3: mat(n(gguf.LayerFFNUp)),
		})
	}
	return r
}

func matVec(m refMat, x []float64) []float64 {
	x = refActs(m.typ, x)
	out := make([]float64, len(m.w))
	for r, row := range m.w {
		for c, v := range row {
			out[r] += v * x[c]
		}
	}
	return out
}

// refActs returns x as ggml's products with weights of type typ see it:
// rounded to f16 or bf16 for those float types, quantised to 8 bits in
// blocks of 32 (scale max|x|/127 rounded to f16, quants x·127/max|x| to
// nearest even) for Q8_0 and Q4_0, and in blocks of 256 against the value
// of largest magnitude m (iscale -127/m, scale 1/iscale) for the K-quants.
// The arithmetic is float32, as ggml's.
func refActs(typ kernels.Type, x []float64) []float64 {
	out := make([]float64, len(x))
	switch typ {
	case kernels.F32:
		copy(out, x)
	case kernels.F16:
		for i, v := range x {
			out[i] = float64(kernels.F16ToF32(kernels.F32ToF16(float32(v))))
		}
	case kernels.BF16:
		for i, v := range x {
			out[i] = float64(kernels.BF16ToF32(kernels.F32ToBF16(float32(v))))
		}
	case kernels.Q8_0, kernels.Q4_0:
		for b := 0; b < len(x); b += 32 {
			var amax float32
			for _, v := range x[b : b+32] {
				amax = max(amax, float32(math.Abs(float64(float32(v)))))
			}
			d := kernels.F16ToF32(kernels.F32ToF16(amax / 127))
			var id float32
			if amax != 0 {
				id = 127 / amax
			}
			for i, v := range x[b : b+32] {
				out[b+i] = math.RoundToEven(float64(float32(v)*id)) * float64(d)
			}
		}
	default: // K-quants
		for b := 0; b < len(x); b += 256 {
			var amax, m float32
			for _, v := range x[b : b+256] {
				if a := float32(math.Abs(v)); a > amax {
					amax, m = a, float32(v)
				}
			}
			if amax == 0 {
				continue
			}
			iscale := -127 / m
			for i, v := range x[b : b+256] {
				out[b+i] = min(127, math.RoundToEven(float64(iscale*float32(v)))) * float64(1/iscale)
			}
		}
	}
	return out
}

func refNorm(x, w []float64, eps float64) []float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	s := 1 / math.Sqrt(ss/float64(len(x))+eps)
	out := make([]float64, len(x))
	for i := range x {
		out[i] = x[i] * s * w[i]
	}
	return out
}

func (r *refModel) rope(x []float64, pos int) {
	for h := 0; h < len(x); h += r.hd {
		for i, f := range r.invFreq {
			s, c := math.Sincos(float64(pos) * f)
			a, b := x[h+2*i], x[h+2*i+1]
			x[h+2*i], x[h+2*i+1] = a*c-b*s, a*s+b*c
		}
	}
}

// run returns the logits after each of tokens, fed from position 0.
func (r *refModel) run(tokens []int32) [][]float64 {
	type kv struct{ k, v [][]float64 }
	cache := make([]kv, len(r.layers))
	var all [][]float64
	group := r.heads / r.kvHeads
	for pos, tok := range tokens {
		x := append([]float64(nil), r.embd.w[tok]...)
		for l, L := range r.layers {
			xb := refNorm(x, L.attnNorm, r.eps)
			q, k, v := matVec(L.wq, xb), matVec(L.wk, xb), matVec(L.wv, xb)
			r.rope(q, pos)
			r.rope(k, pos)
			cache[l].k = append(cache[l].k, k)
			cache[l].v = append(cache[l].v, v)
			att := make([]float64, r.dim)
			for h := range r.heads {
				kh := h / group
				scores := make([]float64, pos+1)
				mx := math.Inf(-1)
				for p := range scores {
					for d := range r.hd {
						scores[p] += q[h*r.hd+d] * cache[l].k[p][kh*r.hd+d]
					}
					scores[p] /= math.Sqrt(float64(r.hd))
					mx = max(mx, scores[p])
				}
				var sum float64
				for p := range scores {
					scores[p] = math.Exp(scores[p] - mx)
					sum += scores[p]
				}
				for p := range scores {
					for d := range r.hd {
						att[h*r.hd+d] += scores[p] / sum * cache[l].v[p][kh*r.hd+d]
					}
				}
			}
			for i, v := range matVec(L.wo, att) {
				x[i] += v
			}
			xb = refNorm(x, L.ffnNorm, r.eps)
			g, u := matVec(L.w1, xb), matVec(L.w3, xb)
			for i := range g {
				g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
			}
			for i, v := range matVec(L.w2, g) {
				x[i] += v
			}
		}
		all = append(all, matVec(r.out, refNorm(x, r.outNorm, r.eps)))
	}
	return all
}

// testShape is small but has grouped-query attention and rows that fit
// every block size (256 for the K-quants).
func testShape(tied bool, ropeScale float64) synth.Shape {
	return synth.Shape{Name: "test", Dim: 256, Layers: 2, Heads: 8, KVHeads: 2, FFN: 512, Vocab: 320,
		ContextLength: 512, RopeBase: 500000, Tied: tied, RopeScale: ropeScale}
}

func writeSynth(t testing.TB, spec synth.Spec) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.gguf")
	if err := synth.WriteFile(path, spec); err != nil {
		t.Fatal(err)
	}
	return path
}

// relErr is the largest difference relative to the largest reference value.
func relErr(got []float32, want []float64) float64 {
	var diff, scale float64
	for i, w := range want {
		diff = max(diff, math.Abs(float64(got[i])-w))
		scale = max(scale, math.Abs(w))
	}
	return diff / scale
}

// TestAgainstReference runs synthetic models of every weight type through
// Forward and the float64 reference. F32 weights meet float32 rounding
// only. Otherwise both sides round or quantise the activations as ggml
// does, but an activation whose float32 and float64 values fall on two
// sides of a rounding boundary still differs by a whole step (an f16 or
// bf16 unit, an 8-bit quant), hence bounds that follow the step. A layout
// mistake shows as an error near 1.
func TestAgainstReference(t *testing.T) {
	// 70 tokens: more than one block of the matrix attention path.
	tokens := []int32{1, 45, 300, 7, 7, 120, 2, 260, 99, 13}
	for i := range 60 {
		tokens = append(tokens, int32(i*37%320))
	}
	tests := []struct {
		typ       gguf.TensorType
		tied      bool
		ropeScale float64
		tol       float64
		keep      bool // model.Options.KeepLayout: no interleaving at load
	}{
		{gguf.TypeF32, true, 0, 1e-5, false},
		{gguf.TypeF32, false, 8, 1e-5, false},
		{gguf.TypeF16, false, 0, 1e-3, false},
		{gguf.TypeBF16, true, 0, 5e-3, false},
		{gguf.TypeQ8_0, true, 32, 0.03, false},
		{gguf.TypeQ4_0, false, 0, 0.03, false},
		{gguf.TypeQ4_0, true, 0, 0.03, true},
		{gguf.TypeQ8_0, false, 0, 0.03, true},
		{gguf.TypeQ4_K, true, 8, 0.03, false},
		{gguf.TypeQ5_K, false, 0, 0.03, false},
		{gguf.TypeQ6_K, true, 0, 0.03, false},
	}
	for _, tt := range tests {
		name := tt.typ.String()
		if !tt.tied {
			name += "/untied"
		}
		if tt.ropeScale > 0 {
			name += "/rope_freqs"
		}
		if tt.keep {
			name += "/file_layout"
		}
		t.Run(name, func(t *testing.T) {
			path := writeSynth(t, synth.Spec{Shape: testShape(tt.tied, tt.ropeScale), Type: tt.typ, Seed: 5})
			ref := loadRef(t, path).run(tokens)
			m, err := model.Open(path, model.Options{Threads: 2, KeepLayout: tt.keep})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if got := m.Config().Tied; got != tt.tied {
				t.Fatalf("Config().Tied = %v", got)
			}
			kv := newCache(t, m, 1, len(tokens))
			batch := make([]model.Entry, len(tokens))
			for i, tok := range tokens {
				batch[i] = model.Entry{Pos: i, Token: tok, Logits: true}
			}
			logits, err := m.Forward(t.Context(), batch, kv)
			if err != nil {
				t.Fatal(err)
			}
			v := m.Config().Vocab
			var worst float64
			for i := range tokens {
				worst = max(worst, relErr(logits[i*v:(i+1)*v], ref[i]))
			}
			if worst > tt.tol {
				t.Fatalf("largest relative error %.3g, want <= %g", worst, tt.tol)
			}
			t.Logf("largest relative error %.2g", worst)
		})
	}
}
