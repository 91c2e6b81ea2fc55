package gguf_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// pattern returns n deterministic bytes derived from seed.
func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*31) ^ seed
	}
	return p
}

type tensorCase struct {
	name  string
	typ   gguf.TensorType
	shape []uint64
}

func TestTensorRoundTrip(t *testing.T) {
	tensors := []tensorCase{
		{"token_embd.weight", gguf.TypeF32, []uint64{8, 5}},
		{"blk.0.attn_norm.weight", gguf.TypeF32, []uint64{3}},
		{"f16", gguf.TypeF16, []uint64{7, 3}},
		{"bf16", gguf.TypeBF16, []uint64{2, 2, 2}},
		{"q4_0", gguf.TypeQ4_0, []uint64{64, 3}},
		{"q8_0", gguf.TypeQ8_0, []uint64{32, 1, 1, 2}},
		{"q4_k", gguf.TypeQ4_K, []uint64{256, 2}},
		{"q6_k", gguf.TypeQ6_K, []uint64{512}},
		{"empty", gguf.TypeF32, []uint64{0, 4}},
	}
	for _, align := range []uint32{32, 64, 1} {
		t.Run("align"+string(rune('0'+align%10)), func(t *testing.T) {
			data := writeFile(t, func(w *gguf.Writer) error {
				if align != 32 {
					if err := w.Set(gguf.KeyAlignment, align); err != nil {
						return err
					}
				}
				if err := w.Set(gguf.KeyArchitecture, "llama"); err != nil {
					return err
				}
				for _, tc := range tensors {
					if err := w.AddTensor(tc.name, tc.typ, tc.shape...); err != nil {
						return err
					}
				}
				for i, tc := range tensors {
					size := tensorBytes(tc)
					var err error
					if i%2 == 0 {
						err = w.WriteTensor(tc.name, pattern(size, byte(i)))
					} else {
						err = w.WriteTensorFrom(tc.name, bytes.NewReader(pattern(size, byte(i))))
					}
					if err != nil {
						return err
					}
				}
				return nil
			})
			f, err := gguf.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if f.Alignment() != int(align) || f.DataOffset()%int64(align) != 0 {
				t.Errorf("alignment %d data offset %d", f.Alignment(), f.DataOffset())
			}
			if len(data)%int(align) != 0 {
				t.Errorf("file length %d not padded to %d", len(data), align)
			}
			got := f.Tensors()
			if len(got) != len(tensors) {
				t.Fatalf("%d tensors, want %d", len(got), len(tensors))
			}
			for i, tc := range tensors {
				g := got[i]
				if g.Name != tc.name || g.Type != tc.typ || !equalShape(g.Shape, tc.shape) {
					t.Errorf("tensor %d: %s %s %v, want %s %s %v", i, g.Name, g.Type, g.Shape, tc.name, tc.typ, tc.shape)
				}
				if g.Offset%uint64(align) != 0 {
					t.Errorf("%s offset %d unaligned", g.Name, g.Offset)
				}
				if !bytes.Equal(g.Data(), pattern(tensorBytes(tc), byte(i))) {
					t.Errorf("%s data differs", tc.name)
				}
				if byName, ok := f.Tensor(tc.name); !ok || byName != g {
					t.Errorf("Tensor(%q) lookup failed", tc.name)
				}
			}
		})
	}
}

func tensorBytes(tc tensorCase) int {
	n := 1
	for _, d := range tc.shape {
		n *= int(d)
	}
	return n / tc.typ.BlockSize() * tc.typ.TypeSize()
}

func equalShape(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestOpenMapped checks the mmap path on a file the writer produced.
func TestOpenMapped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.gguf")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := gguf.NewWriter(out)
	_ = w.Set(gguf.KeyName, "mapped")
	_ = w.AddTensor("a", gguf.TypeF32, 100)
	_ = w.WriteTensor("a", pattern(400, 9))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Tensor("a")
	if !bytes.Equal(a.Data(), pattern(400, 9)) {
		t.Error("mapped data differs")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if a.Data() != nil {
		t.Error("data view survives Close")
	}
	if name, _ := f.String(gguf.KeyName); name != "mapped" {
		t.Errorf("metadata after Close: %q", name)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestWriterErrors(t *testing.T) {
	cases := []struct {
		name string
		run  func(w *gguf.Writer) error
		want string
	}{
		{"plain int", func(w *gguf.Writer) error { return w.Set("k", 5) }, "cannot store a int"},
		{"mixed nested array", func(w *gguf.Writer) error {
			return w.Set("k", []gguf.Value{mustValue(t, uint8(1)), mustValue(t, "x")})
		}, "array element 1 is string"},
		{"empty []Value", func(w *gguf.Writer) error { return w.Set("k", []gguf.Value{}) }, "no element type"},
		{"alignment type", func(w *gguf.Writer) error { return w.Set(gguf.KeyAlignment, uint64(32)) }, "want uint32"},
		{"alignment not power of two", func(w *gguf.Writer) error { return w.Set(gguf.KeyAlignment, uint32(48)) }, "power of two"},
		{"long name", func(w *gguf.Writer) error { return w.AddTensor(strings.Repeat("x", 64), gguf.TypeF32, 1) }, "name must be 1..63 bytes"},
		{"duplicate tensor", func(w *gguf.Writer) error {
			_ = w.AddTensor("a", gguf.TypeF32, 1)
			return w.AddTensor("a", gguf.TypeF32, 1)
		}, "duplicate"},
		{"unknown type", func(w *gguf.Writer) error { return w.AddTensor("a", gguf.TensorType(77), 1) }, "unknown tensor type 77"},
		{"partial block", func(w *gguf.Writer) error { return w.AddTensor("a", gguf.TypeQ4_K, 100) }, "not a multiple of the Q4_K block size 256"},
		{"five dims", func(w *gguf.Writer) error { return w.AddTensor("a", gguf.TypeF32, 1, 1, 1, 1, 1) }, "5 dimensions"},
		{"overflow", func(w *gguf.Writer) error { return w.AddTensor("a", gguf.TypeF32, 1<<40, 1<<40) }, "overflows"},
		{"wrong order", func(w *gguf.Writer) error {
			_ = w.AddTensor("a", gguf.TypeF32, 1)
			_ = w.AddTensor("b", gguf.TypeF32, 1)
			return w.WriteTensor("b", make([]byte, 4))
		}, `tensor "a" is due first`},
		{"wrong size", func(w *gguf.Writer) error {
			_ = w.AddTensor("a", gguf.TypeF32, 2)
			return w.WriteTensor("a", make([]byte, 4))
		}, "got 4 bytes, want 8"},
		{"short reader", func(w *gguf.Writer) error {
			_ = w.AddTensor("a", gguf.TypeF32, 2)
			return w.WriteTensorFrom("a", bytes.NewReader(make([]byte, 5)))
		}, "5 of 8 bytes copied"},
		{"too many", func(w *gguf.Writer) error {
			_ = w.AddTensor("a", gguf.TypeF32, 1)
			_ = w.WriteTensor("a", make([]byte, 4))
			return w.WriteTensor("a", make([]byte, 4))
		}, "already written"},
		{"set after data", func(w *gguf.Writer) error {
			_ = w.AddTensor("a", gguf.TypeF32, 1)
			_ = w.WriteTensor("a", make([]byte, 4))
			return w.Set("k", "v")
		}, "header is already written"},
		{"missing data", func(w *gguf.Writer) error {
			_ = w.AddTensor("a", gguf.TypeF32, 1)
			_ = w.AddTensor("b", gguf.TypeF32, 1)
			return w.Close()
		}, `tensor "a" and 1 after it were not written`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := gguf.NewWriter(io.Discard)
			err := tc.run(w)
			if err == nil {
				err = w.Close()
			}
			if !errors.Is(err, gguf.ErrWriter) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrWriter containing %q", err, tc.want)
			}
			if again := w.Close(); again == nil {
				t.Error("error is not sticky")
			}
		})
	}
}

// failingWriter fails after limit bytes.
type failingWriter struct{ limit int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n := f.limit
		f.limit = 0
		return n, errors.New("disk full")
	}
	f.limit -= len(p)
	return len(p), nil
}

func TestWriterOutputError(t *testing.T) {
	w := gguf.NewWriter(&failingWriter{limit: 10})
	_ = w.AddTensor("a", gguf.TypeF32, 1<<20)
	err := w.WriteTensor("a", make([]byte, 4<<20))
	if err == nil {
		err = w.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want disk full", err)
	}
}

// goldenFile builds the small fixed file kept in testdata/small.gguf.
func goldenFile(tb testing.TB) []byte {
	return writeFile(tb, func(w *gguf.Writer) error {
		sets := []struct {
			k string
			v any
		}{
			{gguf.KeyArchitecture, "llama"},
			{gguf.KeyName, "golden"},
			{"llama.context_length", uint32(16)},
			{"llama.rope.freq_base", float32(10000)},
			{gguf.KeyTokens, []string{"<unk>", "<s>", "</s>"}},
			{gguf.KeyScores, []float32{0, -1, -2}},
			{gguf.KeyTokenType, []int32{2, 3, 3}},
			{gguf.KeyAddBOS, true},
			{"test.int64", int64(-3)},
			{"test.nested", []gguf.Value{mustValue(tb, []uint16{1}), mustValue(tb, []uint16{2, 3})}},
		}
		for _, s := range sets {
			if err := w.Set(s.k, s.v); err != nil {
				return err
			}
		}
		if err := w.AddTensor(gguf.TensorTokenEmbd, gguf.TypeF32, 4, 3); err != nil {
			return err
		}
		if err := w.AddTensor(gguf.LayerTensor(0, gguf.LayerAttnQ), gguf.TypeQ8_0, 32, 2); err != nil {
			return err
		}
		if err := w.WriteTensor(gguf.TensorTokenEmbd, pattern(48, 1)); err != nil {
			return err
		}
		return w.WriteTensor(gguf.LayerTensor(0, gguf.LayerAttnQ), pattern(68, 2))
	})
}

func TestGolden(t *testing.T) {
	got := goldenFile(t)
	path := filepath.Join("testdata", "small.gguf")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("writer output (%d bytes) differs from %s (%d bytes); run with -update if the change is intended",
			len(got), path, len(want))
	}
	f, err := gguf.Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	q, ok := f.Tensor("blk.0.attn_q.weight")
	if !ok || q.Type != gguf.TypeQ8_0 || q.Size != 68 || q.Offset != 64 {
		t.Errorf("golden q tensor: %+v", q)
	}
}
