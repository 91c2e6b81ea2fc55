//go:build !linux

package kernels

// adviseHuge does nothing here.
func adviseHuge([]byte) {}
