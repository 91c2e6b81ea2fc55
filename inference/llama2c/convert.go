package llama2c

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// Q and K layout, and why the converter copies wq and wk unchanged.
//
// RoPE can pair the dimensions of a head in two ways: adjacent pairs
// (2i, 2i+1), as Meta's original LLaMA code and llama2.c's run.c do, or the
// two halves (i, i+d/2), as Hugging Face's "rotate_half" does. Hugging Face
// checkpoints therefore hold wq and wk with their output rows permuted
// within each head relative to Meta's, so that rotating halves of the
// permuted projection equals rotating adjacent pairs of the original.
//
// llama.cpp runs LLM_ARCH_LLAMA with its "normal" RoPE (LLAMA_ROPE_TYPE_NORM),
// which rotates adjacent pairs: Meta's layout. So its Hugging Face converter
// (convert_hf_to_gguf.py, LlamaModel.modify_tensors, and the older convert.py)
// undoes Hugging Face's permutation on q_proj (with n_head) and k_proj (with
// n_head_kv): it reshapes each matrix to (heads, 2, head_dim/2, in), swaps
// the middle axes, and flattens back. Meta-format checkpoints needed no
// change. llama.cpp's own llama2.c converter
// (examples/convert-llama2c-to-ggml) copies wq and wk element for element,
// with no permutation.
//
// llama2.c checkpoints are in Meta's layout: llama2.c trains with
// interleaved (adjacent-pair) RoPE, and its export un-permutes weights it
// loads from Hugging Face. run.c rotates adjacent pairs. Hence: copy wq and
// wk as they are. A GGUF written here then gives llama.cpp, and any engine
// that treats GGUF llama models as llama.cpp does (adjacent pairs, theta
// 10000 unless llama.rope.freq_base says otherwise), the same results as
// run.c on the checkpoint. Checked: llama.cpp (the prebuilt CPU library of
// node-llama-cpp 3.22.1) loads the stories260K GGUF this package writes and,
// greedy from BOS, yields exactly the 199 first ids of the golden run.c
// output in ../shared/testdata/stories260K.
//
// Other mappings: w1 → ffn_gate, w2 → ffn_down, w3 → ffn_up; an (out, in)
// row-major matrix becomes a GGUF tensor of shape {in, out} with identical
// bytes, since ggml lists the fastest-varying dimension first. With a shared
// classifier no output.weight is written: llama.cpp then uses token_embd
// (as for tied-embedding models such as Llama 3.2 1B), so readers must
// fall back to token_embd.weight when output.weight is absent.

// Options tune a conversion.
type Options struct {
	// Name goes into general.name. Default "llama2c".
	Name string
	// Tokenizer is a llama2.c tokenizer.bin for the model. When nil, a
	// placeholder vocabulary of the right size is written (see
	// PlaceholderVocab) and general.description says so.
	Tokenizer io.Reader
}

// Rope and norm constants of llama2.c models: run.c hard-codes them.
const (
	ropeFreqBase = 10000
	rmsEpsilon   = 1e-5
)

// Convert writes the checkpoint in src (size bytes) to dst as an F32 GGUF
// v3 file with llama metadata. Weights are streamed, not held in memory.
func Convert(dst io.Writer, src io.ReaderAt, size int64, opts Options) error {
	ck, err := Read(src, size)
	if err != nil {
		return err
	}
	c := ck.Config
	vocab, placeholder := PlaceholderVocab(c.VocabSize), true
	if opts.Tokenizer != nil {
		if vocab, err = ReadTokenizer(opts.Tokenizer, c.VocabSize); err != nil {
			return err
		}
		placeholder = false
	}
	w := gguf.NewWriter(dst)
	if err := setMetadata(w, c, &vocab, placeholder, opts.Name); err != nil {
		return err
	}
	plan := tensorPlan(c)
	for _, p := range plan {
		sr, rows, cols, err := ck.Section(p.src, p.layer)
		if err != nil {
			return err
		}
		if err := w.AddTensor(p.name, gguf.TypeF32, shapeOf(rows, cols)...); err != nil {
			return err
		}
		p.r = sr
	}
	for _, p := range plan {
		if err := w.WriteTensorFrom(p.name, p.r); err != nil {
			return fmt.Errorf("convert %s: %w", p.name, err)
		}
	}
	return w.Close()
}

// shapeOf gives the ggml shape of a row-major (rows, cols) array; vectors
// (one row) are one-dimensional.
func shapeOf(rows, cols int) []uint64 {
	if rows == 1 {
		return []uint64{uint64(cols)}
	}
	return []uint64{uint64(cols), uint64(rows)}
}

// planned maps one GGUF tensor to its llama2.c source slice.
type planned struct {
	name  string
	src   string
	layer int
	r     io.Reader
}

// tensorPlan lists the GGUF tensors in the order llama.cpp's converters
// write them: embeddings, each block, final norm, classifier.
func tensorPlan(c Config) []*planned {
	plan := []*planned{{name: gguf.TensorTokenEmbd, src: "token_embedding"}}
	parts := []struct{ part, src string }{
		{gguf.LayerAttnNorm, "rms_att"},
		{gguf.LayerAttnQ, "wq"},
		{gguf.LayerAttnK, "wk"},
		{gguf.LayerAttnV, "wv"},
		{gguf.LayerAttnOutput, "wo"},
		{gguf.LayerFFNNorm, "rms_ffn"},
		{gguf.LayerFFNGate, "w1"},
		{gguf.LayerFFNDown, "w2"},
		{gguf.LayerFFNUp, "w3"},
	}
	for l := range c.Layers {
		for _, p := range parts {
			plan = append(plan, &planned{name: gguf.LayerTensor(l, p.part), src: p.src, layer: l})
		}
	}
	plan = append(plan, &planned{name: gguf.TensorOutputNorm, src: "rms_final"})
	if !c.SharedClassifier {
		plan = append(plan, &planned{name: gguf.TensorOutput, src: "wcls"})
	}
	return plan
}

func setMetadata(w *gguf.Writer, c Config, v *tokenizer.Vocab, placeholder bool, name string) error {
	if name == "" {
		name = "llama2c"
	}
	desc := "converted from a llama2.c checkpoint"
	if placeholder {
		desc += "; the vocabulary is a placeholder (<unk>, <s>, </s>, byte tokens <0x00>..<0xFF>, then <tok_N>): " +
			"ids are right but token text is not the model's"
	}
	params := gguf.LlamaParams{
		ContextLength:     c.SeqLen,
		EmbeddingLength:   c.Dim,
		BlockCount:        c.Layers,
		FeedForwardLength: c.HiddenDim,
		HeadCount:         c.Heads,
		HeadCountKV:       c.KVHeads,
		RopeDimCount:      c.HeadSize(),
		VocabSize:         c.VocabSize,
		RopeFreqBase:      ropeFreqBase,
		RMSEpsilon:        rmsEpsilon,
	}
	if err := params.Write(w); err != nil {
		return err
	}
	kvs := []struct {
		k string
		v any
	}{
		{gguf.KeyName, name},
		{gguf.KeyDescription, desc},
		{gguf.KeyFileType, gguf.FileTypeAllF32},
	}
	for _, kv := range kvs {
		if err := w.Set(kv.k, kv.v); err != nil {
			return err
		}
	}
	return v.Write(w)
}

// ConvertFile converts the checkpoint at in to a GGUF file at out, reading
// tokenizerPath as its tokenizer.bin when it is not empty. It writes to a
// temporary file beside out and renames it into place, so out is never left
// half written.
func ConvertFile(in, out, tokenizerPath string, opts Options) (err error) {
	src, err := os.Open(in)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	if tokenizerPath != "" {
		tok, err := os.Open(tokenizerPath)
		if err != nil {
			return err
		}
		defer tok.Close()
		opts.Tokenizer = tok
	}
	if opts.Name == "" {
		opts.Name = strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := Convert(tmp, src, st.Size(), opts); err != nil {
		return fmt.Errorf("convert %s: %w", in, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
