package sample

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomCands makes n candidates whose logits repeat often, to exercise ties.
func randomCands(r *rand.Rand, n, distinct int) []candidate {
	c := make([]candidate, n)
	for i := range c {
		c[i] = candidate{id: int32(i), logit: float32(r.IntN(distinct)) / 4}
	}
	r.Shuffle(n, func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c
}

func idsOf(c []candidate) []int32 {
	ids := make([]int32, len(c))
	for i, x := range c {
		ids[i] = x.id
	}
	slices.Sort(ids)
	return ids
}

func TestSelectMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 31, 33, 100, 1000, 5000} {
		for _, distinct := range []int{1, 3, 50, 1 << 20} {
			c := randomCands(r, n, distinct)
			sorted := slices.Clone(c)
			slices.SortFunc(sorted, ranked)
			for _, k := range []int{1, n / 3, n / 2, n} {
				if k == 0 {
					continue
				}
				got := slices.Clone(c)
				m := selectTop(got, k)
				if want := idsOf(sorted[:k]); m != k || !slices.Equal(idsOf(got[:m]), want) {
					t.Fatalf("n=%d distinct=%d selectTop(%d) differs from sorting", n, distinct, k)
				}
			}
			max := float64(sorted[0].logit)
			setWeights(c, max)
			setWeights(sorted, max)
			total := mass(sorted)
			for _, p := range []float64{1e-9, 0.1, 0.5, 0.9, 0.999, 1.5} {
				target := p * total
				want, acc := len(sorted), 0.0
				for i, x := range sorted {
					if acc += float64(x.w); acc >= target {
						want = i + 1
						break
					}
				}
				got := slices.Clone(c)
				m := selectMass(got, target)
				// Sums in another order may differ in the last bits; allow the
				// prefix to differ by one only when the boundary is that close.
				if m != want {
					if math.Abs(mass(sorted[:m])-target) > 1e-9*total {
						t.Fatalf("n=%d distinct=%d p=%v: selectMass kept %d, want %d", n, distinct, p, m, want)
					}
					continue
				}
				if !slices.Equal(idsOf(got[:m]), idsOf(sorted[:want])) {
					t.Fatalf("n=%d distinct=%d p=%v: selectMass kept other tokens", n, distinct, p)
				}
			}
		}
	}
}

func setWeights(c []candidate, max float64) {
	for i := range c {
		c[i].w = float32(math.Exp((float64(c[i].logit) - max) / 1.3))
	}
}

func TestHeapTop(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 10, 1000} {
		for _, distinct := range []int{1, 4, 1 << 20} {
			c := randomCands(r, n, distinct)
			logits := make([]float32, n)
			for _, x := range c {
				logits[x.id] = x.logit
			}
			logits[0] = float32(math.Inf(-1))
			logits[n-1] = float32(math.NaN())
			var valid []candidate
			for i, l := range logits {
				if l > float32(math.Inf(-1)) {
					valid = append(valid, candidate{id: int32(i), logit: l})
				}
			}
			slices.SortFunc(valid, ranked)
			for _, k := range []int{1, 3, 40, 256} {
				got := heapTop(nil, logits, k)
				want := valid[:min(k, len(valid))]
				if !slices.Equal(idsOf(got), idsOf(want)) {
					t.Fatalf("n=%d distinct=%d k=%d: heapTop %v, want %v", n, distinct, k, idsOf(got), idsOf(want))
				}
			}
		}
	}
}
