package tokenizer

import (
	"fmt"
	"math"

	"github.com/corral-ai/corral/inference/gguf"
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
	if v.Model, ok = md.String(gguf.KeyTokenizerModel); !ok {
		return v, fmt.Errorf("%w: %s", ErrMissingKey, gguf.KeyTokenizerModel)
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
	v.Pre, ok = md.String(gguf.KeyTokenizerPre)
	if err := wrongType(gguf.KeyTokenizerPre, ok, "a string"); err != nil {
		return v, err
	}
	if v.Tokens, ok = md.Strings(gguf.KeyTokens); !ok {
		return v, fmt.Errorf("%w: %s (array of strings)", ErrMissingKey, gguf.KeyTokens)
	}
	v.Scores, ok = md.Float32s(gguf.KeyScores)
	if err := wrongType(gguf.KeyScores, ok, "an array of float32"); err != nil {
		return v, err
	}
	types, ok := md.Int32s(gguf.KeyTokenType)
	if err := wrongType(gguf.KeyTokenType, ok, "an array of integers"); err != nil {
		return v, err
	}
	if ok {
		v.Types = make([]TokenType, len(types))
		for i, t := range types {
			v.Types[i] = TokenType(t)
		}
	}
	if v.Model == ModelBPE {
		if v.Merges, ok = md.Strings(gguf.KeyMerges); !ok {
			return v, fmt.Errorf("%w: %s (array of strings)", ErrMissingKey, gguf.KeyMerges)
		}
	}

	spm := v.Model == ModelSPM
	var err error
	ids := []struct {
		key  string
		dst  *int32
		dflt int32
	}{
		{gguf.KeyBOSID, &v.BOS, pick(spm, 1, NoToken)},
		{gguf.KeyEOSID, &v.EOS, pick(spm, 2, NoToken)},
		{gguf.KeyUnknownID, &v.UNK, pick(spm, 0, NoToken)},
		{gguf.KeyEOTID, &v.EOT, NoToken},
		{gguf.KeyPaddingID, &v.PAD, NoToken},
	}
	for _, id := range ids {
		if *id.dst, err = tokenID(md, id.key, id.dflt, len(v.Tokens)); err != nil {
			return v, err
		}
	}
	if v.AddBOS, ok = md.Bool(gguf.KeyAddBOS); !ok {
		if err := wrongType(gguf.KeyAddBOS, ok, "a bool"); err != nil {
			return v, err
		}
		v.AddBOS = spm || v.Pre == PreLlama3
	}
	if v.BOS == NoToken {
		v.AddBOS = false
	}
	if v.AddSpacePrefix, ok = md.Bool(gguf.KeyAddSpacePrefix); !ok {
		if err := wrongType(gguf.KeyAddSpacePrefix, ok, "a bool"); err != nil {
			return v, err
		}
		v.AddSpacePrefix = spm
	}
	v.ChatTemplate, ok = md.String(gguf.KeyChatTemplate)
	if err := wrongType(gguf.KeyChatTemplate, ok, "a string"); err != nil {
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
// llama.cpp's converter writes it. It is the one definition of what a
// vocabulary puts in a file; Write feeds it to a GGUF writer.
func (v *Vocab) Metadata() []KeyValue {
	md := []KeyValue{{gguf.KeyTokenizerModel, v.Model}}
	if v.Pre != "" {
		md = append(md, KeyValue{gguf.KeyTokenizerPre, v.Pre})
	}
	md = append(md, KeyValue{gguf.KeyTokens, v.Tokens})
	if v.Scores != nil {
		md = append(md, KeyValue{gguf.KeyScores, v.Scores})
	}
	types := make([]int32, len(v.Tokens))
	for i := range types {
		types[i] = int32(v.typeOf(i))
	}
	md = append(md, KeyValue{gguf.KeyTokenType, types})
	if v.Merges != nil {
		md = append(md, KeyValue{gguf.KeyMerges, v.Merges})
	}
	for _, id := range []struct {
		key string
		id  int32
	}{{gguf.KeyBOSID, v.BOS}, {gguf.KeyEOSID, v.EOS}, {gguf.KeyEOTID, v.EOT}, {gguf.KeyUnknownID, v.UNK}, {gguf.KeyPaddingID, v.PAD}} {
		if id.id != NoToken {
			md = append(md, KeyValue{id.key, uint32(id.id)})
		}
	}
	md = append(md, KeyValue{gguf.KeyAddBOS, v.AddBOS})
	if v.Model == ModelSPM {
		md = append(md, KeyValue{gguf.KeyAddSpacePrefix, v.AddSpacePrefix})
	}
	if v.ChatTemplate != "" {
		md = append(md, KeyValue{gguf.KeyChatTemplate, v.ChatTemplate})
	}
	return md
}

// Write checks the vocabulary as New would and sets its Metadata on w, so a
// file never carries a vocabulary the reader refuses.
func (v *Vocab) Write(w *gguf.Writer) error {
	if err := v.validate(); err != nil {
		return err
	}
	for _, kv := range v.Metadata() {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			return fmt.Errorf("write tokenizer metadata: %w", err)
		}
	}
	return nil
}
