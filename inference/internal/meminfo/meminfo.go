// Package meminfo reads how much memory the system can still give the
// process, from Linux's /proc/meminfo.
package meminfo

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
)

// maxLines bounds how much of the file Parse reads; the real file has about
// fifty lines.
const maxLines = 1000

// Available returns MemAvailable from /proc/meminfo in bytes: the kernel's
// estimate of memory that can be handed out without swapping, counting
// reclaimable page cache. ok is false when the file is absent (not Linux)
// or unreadable.
func Available() (n int64, ok bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	return Parse(f)
}

// Parse finds the MemAvailable line ("MemAvailable:   1234 kB") in r and
// returns its value in bytes. ok is false when the line is missing or not a
// non-negative count of kB that fits in an int64 once converted to bytes.
func Parse(r io.Reader) (n int64, ok bool) {
	sc := bufio.NewScanner(r)
	for i := 0; i < maxLines && sc.Scan(); i++ {
		rest, found := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !found {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb < 0 || kb > 1<<53 {
			return 0, false
		}
		return kb * 1024, true
	}
	return 0, false
}
