package safety

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// TrainOptions controls Train. The zero value of a field means its
// default; the defaults produce the committed weights.
type TrainOptions struct {
	// Seed drives the held-out split and the order of examples in each
	// epoch (default 1).
	Seed uint64
	// Epochs over the training examples (default 6).
	Epochs int
	// BinBits and CatBits are the log2 sizes of the unsafe table and of
	// the category table's rows (defaults 19 and 13).
	BinBits, CatBits int
	// Rate is the AdaGrad learning rate (default 0.2); L2 the weight decay
	// applied to the weights an example touches (default 1e-5).
	Rate, L2 float64
}

// DefaultSeed is the seed of the committed weights and of the held-out split.
const DefaultSeed = 1

// DefaultHoldout is the fraction of each label/category group held out of
// training for evaluation.
const DefaultHoldout = 0.2

func (o TrainOptions) withDefaults() TrainOptions {
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.Epochs == 0 {
		o.Epochs = 6
	}
	if o.BinBits == 0 {
		o.BinBits = 19
	}
	if o.CatBits == 0 {
		o.CatBits = 13
	}
	if o.Rate == 0 {
		o.Rate = 0.2
	}
	if o.L2 == 0 {
		o.L2 = 1e-5
	}
	return o
}

// trainExample is an example turned into table indices.
type trainExample struct {
	bin, cat []uint32
	v        float64
	unsafe   bool
	class    int
}

// Train fits a Model to examples. The result depends only on the examples
// (in order) and the options: float operations are ordered and explicitly
// rounded, so the same inputs give the same weights on every run.
func Train(examples []Example, o TrainOptions) (*Model, error) {
	o = o.withDefaults()
	if o.BinBits < 8 || o.BinBits > maxTableBits || o.CatBits < 4 || o.CatBits > maxTableBits-4 {
		return nil, fmt.Errorf("table bits %d/%d out of range", o.BinBits, o.CatBits)
	}
	if len(examples) == 0 {
		return nil, errors.New("train: no examples")
	}
	m := &Model{binBits: uint8(o.BinBits), catBits: uint8(o.CatBits)}
	data := make([]trainExample, len(examples))
	var feats []uint32
	var scratch []byte
	for i, e := range examples {
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("train: example %q: %w", e.ID, err)
		}
		feats, scratch = appendFeatures(feats[:0], Normalize(e.Text), scratch)
		te := trainExample{v: featureValue(len(feats)), unsafe: e.Unsafe()}
		te.bin = make([]uint32, len(feats))
		for j, h := range feats {
			te.bin[j] = m.binIndex(h)
		}
		if te.unsafe {
			c, _ := ParseCategory(e.Category)
			te.class = classOf[c]
			te.cat = make([]uint32, len(feats))
			for j, h := range feats {
				te.cat[j] = m.catIndex(h)
			}
		}
		data[i] = te
	}

	bin := newAdagrad(1<<o.BinBits+1, o) // the last slot is the bias
	cat := newAdagrad((1<<o.CatBits+1)*numClasses, o)
	rng := rand.New(rand.NewPCG(o.Seed, 0x7a11))
	order := make([]int, len(data))
	for i := range order {
		order[i] = i
	}
	var logits, grads [numClasses]float64
	for range o.Epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			d := &data[i]
			// Unsafe head.
			z := bin.w[len(bin.w)-1]
			for _, k := range d.bin {
				z += float64(bin.w[k] * d.v)
			}
			y := 0.0
			if d.unsafe {
				y = 1
			}
			g := sigmoid(z) - y
			for _, k := range d.bin {
				bin.step(int(k), float64(g*d.v))
			}
			bin.step(len(bin.w)-1, g)
			if !d.unsafe {
				continue
			}
			// Category head, on unsafe examples only.
			biasRow := (1 << o.CatBits) * numClasses
			for c := range logits {
				logits[c] = cat.w[biasRow+c]
			}
			for _, k := range d.cat {
				row := cat.w[int(k)*numClasses:][:numClasses]
				for c, w := range row {
					logits[c] += float64(w * d.v)
				}
			}
			softmax(&logits)
			for c := range grads {
				grads[c] = logits[c]
				if c == d.class {
					grads[c] -= 1
				}
			}
			for _, k := range d.cat {
				base := int(k) * numClasses
				for c := range grads {
					cat.step(base+c, float64(grads[c]*d.v))
				}
			}
			for c := range grads {
				cat.step(biasRow+c, grads[c])
			}
		}
	}
	m.bin, m.binScale = quantize(bin.w[:1<<o.BinBits])
	m.binBias = float32(bin.w[len(bin.w)-1])
	m.cat, m.catScale = quantize(cat.w[:(1<<o.CatBits)*numClasses])
	for c := range m.catBias {
		m.catBias[c] = float32(cat.w[(1<<o.CatBits)*numClasses+c])
	}
	return m, nil
}

// adagrad holds weights and their summed squared gradients.
type adagrad struct {
	w, g2    []float64
	rate, l2 float64
}

func newAdagrad(n int, o TrainOptions) *adagrad {
	return &adagrad{w: make([]float64, n), g2: make([]float64, n), rate: o.Rate, l2: o.L2}
}

func (a *adagrad) step(k int, g float64) {
	g += float64(a.l2 * a.w[k])
	a.g2[k] += float64(g * g)
	a.w[k] -= float64(a.rate*g) / math.Sqrt(a.g2[k]+1e-8)
}

func softmax(x *[numClasses]float64) {
	hi := x[0]
	for _, v := range x {
		hi = max(hi, v)
	}
	var sum float64
	for i, v := range x {
		x[i] = math.Exp(v - hi)
		sum += x[i]
	}
	for i := range x {
		x[i] /= sum
	}
}

// quantize maps weights to int8 with one scale (largest magnitude → 127).
func quantize(w []float64) ([]int8, float32) {
	var hi float64
	for _, x := range w {
		hi = max(hi, math.Abs(x))
	}
	q := make([]int8, len(w))
	if hi == 0 {
		return q, 0
	}
	scale := hi / 127
	for i, x := range w {
		q[i] = int8(math.Round(x / scale))
	}
	return q, float32(scale)
}
