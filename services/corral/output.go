package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// checkOutput refuses to write out when it is one of inputs (through any
// path or symlink to the same file), a folder, or an existing file and force
// is not set. A refusal is a usage error.
func checkOutput(out string, force bool, inputs ...string) error {
	ost, err := os.Stat(out)
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(out)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return usageError{fmt.Sprintf("cannot write %s: folder %s does not exist", out, dir)}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("output %s: %w", out, err)
	}
	if ost.IsDir() {
		return usageError{fmt.Sprintf("output %s is a folder, want a file name", out)}
	}
	for _, in := range inputs {
		if in == "" {
			continue
		}
		if ist, err := os.Stat(in); err == nil && os.SameFile(ist, ost) {
			return usageError{fmt.Sprintf("output %s is the input %s: writing it would destroy the input; choose another output", out, in)}
		}
	}
	if !force {
		return usageError{fmt.Sprintf("output %s exists; pass --force to replace it", out)}
	}
	return nil
}

// ggufMagic starts every GGUF file.
var ggufMagic = []byte("GGUF")

// isGGUF reports whether the file at path starts with the GGUF magic.
func isGGUF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(ggufMagic))
	_, err = io.ReadFull(f, head)
	return err == nil && bytes.Equal(head, ggufMagic)
}

// checkFileArg refuses a folder where a file is wanted, with a message
// instead of the "mmap: no such device" mapping a folder gives.
func checkFileArg(what, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if st.IsDir() {
		return fmt.Errorf("%s %s is a folder, want a GGUF file", what, path)
	}
	return nil
}
