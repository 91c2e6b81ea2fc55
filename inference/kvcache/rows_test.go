package kvcache_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/corral-ai/corral/inference/kernels"
	"github.com/corral-ai/corral/inference/kvcache"
)

// halfRoundTrip stores xs as the key row of one token in an F16 cache
// and returns the half-float bits and the float32 rows Load gives back.
func halfRoundTrip(t *testing.T, xs []float32) ([]uint16, []float32) {
	t.Helper()
	cfg := kvcache.Config{Layers: 1, KVHeads: 1, HeadDim: len(xs), BlockTokens: 1}
	c := newCache(t, cfg, 1)
	id := c.NewSeq()
	if err := c.Append(id, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(0, id, 0, xs, xs); err != nil {
		t.Fatal(err)
	}
	h, hv := c.LoadHeadHalf(0, id, 0, 0)
	k, v := c.Load(0, id, 0)
	if len(h) != len(xs) || len(k) != len(xs) {
		t.Fatalf("loaded %d half and %d float values of %d", len(h), len(k), len(xs))
	}
	for i := range h {
		if hv[i] != h[i] || math.Float32bits(v[i]) != math.Float32bits(k[i]) {
			t.Fatalf("value row differs from key row at %d", i)
		}
	}
	return h, k
}

// nearestHalf checks that h is the half float nearest x, ties to the even
// significand, by comparing with its neighbours in float64 (exact here).
func nearestHalf(x float32, h uint16) error {
	got := float64(kernels.F16ToF32(h))
	if math.IsNaN(float64(x)) {
		if !math.IsNaN(got) {
			return fmt.Errorf("NaN became %v", got)
		}
		return nil
	}
	if math.Signbit(float64(x)) != (h&0x8000 != 0) {
		return fmt.Errorf("%v: sign lost (%#04x)", x, h)
	}
	ax, mag := math.Abs(float64(x)), h&0x7fff
	if ax >= 65520 { // half of the way from 65504 to the next step, 65536
		if mag != 0x7c00 {
			return fmt.Errorf("%v became %v, want infinity", x, got)
		}
		return nil
	}
	d := math.Abs(ax - math.Abs(got))
	for _, n := range []uint16{mag - 1, mag + 1} {
		if mag == 0 && n == 0xffff || n >= 0x7c00 {
			continue
		}
		dn := math.Abs(ax - float64(kernels.F16ToF32(n)))
		if dn < d || dn == d && mag&1 == 1 {
			return fmt.Errorf("%v became %#04x (%v); %#04x (%v) is nearer or even", x, h, got, n, kernels.F16ToF32(n))
		}
	}
	return nil
}

func TestHalfRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var random []float32
	for _, scale := range []float64{1e-7, 1e-5, 1e-3, 0.1, 1, 10, 1e3, 3e4} {
		for range 512 {
			random = append(random, float32(r.NormFloat64()*scale))
		}
	}
	// Midpoints between neighbouring half floats: ties.
	var ties []float32
	for h := uint16(0); h < 0x7bff; h += 97 {
		a, b := kernels.F16ToF32(h), kernels.F16ToF32(h+1)
		ties = append(ties, (a+b)/2, -(a+b)/2)
	}
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -2, 65504, 65519.99, 65520, -70000,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		0x1p-24, 0x1p-25, 0x1.8p-25, 0x1p-26, 0x1p-14, 0x1.ffcp-15, 1 + 0x1p-11, 1 + 0x3p-11}
	tests := []struct {
		name string
		xs   []float32
		// relErr bounds the relative error of normal-range values.
		relErr float64
	}{
		{"random", random, 0x1p-11},
		{"ties go to even", ties, 0x1p-11},
		{"special values", special, 0x1p-11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, back := halfRoundTrip(t, tt.xs)
			for i, x := range tt.xs {
				if err := nearestHalf(x, h[i]); err != nil {
					t.Fatal(err)
				}
				if h[i] != kernels.F32ToF16(x) {
					t.Fatalf("%v: %#04x, kernels.F32ToF16 gives %#04x", x, h[i], kernels.F32ToF16(x))
				}
				if got := kernels.F16ToF32(h[i]); math.Float32bits(back[i]) != math.Float32bits(got) && !math.IsNaN(float64(got)) {
					t.Fatalf("Load gave %v for bits %#04x (%v)", back[i], h[i], got)
				}
				ax := math.Abs(float64(x))
				if ax >= 0x1p-14 && ax <= 65504 {
					if e := math.Abs(float64(back[i])-float64(x)) / ax; e > tt.relErr {
						t.Fatalf("%v came back as %v: relative error %g", x, back[i], e)
					}
				}
			}
		})
	}
	t.Run("f32 cache has no half rows", func(t *testing.T) {
		c := newCache(t, tiny, 1)
		id := seqOf(t, c, []int32{1})
		if k, v := c.LoadHeadHalf(0, id, 0, 0); k != nil || v != nil {
			t.Fatal("LoadHeadHalf of an F32 cache returned rows")
		}
	})
}

// shapes are KV shapes of real models: layers, KV heads, head dimension.
var shapes = []struct {
	name                     string
	layers, kvHeads, headDim int
}{
	{"stories260K", 5, 4, 8},
	{"llama-110m", 12, 12, 64},
	{"llama3-1b", 16, 8, 64},
	{"llama3-8b", 32, 8, 128},
}

// TestMemoryAccounting measures what New allocates on the Go heap, and the
// live heap once the pool is full, over the tokens the pool holds, against
// the keys and values alone.
func TestMemoryAccounting(t *testing.T) {
	for _, s := range shapes {
		for _, typ := range []kvcache.Type{kvcache.F16, kvcache.F32} {
			t.Run(fmt.Sprintf("%s %v", s.name, typ), func(t *testing.T) {
				cfg := kvcache.Config{Layers: s.layers, KVHeads: s.kvHeads, HeadDim: s.headDim, Type: typ, Budget: 64 << 20}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				c, err := kvcache.New(cfg)
				runtime.ReadMemStats(&after)
				if err != nil {
					t.Fatal(err)
				}
				tokens := float64(c.Blocks() * c.BlockTokens())
				ideal := float64(2 * s.layers * s.kvHeads * s.headDim * typ.Size())
				measured := float64(after.TotalAlloc-before.TotalAlloc) / tokens
				t.Logf("%d blocks; %.1f bytes a token measured, %.1f accounted, %.0f for keys and values alone (+%.2f%%)",
					c.Blocks(), measured, c.BytesPerToken(), ideal, 100*(measured/ideal-1))
				if measured > 1.05*ideal {
					t.Fatalf("%.1f bytes a token, more than 5%% over %.0f", measured, ideal)
				}
				block, err := cfg.BlockBytes()
				if err != nil {
					t.Fatal(err)
				}
				if m := c.MemoryBytes(); m > cfg.Budget || m <= cfg.Budget-block {
					t.Fatalf("accounted %d bytes of a %d budget", m, cfg.Budget)
				}
				if measured > 1.01*c.BytesPerToken() {
					t.Fatalf("measured %.1f bytes a token, accounted %.1f", measured, c.BytesPerToken())
				}
				// Fill the pool with committed sequences of up to 200
				// tokens: block tables, sequence records and index entries
				// count too, measured as live heap.
				next := int32(0)
				for c.Available() > 0 {
					id := c.NewSeq()
					n := min(200, c.Available()*c.BlockTokens())
					if err := c.Append(id, ids(n, next)...); err != nil {
						t.Fatal(err)
					}
					next += int32(n)
					if err := c.Commit(id, n); err != nil {
						t.Fatal(err)
					}
				}
				var full runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&full)
				live := float64(full.HeapAlloc-before.HeapAlloc) / tokens
				t.Logf("full: %.1f bytes a token of live heap (+%.2f%%)", live, 100*(live/ideal-1))
				if live > 1.05*ideal {
					t.Fatalf("full pool: %.1f bytes a token, more than 5%% over %.0f", live, ideal)
				}
				runtime.KeepAlive(c)
			})
		}
	}
}

func TestConfig(t *testing.T) {
	ok := kvcache.Config{Layers: 2, KVHeads: 2, HeadDim: 4, Budget: 1 << 20}
	tests := []struct {
		name   string
		change func(*kvcache.Config)
		valid  bool
	}{
		{"defaults", func(*kvcache.Config) {}, true},
		{"f32", func(c *kvcache.Config) { c.Type = kvcache.F32 }, true},
		{"one token a block", func(c *kvcache.Config) { c.BlockTokens = 1 }, true},
		{"no layers", func(c *kvcache.Config) { c.Layers = 0 }, false},
		{"too many layers", func(c *kvcache.Config) { c.Layers = 1 << 20 }, false},
		{"no KV heads", func(c *kvcache.Config) { c.KVHeads = 0 }, false},
		{"negative head dimension", func(c *kvcache.Config) { c.HeadDim = -4 }, false},
		{"huge rows", func(c *kvcache.Config) { c.KVHeads, c.HeadDim = 1<<16, 1<<16 }, false},
		{"negative block size", func(c *kvcache.Config) { c.BlockTokens = -1 }, false},
		{"huge blocks", func(c *kvcache.Config) { c.BlockTokens = 1 << 20 }, false},
		{"unknown type", func(c *kvcache.Config) { c.Type = 7 }, false},
		{"no budget", func(c *kvcache.Config) { c.Budget = 0 }, false},
		{"budget below one block", func(c *kvcache.Config) { c.Budget = 100 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.valid != (err == nil) || err != nil && !errors.Is(err, kvcache.ErrConfig) {
				t.Fatalf("Validate: %v", err)
			}
			c, err := kvcache.New(cfg)
			if tt.valid != (err == nil) {
				t.Fatalf("New: %v", err)
			}
			if err == nil && (c.Blocks() < 1 || c.MemoryBytes() > cfg.Budget) {
				t.Fatalf("%d blocks, %d bytes of %d", c.Blocks(), c.MemoryBytes(), cfg.Budget)
			}
		})
	}
}

func TestParseType(t *testing.T) {
	tests := []struct {
		in   string
		want kvcache.Type
		err  bool
	}{
		{"f16", kvcache.F16, false},
		{"F32", kvcache.F32, false},
		{" f32 ", kvcache.F32, false},
		{"", 0, true},
		{"bf16", 0, true},
		{"q8_0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := kvcache.ParseType(tt.in)
			if tt.err {
				if !errors.Is(err, kvcache.ErrConfig) {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err != nil || got != tt.want || got.String() != tt.want.String() {
				t.Fatalf("ParseType = %v, %v", got, err)
			}
		})
	}
}
