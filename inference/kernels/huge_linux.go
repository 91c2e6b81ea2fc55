package kernels

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugeSize is the size of a transparent huge page.
const hugeSize = 2 << 20

// hugeBytes returns n zero bytes for weights that decode will stream: when
// n is at least two huge pages, they start on a 2 MB boundary and the
// allocation reaches to the next one, so that every byte can sit on huge
// pages (a 4.5 MB matrix placed anywhere keeps about 2 MB on small ones);
// the padding costs at most 2 MB of memory, and the slack before the start
// none (never touched). Call adviseHuge before writing.
func hugeBytes(n int) []byte {
	if n < 2*hugeSize {
		return make([]byte, n)
	}
	b := make([]byte, (n+hugeSize-1)/hugeSize*hugeSize+hugeSize)
	off := int(-uintptr(unsafe.Pointer(&b[0])) & (hugeSize - 1))
	return b[off : off+n : off+(n+hugeSize-1)/hugeSize*hugeSize]
}

// adviseHuge asks the kernel to back b with 2 MB pages where b covers whole
// ones (transparent huge pages in "madvise" mode). Decode streams every
// weight once per token, and with 4 KB pages each page costs a TLB miss
// and a restart of the hardware prefetcher. It must run before b is first
// written; failure only means small pages.
func adviseHuge(b []byte) {
	if h := hugePart(b); h != nil {
		_ = unix.Madvise(h, unix.MADV_HUGEPAGE)
	}
}

// collapseHuge moves b's whole 2 MB pages that are still small ones onto
// huge pages, now (MADV_COLLAPSE, Linux 6.1 on). It runs after b is
// written: memory the Go heap hands out again is zeroed before adviseHuge
// can act, and then only the kernel's background scan, minutes later,
// would give it huge pages (a 1B model's decode had over half of its
// weights on 4 KB pages). Failure only means small pages.
func collapseHuge(b []byte) {
	if h := hugePart(b); h != nil {
		_ = unix.Madvise(h, unix.MADV_COLLAPSE)
	}
}

// hugePart is the part of b (up to its capacity) made of whole 2 MB
// pages, or nil.
func hugePart(b []byte) []byte {
	b = b[:cap(b)]
	if len(b) < 2*hugeSize {
		return nil
	}
	start := uintptr(unsafe.Pointer(&b[0]))
	lo := (start + hugeSize - 1) &^ (hugeSize - 1)
	hi := (start + uintptr(len(b))) &^ (hugeSize - 1)
	if hi <= lo {
		return nil
	}
	return b[lo-start : hi-start]
}
