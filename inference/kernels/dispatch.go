package kernels

import "fmt"

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
	// tile34Run is tile34 for tri row triples one after the other (w
	// holds 3·tri rows), in one call; nil means a call per triple.
	tile34Run func(w []byte, rb, tri int, a *Activations, t int, out []float32, stride int)
	// layout is the interleaved layout (repack.go) the set reads fastest
	// for the type, plain when it has none; Repack writes it.
	layout layout
	// grp multiplies one group of layout (all its columns) with
	// activation rows t..t+n-1, 1 <= n <= grpMax, writing row j of token k
	// at out[k*stride+j].
	grp    func(g []byte, a *Activations, t, n int, out []float32, stride int)
	grpMax int
	// streams multiplies activation row t with the four groups at g,
	// g[gs:], g[2gs:] and g[3gs:] at once, writing group k's rows at
	// out[k*os:], with grp's bits; nil means one group after another. A
	// one-token product reads memory faster from four places than from one.
	streams func(g []byte, gs int, a *Activations, t int, out []float32, os int)
}

// kernelSet is the dispatch table: every routine whose implementation
// depends on the instruction set, chosen together by SetLevel.
type kernelSet struct {
	level Level
	// types holds the product kernels, by weight type.
	types [numTypes]kernel
	// quantQ8 fills Q8_0-style activations (quantActQ8Go's arithmetic).
	quantQ8 func(q []int8, d []float32, s []int32, x []float32)
	// quantQ8K fills Q8_K-style activations (quantActQ8KGo's arithmetic).
	quantQ8K func(q []int8, d []float32, s []int16, x []float32)
	// roundF16 and roundBF16 set dst to src rounded to nearest even f16
	// or bf16 (as float32).
	roundF16, roundBF16 func(dst, src []float32)
	// dotRows is DotRows on checked operands.
	dotRows func(out, rows []float32, stride int, x []float32)
}

// Level names a kernel set, from the portable Go one to the widest vector
// instructions the kernels use.
type Level uint8

// The kernel sets. Each holds the ones below it where it has nothing
// better.
const (
	// Portable is the Go code that defines the arithmetic; it runs
	// everywhere.
	Portable Level = iota
	// AVX2 is assembly for amd64 processors with AVX2, FMA and F16C.
	AVX2
	// AVX512 adds 512-bit kernels for processors with AVX-512 F, BW, VL,
	// DQ and VNNI: VNNI int8 products for Q4_0 and Q8_0, 32-row F16 tiles.
	AVX512
	numLevels
)

// String returns the level's name: "portable", "avx2", "avx512".
func (l Level) String() string {
	switch l {
	case Portable:
		return "portable"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

var (
	// accel says whether assembly kernels (AVX2 or wider) are installed.
	accel bool
	// impl is the table in use.
	impl kernelSet
)

func init() { SetLevel(Available()) }

// Available returns the widest kernel set the processor runs. On amd64 it
// follows golang.org/x/sys/cpu, so GODEBUG=cpu.avx512f=off limits it to
// AVX2 and GODEBUG=cpu.avx2=off to the portable kernels, for comparisons
// on one machine.
func Available() Level { return cpuLevel() }

// CurrentLevel returns the kernel set in use.
func CurrentLevel() Level { return impl.level }

// SetLevel selects the kernels of level l, or of the widest available
// level below it, and returns the level now in use. It exists for tests
// and comparisons; it must not be called while products are running.
// Matrices interleaved for another level stay usable (the portable
// kernels read every layout) but are slow; Repack them again from the
// plain bytes.
//
// The vector operations of ops.go (Dot, WeightedSum, Softmax, SiLUMul)
// keep their fast versions in variables of their own, which SetLevel sets
// (installOps) and accel gates.
func SetLevel(l Level) Level {
	impl = kernelsFor(min(l, Available()))
	installOps(impl.level)
	accel = impl.level >= AVX2
	return impl.level
}

// kernelsFor builds the table of level l, which the processor must run.
func kernelsFor(l Level) kernelSet {
	s := portableKernels()
	installAccel(&s, l)
	return s
}

// Accelerated reports whether assembly kernels are in use.
func Accelerated() bool { return accel }

// SetAccelerated selects the widest available kernels (on) or the portable
// ones, and reports whether assembly kernels are now in use.
func SetAccelerated(on bool) bool {
	if on {
		SetLevel(Available())
	} else {
		SetLevel(Portable)
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
	s := kernelSet{level: Portable}
	k := &s.types
	k[F32] = kernel{act: actF32, dot: func(w []byte, a *Activations, t int) float32 { return dotF32Go(w, a.floatRow(actF32, t)) }}
	k[F16] = kernel{act: actF16, dot: func(w []byte, a *Activations, t int) float32 { return dotF16Go(w, a.floatRow(actF16, t)) }}
	k[BF16] = kernel{act: actBF16, dot: func(w []byte, a *Activations, t int) float32 { return dotBF16Go(w, a.floatRow(actBF16, t)) }}
	k[Q8_0] = kernel{act: actQ8, dot: func(w []byte, a *Activations, t int) float32 {
		q, d := a.q8Row(t)
		return dotQ8_0Go(w, q, d)
	}}
	k[Q4_0] = kernel{act: actQ8, dot: func(w []byte, a *Activations, t int) float32 {
		q, d := a.q8Row(t)
		return dotQ4_0Go(w, q, d)
	}}
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
	installLegacy(&s)
	s.quantQ8, s.quantQ8K = quantActQ8Go, quantActQ8KGo
	s.roundF16, s.roundBF16 = roundF16Go, roundBF16Go
	s.dotRows = dotRowsGo
	return s
}
