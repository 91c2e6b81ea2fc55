// Package bytesize prints byte counts for people, in binary units: the one
// formatter of sizes in messages and command output, and the one parser of
// sizes in settings. It lives under
// inference/ because the top level is fixed and inference must not import
// services; services import it from here.
package bytesize

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Format prints n bytes as "N B" below 1 KiB and otherwise with one
// decimal and the largest binary unit that keeps the number at least 1:
// 1536 is "1.5 KiB", 1<<30 - 1 is "1.0 GiB".
func Format(n int64) string {
	sign, u := "", uint64(n)
	if n < 0 {
		sign, u = "-", uint64(-(n+1))+1 // no overflow at math.MinInt64
	}
	const unit = 1024
	if u < unit {
		return fmt.Sprintf("%s%d B", sign, u)
	}
	div, exp := uint64(unit), 0
	for m := u / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(u) / float64(div)
	if v >= 1023.95 && exp < 5 { // would print as 1024.0: say 1.0 of the next unit
		v /= unit
		exp++
	}
	return fmt.Sprintf("%s%.1f %ciB", sign, v, "KMGTPE"[exp])
}

// ErrSyntax means a size could not be parsed.
var ErrSyntax = errors.New("not a byte size such as 512MiB, 4GiB or 2GB")

// units maps a lower-case suffix to its multiple: binary with an "i"
// (KiB, Ki), decimal without (KB, K), as in Kubernetes and SI.
var units = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12, "p": 1e15, "pb": 1e15,
	"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20, "gi": 1 << 30, "gib": 1 << 30,
	"ti": 1 << 40, "tib": 1 << 40, "pi": 1 << 50, "pib": 1 << 50,
}

// Parse reads a size in bytes for settings such as CORRAL_KV_MEMORY: a
// number, optionally with a fraction, then optionally a unit, with or
// without a space: "1073741824", "512MiB", "1.5 GiB", "2GB", "4Gi". Units
// with an "i" are binary (1 KiB = 1024 B), those without decimal (1 KB =
// 1000 B); case does not matter. Parse reads what Format prints, to its
// precision. Negative sizes and sizes past math.MaxInt64 are errors.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := units[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	b := math.Round(v * mult)
	if b >= math.MaxInt64 {
		return 0, fmt.Errorf("%q: larger than %s", s, Format(math.MaxInt64))
	}
	return int64(b), nil
}
