//go:build !unix

package model_test

// processCPU is not measured here; the benchmarks then omit cpu-ns/op.
func processCPU() int64 { return 0 }
