//go:build !linux

package kernels

import "time"

// threadCPU is not measured here.
func threadCPU() time.Duration { return 0 }
