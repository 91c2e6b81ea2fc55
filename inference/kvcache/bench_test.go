package kvcache_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/corral-ai/corral/inference/kvcache"
)

// benchShapes are the models of the README's benchmarks.
var benchShapes = []struct {
	name                     string
	layers, kvHeads, headDim int
}{
	{"llama-110m", 12, 12, 64},
	{"llama3-1b", 16, 8, 64},
}

// filled makes a cache of the shape holding one sequence of n tokens with
// random rows, and returns it with the sequence id.
func filled(b *testing.B, cfg kvcache.Config, n int) (*kvcache.Cache, int) {
	b.Helper()
	blocks := (n+15)/16 + 1
	c := newCache(b, cfg, blocks)
	id := c.NewSeq()
	if err := c.Append(id, make([]int32, n)...); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	row := make([]float32, c.RowLen())
	for pos := range n {
		for i := range row {
			row[i] = float32(r.NormFloat64())
		}
		for l := range cfg.Layers {
			if err := c.Store(l, id, pos, row, row); err != nil {
				b.Fatal(err)
			}
		}
	}
	return c, id
}

// BenchmarkStore stores the key and value rows of one token in every
// layer: what a forward pass adds per token.
func BenchmarkStore(b *testing.B) {
	for _, s := range benchShapes {
		for _, typ := range []kvcache.Type{kvcache.F16, kvcache.F32} {
			b.Run(fmt.Sprintf("%s/%v", s.name, typ), func(b *testing.B) {
				cfg := kvcache.Config{Layers: s.layers, KVHeads: s.kvHeads, HeadDim: s.headDim, Type: typ}
				c, id := filled(b, cfg, 512)
				row := make([]float32, c.RowLen())
				for i := range row {
					row[i] = float32(i) / 7
				}
				b.SetBytes(int64(2 * s.layers * c.RowLen() * 4))
				pos := 0
				for b.Loop() {
					for l := range s.layers {
						if err := c.Store(l, id, pos, row, row); err != nil {
							b.Fatal(err)
						}
					}
					pos = (pos + 1) % 512
				}
			})
		}
	}
}

// BenchmarkLoad reads the keys and values of a 512-token sequence in every
// layer, page by page as attention does, and reports the time per token.
func BenchmarkLoad(b *testing.B) {
	const n = 512
	for _, s := range benchShapes {
		for _, typ := range []kvcache.Type{kvcache.F16, kvcache.F32} {
			cfg := kvcache.Config{Layers: s.layers, KVHeads: s.kvHeads, HeadDim: s.headDim, Type: typ}
			loads := map[string]func(c *kvcache.Cache, l, id, pos int) int{
				"Load": func(c *kvcache.Cache, l, id, pos int) int {
					k, v := c.Load(l, id, pos)
					sink += k[0] + v[0]
					return len(k)
				},
			}
			if typ == kvcache.F16 {
				loads["LoadHeadHalf"] = func(c *kvcache.Cache, l, id, pos int) int {
					n := 0
					for h := range s.kvHeads {
						k, v := c.LoadHeadHalf(l, id, pos, h)
						sinkHalf += k[0] ^ v[0]
						n = len(k) / s.headDim
					}
					return n * c.RowLen()
				}
			} else {
				loads["LoadHead"] = func(c *kvcache.Cache, l, id, pos int) int {
					n := 0
					for h := range s.kvHeads {
						k, v := c.LoadHead(l, id, pos, h)
						sink += k[0] + v[0]
						n = len(k) / s.headDim
					}
					return n * c.RowLen()
				}
			}
			for name, load := range loads {
				b.Run(fmt.Sprintf("%s/%v/%s", s.name, typ, name), func(b *testing.B) {
					c, id := filled(b, cfg, n)
					for b.Loop() {
						for l := range s.layers {
							for pos := 0; pos < n; {
								pos += load(c, l, id, pos) / c.RowLen()
							}
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/token")
				})
			}
		}
	}
}

var (
	sink     float32
	sinkHalf uint16
)

// BenchmarkPrefix looks up a cached 512-token prompt: Prefix (take the 32
// blocks) and Free, and Cached (look only).
func BenchmarkPrefix(b *testing.B) {
	const n = 512
	cfg := kvcache.Config{Layers: 16, KVHeads: 8, HeadDim: 64}
	c, id := filled(b, cfg, n)
	prompt := make([]int32, n)
	for i := range prompt {
		prompt[i] = int32(i * 7 % 32000)
	}
	// Re-fill with the prompt's ids so the blocks are cached under them.
	if err := c.Free(id); err != nil {
		b.Fatal(err)
	}
	id = c.NewSeq()
	if err := c.Append(id, prompt...); err != nil {
		b.Fatal(err)
	}
	if err := c.Commit(id, n); err != nil {
		b.Fatal(err)
	}
	if err := c.Free(id); err != nil {
		b.Fatal(err)
	}
	b.Run("Prefix", func(b *testing.B) {
		for b.Loop() {
			s := c.NewSeq()
			if hit, err := c.Prefix(s, prompt); err != nil || hit != n {
				b.Fatalf("prefix: %d, %v", hit, err)
			}
			if err := c.Free(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Cached", func(b *testing.B) {
		for b.Loop() {
			if hit := c.Cached(prompt); hit != n {
				b.Fatalf("cached: %d", hit)
			}
		}
	})
}
