package model

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/corral-ai/corral/inference/bytesize"
	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/kernels"
)

// Entry is one token of a batch.
type Entry struct {
	// Seq names the sequence, as the KV cache knows it.
	Seq int
	// Pos is the token's position in its sequence, from 0. The sequence's
	// keys and values at positions 0..Pos-1 must already be in the cache or
	// earlier in the same batch.
	Pos int
	// Token is the input token id.
	Token int32
	// Logits asks for the logits after this token.
	Logits bool
}

// Model is a loaded model. Forward calls are serialised; a Model may be
// shared between goroutines.
type Model interface {
	// Config describes the model's shape.
	Config() Config
	// File is the GGUF file the model was loaded from, for the tokenizer
	// and metadata; it stays open until Close.
	File() *gguf.File
	// Forward runs the batch and returns the logits of the entries that
	// asked for them, Config().Vocab values each, in batch order. The
	// returned slice is reused by the next call. Scratch memory grows to
	// the largest batch seen, about n·(4·Dim + 2·FFN + 3·Heads·HeadDim)
	// float32s for n entries, so callers bound their batches. Forward
	// checks ctx between layers and returns ctx.Err() when it is done, so
	// a long pass stops within a layer; the cache then holds some of the
	// batch's keys and values, which a caller must not rely on.
	Forward(ctx context.Context, batch []Entry, kv KV) ([]float32, error)
	// Close releases the model and its file (and the pool, if the model
	// made it).
	Close() error
}

// Config is the shape of a model.
type Config struct {
	Arch          string
	Name          string
	Dim           int // embedding length
	Layers        int
	Heads         int
	KVHeads       int
	HeadDim       int
	FFN           int // feed-forward hidden length
	Vocab         int
	ContextLength int // trained context length
	RopeBase      float64
	RopeDim       int // dimensions RoPE rotates in each head
	RMSEpsilon    float32
	Tied          bool   // the token embedding is the output matrix
	WeightType    string // type of most weight bytes, such as "Q4_0"
	FileSize      int64
}

// KVDim is the length of one token's key (or value) row in one layer.
func (c Config) KVDim() int { return c.KVHeads * c.HeadDim }

// Options configures loading.
type Options struct {
	// Pool runs the products; nil means the model makes one of Threads
	// threads and closes it on Close.
	Pool *kernels.Pool
	// Threads is the pool size when Pool is nil; 0 means GOMAXPROCS.
	Threads int
	// MemAvailable overrides the free-memory reading used by the size
	// check (bytes); 0 means read /proc/meminfo; negative skips the check.
	MemAvailable int64
	// KeepLayout uses every weight in place in the mapped file. By default
	// Q4_0 and Q8_0 matrices (and F16 and BF16 ones where the AVX-512
	// kernels run) are copied once at load into the interleaved layout the
	// assembly kernels read fastest (kernels.Repack), and each layer's q/k/v
	// and gate/up matrices are joined into one product each
	// (kernels.Concat): 1.5-3x faster products for one more copy of those
	// weights in memory (the file's pages are then no longer touched) and a
	// pass at load.
	KeepLayout bool
}

// Errors returned by the package.
var (
	// ErrArchitecture means no loader is registered for the file's
	// general.architecture.
	ErrArchitecture = errors.New("unsupported model architecture")
	// ErrFormat means metadata or tensors the architecture needs are missing
	// or have the wrong shape or type.
	ErrFormat = errors.New("bad model file")
	// ErrTensorType means a tensor the architecture needs has a type the
	// kernels do not run (such as Q3_K or IQ3_S).
	ErrTensorType = errors.New("unsupported tensor type")
	// ErrTooLarge means the model needs more memory than is available: its
	// file, or more where the kernels widen a format (see Open).
	ErrTooLarge = errors.New("model does not fit in memory")
	// ErrBatch means a batch entry is out of range (token, position).
	ErrBatch = errors.New("bad batch")
)

// Loader builds a Model from an open GGUF file; on success the model owns
// the file. o.Pool is always set.
type Loader func(f *gguf.File, o Options) (Model, error)

var (
	regMu   sync.RWMutex
	loaders = map[string]Loader{}
)

// Register makes an architecture loadable under its general.architecture
// name. It panics when the name is taken: that is a programming error.
func Register(arch string, l Loader) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := loaders[arch]; dup {
		panic("model: architecture registered twice: " + arch)
	}
	loaders[arch] = l
}

// Architectures lists the registered architecture names.
func Architectures() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(loaders))
	for n := range loaders {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Open loads the model in the GGUF file at path.
func Open(path string, o Options) (Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	if err := checkMemory(f, path, o); err != nil {
		f.Close()
		return nil, err
	}
	m, err := Load(f, o)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return m, nil
}

// Load builds the model in an open GGUF file; on success the model owns f.
func Load(f *gguf.File, o Options) (Model, error) {
	arch := f.Architecture()
	regMu.RLock()
	l, ok := loaders[arch]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q (supported: %s)", ErrArchitecture, arch, strings.Join(Architectures(), ", "))
	}
	pool := o.Pool
	if pool == nil {
		threads := o.Threads
		if threads <= 0 {
			threads = runtime.GOMAXPROCS(0)
		}
		pool = kernels.NewPool(threads)
	}
	lo := o
	lo.Pool = pool
	m, err := l(f, lo)
	if err != nil {
		if o.Pool == nil {
			pool.Close()
		}
		return nil, err
	}
	if o.Pool == nil {
		return &owningModel{Model: m, pool: pool}, nil
	}
	return m, nil
}

// owningModel closes the pool Load made.
type owningModel struct {
	Model
	pool *kernels.Pool
}

func (m *owningModel) Close() error {
	err := m.Model.Close()
	m.pool.Close()
	return err
}

// checkMemory fails when the model needs more memory than is available.
// The file is mapped, not read, and the kernels copy most matrices into
// their own layout, so a model that does not fit would thrash rather than
// fail; saying so up front is kinder. The need is what the kernels hold
// (heldBytes), which is more than the file where they widen a format; with
// KeepLayout nothing is copied or widened, and the need is the file's.
func checkMemory(f *gguf.File, path string, o Options) error {
	avail := o.MemAvailable
	if avail < 0 {
		return nil
	}
	if avail == 0 {
		var ok bool
		if avail, ok = memAvailable(); !ok {
			return nil // not Linux, or no /proc: nothing to check against
		}
	}
	need, file := heldBytes(f)
	if o.KeepLayout {
		need = file
	}
	if need <= avail {
		return nil
	}
	widened := ""
	if need > file {
		widened = fmt.Sprintf(" (its tensors take %s in the file; formats without their own kernels are widened to Q8_0)", bytesize.Format(file))
	}
	return fmt.Errorf("%w: %s needs %s%s but only %s of memory is available (MemAvailable in /proc/meminfo); use a smaller or more strongly quantised model, or free memory",
		ErrTooLarge, path, bytesize.Format(need), widened, bytesize.Format(avail))
}

// heldBytes sums what the tensors of f take once loaded (need) and in the
// file (file). A tensor the kernels cannot size counts at its file size;
// loading reports it properly.
func heldBytes(f *gguf.File) (need, file int64) {
	for _, t := range f.Tensors() {
		file += int64(t.Size)
		n := int64(t.Size)
		if kt, ok := KernelType(t.Type); ok && len(t.Shape) == 2 {
			if h, err := kernels.HeldBytes(kt, int(t.Shape[1]), int(t.Shape[0])); err == nil {
				n = h
			}
		}
		need += n
	}
	return need, file
}

// memAvailable reads MemAvailable from /proc/meminfo, in bytes.
func memAvailable() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, false
		}
		return kb * 1024, true
	}
	return 0, false
}
