package gguf

import "sort"

// Info summarises a model file for people: what `corral model info` prints.
type Info struct {
	Architecture string
	Name         string
	Version      int
	FileSize     int64
	Parameters   uint64 // total elements of all tensors
	TensorCount  int
	// Types counts tensors per tensor type, most frequent first.
	Types []TypeCount

	// Params are the hyperparameters as the file states them (no
	// defaults): a zero means the key is absent.
	Params LlamaParams

	// Tokenizer is tokenizer.ggml.model: TokenizerLlama, TokenizerGPT2 or other.
	Tokenizer string
	// VocabSize is the length of tokenizer.ggml.tokens, else <arch>.vocab_size.
	VocabSize int
}

// TypeCount is how many tensors of one type a file holds.
type TypeCount struct {
	Type  TensorType
	Count int
}

// TokenizerKind describes a tokenizer.ggml.model value for people.
func TokenizerKind(model string) string {
	switch model {
	case TokenizerLlama:
		return "SentencePiece"
	case TokenizerGPT2:
		return "byte-level BPE"
	case "":
		return "none"
	}
	return "unknown"
}

// Info summarises f.
func (f *File) Info() Info {
	arch := f.Architecture()
	in := Info{
		Architecture: arch,
		Version:      f.Version(),
		FileSize:     f.Size(),
		TensorCount:  len(f.tensors),
	}
	in.Name, _ = f.String(KeyName)
	counts := map[TensorType]int{}
	for _, t := range f.tensors {
		in.Parameters += t.Elements
		counts[t.Type]++
	}
	for t, n := range counts {
		in.Types = append(in.Types, TypeCount{t, n})
	}
	sort.Slice(in.Types, func(i, j int) bool {
		a, b := in.Types[i], in.Types[j]
		return a.Count > b.Count || (a.Count == b.Count && a.Type < b.Type)
	})
	in.Params = f.LlamaParams()
	in.Tokenizer, _ = f.String(KeyTokenizerModel)
	if v, ok := f.kv[KeyTokens]; ok && v.typ == ValueArray {
		in.VocabSize = v.Len()
	} else {
		in.VocabSize = in.Params.VocabSize
	}
	return in
}
