package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// llama3Pattern is the split regex of Llama 3's tokenizer.json; a
// pre-tokenizer with exactly this pattern is PreLlama3.
const llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// hfTokenizer is the part of a Hugging Face tokenizer.json we read.
type hfTokenizer struct {
	AddedTokens []struct {
		ID      int64  `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	PreTokenizer *hfPreTokenizer `json:"pre_tokenizer"`
	Model        struct {
		Type         string           `json:"type"`
		Vocab        map[string]int64 `json:"vocab"`
		Merges       json.RawMessage  `json:"merges"`
		ByteFallback bool             `json:"byte_fallback"`
	} `json:"model"`
}

type hfPreTokenizer struct {
	Type          string            `json:"type"`
	PreTokenizers []*hfPreTokenizer `json:"pretokenizers"`
	Pattern       struct {
		Regex string `json:"Regex"`
	} `json:"pattern"`
	UseRegex bool `json:"use_regex"`
}

// hfConfig is the part of tokenizer_config.json we read. Special tokens are
// either strings or objects with a "content" field; chat_template is a
// string or a list of named templates.
type hfConfig struct {
	BOSToken     json.RawMessage `json:"bos_token"`
	EOSToken     json.RawMessage `json:"eos_token"`
	PadToken     json.RawMessage `json:"pad_token"`
	UnkToken     json.RawMessage `json:"unk_token"`
	AddBOSToken  *bool           `json:"add_bos_token"`
	ChatTemplate json.RawMessage `json:"chat_template"`
}

// ImportHF converts a Hugging Face tokenizer.json (and, when not nil, its
// tokenizer_config.json, which supplies BOS/EOS and the chat template) into
// a Vocab, ready for Vocab.Metadata and a GGUF writer. It supports
// byte-level BPE with the Llama 3 pre-tokenizer. Added tokens become control
// tokens when marked special and user-defined tokens otherwise; ids no token
// uses become unused "[PADn]" tokens, as llama.cpp's converter does.
func ImportHF(tokenizerJSON, configJSON []byte) (Vocab, error) {
	v := Vocab{BOS: NoToken, EOS: NoToken, EOT: NoToken, UNK: NoToken, PAD: NoToken}
	var hf hfTokenizer
	if err := json.Unmarshal(tokenizerJSON, &hf); err != nil {
		return v, fmt.Errorf("parse tokenizer.json: %w", err)
	}
	if hf.Model.Type != "BPE" || hf.Model.ByteFallback {
		return v, fmt.Errorf("%w: tokenizer.json model %q (byte_fallback %v); only byte-level BPE imports",
			ErrUnsupported, hf.Model.Type, hf.Model.ByteFallback)
	}
	pre, err := hfPre(hf.PreTokenizer)
	if err != nil {
		return v, err
	}
	v.Model, v.Pre = ModelBPE, pre

	n := int64(0)
	for _, id := range hf.Model.Vocab {
		n = max(n, id+1)
	}
	for _, at := range hf.AddedTokens {
		n = max(n, at.ID+1)
	}
	if n > MaxTokens {
		return v, fmt.Errorf("%w: token id %d beyond the limit %d", ErrInvalidVocab, n-1, MaxTokens)
	}
	v.Tokens = make([]string, n)
	v.Types = make([]TokenType, n)
	for s, id := range hf.Model.Vocab {
		if id < 0 {
			return v, fmt.Errorf("%w: token %q has id %d", ErrInvalidVocab, s, id)
		}
		v.Tokens[id], v.Types[id] = s, TypeNormal
	}
	for _, at := range hf.AddedTokens {
		if at.ID < 0 {
			return v, fmt.Errorf("%w: added token %q has id %d", ErrInvalidVocab, at.Content, at.ID)
		}
		v.Tokens[at.ID], v.Types[at.ID] = at.Content, TypeUserDefined
		if at.Special {
			v.Types[at.ID] = TypeControl
		}
	}
	for i, t := range v.Types {
		if t == TypeUndefined {
			v.Tokens[i], v.Types[i] = fmt.Sprintf("[PAD%d]", i), TypeUnused
		}
	}
	if v.Merges, err = hfMerges(hf.Model.Merges); err != nil {
		return v, err
	}
	if configJSON != nil {
		if err := v.applyHFConfig(configJSON); err != nil {
			return v, err
		}
	}
	return v, nil
}

// hfPre names the pre-tokenizer llama.cpp would use for p.
func hfPre(p *hfPreTokenizer) (string, error) {
	var steps []*hfPreTokenizer
	var flatten func(p *hfPreTokenizer)
	flatten = func(p *hfPreTokenizer) {
		if p == nil {
			return
		}
		if p.Type == "Sequence" {
			for _, q := range p.PreTokenizers {
				flatten(q)
			}
			return
		}
		steps = append(steps, p)
	}
	flatten(p)
	var desc []string
	for _, s := range steps {
		desc = append(desc, s.Type)
	}
	if len(steps) == 2 && steps[0].Type == "Split" && steps[0].Pattern.Regex == llama3Pattern &&
		steps[1].Type == "ByteLevel" && !steps[1].UseRegex {
		return PreLlama3, nil
	}
	return "", fmt.Errorf("%w: pre-tokenizer [%s]; only Llama 3's split pattern with byte-level is supported",
		ErrUnsupported, strings.Join(desc, ", "))
}

// hfMerges reads merges written as "left right" strings or as
// ["left", "right"] pairs (newer tokenizers versions).
func hfMerges(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: tokenizer.json has no model.merges", ErrInvalidVocab)
	}
	var merges []string
	if err := json.Unmarshal(raw, &merges); err == nil {
		return merges, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("parse model.merges: %w", err)
	}
	merges = make([]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("%w: merge %d has %d parts", ErrInvalidVocab, i, len(p))
		}
		merges[i] = p[0] + " " + p[1]
	}
	return merges, nil
}

// applyHFConfig takes special token ids, add_bos_token and the chat
// template from tokenizer_config.json.
func (v *Vocab) applyHFConfig(configJSON []byte) error {
	var c hfConfig
	if err := json.Unmarshal(configJSON, &c); err != nil {
		return fmt.Errorf("parse tokenizer_config.json: %w", err)
	}
	ids := make(map[string]int32, len(v.Tokens))
	for i, s := range v.Tokens {
		ids[s] = int32(i)
	}
	for _, sp := range []struct {
		name string
		raw  json.RawMessage
		dst  *int32
	}{{"bos_token", c.BOSToken, &v.BOS}, {"eos_token", c.EOSToken, &v.EOS}, {"pad_token", c.PadToken, &v.PAD}, {"unk_token", c.UnkToken, &v.UNK}} {
		text, err := hfTokenText(sp.raw)
		if err != nil {
			return fmt.Errorf("parse tokenizer_config.json %s: %w", sp.name, err)
		}
		if text == "" {
			continue
		}
		id, ok := ids[text]
		if !ok {
			return fmt.Errorf("%w: %s %q is not in the vocabulary", ErrInvalidVocab, sp.name, text)
		}
		*sp.dst = id
	}
	v.AddBOS = v.BOS != NoToken
	if c.AddBOSToken != nil {
		v.AddBOS = *c.AddBOSToken && v.BOS != NoToken
	}
	tmpl, err := hfChatTemplate(c.ChatTemplate)
	if err != nil {
		return err
	}
	v.ChatTemplate = tmpl
	return nil
}

// hfTokenText reads a special token given as a string, an object with
// "content", or null.
func hfTokenText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", err
	}
	return obj.Content, nil
}

// hfChatTemplate reads chat_template: a string, or a list of
// {"name", "template"} of which "default" (else the first) is taken.
func hfChatTemplate(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", fmt.Errorf("parse tokenizer_config.json chat_template: %w", err)
	}
	for _, t := range named {
		if t.Name == "default" {
			return t.Template, nil
		}
	}
	if len(named) > 0 {
		return named[0].Template, nil
	}
	return "", nil
}
