package kernels

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHuge asks the kernel to back b with 2 MB pages where b covers whole
// ones (transparent huge pages in "madvise" mode). Decode streams every
// weight once per token, and with 4 KB pages each page costs a TLB miss
// and a restart of the hardware prefetcher. It must run before b is first
// written; failure only means small pages.
func adviseHuge(b []byte) {
	const huge = 2 << 20
	if len(b) < 2*huge {
		return
	}
	start := uintptr(unsafe.Pointer(&b[0]))
	lo := (start + huge - 1) &^ (huge - 1)
	hi := (start + uintptr(len(b))) &^ (huge - 1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(b[lo-start:hi-start], unix.MADV_HUGEPAGE)
}
