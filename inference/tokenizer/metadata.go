package tokenizer

import (
	"fmt"
	"math"
)

// GGUF metadata keys the tokenizer reads and writes (llama.cpp's names).
const (
	KeyModel          = "tokenizer.ggml.model"
	KeyPre            = "tokenizer.ggml.pre"
	KeyTokens         = "tokenizer.ggml.tokens"
	KeyScores         = "tokenizer.ggml.scores"
	KeyTokenType      = "tokenizer.ggml.token_type"
	KeyMerges         = "tokenizer.ggml.merges"
	KeyBOSID          = "tokenizer.ggml.bos_token_id"
	KeyEOSID          = "tokenizer.ggml.eos_token_id"
	KeyEOTID          = "tokenizer.ggml.eot_token_id"
	KeyUnknownID      = "tokenizer.ggml.unknown_token_id"
	KeyPaddingID      = "tokenizer.ggml.padding_token_id"
	KeyAddBOS         = "tokenizer.ggml.add_bos_token"
	KeyAddSpacePrefix = "tokenizer.ggml.add_space_prefix"
	KeyChatTemplate   = "tokenizer.chat_template"
)

// Metadata is read access to typed GGUF metadata; *gguf.File satisfies it.
// Each accessor returns false when the key is absent or has another type.
type Metadata interface {
	String(key string) (string, bool)
	Uint(key string) (uint64, bool)
	Bool(key string) (bool, bool)
	Strings(key string) ([]string, bool)
	Float32s(key string) ([]float32, bool)
	Int32s(key string) ([]int32, bool)
}

// FromMetadata builds a tokenizer from GGUF tokenizer metadata.
func FromMetadata(md Metadata) (*Tokenizer, error) {
	v, err := VocabFromMetadata(md)
	if err != nil {
		return nil, err
	}
	t, err := New(v)
	if err != nil {
		return nil, fmt.Errorf("build %s tokenizer: %w", v.Model, err)
	}
	return t, nil
}

// VocabFromMetadata reads the tokenizer.ggml.* keys. Absent optional keys
// get llama.cpp's defaults: for "llama" vocabularies BOS 1, EOS 2, UNK 0 and
// a space prefix; BOS is added unless add_bos_token says otherwise.
func VocabFromMetadata(md Metadata) (Vocab, error) {
	var v Vocab
	var ok bool
	if v.Model, ok = md.String(KeyModel); !ok {
		return v, fmt.Errorf("%w: %s", ErrMissingKey, KeyModel)
	}
	if v.Model != ModelSPM && v.Model != ModelBPE {
		return v, fmt.Errorf("%w: tokenizer model %q (supported: %q, %q)", ErrUnsupported, v.Model, ModelSPM, ModelBPE)
	}
	// An optional key that is present with the wrong type is an error, not
	// a silent default: a vocabulary built without its scores or token
	// types would tokenize wrongly without a word.
	has := keySet(md)
	wrongType := func(key string, ok bool, want string) error {
		if !ok && has[key] {
			return fmt.Errorf("%w: %s is present but is not %s", ErrInvalidVocab, key, want)
		}
		return nil
	}
	v.Pre, ok = md.String(KeyPre)
	if err := wrongType(KeyPre, ok, "a string"); err != nil {
		return v, err
	}
	if v.Tokens, ok = md.Strings(KeyTokens); !ok {
		return v, fmt.Errorf("%w: %s (array of strings)", ErrMissingKey, KeyTokens)
	}
	v.Scores, ok = md.Float32s(KeyScores)
	if err := wrongType(KeyScores, ok, "an array of float32"); err != nil {
		return v, err
	}
	types, ok := md.Int32s(KeyTokenType)
	if err := wrongType(KeyTokenType, ok, "an array of integers"); err != nil {
		return v, err
	}
	if ok {
		v.Types = make([]TokenType, len(types))
		for i, t := range types {
			v.Types[i] = TokenType(t)
		}
	}
	if v.Model == ModelBPE {
		if v.Merges, ok = md.Strings(KeyMerges); !ok {
			return v, fmt.Errorf("%w: %s (array of strings)", ErrMissingKey, KeyMerges)
		}
	}

	spm := v.Model == ModelSPM
	var err error
	ids := []struct {
		key  string
		dst  *int32
		dflt int32
	}{
		{KeyBOSID, &v.BOS, pick(spm, 1, NoToken)},
		{KeyEOSID, &v.EOS, pick(spm, 2, NoToken)},
		{KeyUnknownID, &v.UNK, pick(spm, 0, NoToken)},
		{KeyEOTID, &v.EOT, NoToken},
		{KeyPaddingID, &v.PAD, NoToken},
	}
	for _, id := range ids {
		if *id.dst, err = tokenID(md, id.key, id.dflt, len(v.Tokens)); err != nil {
			return v, err
		}
	}
	if v.AddBOS, ok = md.Bool(KeyAddBOS); !ok {
		if err := wrongType(KeyAddBOS, ok, "a bool"); err != nil {
			return v, err
		}
		v.AddBOS = spm || v.Pre == PreLlama3
	}
	if v.BOS == NoToken {
		v.AddBOS = false
	}
	if v.AddSpacePrefix, ok = md.Bool(KeyAddSpacePrefix); !ok {
		if err := wrongType(KeyAddSpacePrefix, ok, "a bool"); err != nil {
			return v, err
		}
		v.AddSpacePrefix = spm
	}
	v.ChatTemplate, ok = md.String(KeyChatTemplate)
	if err := wrongType(KeyChatTemplate, ok, "a string"); err != nil {
		return v, err
	}
	return v, nil
}

// keySet lists the keys of metadata that can list them (a GGUF file can);
// for other sources it is empty and wrong types fall back to defaults.
func keySet(md Metadata) map[string]bool {
	lister, ok := md.(interface{ Keys() []string })
	if !ok {
		return nil
	}
	set := map[string]bool{}
	for _, k := range lister.Keys() {
		set[k] = true
	}
	return set
}

func pick(cond bool, a, b int32) int32 {
	if cond {
		return a
	}
	return b
}

// tokenID reads a special token id; a default id outside the vocabulary
// means the token is absent.
func tokenID(md Metadata, key string, dflt int32, n int) (int32, error) {
	u, ok := md.Uint(key)
	if !ok {
		if dflt >= int32(n) {
			return NoToken, nil
		}
		return dflt, nil
	}
	if u >= uint64(n) || u > math.MaxInt32 {
		return NoToken, fmt.Errorf("%w: %s = %d, outside the vocabulary of %d tokens", ErrInvalidVocab, key, u, n)
	}
	return int32(u), nil
}

// KeyValue is one metadata entry for a GGUF writer. Value is a string, bool,
// uint32, []string, []float32 or []int32.
type KeyValue struct {
	Key   string
	Value any
}

// Metadata returns the vocabulary as GGUF tokenizer metadata, in the order
// llama.cpp's converter writes it. Feed each entry to the GGUF writer.
func (v *Vocab) Metadata() []KeyValue {
	md := []KeyValue{{KeyModel, v.Model}}
	if v.Pre != "" {
		md = append(md, KeyValue{KeyPre, v.Pre})
	}
	md = append(md, KeyValue{KeyTokens, v.Tokens})
	if v.Scores != nil {
		md = append(md, KeyValue{KeyScores, v.Scores})
	}
	types := make([]int32, len(v.Tokens))
	for i := range types {
		types[i] = int32(v.typeOf(i))
	}
	md = append(md, KeyValue{KeyTokenType, types})
	if v.Merges != nil {
		md = append(md, KeyValue{KeyMerges, v.Merges})
	}
	for _, id := range []struct {
		key string
		id  int32
	}{{KeyBOSID, v.BOS}, {KeyEOSID, v.EOS}, {KeyEOTID, v.EOT}, {KeyUnknownID, v.UNK}, {KeyPaddingID, v.PAD}} {
		if id.id != NoToken {
			md = append(md, KeyValue{id.key, uint32(id.id)})
		}
	}
	md = append(md, KeyValue{KeyAddBOS, v.AddBOS})
	if v.Model == ModelSPM {
		md = append(md, KeyValue{KeyAddSpacePrefix, v.AddSpacePrefix})
	}
	if v.ChatTemplate != "" {
		md = append(md, KeyValue{KeyChatTemplate, v.ChatTemplate})
	}
	return md
}
