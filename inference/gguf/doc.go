// Package gguf reads and writes GGUF, the model file format of llama.cpp.
//
// A GGUF file is a header (magic "GGUF", version, tensor count, metadata
// count), typed key-value metadata, one info record per tensor (name,
// dimensions, ggml type, offset), padding to the alignment, and the tensor
// data. Versions 2 and 3 share one layout for little-endian files (version 3
// only added big-endian files, which this package refuses); version 1 used
// 32-bit lengths and is refused too.
//
// Reading: Open memory-maps a file read-only and Parse reads one held in
// memory. Both check every length, count and offset against the bytes
// present before allocating or slicing, so a truncated or hostile file
// yields a *FormatError naming the field and the byte offset, never a panic
// or an allocation larger than the file. Metadata is decoded into memory of
// its own (arrays lazily, by the accessor that asks); tensor data is never
// copied: Tensor.Data is a view of the file.
//
//	f, err := gguf.Open(path)
//	if err != nil { ... }
//	defer f.Close()
//	layers := f.LlamaParams().BlockCount
//	tokens, _ := f.Strings(gguf.KeyTokens)
//	q, _ := f.Tensor(gguf.LayerTensor(0, gguf.LayerAttnQ))
//	raw := q.Data()
//
// Writing: a Writer takes metadata and tensor declarations first, then each
// tensor's bytes in order, streaming them to the output, and produces
// version 3 files llama.cpp loads. keys.go lists the standard key and tensor
// names.
//
// Shapes follow ggml: dimensions are listed fastest-varying first, so
// Shape[0] is the length of a row, and a PyTorch (out, in) weight matrix has
// Shape {in, out}.
package gguf
