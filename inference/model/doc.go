// Package model runs transformer forward passes over GGUF models on the CPU.
//
// Open maps a GGUF file, checks that it fits in memory, and builds the
// Model registered for its general.architecture (this package registers
// "llama": Llama 2, 3, 3.1 and 3.2). Weights are used in place from the
// mapped file; only norm vectors and the RoPE frequency table are copied.
//
// Forward takes a batch of entries (sequence, position, token), possibly
// from many sequences at different positions, runs every weight matrix once
// over the whole batch on a kernels.Pool, and reads and writes keys and
// values through the KV interface, which the engine implements (Cache is a
// simple contiguous implementation for tools and tests).
package model
