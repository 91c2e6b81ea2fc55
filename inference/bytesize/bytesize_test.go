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

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
		err  bool
	}{
		{"bytes", "1073741824", 1 << 30, false},
		{"bytes with unit", "512 B", 512, false},
		{"binary", "512MiB", 512 << 20, false},
		{"binary with space and fraction", "1.5 GiB", 3 << 29, false},
		{"kubernetes style", "4Gi", 4 << 30, false},
		{"decimal", "2GB", 2e9, false},
		{"decimal short", "2g", 2e9, false},
		{"case", "8gib", 8 << 30, false},
		{"what Format prints", "706.9 KiB", 723866, false},
		{"surrounding space", "  1KiB ", 1024, false},
		{"zero", "0", 0, false},
		{"empty", "", 0, true},
		{"unit only", "GiB", 0, true},
		{"unknown unit", "4 GiG", 0, true},
		{"negative", "-1GiB", 0, true},
		{"two dots", "1.2.3MiB", 0, true},
		{"too large", "9EiB", 0, true},
		{"too large decimal", "10000PB", 0, true},
		{"words", "lots", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bytesize.Parse(tt.in)
			if tt.err {
				if err == nil {
					t.Fatalf("Parse(%q) = %d, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1", "512MiB", "1.5 GiB", "2GB", "4Gi", "-1", "9EiB", ".", "1e9", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := bytesize.Parse(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("Parse(%q) = %d, negative", s, n)
		}
		// What Format prints parses back to within its rounding (one
		// decimal of a unit the number is at least 1 of: 5%).
		back, err := bytesize.Parse(bytesize.Format(n))
		if err != nil || math.Abs(float64(back-n)) > float64(n)/19+1 {
			t.Fatalf("Parse(Format(%d)) = %d, %v", n, back, err)
		}
	})
}
