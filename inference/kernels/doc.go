// Package kernels holds the numeric core of the CPU inference engine: the
// block formats of quantised weights (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K,
// Q6_K and the Q8_K activation format), conversion between them and float32,
// dot products of weight rows with batches of activations, matrix × matrix
// products run on a persistent worker pool, and the small vector operations
// a transformer layer needs.
//
// Every kernel has a portable Go version that defines its arithmetic. On
// amd64 machines with AVX2, FMA and F16C, hand-written assembly replaces
// the hot loops, one pair of files per family of kernels (float, Q8_0/Q4_0,
// interleaved, K-quants, vector operations; accel_amd64.go lists them).
// The choice is made once at start and held in one dispatch table
// (dispatch.go; Accelerated, SetAccelerated). Activations are quantised to 8-bit blocks
// when the weights are quantised, so that the inner loops are integer
// multiply-adds: Q8_0-style blocks of 32 for Q4_0 and Q8_0 weights, Q8_K-style
// blocks of 256 for the K-quants. Float weights (F32, F16, BF16) multiply
// float32 activations.
//
// Typical use by a model:
//
//	w, err := kernels.NewMatrix(kernels.Q4_0, rows, cols, bytesFromFile)
//	w = kernels.Repack(w) // optional: interleave Q4_0/Q8_0 rows in groups of 8
//	pool := kernels.NewPool(threads)
//	defer pool.Close()
//	var acts kernels.Activations
//	acts.Set(x, nTokens, cols) // quantised once, on first use
//	pool.MatMulActs(q, &wq, &acts)
//	pool.MatMulActs(k, &wk, &acts)
//
// MatMul computes out[t*rows+r] = Σ_c W[r][c]·X[t][c] and reads the weights
// once for the whole batch: the rows of a work item stay in cache while all
// tokens pass over them, and the inner kernels decode each weight block once
// for four tokens (or use 3×4 register tiles for float weights, 8×4 tiles on
// interleaved Q4_0/Q8_0).
//
// Products are batch invariant: an output has the same bits whatever the
// number of tokens in the call, the thread count and which kernel (1-token,
// 4-row, 4-token, 3×4 tile) computed it, for a given layout and kernel set
// (portable or assembly): every kernel of a set runs the same float
// operations in the same order for a (row, token) pair (in the assembly one
// 8-lane accumulator, added in column order, and one horizontal-sum tree).
// Dot gives the F32 product's bits. Models rely on this because they
// re-quantise activations before every product, where a last-bit difference
// can flip a quantised value.
//
// The package knows nothing of file formats: the model loader maps its
// tensor types to Type and hands the raw bytes to NewMatrix.
package kernels
