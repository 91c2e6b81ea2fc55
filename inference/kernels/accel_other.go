//go:build !amd64

package kernels

func cpuLevel() Level { return Portable }

func cpuHasAccel() bool { return false }

func installAccel(*kernelSet, Level) {}

func installOps(Level) {}

func streamSum(p []byte) uint64 { return streamSumGo(p) }

func prefetch([]byte) {}
