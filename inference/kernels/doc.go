// Package kernels holds the numeric core of the CPU inference engine: the
// block formats of quantised weights (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K,
// Q6_K and the Q8_K activation format), conversion between them and float32,
// dot products of a weight row with a batch of activations, matrix × matrix
// products run on a persistent worker pool, and the small vector operations a
// transformer layer needs.
//
// Every kernel has a portable Go version. On amd64 machines with AVX2, FMA
// and F16C, hand-written assembly replaces the hot loops; the choice is made
// once at start (see Accelerated and SetAccelerated). Activations are
// quantised to 8-bit blocks when the weights are quantised so that the inner
// loops are integer multiply-adds: Q8_0-style blocks of 32 for Q4_0 and Q8_0
// weights, Q8_K-style blocks of 256 for the K-quants. Float weights (F32, F16,
// BF16) are multiplied with float32 activations.
//
// The package knows nothing of file formats: the model loader maps its tensor
// types to Type and hands the raw bytes to NewMatrix.
package kernels
