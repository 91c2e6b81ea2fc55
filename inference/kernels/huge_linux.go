package kernels

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugeSize is the size of a transparent huge page.
const hugeSize = 2 << 20

// hugeBytes returns n zero bytes for weights that decode will stream:
// from one huge page on, they start on a 2 MB boundary (the slack before
// costs no memory when the heap takes fresh pages from the system, as at
// a model's load; memory it hands out again it zeroes, slack included),
// and the allocation reaches to
// the next boundary when that adds at most a quarter, so that every byte
// can sit on huge pages (a 4.5 MB matrix placed anywhere keeps about 2 MB
// on small ones). Call AdviseHuge before writing.
func hugeBytes(n int) []byte {
	if n < hugeSize {
		return make([]byte, n)
	}
	full := (n + hugeSize - 1) / hugeSize * hugeSize
	if full-n > n/4 {
		full = n
	}
	b := make([]byte, full+hugeSize)
	off := int(-uintptr(unsafe.Pointer(&b[0])) & (hugeSize - 1))
	return b[off : off+n : off+full]
}

// AdviseHuge asks the kernel to back b with 2 MB pages where b covers whole
// ones (transparent huge pages in "madvise" mode). Decode streams every
// weight once per token and reads the KV cache's pages scattered over its
// blocks; with 4 KB pages each page costs a TLB miss (a page walk that a
// virtual machine pays twice over) and a restart of the hardware
// prefetcher. It must run before b is first written, and memory the Go
// heap hands out a second time is zeroed before it can act (see
// collapseHuge); failure only means small pages.
func AdviseHuge(b []byte) {
	if h := hugePart(b); h != nil {
		_ = unix.Madvise(h, unix.MADV_HUGEPAGE)
	}
}

// collapseHuge moves b's whole 2 MB pages that are still small ones onto
// huge pages, now (MADV_COLLAPSE, Linux 6.1 on). It runs after b is
// written: memory the Go heap hands out again is zeroed before AdviseHuge
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
	if len(b) < hugeSize {
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
