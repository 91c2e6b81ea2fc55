package llama2c_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/llama2c"
	"github.com/corral-ai/corral/inference/shareddata"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// binArrays reads a legacy checkpoint the simple way, independently of the
// package: header, then each array in order, returned by llama2.c name.
// Per-layer arrays are returned whole (all layers concatenated).
func binArrays(t *testing.T, data []byte) (hdr [7]int32, arrays map[string][]float32) {
	t.Helper()
	if err := binary.Read(bytes.NewReader(data[:28]), binary.LittleEndian, &hdr); err != nil {
		t.Fatal(err)
	}
	dim, hidden, layers, heads, kvHeads, vocab, seq := int(hdr[0]), int(hdr[1]), int(hdr[2]), int(hdr[3]), int(hdr[4]), int(hdr[5]), int(hdr[6])
	shared := vocab > 0
	if vocab < 0 {
		vocab = -vocab
	}
	headSize := dim / heads
	kvDim := dim * kvHeads / heads
	sizes := []struct {
		name string
		n    int
	}{
		{"token_embedding", vocab * dim}, {"rms_att", layers * dim},
		{"wq", layers * dim * dim}, {"wk", layers * kvDim * dim}, {"wv", layers * kvDim * dim}, {"wo", layers * dim * dim},
		{"rms_ffn", layers * dim},
		{"w1", layers * hidden * dim}, {"w2", layers * dim * hidden}, {"w3", layers * hidden * dim},
		{"rms_final", dim}, {"freq_cis_real", seq * headSize / 2}, {"freq_cis_imag", seq * headSize / 2},
	}
	if !shared {
		sizes = append(sizes, struct {
			name string
			n    int
		}{"wcls", vocab * dim})
	}
	arrays = map[string][]float32{}
	off := 28
	for _, s := range sizes {
		a := make([]float32, s.n)
		for i := range a {
			a[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[off+4*i:]))
		}
		arrays[s.name] = a
		off += 4 * s.n
	}
	if off != len(data) {
		t.Fatalf("independent reader consumed %d of %d bytes", off, len(data))
	}
	return hdr, arrays
}

func floatsOf(t *testing.T, tn *gguf.Tensor) []float32 {
	t.Helper()
	if tn.Type != gguf.TypeF32 {
		t.Fatalf("%s is %s, want F32", tn.Name, tn.Type)
	}
	d := tn.Data()
	out := make([]float32, len(d)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))
	}
	return out
}

func convertBytes(t *testing.T, data []byte, opts llama2c.Options) *gguf.File {
	t.Helper()
	var out bytes.Buffer
	if err := llama2c.Convert(&out, bytes.NewReader(data), int64(len(data)), opts); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestConvertStories260K(t *testing.T) {
	data, err := os.ReadFile(shareddata.Path(t, "stories260K", "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	_, arrays := binArrays(t, data)
	f := convertBytes(t, data, llama2c.Options{Name: "stories260K"})

	t.Run("metadata", func(t *testing.T) {
		if f.Architecture() != "llama" || f.Version() != 3 {
			t.Errorf("architecture %q version %d", f.Architecture(), f.Version())
		}
		if name, _ := f.String(gguf.KeyName); name != "stories260K" {
			t.Errorf("name %q", name)
		}
		want := gguf.LlamaParams{
			Arch: "llama", ContextLength: 512, EmbeddingLength: 64, BlockCount: 5, FeedForwardLength: 172,
			HeadCount: 8, HeadCountKV: 4, RopeDimCount: 8, VocabSize: 512,
			RopeFreqBase: 10000, RMSEpsilon: float64(float32(1e-5)),
		}
		if got := f.LlamaParams(); got != want {
			t.Errorf("hyperparameters %+v\nwant %+v", got, want)
		}
		for key, want := range map[string]uint64{
			gguf.KeyFileType: 0, gguf.KeyBOSID: 1, gguf.KeyEOSID: 2, gguf.KeyUnknownID: 0,
		} {
			if got, ok := f.Uint(key); !ok || got != want {
				t.Errorf("%s = %d (%v), want %d", key, got, ok, want)
			}
		}
		if m, _ := f.String(gguf.KeyTokenizerModel); m != "llama" {
			t.Errorf("tokenizer model %q", m)
		}
		tokens, _ := f.Strings(gguf.KeyTokens)
		types, _ := f.Int32s(gguf.KeyTokenType)
		scores, _ := f.Float32s(gguf.KeyScores)
		if len(tokens) != 512 || len(types) != 512 || len(scores) != 512 {
			t.Fatalf("vocabulary sizes %d %d %d", len(tokens), len(types), len(scores))
		}
		checks := []struct {
			id   int
			text string
			typ  tokenizer.TokenType
		}{{0, "<unk>", tokenizer.TypeUnknown}, {1, "<s>", tokenizer.TypeControl}, {2, "</s>", tokenizer.TypeControl},
			{3, "<0x00>", tokenizer.TypeByte}, {13, "<0x0A>", tokenizer.TypeByte}, {258, "<0xFF>", tokenizer.TypeByte},
			{259, "<tok_259>", tokenizer.TypeNormal}, {511, "<tok_511>", tokenizer.TypeNormal}}
		for _, c := range checks {
			if tokens[c.id] != c.text || tokenizer.TokenType(types[c.id]) != c.typ {
				t.Errorf("token %d = %q type %d, want %q type %d", c.id, tokens[c.id], types[c.id], c.text, c.typ)
			}
		}
		if v, err := tokenizer.VocabFromMetadata(f); err != nil || !reflect.DeepEqual(v, llama2c.PlaceholderVocab(512)) {
			t.Errorf("vocabulary read back differs from PlaceholderVocab(512) (%v)", err)
		}
		if d, _ := f.String(gguf.KeyDescription); !strings.Contains(d, "placeholder") {
			t.Errorf("description %q does not say the vocabulary is a placeholder", d)
		}
	})

	t.Run("tensors", func(t *testing.T) {
		const dim, hidden, layers, kvDim, vocab = 64, 172, 5, 32, 512
		if n := len(f.Tensors()); n != 2+9*layers {
			t.Errorf("%d tensors, want %d", n, 2+9*layers)
		}
		if _, ok := f.Tensor(gguf.TensorOutput); ok {
			t.Error("output.weight written although the classifier is shared")
		}
		type want struct {
			name  string
			src   string
			layer int
			shape []uint64
		}
		wants := []want{
			{gguf.TensorTokenEmbd, "token_embedding", 0, []uint64{dim, vocab}},
			{gguf.TensorOutputNorm, "rms_final", 0, []uint64{dim}},
		}
		for l := range layers {
			wants = append(wants,
				want{gguf.LayerTensor(l, "attn_norm"), "rms_att", l, []uint64{dim}},
				want{gguf.LayerTensor(l, "attn_q"), "wq", l, []uint64{dim, dim}},
				want{gguf.LayerTensor(l, "attn_k"), "wk", l, []uint64{dim, kvDim}},
				want{gguf.LayerTensor(l, "attn_v"), "wv", l, []uint64{dim, kvDim}},
				want{gguf.LayerTensor(l, "attn_output"), "wo", l, []uint64{dim, dim}},
				want{gguf.LayerTensor(l, "ffn_norm"), "rms_ffn", l, []uint64{dim}},
				want{gguf.LayerTensor(l, "ffn_gate"), "w1", l, []uint64{dim, hidden}},
				want{gguf.LayerTensor(l, "ffn_down"), "w2", l, []uint64{hidden, dim}},
				want{gguf.LayerTensor(l, "ffn_up"), "w3", l, []uint64{dim, hidden}},
			)
		}
		for _, w := range wants {
			tn, ok := f.Tensor(w.name)
			if !ok {
				t.Errorf("missing %s", w.name)
				continue
			}
			if len(tn.Shape) != len(w.shape) || tn.Shape[0] != w.shape[0] || tn.Shape[len(tn.Shape)-1] != w.shape[len(w.shape)-1] {
				t.Errorf("%s shape %v, want %v", w.name, tn.Shape, w.shape)
			}
			got := floatsOf(t, tn)
			n := len(got)
			src := arrays[w.src][w.layer*n : (w.layer+1)*n]
			if got[0] != src[0] || got[n-1] != src[n-1] {
				t.Errorf("%s first/last %v %v, checkpoint %v %v", w.name, got[0], got[n-1], src[0], src[n-1])
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(src[i]) {
					t.Errorf("%s[%d] = %v, checkpoint %v", w.name, i, got[i], src[i])
					break
				}
			}
		}
	})
}

// tinyCheckpoint builds a small checkpoint whose every float is its own
// index, so any misplaced array shows. vocab < 0 adds a separate classifier.
func tinyCheckpoint(dim, hidden, layers, heads, kvHeads, vocab, seq int32) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, []int32{dim, hidden, layers, heads, kvHeads, vocab, seq})
	c := llama2c.Config{Dim: int(dim), HiddenDim: int(hidden), Layers: int(layers), Heads: int(heads), KVHeads: int(kvHeads),
		VocabSize: int(max(vocab, -vocab)), SeqLen: int(seq), SharedClassifier: vocab > 0}
	n := (int(c.FileSize()) - llama2c.HeaderSize) / 4
	for i := range n {
		_ = binary.Write(&b, binary.LittleEndian, float32(i))
	}
	return b.Bytes()
}

func TestConvertSeparateClassifier(t *testing.T) {
	data := tinyCheckpoint(8, 12, 2, 2, 1, -300, 4)
	_, arrays := binArrays(t, data)
	f := convertBytes(t, data, llama2c.Options{})
	out, ok := f.Tensor(gguf.TensorOutput)
	if !ok {
		t.Fatal("no output.weight for a separate classifier")
	}
	got := floatsOf(t, out)
	if len(got) != 300*8 || got[0] != arrays["wcls"][0] || got[len(got)-1] != arrays["wcls"][len(got)-1] {
		t.Errorf("output.weight does not hold wcls: %v..%v", got[0], got[len(got)-1])
	}
	k := floatsOf(t, mustTensor(t, f, "blk.1.attn_k.weight"))
	if want := arrays["wk"][4*8:]; k[0] != want[0] || k[len(k)-1] != want[len(want)-1] {
		t.Errorf("blk.1.attn_k %v.., want %v..", k[0], want[0])
	}
	if n := f.LlamaParams().HeadCountKV; n != 1 {
		t.Errorf("kv heads %d", n)
	}

	ck, err := llama2c.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	w2, err := ck.Floats("w2", 1)
	if want := arrays["w2"][8*12:]; err != nil || len(w2) != 8*12 || w2[0] != want[0] || w2[len(w2)-1] != want[8*12-1] {
		t.Errorf("Floats(w2, 1) = %d values, err %v", len(w2), err)
	}
	if _, err := ck.Floats("w2", 2); err == nil {
		t.Error("Floats of layer 2 in a 2-layer model succeeded")
	}
	if _, err := ck.Floats("nope", 0); err == nil {
		t.Error("Floats of an unknown array succeeded")
	}
}

func mustTensor(t *testing.T, f *gguf.File, name string) *gguf.Tensor {
	t.Helper()
	tn, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("missing tensor %s", name)
	}
	return tn
}

// tokenizerBin encodes pieces the way llama2.c's export does.
func tokenizerBin(maxLen int32, pieces []string, scores []float32) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, maxLen)
	for i, p := range pieces {
		_ = binary.Write(&b, binary.LittleEndian, scores[i])
		_ = binary.Write(&b, binary.LittleEndian, int32(len(p)))
		b.WriteString(p)
	}
	return b.Bytes()
}

func TestConvertWithTokenizer(t *testing.T) {
	pieces := []string{"<unk>", "\n<s>\n", "\n</s>\n", "<0x00>", "<0x0A>", " the", "ab", ""}
	scores := []float32{0, 0, 0, 0, 0, -1.5, -2, -3}
	tok := tokenizerBin(6, pieces, scores)
	data := tinyCheckpoint(8, 12, 1, 2, 2, int32(len(pieces)), 4)
	f := convertBytes(t, data, llama2c.Options{Tokenizer: bytes.NewReader(tok)})
	tokens, _ := f.Strings(gguf.KeyTokens)
	types, _ := f.Int32s(gguf.KeyTokenType)
	gotScores, _ := f.Float32s(gguf.KeyScores)
	wantTokens := []string{"<unk>", "<s>", "</s>", "<0x00>", "<0x0A>", "▁the", "ab", ""}
	wantTypes := []int32{2, 3, 3, 6, 6, 1, 1, 3}
	for i := range wantTokens {
		if tokens[i] != wantTokens[i] || types[i] != wantTypes[i] || gotScores[i] != scores[i] {
			t.Errorf("token %d = %q type %d score %v, want %q %d %v", i, tokens[i], types[i], gotScores[i], wantTokens[i], wantTypes[i], scores[i])
		}
	}
	if d, _ := f.String(gguf.KeyDescription); strings.Contains(d, "placeholder") {
		t.Errorf("description %q claims a placeholder", d)
	}
}

func TestTokenizerErrors(t *testing.T) {
	good := tokenizerBin(3, []string{"a", "bb", "ccc"}, []float32{0, 0, 0})
	cases := []struct {
		name string
		data []byte
		n    int
		want string
	}{
		{"empty", nil, 3, "max_token_length"},
		{"bad max", tokenizerBin(-1, nil, nil), 3, "max_token_length is -1"},
		{"too few", good, 4, "token 3 of 4: file ends early"},
		{"too many", good, 2, "data after the 2 tokens"},
		{"piece too long", tokenizerBin(2, []string{"abc"}, []float32{0}), 1, "token 0 has length 3, want 0..2"},
		{"truncated text", good[:len(good)-1], 3, "token 2 text: file ends early"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := llama2c.ReadTokenizer(bytes.NewReader(tc.data), tc.n)
			if !errors.Is(err, llama2c.ErrTokenizer) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrTokenizer containing %q", err, tc.want)
			}
		})
	}
}

func header(fields ...int32) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, fields)
	return b.Bytes()
}

func TestCheckpointErrors(t *testing.T) {
	good := tinyCheckpoint(8, 12, 1, 2, 2, 10, 4)
	flipped := append(header(8, 12, 1, 2, 2, -10, 4), good[28:]...)
	cases := []struct {
		name string
		data []byte
		want error
		text string
	}{
		{"short", good[:20], llama2c.ErrHeader, "shorter than the 28-byte header"},
		{"versioned export", append([]byte("ak42"), good[4:]...), llama2c.ErrHeader, `magic "ak42"`},
		{"zero dim", header(0, 12, 1, 2, 2, 10, 4), llama2c.ErrHeader, "dim is 0"},
		{"negative layers", header(8, 12, -1, 2, 2, 10, 4), llama2c.ErrHeader, "n_layers is -1"},
		{"huge field", header(8, 12, 1<<30, 2, 2, 10, 4), llama2c.ErrHeader, "n_layers is 1073741824"},
		{"heads do not divide dim", header(8, 12, 1, 3, 3, 10, 4), llama2c.ErrHeader, "not divisible by n_heads 3"},
		{"kv heads", header(8, 12, 1, 4, 3, 10, 4), llama2c.ErrHeader, "not a multiple of n_kv_heads 3"},
		{"odd head size", header(6, 12, 1, 2, 2, 10, 4), llama2c.ErrHeader, "head size 3 is odd"},
		{"size implied too big", header(1<<24, 1<<24, 1<<24, 2, 2, 10, 4), llama2c.ErrHeader, "over the"},
		{"truncated", good[:len(good)-4], llama2c.ErrSize, "implies 2684 bytes, file has 2680"},
		{"classifier sign", flipped, llama2c.ErrSize, "vocab_size sign"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := llama2c.Convert(&bytes.Buffer{}, bytes.NewReader(tc.data), int64(len(tc.data)), llama2c.Options{})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
}

func TestConvertFile(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "tiny.bin")
	out := filepath.Join(dir, "tiny.gguf")
	if err := os.WriteFile(in, tinyCheckpoint(8, 12, 1, 2, 2, 10, 4), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := llama2c.ConvertFile(in, out, "", llama2c.Options{}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if name, _ := f.String(gguf.KeyName); name != "tiny" {
		t.Errorf("name %q, want the input's base name", name)
	}
	// A failed conversion leaves no output and no temporary file behind.
	bad := filepath.Join(dir, "bad.bin")
	if err := os.WriteFile(bad, []byte("not a checkpoint at all, definitely"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := llama2c.ConvertFile(bad, filepath.Join(dir, "bad.gguf"), "", llama2c.Options{}); err == nil {
		t.Fatal("converted garbage")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("directory holds %d entries after a failed conversion, want 3", len(entries))
	}
}

// FuzzParseHeader checks that any header either fails with ErrHeader or
// yields a configuration whose implied file size is sane.
func FuzzParseHeader(f *testing.F) {
	f.Add(header(64, 172, 5, 8, 4, 512, 512))
	f.Add(header(8, 12, 1, 2, 2, -10, 4))
	f.Add(header(288, 768, 6, 6, 6, 32000, 256))
	f.Add([]byte("ak42\x01\x00\x00\x00"))
	if p, ok := shareddata.Lookup(f, "stories260K", "stories260K.bin"); ok {
		real, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(real[:28])
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		c, err := llama2c.ParseHeader(p)
		if err != nil {
			if !errors.Is(err, llama2c.ErrHeader) {
				t.Fatalf("error %v is not ErrHeader", err)
			}
			return
		}
		if size := c.FileSize(); size <= llama2c.HeaderSize || size > 1<<48 {
			t.Fatalf("config %+v implies file size %d", c, size)
		}
		if c.HeadSize()*c.Heads != c.Dim || c.KVDim() <= 0 {
			t.Fatalf("inconsistent config %+v", c)
		}
	})
}

// FuzzReadTokenizer checks that any tokenizer.bin either yields exactly n
// tokens or fails with ErrTokenizer.
func FuzzReadTokenizer(f *testing.F) {
	f.Add(tokenizerBin(6, []string{"<unk>", "\n<s>\n", "\n</s>\n", "<0x0A>", " the"}, []float32{0, 0, 0, 0, -1}), 5)
	f.Add(tokenizerBin(3, []string{"a", "bb", "ccc"}, []float32{0, 1, 2}), 3)
	f.Add([]byte{}, 1)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n < 0 || n > 1<<12 {
			return
		}
		v, err := llama2c.ReadTokenizer(bytes.NewReader(data), n)
		if err != nil {
			if !errors.Is(err, llama2c.ErrTokenizer) {
				t.Fatalf("error %v is not ErrTokenizer", err)
			}
			return
		}
		if len(v.Tokens) != n || len(v.Scores) != n || len(v.Types) != n {
			t.Fatalf("got %d/%d/%d entries, want %d", len(v.Tokens), len(v.Scores), len(v.Types), n)
		}
	})
}
