package gguf

import "strconv"

// Standard metadata keys, as llama.cpp names them. The "<arch>.*"
// hyperparameter keys are known only to LlamaParams (llama.go).
const (
	KeyArchitecture        = "general.architecture"
	KeyName                = "general.name"
	KeyDescription         = "general.description"
	KeyAlignment           = "general.alignment" // uint32, power of two; default 32
	KeyFileType            = "general.file_type" // llama.cpp's LLAMA_FTYPE (0 = all F32)
	KeyQuantizationVersion = "general.quantization_version"

	KeyTokenizerModel  = "tokenizer.ggml.model" // TokenizerLlama or TokenizerGPT2
	KeyTokenizerPre    = "tokenizer.ggml.pre"   // pre-tokenizer name, such as "llama-bpe"
	KeyTokens          = "tokenizer.ggml.tokens"
	KeyScores          = "tokenizer.ggml.scores"
	KeyTokenType       = "tokenizer.ggml.token_type" // int32 per token: tokenizer.TokenType
	KeyMerges          = "tokenizer.ggml.merges"
	KeyBOSID           = "tokenizer.ggml.bos_token_id"
	KeyEOSID           = "tokenizer.ggml.eos_token_id"
	KeyEOTID           = "tokenizer.ggml.eot_token_id"
	KeyUnknownID       = "tokenizer.ggml.unknown_token_id"
	KeyPaddingID       = "tokenizer.ggml.padding_token_id"
	KeySeparatorID     = "tokenizer.ggml.seperator_token_id" // sic: llama.cpp's spelling
	KeyAddBOS          = "tokenizer.ggml.add_bos_token"
	KeyAddEOS          = "tokenizer.ggml.add_eos_token"
	KeyAddSpacePrefix  = "tokenizer.ggml.add_space_prefix"
	KeyChatTemplate    = "tokenizer.chat_template"
	KeyHFTokenizerJSON = "tokenizer.huggingface.json"
)

// Standard values of some keys.
const (
	ArchLlama      = "llama" // general.architecture of Llama-family models
	TokenizerLlama = "llama" // tokenizer.ggml.model: SentencePiece-style (Llama 2)
	TokenizerGPT2  = "gpt2"  // tokenizer.ggml.model: byte-level BPE (Llama 3)

	FileTypeAllF32 uint32 = 0 // general.file_type of an all-F32 model
)

// Tensor names llama.cpp uses for Llama models. Per-layer tensors are named
// by LayerTensor from the Layer* parts below.
const (
	TensorTokenEmbd  = "token_embd.weight"
	TensorOutputNorm = "output_norm.weight"
	TensorOutput     = "output.weight" // absent when tied to token_embd
	TensorRopeFreqs  = "rope_freqs.weight"

	LayerAttnNorm   = "attn_norm"
	LayerAttnQ      = "attn_q"
	LayerAttnK      = "attn_k"
	LayerAttnV      = "attn_v"
	LayerAttnOutput = "attn_output"
	LayerFFNNorm    = "ffn_norm"
	LayerFFNGate    = "ffn_gate"
	LayerFFNDown    = "ffn_down"
	LayerFFNUp      = "ffn_up"
)

// LayerTensor returns the name of a per-layer weight, such as
// LayerTensor(3, LayerAttnQ) = "blk.3.attn_q.weight".
func LayerTensor(layer int, part string) string {
	return "blk." + strconv.Itoa(layer) + "." + part + ".weight"
}
