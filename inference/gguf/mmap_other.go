//go:build !unix

package gguf

import "os"

// mmap reads the whole file where memory mapping is not available.
func mmap(fd *os.File, size int) ([]byte, func() error, error) {
	return readAll(fd, size)
}
