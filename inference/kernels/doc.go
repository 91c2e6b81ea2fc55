// Package kernels holds the numeric core of the CPU inference engine: the
// block formats of quantised weights (F32, F16, BF16, Q8_0, Q4_0, Q4_1,
// Q5_0, Q5_1, IQ4_NL, Q4_K, Q5_K, Q6_K and the Q8_K activation format), conversion between them and float32,
// dot products of weight rows with batches of activations, matrix × matrix
// products run on a persistent worker pool, and the small vector operations
// a transformer layer needs.
//
// Every kernel has a portable Go version that defines its arithmetic. On
// amd64, hand-written assembly replaces the hot loops in two levels: AVX2
// (with FMA and F16C) and AVX512 (AVX-512 F, BW, VL, DQ and VNNI), one pair
// of files per family of kernels (accel_amd64.go lists them). The widest
// level the processor runs is chosen at start and held in one dispatch
// table (dispatch.go; SetLevel, Available). Available follows
// golang.org/x/sys/cpu, so GODEBUG=cpu.avx512f=off runs a program on the
// AVX2 kernels and GODEBUG=cpu.avx2=off on the portable ones.
//
// Activations are quantised to 8-bit blocks when the weights are quantised,
// so that the inner loops are integer multiply-adds: Q8_0-style blocks of
// 32 for Q4_0, Q8_0, Q5_0 and IQ4_NL weights, Q8_1-style ones (Q8_0's plus
// an f16 block sum) for Q4_1 and Q5_1, Q8_K-style blocks of 256 for the
// K-quants. The 32-value formats other than Q4_0 and Q8_0 have portable
// kernels only (q41q50.go), which every level uses.
// F32 weights multiply float32 activations, F16 and BF16 weights
// activations rounded to their own type (each product is then exact).
// These forms are ggml's (an f16 block scale for Q8_0 blocks, quants
// rounded to nearest even, Q8_K against the signed value of largest
// magnitude), and the Q4_0 and Q8_0 encoders write the bytes of ggml's
// reference quantisers, so that a model gives llama.cpp's greedy ids.
//
// Typical use by a model:
//
//	w, err := kernels.NewMatrix(kernels.Q4_0, rows, cols, bytesFromFile)
//	w = kernels.Repack(w) // optional: interleave rows for the kernels in use
//	pool := kernels.NewPool(threads)
//	defer pool.Close()
//	var acts kernels.Activations
//	acts.Set(x, nTokens, cols) // quantised once, on first use
//	pool.MatMulActs(q, &wq, &acts)
//	pool.MatMulActs(k, &wk, &acts)
//
// Concat joins matrices that read the same activations (q, k and v) into
// one, and MatMulParts computes all of them in one operation.
//
// MatMul computes out[t*rows+r] = Σ_c W[r][c]·X[t][c] and reads the weights
// once for the whole batch: the rows of a work item stay in cache while all
// tokens pass over them. Repack copies Q4_0 and Q8_0 weights (and at the
// AVX512 level F16 and BF16 ones) into layouts that interleave groups of 8,
// 16 or 32 rows, so that one vector holds the same columns of every row of
// a group and the kernels need no horizontal sums; their register tiles
// are 8 rows × 4 tokens (AVX2), 16 × 8 (AVX-512 Q4_0, Q8_0) and 32 × 12
// (AVX-512 F16, BF16). Plain-layout kernels decode each weight block once
// for four tokens or use 3×4 register tiles for float weights. The
// interleaved copies sit on huge pages where the system allows, and the
// kernels prefetch ahead of the hardware, for decode, which only streams
// weights.
//
// Products are batch invariant: an output has the same bits whatever the
// number of tokens in the call, the thread count and which kernel computed
// it, for a given layout and kernel level: every kernel of a level runs
// the same float operations in the same order for a (row, token) pair
// (integer block sums are exact in any order; float accumulators are added
// in column order and reduced by one fixed tree). Dot gives the F32
// product's bits. Models rely on this because they re-quantise activations
// before every product, where a last-bit difference can flip a quantised
// value. Different levels need not give each other's bits.
//
// The package knows nothing of file formats: the model loader maps its
// tensor types to Type and hands the raw bytes to NewMatrix.
package kernels
