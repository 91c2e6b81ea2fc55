package bytesize_test

import (
	"math"
	"testing"

	"github.com/corral-ai/corral/inference/bytesize"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		n    int64
		want string
	}{
		{"zero", 0, "0 B"},
		{"one byte", 1, "1 B"},
		{"just under a KiB", 1023, "1023 B"},
		{"one KiB", 1024, "1.0 KiB"},
		{"one and a half KiB", 1536, "1.5 KiB"},
		{"rounds to one decimal", 723869, "706.9 KiB"},
		{"just under a MiB", 1<<20 - 1, "1.0 MiB"},
		{"1023.9 KiB", 1023*1024 + 972, "1023.9 KiB"},
		{"just under a GiB", 1<<30 - 1, "1.0 GiB"},
		{"one MiB", 1 << 20, "1.0 MiB"},
		{"stories260K file", 1056064, "1.0 MiB"},
		{"demo model", 4156576, "4.0 MiB"},
		{"one GiB", 1 << 30, "1.0 GiB"},
		{"llama3-8b Q4_0", 4_660_000_000, "4.3 GiB"},
		{"one TiB", 1 << 40, "1.0 TiB"},
		{"one PiB", 1 << 50, "1.0 PiB"},
		{"largest", math.MaxInt64, "8.0 EiB"},
		{"negative", -1536, "-1.5 KiB"},
		{"negative bytes", -5, "-5 B"},
		{"smallest", math.MinInt64, "-8.0 EiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bytesize.Format(tt.n); got != tt.want {
				t.Fatalf("Format(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}
