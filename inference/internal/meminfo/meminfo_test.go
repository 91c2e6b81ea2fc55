package meminfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
		ok   bool
	}{
		{"real layout", "MemTotal:       16318412 kB\nMemFree:         1203452 kB\nMemAvailable:    9876543 kB\nBuffers:          123 kB\n", 9876543 * 1024, true},
		{"first line", "MemAvailable: 1 kB", 1024, true},
		{"zero", "MemAvailable: 0 kB", 0, true},
		{"missing", "MemTotal: 5 kB\nMemFree: 3 kB\n", 0, false},
		{"empty", "", 0, false},
		{"other unit", "MemAvailable: 5 MB", 0, false},
		{"no unit", "MemAvailable: 5", 0, false},
		{"not a number", "MemAvailable: lots kB", 0, false},
		{"negative", "MemAvailable: -5 kB", 0, false},
		{"overflows bytes", "MemAvailable: 9223372036854775807 kB", 0, false},
		{"too many fields", "MemAvailable: 5 kB extra", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Parse(strings.NewReader(tt.in))
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Parse = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestAvailable(t *testing.T) {
	n, ok := Available()
	if runtime.GOOS != "linux" {
		t.Skip("no /proc/meminfo")
	}
	if !ok || n <= 0 {
		t.Fatalf("Available = %d, %v on Linux", n, ok)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("MemTotal: 16 kB\nMemAvailable: 9 kB\n")
	f.Add("MemAvailable: 99999999999999999999 kB")
	f.Add("MemAvailable:\n")
	f.Fuzz(func(t *testing.T, in string) {
		n, ok := Parse(strings.NewReader(in))
		if !ok && n != 0 || n < 0 || n%1024 != 0 {
			t.Fatalf("Parse(%q) = %d, %v", in, n, ok)
		}
	})
}
