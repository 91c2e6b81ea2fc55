//go:build unix

package gguf

import (
	"os"
	"syscall"
)

// mmap maps size bytes of fd read-only and shared, so pages come from the
// page cache and many processes loading one model share them.
func mmap(fd *os.File, size int) ([]byte, func() error, error) {
	data, err := syscall.Mmap(int(fd.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, &os.PathError{Op: "mmap", Path: fd.Name(), Err: err}
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
