package tokenizer

import (
	"errors"
	"fmt"
	"math"

	"github.com/corral-ai/corral/inference/gguf"
)

// TokenType is a token's kind, with the numbering GGUF uses in
// tokenizer.ggml.token_type.
type TokenType int32

// Token types, as stored in GGUF.
const (
	TypeUndefined   TokenType = 0
	TypeNormal      TokenType = 1
	TypeUnknown     TokenType = 2
	TypeControl     TokenType = 3
	TypeUserDefined TokenType = 4
	TypeUnused      TokenType = 5
	TypeByte        TokenType = 6
)

func (t TokenType) String() string {
	switch t {
	case TypeUndefined:
		return "undefined"
	case TypeNormal:
		return "normal"
	case TypeUnknown:
		return "unknown"
	case TypeControl:
		return "control"
	case TypeUserDefined:
		return "user-defined"
	case TypeUnused:
		return "unused"
	case TypeByte:
		return "byte"
	}
	return fmt.Sprintf("TokenType(%d)", int32(t))
}

// NoToken marks a special token id the vocabulary does not have.
const NoToken int32 = -1

// Tokenizer model names, as in tokenizer.ggml.model.
const (
	ModelSPM = gguf.TokenizerLlama // SentencePiece-style: scores, byte fallback, leading space
	ModelBPE = gguf.TokenizerGPT2  // byte-level BPE with merge ranks
)

// Pre-tokenizer names, as in tokenizer.ggml.pre.
const (
	PreLlama3 = "llama-bpe" // the Llama 3 split pattern
)

// Limits checked before building a tokenizer, so a hostile vocabulary cannot
// make us allocate without bound.
const (
	MaxTokens   = 1 << 22 // vocabulary entries
	MaxTokenLen = 1 << 16 // bytes in one token's text
)

// Errors returned while building a tokenizer.
var (
	// ErrUnsupported means the vocabulary uses a tokenizer model or
	// pre-tokenizer this package does not implement.
	ErrUnsupported = errors.New("unsupported tokenizer")
	// ErrInvalidVocab means the vocabulary's data is inconsistent.
	ErrInvalidVocab = errors.New("invalid vocabulary")
	// ErrMissingKey means a required metadata key is absent or has the
	// wrong type.
	ErrMissingKey = errors.New("missing tokenizer metadata")
)

// Vocab is a tokenizer vocabulary as plain data: what GGUF's tokenizer.ggml.*
// keys hold. Build a Tokenizer from it with New.
type Vocab struct {
	// Model is ModelSPM or ModelBPE.
	Model string
	// Pre names the BPE pre-tokenizer (PreLlama3); empty for SPM.
	Pre string
	// Tokens holds each token's text, indexed by id.
	Tokens []string
	// Scores holds SPM merge priorities (higher merges first); nil means 0.
	Scores []float32
	// Types holds each token's type; nil means every token is normal.
	Types []TokenType
	// Merges lists BPE merges as "left right", highest priority first.
	Merges []string

	// BOS, EOS, EOT, UNK and PAD are special token ids or NoToken.
	BOS, EOS, EOT, UNK, PAD int32
	// AddBOS says the model expects a BOS token before a prompt.
	AddBOS bool
	// AddSpacePrefix adds a space before SPM text (Llama 2 does).
	AddSpacePrefix bool

	// ChatTemplate is the model's Jinja chat template text, if any.
	ChatTemplate string
}

// validate checks the vocabulary's sizes and ids.
func (v *Vocab) validate() error {
	n := len(v.Tokens)
	if n == 0 {
		return fmt.Errorf("%w: no tokens", ErrInvalidVocab)
	}
	if n > MaxTokens {
		return fmt.Errorf("%w: %d tokens, more than the limit %d", ErrInvalidVocab, n, MaxTokens)
	}
	if v.Scores != nil && len(v.Scores) != n {
		return fmt.Errorf("%w: %d scores for %d tokens", ErrInvalidVocab, len(v.Scores), n)
	}
	if v.Types != nil && len(v.Types) != n {
		return fmt.Errorf("%w: %d token types for %d tokens", ErrInvalidVocab, len(v.Types), n)
	}
	for i, s := range v.Scores {
		if math.IsNaN(float64(s)) {
			return fmt.Errorf("%w: token %d has a NaN score", ErrInvalidVocab, i)
		}
	}
	for i, t := range v.Types {
		if t < TypeUndefined || t > TypeByte {
			return fmt.Errorf("%w: token %d has type %d", ErrInvalidVocab, i, int32(t))
		}
	}
	for i, s := range v.Tokens {
		if len(s) > MaxTokenLen {
			return fmt.Errorf("%w: token %d is %d bytes long", ErrInvalidVocab, i, len(s))
		}
	}
	for _, sp := range []struct {
		name string
		id   int32
	}{{"BOS", v.BOS}, {"EOS", v.EOS}, {"EOT", v.EOT}, {"UNK", v.UNK}, {"PAD", v.PAD}} {
		if sp.id != NoToken && (sp.id < 0 || int(sp.id) >= n) {
			return fmt.Errorf("%w: %s id %d outside the vocabulary of %d tokens", ErrInvalidVocab, sp.name, sp.id, n)
		}
	}
	if v.AddBOS && v.BOS == NoToken {
		return fmt.Errorf("%w: BOS wanted but the vocabulary has none", ErrInvalidVocab)
	}
	return nil
}

// typeOf returns token id's type, normal when the vocabulary has no types.
func (v *Vocab) typeOf(id int) TokenType {
	if v.Types == nil {
		return TypeNormal
	}
	return v.Types[id]
}
