package kvcache

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugeSize is the size of a transparent huge page.
const hugeSize = 2 << 20

// adviseHuge asks the kernel to back the whole 2 MB pages inside the n
// bytes at p with huge pages when they are first touched (transparent
// huge pages in "madvise" mode). A decode step's attention reads one
// 2 KB page of keys and one of values per block, layer and KV head, each
// in a block of its own: on 4 KB pages nearly every one costs a TLB miss,
// a page walk that a virtual machine pays twice over. Failure only means
// small pages.
func adviseHuge(p unsafe.Pointer, n int) {
	start := uintptr(p)
	lo := (start + hugeSize - 1) &^ (hugeSize - 1)
	hi := (start + uintptr(n)) &^ (hugeSize - 1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, lo-start)), hi-lo), unix.MADV_HUGEPAGE)
}
