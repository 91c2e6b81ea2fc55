//go:build !linux

package kernels

// AdviseHuge does nothing here.
func AdviseHuge([]byte) {}

// collapseHuge does nothing here.
func collapseHuge([]byte) {}

// hugeBytes returns n zero bytes.
func hugeBytes(n int) []byte { return make([]byte, n) }
