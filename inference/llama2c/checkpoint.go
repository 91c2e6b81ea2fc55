// Package llama2c reads checkpoints in the legacy format of Karpathy's
// llama2.c (a 7×int32 header followed by float32 weights) and its
// tokenizer.bin, and converts them to F32 GGUF files with llama.cpp's names,
// so the rest of the engine reads one format.
package llama2c

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Errors returned for malformed input, wrapped with detail.
var (
	// ErrHeader means the checkpoint header is invalid or inconsistent.
	ErrHeader = errors.New("bad llama2.c checkpoint header")
	// ErrSize means the file's size does not match what the header implies.
	ErrSize = errors.New("llama2.c checkpoint size mismatch")
	// ErrTokenizer means a tokenizer.bin is malformed or does not fit the model.
	ErrTokenizer = errors.New("bad llama2.c tokenizer")
)

// HeaderSize is the size of the checkpoint header: seven int32 values.
const HeaderSize = 7 * 4

// maxDim bounds every header field, far above any llama2.c model, so that
// size arithmetic cannot overflow before the file-size check.
const maxDim = 1 << 24

// maxFileSize bounds the size a header may imply (256 TiB).
const maxFileSize = 1 << 48

// Config is a checkpoint's header.
type Config struct {
	Dim       int // embedding width
	HiddenDim int // feed-forward width
	Layers    int
	Heads     int // query heads
	KVHeads   int // key/value heads (fewer than Heads for grouped-query attention)
	VocabSize int // always positive here; see SharedClassifier
	SeqLen    int // maximum context length
	// SharedClassifier is true when the output classifier is the token
	// embedding table (the header's vocab_size was positive). A negative
	// vocab_size means a separate classifier follows the other weights.
	SharedClassifier bool
}

// String lists the header fields with llama2.c's names.
func (c Config) String() string {
	v := c.VocabSize
	if !c.SharedClassifier {
		v = -v
	}
	return fmt.Sprintf("dim %d, hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d",
		c.Dim, c.HiddenDim, c.Layers, c.Heads, c.KVHeads, v, c.SeqLen)
}

// HeadSize returns the width of one attention head.
func (c Config) HeadSize() int { return c.Dim / c.Heads }

// KVDim returns the width of the key and value projections.
func (c Config) KVDim() int { return c.Dim * c.KVHeads / c.Heads }

// ParseHeader decodes and validates the 28-byte header.
func ParseHeader(p []byte) (Config, error) {
	if len(p) < HeaderSize {
		return Config{}, fmt.Errorf("%w: %d bytes, want %d", ErrHeader, len(p), HeaderSize)
	}
	if string(p[:4]) == "ak42" {
		return Config{}, fmt.Errorf("%w: this is a versioned llama2.c export (magic \"ak42\"); only the legacy format is read", ErrHeader)
	}
	var f [7]int32
	for i := range f {
		f[i] = int32(binary.LittleEndian.Uint32(p[4*i:]))
	}
	c := Config{
		Dim: int(f[0]), HiddenDim: int(f[1]), Layers: int(f[2]), Heads: int(f[3]),
		KVHeads: int(f[4]), VocabSize: int(f[5]), SeqLen: int(f[6]), SharedClassifier: f[5] > 0,
	}
	if c.VocabSize < 0 {
		c.VocabSize = -c.VocabSize
	}
	return c, c.validate()
}

func (c Config) validate() error {
	for _, fld := range []struct {
		name string
		v    int
	}{
		{"dim", c.Dim}, {"hidden_dim", c.HiddenDim}, {"n_layers", c.Layers}, {"n_heads", c.Heads},
		{"n_kv_heads", c.KVHeads}, {"vocab_size", c.VocabSize}, {"seq_len", c.SeqLen},
	} {
		if fld.v <= 0 || fld.v > maxDim {
			return fmt.Errorf("%w: %s is %d, want 1..%d", ErrHeader, fld.name, fld.v, maxDim)
		}
	}
	if c.Dim%c.Heads != 0 {
		return fmt.Errorf("%w: dim %d is not divisible by n_heads %d", ErrHeader, c.Dim, c.Heads)
	}
	if c.KVHeads > c.Heads || c.Heads%c.KVHeads != 0 {
		return fmt.Errorf("%w: n_heads %d is not a multiple of n_kv_heads %d", ErrHeader, c.Heads, c.KVHeads)
	}
	if c.HeadSize()%2 != 0 {
		return fmt.Errorf("%w: head size %d is odd; RoPE rotates pairs", ErrHeader, c.HeadSize())
	}
	// Estimate the size in float64 first: the int64 layout arithmetic
	// could overflow for hostile fields that each pass the bound above.
	L, d, h, v := float64(c.Layers), float64(c.Dim), float64(c.HiddenDim), float64(c.VocabSize)
	est := 4 * (2*v*d + L*(2*d+2*d*d+2*d*float64(c.KVDim())+3*d*h) + d + float64(c.SeqLen)*float64(c.HeadSize()))
	if est > maxFileSize {
		return fmt.Errorf("%w: header implies about %.3g bytes, over the %d-byte limit", ErrHeader, est, int64(maxFileSize))
	}
	return nil
}

// section is one weight array of the checkpoint, in file order.
type section struct {
	name   string // llama2.c's name
	layers int    // how many per-layer slices it holds (1 for global arrays)
	rows   int    // per slice: rows (out) and columns (in), row-major
	cols   int
	offset int64 // byte offset in the file
}

// bytesPerLayer is the size of one layer's slice.
func (s section) bytesPerLayer() int64 { return int64(s.rows) * int64(s.cols) * 4 }

// layout lists the checkpoint's arrays with their file offsets and returns
// the total file size they imply. It includes the RoPE tables that run.c
// skips, because they sit between the final norm and the classifier.
func (c Config) layout() ([]section, int64) {
	L, d, h, kv, v := c.Layers, c.Dim, c.HiddenDim, c.KVDim(), c.VocabSize
	secs := []section{
		{"token_embedding", 1, v, d, 0},
		{"rms_att", L, 1, d, 0},
		{"wq", L, d, d, 0},
		{"wk", L, kv, d, 0},
		{"wv", L, kv, d, 0},
		{"wo", L, d, d, 0},
		{"rms_ffn", L, 1, d, 0},
		{"w1", L, h, d, 0},
		{"w2", L, d, h, 0},
		{"w3", L, h, d, 0},
		{"rms_final", 1, 1, d, 0},
		{"freq_cis_real", 1, c.SeqLen, c.HeadSize() / 2, 0},
		{"freq_cis_imag", 1, c.SeqLen, c.HeadSize() / 2, 0},
	}
	if !c.SharedClassifier {
		secs = append(secs, section{"wcls", 1, v, d, 0})
	}
	off := int64(HeaderSize)
	for i := range secs {
		secs[i].offset = off
		off += int64(secs[i].layers) * secs[i].bytesPerLayer()
	}
	return secs, off
}

// FileSize returns the exact size in bytes of a checkpoint with this
// header, which must be valid (as ParseHeader returns it).
func (c Config) FileSize() int64 {
	_, n := c.layout()
	return n
}

// Checkpoint is an opened checkpoint whose weights are read on demand.
type Checkpoint struct {
	Config Config
	r      io.ReaderAt
	secs   map[string]section
}

// Read reads and validates the header of the checkpoint in r, which holds
// size bytes, and checks the size matches the header exactly.
func Read(r io.ReaderAt, size int64) (*Checkpoint, error) {
	var hdr [HeaderSize]byte
	if size < HeaderSize {
		return nil, fmt.Errorf("%w: file is %d bytes, shorter than the %d-byte header", ErrHeader, size, HeaderSize)
	}
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("read llama2.c header: %w", err)
	}
	c, err := ParseHeader(hdr[:])
	if err != nil {
		return nil, err
	}
	secs, want := c.layout()
	if size != want {
		hint := ""
		if alt := (Config{Dim: c.Dim, HiddenDim: c.HiddenDim, Layers: c.Layers, Heads: c.Heads, KVHeads: c.KVHeads,
			VocabSize: c.VocabSize, SeqLen: c.SeqLen, SharedClassifier: !c.SharedClassifier}); alt.FileSize() == size {
			hint = " (it would fit if the vocab_size sign, which marks a separate classifier, were flipped)"
		}
		return nil, fmt.Errorf("%w: header (%v) implies %d bytes, file has %d%s", ErrSize, c, want, size, hint)
	}
	ck := &Checkpoint{Config: c, r: r, secs: make(map[string]section, len(secs))}
	for _, s := range secs {
		ck.secs[s.name] = s
	}
	return ck, nil
}

// Section returns a reader over one layer's slice of the array llama2.c
// calls name (such as "wq"; layer is ignored for global arrays), with its
// shape as (rows, cols) row-major float32.
func (ck *Checkpoint) Section(name string, layer int) (r *io.SectionReader, rows, cols int, err error) {
	s, ok := ck.secs[name]
	if !ok {
		return nil, 0, 0, fmt.Errorf("llama2.c checkpoint has no array %q", name)
	}
	if layer < 0 || layer >= s.layers {
		if s.layers != 1 {
			return nil, 0, 0, fmt.Errorf("llama2.c array %q has %d layers, not %d", name, s.layers, layer)
		}
		layer = 0
	}
	n := s.bytesPerLayer()
	return io.NewSectionReader(ck.r, s.offset+int64(layer)*n, n), s.rows, s.cols, nil
}

// Floats reads one layer's slice of an array into memory; for tests and
// small models.
func (ck *Checkpoint) Floats(name string, layer int) ([]float32, error) {
	sr, rows, cols, err := ck.Section(name, layer)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, sr.Size())
	if _, err := io.ReadFull(sr, buf); err != nil {
		return nil, fmt.Errorf("read llama2.c %s: %w", name, err)
	}
	out := make([]float32, rows*cols)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	return out, nil
}
