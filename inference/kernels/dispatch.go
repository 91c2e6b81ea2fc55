package kernels

// kernel is the set of routines for one weight type.
type kernel struct {
	act actFormat
	// dot multiplies a weight row with activation row t.
	dot func(w []byte, a *Activations, t int) float32
	// dot4 multiplies a weight row with activation rows t..t+3, decoding the
	// weights once, and stores the results at out[0], out[stride], ...;
	// nil means four calls of dot.
	dot4 func(w []byte, a *Activations, t int, out []float32, stride int)
	// rows4 multiplies four consecutive rows (w holds them, rb bytes each)
	// with activation row t into out[0:4]; nil means four calls of dot.
	// Single tokens use it: four rows give the independent work a 1-token
	// product lacks inside a row.
	rows4 func(w []byte, rb int, a *Activations, t int, out []float32)
	// tile34 multiplies three consecutive rows (w holds them, rb bytes
	// each) with activation rows t..t+3, writing row r, token k at
	// out[k*stride+r]; it needs a row length that is a multiple of 8.
	tile34 func(w []byte, rb int, a *Activations, t int, out []float32, stride int)
	// grp multiplies an interleaved group of eight rows (repack.go) with
	// activation row t into out[0:8].
	grp func(g []byte, a *Activations, t int, out []float32)
	// grp4 does rows t..t+3, writing row k's eight results at out[k*stride:];
	// nil means four calls of grp.
	grp4 func(g []byte, a *Activations, t int, out []float32, stride int)
}

// kernelSet is the dispatch table: every routine whose implementation
// depends on the instruction set, chosen together by SetAccelerated.
type kernelSet struct {
	// types holds the product kernels, by weight type.
	types [numTypes]kernel
	// quantQ8 fills Q8_0-style activations (quantActQ8Go's arithmetic).
	quantQ8 func(q []int8, d []float32, s []int32, x []float32)
	// quantQ8K fills Q8_K-style activations (quantActQ8KGo's arithmetic).
	quantQ8K func(q []int8, d []float32, s []int16, x []float32)
	// roundF16 and roundBF16 set dst to src rounded to nearest even f16
	// or bf16 (as float32).
	roundF16, roundBF16 func(dst, src []float32)
}

var (
	// accel says whether the assembly kernels are installed.
	accel bool
	// impl is the table in use.
	impl kernelSet
)

func init() { SetAccelerated(true) }

// Accelerated reports whether the assembly kernels are in use.
func Accelerated() bool { return accel }

// SetAccelerated selects the assembly kernels (when the processor has
// AVX2, FMA and F16C) or forces the portable Go ones, and reports which are
// now in use. It exists for tests and comparisons; it must not be called
// while products are running.
//
// The vector operations of ops.go (Dot, WeightedSum, Softmax, SiLUMul)
// still keep their fast versions in variables of their own, which
// installAccel sets and accel gates.
func SetAccelerated(on bool) bool {
	impl = portableKernels()
	accel = false
	if on && cpuHasAccel() {
		installAccel(&impl)
		accel = true
	}
	return accel
}

// floatRows returns the activation rows in the float form format f names
// (actF32, actF16 or actBF16).
func (a *Activations) floatRows(f actFormat) []float32 {
	switch f {
	case actF16:
		return a.xh
	case actBF16:
		return a.xb
	}
	return a.x
}

// floatRow returns row t of floatRows(f).
func (a *Activations) floatRow(f actFormat, t int) []float32 {
	return a.floatRows(f)[t*a.cols : (t+1)*a.cols]
}

func (a *Activations) q8Row(t int) ([]int8, []float32) {
	c := a.cols
	return a.q8[t*c : (t+1)*c], a.d8[t*c/qk0 : (t+1)*c/qk0]
}

func (a *Activations) qkRow(t int) ([]int8, []float32, []int16) {
	c := a.cols
	return a.qk[t*c : (t+1)*c], a.dk[t*c/qkK : (t+1)*c/qkK], a.sk[t*c/16 : (t+1)*c/16]
}

// portableKernels returns the table of portable Go routines, which
// define the arithmetic.
func portableKernels() kernelSet {
	var s kernelSet
	k := &s.types
	k[F32] = kernel{act: actF32, dot: func(w []byte, a *Activations, t int) float32 { return dotF32Go(w, a.floatRow(actF32, t)) }}
	k[F16] = kernel{act: actF16, dot: func(w []byte, a *Activations, t int) float32 { return dotF16Go(w, a.floatRow(actF16, t)) }}
	k[BF16] = kernel{act: actBF16, dot: func(w []byte, a *Activations, t int) float32 { return dotBF16Go(w, a.floatRow(actBF16, t)) }}
	k[Q8_0] = kernel{act: actQ8, dot: func(w []byte, a *Activations, t int) float32 {
		q, d := a.q8Row(t)
		return dotQ8_0Go(w, q, d)
	}, grp: func(g []byte, a *Activations, t int, out []float32) { groupDotGo(Q8_0, g, a, t, out) }}
	k[Q4_0] = kernel{act: actQ8, dot: func(w []byte, a *Activations, t int) float32 {
		q, d := a.q8Row(t)
		return dotQ4_0Go(w, q, d)
	}, grp: func(g []byte, a *Activations, t int, out []float32) { groupDotGo(Q4_0, g, a, t, out) }}
	k[Q4_K] = kernel{act: actQ8K, dot: func(w []byte, a *Activations, t int) float32 {
		q, d, s := a.qkRow(t)
		return dotQ4KGo(w, q, d, s)
	}}
	k[Q5_K] = kernel{act: actQ8K, dot: func(w []byte, a *Activations, t int) float32 {
		q, d, s := a.qkRow(t)
		return dotQ5KGo(w, q, d, s)
	}}
	k[Q6_K] = kernel{act: actQ8K, dot: func(w []byte, a *Activations, t int) float32 {
		q, d, _ := a.qkRow(t)
		return dotQ6KGo(w, q, d)
	}}
	s.quantQ8, s.quantQ8K = quantActQ8Go, quantActQ8KGo
	s.roundF16, s.roundBF16 = roundF16Go, roundBF16Go
	return s
}
