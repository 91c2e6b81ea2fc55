package gguf_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
)

// BenchmarkParseVocabulary parses the 32000-token vocabulary file (metadata
// only; arrays are walked, not decoded).
func BenchmarkParseVocabulary(b *testing.B) {
	data, err := os.ReadFile(vocabPath(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := gguf.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenVocabulary includes mapping the file and cloning metadata.
func BenchmarkOpenVocabulary(b *testing.B) {
	p := vocabPath(b)
	for b.Loop() {
		f, err := gguf.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		_ = f.Close()
	}
}

// BenchmarkStringsTokens decodes the 32000 token strings.
func BenchmarkStringsTokens(b *testing.B) {
	data, err := os.ReadFile(vocabPath(b))
	if err != nil {
		b.Fatal(err)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if s, ok := f.Strings(gguf.KeyTokens); !ok || len(s) != 32000 {
			b.Fatal("tokens")
		}
	}
}

// BenchmarkWriteTensors streams 64 MiB of tensor data through a Writer.
func BenchmarkWriteTensors(b *testing.B) {
	const n, size = 16, 4 << 20
	chunk := bytes.Repeat([]byte{1}, size)
	b.SetBytes(n * size)
	for b.Loop() {
		w := gguf.NewWriter(io.Discard)
		for i := range n {
			if err := w.AddTensor(gguf.LayerTensor(i, gguf.LayerAttnQ), gguf.TypeF32, size/4); err != nil {
				b.Fatal(err)
			}
		}
		for i := range n {
			if err := w.WriteTensor(gguf.LayerTensor(i, gguf.LayerAttnQ), chunk); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
