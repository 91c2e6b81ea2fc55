//go:build !linux

package telemetry

import (
	"io"
	"testing"
)

func toTerminal(t *testing.T) (io.Writer, func() string) {
	t.Skip("pseudo-terminal test runs on Linux only")
	return nil, nil
}
