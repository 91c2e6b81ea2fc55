//go:build !linux

package kernels

// adviseHuge does nothing here.
func adviseHuge([]byte) {}

// collapseHuge does nothing here.
func collapseHuge([]byte) {}

// hugeBytes returns n zero bytes.
func hugeBytes(n int) []byte { return make([]byte, n) }
