// Package bytesize prints byte counts for people, in binary units: the one
// formatter of sizes in messages and command output. It lives under
// inference/ because the top level is fixed and inference must not import
// services; services import it from here.
package bytesize

import "fmt"

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
