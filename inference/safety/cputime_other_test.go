//go:build !linux

package safety

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
