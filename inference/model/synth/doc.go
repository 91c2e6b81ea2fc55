// Package synth writes Llama-architecture GGUF files with random weights:
// the named benchmark shapes (llama-110m, llama3-1b, llama3-8b) in any
// weight type the kernels support, and the small demo model Corral serves
// when no model is configured.
//
// Weights are uniform random numbers of standard deviation 0.02 (the usual
// initialisation scale), generated row by row from a fixed seed and streamed
// to the writer, so multi-gigabyte files never sit in memory and equal
// seeds give identical files. Norm weights are 1 and stored as F32, as
// llama.cpp stores them. Every other matrix, the token embedding included,
// gets the chosen type: that is what llama.cpp's converter does for F16 and
// Q8_0 output and what the reference file sizes in the project's README
// assume; llama-quantize would instead give a tied embedding Q6_K under
// Q4_0 and Q4_K.
package synth
