package gguf

import (
	"fmt"
	"os"
)

// magic is "GGUF" read as a little-endian uint32.
const magic = 0x46554747

// DefaultAlignment is the tensor data alignment when general.alignment is absent.
const DefaultAlignment = 32

// File is a parsed GGUF file. Tensor data stays in the file's bytes (a
// read-only mapping for Open) and Tensor.Data returns views of it, valid
// until Close. For Open, metadata is copied out of the mapping and stays
// readable after Close; for Parse, metadata arrays also point into the
// caller's bytes.
type File struct {
	version    uint32
	alignment  uint64
	dataOffset int64
	size       int64
	keys       []string
	kv         map[string]Value
	tensors    []*Tensor
	byName     map[string]*Tensor
	unmap      func() error
}

// Tensor describes one tensor and gives access to its bytes.
type Tensor struct {
	// Name is the tensor's name, such as "blk.0.attn_q.weight".
	Name string
	// Type is the ggml element type.
	Type TensorType
	// Shape lists the dimensions fastest-varying first, as ggml does:
	// Shape[0] is the row length, so a (rows, cols) matrix is {cols, rows}.
	Shape []uint64
	// Offset is where the data starts, relative to the file's data section.
	Offset uint64
	// Size is the data's length in bytes.
	Size uint64
	// Elements is the product of Shape.
	Elements uint64

	data    []byte
	infoOff int64 // where the tensor's info record starts, for errors
}

// Data returns the tensor's bytes without copying. For a File from Open the
// slice is read-only memory (writing to it faults) and must not be used
// after Close.
func (t *Tensor) Data() []byte { return t.data }

// Parse reads a GGUF file held in memory. Tensor data views point into data,
// which the caller must keep unchanged while they are in use.
func Parse(data []byte) (*File, error) {
	return parse(data, false)
}

// Open memory-maps the GGUF file at path read-only and parses it.
// Call Close to release the mapping.
func Open(path string) (*File, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err) // err names the path
	}
	f, err := parse(data, true)
	if err != nil {
		_ = unmap()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.unmap = unmap
	return f, nil
}

// Close releases the file's mapping, if any. Tensor data views are invalid
// afterwards; metadata stays readable.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	for _, t := range f.tensors {
		t.data = nil
	}
	return err
}

func parse(data []byte, clone bool) (*File, error) {
	d := &decoder{buf: data, clone: clone}
	f := &File{size: int64(len(data)), alignment: DefaultAlignment}
	nTensors, nKV, err := f.header(d)
	if err != nil {
		return nil, err
	}
	if err := f.metadata(d, nKV); err != nil {
		return nil, err
	}
	if err := f.tensorInfos(d, nTensors); err != nil {
		return nil, err
	}
	f.dataOffset = int64(alignUp(uint64(d.off), f.alignment))
	if err := f.placeTensors(data); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) header(d *decoder) (nTensors, nKV uint64, err error) {
	d.where = "header"
	m, err := d.u32("magic")
	if err != nil {
		return 0, 0, err
	}
	if m != magic {
		return 0, 0, d.fail(0, fmt.Errorf("%w: magic is %q, want \"GGUF\"", ErrMagic, d.buf[:4]))
	}
	v, err := d.u32("version")
	if err != nil {
		return 0, 0, err
	}
	switch {
	case v == 2 || v == 3:
		// v3 only added big-endian files; little-endian v2 and v3 share a layout.
	case v == 1:
		return 0, 0, d.fail(4, fmt.Errorf("%w 1: version 1 used 32-bit lengths; only 2 and 3 are read", ErrVersion))
	case v&0xffff == 0 && (v>>24 == 2 || v>>24 == 3):
		return 0, 0, d.fail(4, fmt.Errorf("%w: the file is big-endian; only little-endian files are read", ErrVersion))
	default:
		return 0, 0, d.fail(4, fmt.Errorf("%w %d: only 2 and 3 are read", ErrVersion, v))
	}
	f.version = v
	if nTensors, err = d.u64("tensor count"); err != nil {
		return 0, 0, err
	}
	if nKV, err = d.u64("metadata count"); err != nil {
		return 0, 0, err
	}
	// Each key-value pair takes at least 13 bytes and each tensor info 32,
	// so counts beyond that cannot be honest; refuse before allocating.
	if left := uint64(d.left()); nKV > left/13 {
		return 0, 0, d.fail(16, fmt.Errorf("%w: %d metadata entries cannot fit in the %d bytes left", ErrLimit, nKV, left))
	}
	if left := uint64(d.left()); nTensors > left/32 {
		return 0, 0, d.fail(8, fmt.Errorf("%w: %d tensor infos cannot fit in the %d bytes left", ErrLimit, nTensors, left))
	}
	return nTensors, nKV, nil
}

func (f *File) metadata(d *decoder, n uint64) error {
	// Size hints are capped: n is only bounded by the file's size, and each
	// entry costs more memory than its minimum encoding.
	f.keys = make([]string, 0, min(n, 1024))
	f.kv = make(map[string]Value, min(n, 1024))
	for i := range n {
		at := d.off
		d.where = fmt.Sprintf("metadata entry %d", i)
		key, err := d.str("key", MaxStringLen)
		if err != nil {
			return err
		}
		d.where = fmt.Sprintf("metadata entry %d %q", i, key)
		if _, dup := f.kv[key]; dup {
			return d.fail(at, fmt.Errorf("%w key %q", ErrDuplicate, key))
		}
		t, err := d.valueType("value type")
		if err != nil {
			return err
		}
		v, err := d.value(t, 0)
		if err != nil {
			return err
		}
		if key == KeyAlignment {
			if err := f.setAlignment(v); err != nil {
				return d.fail(at, err)
			}
		}
		f.keys = append(f.keys, key)
		f.kv[key] = v
	}
	return nil
}

func (f *File) setAlignment(v Value) error {
	if v.typ != ValueUint32 {
		return fmt.Errorf("%w: %s is %s, want uint32", ErrAlignment, KeyAlignment, v.typ)
	}
	if v.num == 0 || v.num&(v.num-1) != 0 {
		return fmt.Errorf("%w: %s is %d, want a power of two", ErrAlignment, KeyAlignment, v.num)
	}
	f.alignment = v.num
	return nil
}

func (f *File) tensorInfos(d *decoder, n uint64) error {
	f.tensors = make([]*Tensor, 0, min(n, 1024))
	f.byName = make(map[string]*Tensor, min(n, 1024))
	for i := range n {
		at := d.off
		d.where = fmt.Sprintf("tensor info %d", i)
		name, err := d.str("name", MaxNameLen)
		if err != nil {
			return err
		}
		d.where = fmt.Sprintf("tensor info %d %q", i, name)
		if _, dup := f.byName[name]; dup {
			return d.fail(at, fmt.Errorf("%w tensor name %q", ErrDuplicate, name))
		}
		t := &Tensor{Name: name, infoOff: int64(at)}
		if err := f.tensorInfo(d, t); err != nil {
			return err
		}
		f.tensors = append(f.tensors, t)
		f.byName[name] = t
	}
	return nil
}

func (f *File) tensorInfo(d *decoder, t *Tensor) error {
	at := d.off
	nd, err := d.u32("dimension count")
	if err != nil {
		return err
	}
	if nd == 0 || nd > MaxDims {
		return d.fail(at, fmt.Errorf("%w: %d dimensions (want 1..%d)", ErrShape, nd, MaxDims))
	}
	t.Shape = make([]uint64, nd)
	for j := range t.Shape {
		if t.Shape[j], err = d.u64("dimension"); err != nil {
			return err
		}
	}
	at = d.off
	typ, err := d.u32("tensor type")
	if err != nil {
		return err
	}
	t.Type = TensorType(typ)
	if t.Elements, t.Size, err = tensorSize(t.Type, t.Shape); err != nil {
		return d.fail(at, err)
	}
	at = d.off
	if t.Offset, err = d.u64("data offset"); err != nil {
		return err
	}
	if t.Offset%f.alignment != 0 {
		return d.fail(at, fmt.Errorf("%w: data offset %d is not a multiple of %d", ErrAlignment, t.Offset, f.alignment))
	}
	return nil
}

// placeTensors checks each tensor's byte range against the file and points
// its data view at it.
func (f *File) placeTensors(data []byte) error {
	for i, t := range f.tensors {
		start := uint64(f.dataOffset) + t.Offset
		if start < t.Offset || start > uint64(len(data)) || t.Size > uint64(len(data))-start {
			return &FormatError{
				Offset: t.infoOff,
				Where:  fmt.Sprintf("tensor info %d %q", i, t.Name),
				Err: fmt.Errorf("%w: %d bytes at data offset %d (file byte %d) run past the file's %d bytes",
					ErrRange, t.Size, t.Offset, start, len(data)),
			}
		}
		t.data = data[start : start+t.Size : start+t.Size]
	}
	return nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// Version returns the file's GGUF version (2 or 3).
func (f *File) Version() int { return int(f.version) }

// Alignment returns the tensor data alignment in bytes.
func (f *File) Alignment() int { return int(f.alignment) }

// DataOffset returns the byte offset of the tensor data section.
func (f *File) DataOffset() int64 { return f.dataOffset }

// Size returns the file's length in bytes.
func (f *File) Size() int64 { return f.size }

// Keys returns the metadata keys in file order.
func (f *File) Keys() []string { return append([]string(nil), f.keys...) }

// Value returns the metadata value stored under key.
func (f *File) Value(key string) (Value, bool) {
	v, ok := f.kv[key]
	return v, ok
}

// String returns a string value; false if absent or not a string.
func (f *File) String(key string) (string, bool) { return f.kv[key].Text() }

// Uint returns an integer value as uint64 (any integer type, if not negative).
func (f *File) Uint(key string) (uint64, bool) {
	v, ok := f.kv[key]
	if !ok {
		return 0, false
	}
	return v.Uint()
}

// Int returns an integer value as int64 (any integer type that fits).
func (f *File) Int(key string) (int64, bool) {
	v, ok := f.kv[key]
	if !ok {
		return 0, false
	}
	return v.Int()
}

// Float returns a float (or integer) value as float64.
func (f *File) Float(key string) (float64, bool) {
	v, ok := f.kv[key]
	if !ok {
		return 0, false
	}
	return v.Float()
}

// Bool returns a bool value.
func (f *File) Bool(key string) (bool, bool) { return f.kv[key].Bool() }

// Strings returns an array of strings, decoded afresh on each call.
func (f *File) Strings(key string) ([]string, bool) { return f.kv[key].Strings() }

// Float32s returns an array of floats, decoded afresh on each call.
func (f *File) Float32s(key string) ([]float32, bool) { return f.kv[key].Float32s() }

// Int32s returns an array of integers that fit int32, decoded afresh on each call.
func (f *File) Int32s(key string) ([]int32, bool) { return f.kv[key].Int32s() }

// Architecture returns general.architecture, such as "llama", or "".
func (f *File) Architecture() string {
	s, _ := f.String(KeyArchitecture)
	return s
}

// Tensors returns the tensors in file order.
func (f *File) Tensors() []*Tensor { return append([]*Tensor(nil), f.tensors...) }

// Tensor returns the tensor called name.
func (f *File) Tensor(name string) (*Tensor, bool) {
	t, ok := f.byName[name]
	return t, ok
}

// mapFile maps path read-only, or reads it where mapping is unavailable.
func mapFile(path string) ([]byte, func() error, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() < 8 {
		// Mapping 0 bytes fails; let the parser report what is missing.
		return readAll(fd, int(st.Size()))
	}
	if int64(int(st.Size())) != st.Size() {
		return nil, nil, fmt.Errorf("%s: %d bytes is too large to map", path, st.Size())
	}
	return mmap(fd, int(st.Size()))
}

// readAll is the fallback for systems without mmap.
func readAll(fd *os.File, size int) ([]byte, func() error, error) {
	buf := make([]byte, size)
	if _, err := fd.ReadAt(buf, 0); err != nil {
		return nil, nil, err
	}
	return buf, func() error { return nil }, nil
}
