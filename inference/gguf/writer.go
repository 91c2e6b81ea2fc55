package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// maxLlamaCppName is the longest tensor name llama.cpp accepts (its name
// buffer is 64 bytes including the terminating NUL).
const maxLlamaCppName = 63

// Writer writes a little-endian GGUF v3 file in one pass, streaming tensor
// data so a model far larger than memory can be written:
//
//  1. Set metadata and AddTensor every tensor (shape and type only).
//  2. WriteTensor or WriteTensorFrom each tensor's bytes, in the order added.
//     The header is written before the first tensor's data.
//  3. Close, which checks every tensor was written and flushes.
//
// Metadata keys are written in the order first set. Each tensor's data is
// padded to the alignment (general.alignment, default 32), as llama.cpp does.
// Arrays of arrays can be written (the format allows them) but no standard
// key uses them and other readers may refuse them.
// A Writer is not safe for concurrent use. Errors are sticky.
type Writer struct {
	w         *bufio.Writer
	n         int64 // bytes written so far
	keys      []string
	kv        map[string]Value
	tensors   []*Tensor
	byName    map[string]bool
	alignment uint64
	started   bool // header written
	next      int  // index of the next tensor whose data is due
	err       error
}

// NewWriter returns a Writer that writes to w. Close flushes but does not
// close w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{
		w:         bufio.NewWriterSize(w, 1<<20),
		kv:        map[string]Value{},
		byName:    map[string]bool{},
		alignment: DefaultAlignment,
	}
}

func (w *Writer) setErr(format string, args ...any) error {
	if w.err == nil {
		w.err = fmt.Errorf("%w: "+format, append([]any{ErrWriter}, args...)...)
	}
	return w.err
}

// Set stores a metadata value under key; x is anything ValueOf accepts.
// Setting a key again replaces its value but keeps its first position.
// Setting general.alignment (a uint32 power of two) changes the alignment.
func (w *Writer) Set(key string, x any) error {
	if w.err != nil {
		return w.err
	}
	if w.started {
		return w.setErr("set %q: the header is already written", key)
	}
	v, err := ValueOf(x)
	if err != nil {
		return w.setErr("set %q: %v", key, err)
	}
	if key == KeyAlignment {
		f := File{}
		if err := f.setAlignment(v); err != nil {
			return w.setErr("set %q: %v", key, err)
		}
		w.alignment = f.alignment
	}
	if _, ok := w.kv[key]; !ok {
		w.keys = append(w.keys, key)
	}
	w.kv[key] = v
	return nil
}

// AddTensor declares a tensor: its name, type and shape, fastest-varying
// dimension first (a matrix of rows×cols is shape {cols, rows}). Its data
// is written later, in the order tensors were added.
func (w *Writer) AddTensor(name string, typ TensorType, shape ...uint64) error {
	if w.err != nil {
		return w.err
	}
	if w.started {
		return w.setErr("add tensor %q: the header is already written", name)
	}
	if name == "" || len(name) > maxLlamaCppName {
		return w.setErr("add tensor %q: name must be 1..%d bytes", name, maxLlamaCppName)
	}
	if w.byName[name] {
		return w.setErr("add tensor %q: %v", name, ErrDuplicate)
	}
	elems, size, err := tensorSize(typ, shape)
	if err != nil {
		return w.setErr("add tensor %q: %v", name, err)
	}
	w.byName[name] = true
	w.tensors = append(w.tensors, &Tensor{
		Name: name, Type: typ, Shape: append([]uint64(nil), shape...), Size: size, Elements: elems,
	})
	return nil
}

// WriteTensor writes the bytes of the tensor called name, which must be the
// next one due and exactly its size.
func (w *Writer) WriteTensor(name string, data []byte) error {
	t, err := w.due(name)
	if err != nil {
		return err
	}
	if uint64(len(data)) != t.Size {
		return w.setErr("write tensor %q: got %d bytes, want %d", name, len(data), t.Size)
	}
	return w.finishTensor(t, w.write(data))
}

// WriteTensorFrom copies the tensor called name from r, reading exactly its
// size, so a caller can generate data piece by piece.
func (w *Writer) WriteTensorFrom(name string, r io.Reader) error {
	t, err := w.due(name)
	if err != nil {
		return err
	}
	n, err := io.CopyN(w.w, r, int64(t.Size))
	w.n += n
	if err != nil {
		return w.setErr("write tensor %q: %d of %d bytes copied: %v", name, n, t.Size, err)
	}
	return w.finishTensor(t, nil)
}

// due writes the header if needed and checks name is the next tensor.
func (w *Writer) due(name string) (*Tensor, error) {
	if w.err != nil {
		return nil, w.err
	}
	if err := w.writeHeader(); err != nil {
		return nil, err
	}
	if w.next >= len(w.tensors) {
		return nil, w.setErr("write tensor %q: all %d tensors are already written", name, len(w.tensors))
	}
	if t := w.tensors[w.next]; t.Name != name {
		return nil, w.setErr("write tensor %q: tensor %q is due first", name, t.Name)
	}
	return w.tensors[w.next], nil
}

func (w *Writer) finishTensor(t *Tensor, err error) error {
	if err != nil {
		return w.setErr("write tensor %q: %v", t.Name, err)
	}
	w.next++
	return w.pad()
}

// Close writes the header if no tensor did, checks that every tensor's data
// was written, and flushes. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if err := w.writeHeader(); err != nil {
		return err
	}
	if w.next < len(w.tensors) {
		return w.setErr("close: tensor %q and %d after it were not written", w.tensors[w.next].Name, len(w.tensors)-w.next-1)
	}
	if err := w.w.Flush(); err != nil {
		return w.setErr("flush: %v", err)
	}
	w.err = fmt.Errorf("%w: closed", ErrWriter)
	return nil
}

func (w *Writer) write(p []byte) error {
	n, err := w.w.Write(p)
	w.n += int64(n)
	return err
}

// pad writes zeros up to the next multiple of the alignment.
func (w *Writer) pad() error {
	var zeros [256]byte
	for rest := int64(alignUp(uint64(w.n), w.alignment)) - w.n; rest > 0; {
		k := min(rest, int64(len(zeros)))
		if err := w.write(zeros[:k]); err != nil {
			return w.setErr("pad: %v", err)
		}
		rest -= k
	}
	return nil
}

// writeHeader lays out tensor offsets and writes everything before the
// tensor data, once.
func (w *Writer) writeHeader() error {
	if w.started {
		return nil
	}
	w.started = true
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, magic)
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(w.tensors)))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(w.keys)))
	for _, k := range w.keys {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(k)))
		b = append(b, k...)
		b = appendValue(b, w.kv[k], true)
	}
	var off uint64
	for _, t := range w.tensors {
		t.Offset = off
		off = alignUp(off+t.Size, w.alignment)
		b = binary.LittleEndian.AppendUint64(b, uint64(len(t.Name)))
		b = append(b, t.Name...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(t.Shape)))
		for _, d := range t.Shape {
			b = binary.LittleEndian.AppendUint64(b, d)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(t.Type))
		b = binary.LittleEndian.AppendUint64(b, t.Offset)
	}
	if err := w.write(b); err != nil {
		return w.setErr("write header: %v", err)
	}
	if len(w.tensors) == 0 {
		return nil
	}
	return w.pad()
}
