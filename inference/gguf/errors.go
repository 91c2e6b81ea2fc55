package gguf

import (
	"errors"
	"fmt"
)

// Errors a reader or writer returns, wrapped with detail. Test with errors.Is.
var (
	// ErrMagic means the data does not start with "GGUF".
	ErrMagic = errors.New("not a GGUF file")
	// ErrVersion means a GGUF version other than 2 or 3, or a big-endian file.
	ErrVersion = errors.New("unsupported GGUF version")
	// ErrTruncated means a field runs past the end of the data.
	ErrTruncated = errors.New("truncated")
	// ErrLimit means a length or count is larger than the file could hold
	// or than a hard limit of this package.
	ErrLimit = errors.New("limit exceeded")
	// ErrValueType means a metadata value type tag is not one GGUF defines.
	ErrValueType = errors.New("unknown metadata value type")
	// ErrTensorType means a tensor's ggml type is not in the type table.
	ErrTensorType = errors.New("unknown tensor type")
	// ErrShape means a tensor's dimensions are invalid for its type.
	ErrShape = errors.New("bad tensor shape")
	// ErrDuplicate means a metadata key or tensor name appears twice.
	ErrDuplicate = errors.New("duplicate")
	// ErrAlignment means general.alignment or a tensor offset is invalid.
	ErrAlignment = errors.New("bad alignment")
	// ErrRange means a tensor's bytes lie outside the file.
	ErrRange = errors.New("tensor data out of range")
	// ErrWriter means the writer was used out of order or with bad input.
	ErrWriter = errors.New("gguf writer")
	// ErrParams means model hyperparameters (LlamaParams) are missing, out
	// of range or inconsistent.
	ErrParams = errors.New("bad model hyperparameters")
)

// Hard limits checked before anything is allocated, so hostile lengths and
// counts fail fast. Beyond these, every length is also checked against the
// bytes left in the file, so no allocation can exceed the file size.
const (
	// MaxDims is the most dimensions a tensor may have (ggml's limit).
	MaxDims = 4
	// MaxNesting is how deeply arrays of arrays may nest.
	MaxNesting = 8
	// MaxStringLen is the longest metadata string or key accepted.
	MaxStringLen = 1 << 30
	// MaxNameLen is the longest tensor name accepted. ggml's own limit is 63.
	MaxNameLen = 1 << 12
)

// FormatError describes a malformed file: what is wrong and at which byte.
type FormatError struct {
	// Offset is the byte offset in the file where the bad field starts.
	Offset int64
	// Where names the field being read, such as `metadata key 3 "general.name"`.
	Where string
	// Err is the problem; it wraps one of the package's sentinel errors.
	Err error
}

// Error says where and what: "gguf: byte N: <field>: <problem>".
func (e *FormatError) Error() string {
	if e.Where == "" {
		return fmt.Sprintf("gguf: byte %d: %v", e.Offset, e.Err)
	}
	return fmt.Sprintf("gguf: byte %d: %s: %v", e.Offset, e.Where, e.Err)
}

// Unwrap returns the underlying problem, so errors.Is sees the sentinel.
func (e *FormatError) Unwrap() error { return e.Err }
