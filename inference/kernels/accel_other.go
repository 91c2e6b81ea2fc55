//go:build !amd64

package kernels

func cpuHasAccel() bool { return false }

func installAccel(*kernelSet) {}

func streamSum(p []byte) uint64 { return streamSumGo(p) }
