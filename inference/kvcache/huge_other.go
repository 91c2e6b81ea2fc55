//go:build !linux

package kvcache

import "unsafe"

// adviseHuge does nothing here.
func adviseHuge(unsafe.Pointer, int) {}
