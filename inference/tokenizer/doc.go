// Package tokenizer turns text into token ids and back, exactly as Llama
// models were trained, for the two vocabulary kinds GGUF files carry:
//
//   - "llama" (Llama 2): SentencePiece-style. Spaces become U+2581 and a
//     space is put before the text; single characters are merged pairwise,
//     always taking the adjacent pair whose union is the piece with the
//     highest score (leftmost on ties); characters left without a piece are
//     written as byte tokens <0xNN>.
//   - "gpt2" with pre-tokenizer "llama-bpe" (Llama 3): byte-level BPE. The
//     text is split into words by Llama 3's pattern (implemented by hand in
//     pretokenize.go, as Go's regexp lacks look-ahead), each word's bytes are
//     written in GPT-2's byte alphabet and merged by merge rank; a word that
//     is a token by itself is taken whole (ignore_merges).
//
// Build a Tokenizer with FromMetadata from an opened GGUF file (anything
// with typed metadata accessors, see Metadata), or with New from a Vocab.
// ImportHF reads a Hugging Face tokenizer.json into a Vocab, and
// Vocab.Write puts its tokenizer.ggml.* keys (Vocab.Metadata) on a GGUF
// writer: every GGUF file Corral writes gets its vocabulary that way.
//
// Special tokens: control tokens (BOS, <|eot_id|>, ...) written in the text
// are recognised only with EncodeOptions.ParseSpecial; user-defined tokens
// always are. Decoding drops control tokens unless DecodeOptions.Special is
// set. Decode removes the space SentencePiece encoding put in front, so
// Decode(Encode(x)) == x; StreamDecoder decodes one id at a time without
// ever splitting a UTF-8 character.
//
// Invalid UTF-8 is accepted: every byte that is not part of a valid
// character is encoded on its own (a byte token, or its byte-level BPE
// token) and decodes to itself. The one text that does not survive a round
// trip is U+2581 itself in SentencePiece vocabularies, which decodes as a
// space, as in SentencePiece.
//
// Where this package departs from llama.cpp, it follows SentencePiece and
// Hugging Face, and only for input llama.cpp handles oddly: SPM merges only
// form normal, user-defined and unused pieces, never control, unknown or
// byte tokens (llama.cpp's lookup includes every token, so merges could
// reach "<s>"); invalid UTF-8 is split byte by byte rather than by the lead
// byte's length; special tokens are matched leftmost-longest.
//
// A Tokenizer is immutable after construction and safe for concurrent use.
package tokenizer
