package tokenizer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Tokenizer turns text into token ids and back for one vocabulary. It is
// immutable after New and safe for concurrent use.
type Tokenizer struct {
	model  string
	tokens []string
	types  []TokenType
	ids    map[string]int32 // vocabulary text → id
	pieces []string         // each token's decoded bytes (control tokens: their text)

	bos, eos, eot, unk, pad int32
	addBOS                  bool
	addSpacePrefix          bool
	eog                     []int32
	chatTemplate            string

	specials specialMatcher
	spm      *spmModel
	bpe      *bpeModel
}

// EncodeOptions controls Encode.
type EncodeOptions struct {
	// AddBOS puts the BOS token first (when the vocabulary has one).
	AddBOS bool
	// ParseSpecial recognises control tokens such as <|eot_id|> written in
	// the text. Without it they are tokenised as ordinary text. User-defined
	// tokens are always recognised, as llama.cpp does.
	ParseSpecial bool
}

// DecodeOptions controls decoding.
type DecodeOptions struct {
	// Special renders control and unknown tokens (BOS, EOS, chat markers)
	// as their text; by default they produce nothing.
	Special bool
	// Continuation says the ids follow earlier text (generated tokens after
	// a prompt). SentencePiece decoding then keeps the first token's leading
	// space instead of removing the space the encoder added.
	Continuation bool
}

// New builds a tokenizer from a vocabulary. The Tokenizer keeps its own
// copies of everything it needs; v may be changed afterwards.
func New(v Vocab) (*Tokenizer, error) {
	if err := v.validate(); err != nil {
		return nil, err
	}
	t := &Tokenizer{
		model:          v.Model,
		tokens:         slices.Clone(v.Tokens),
		types:          make([]TokenType, len(v.Tokens)),
		ids:            make(map[string]int32, len(v.Tokens)),
		bos:            v.BOS,
		eos:            v.EOS,
		eot:            v.EOT,
		unk:            v.UNK,
		pad:            v.PAD,
		addBOS:         v.AddBOS,
		addSpacePrefix: v.AddSpacePrefix && v.Model == ModelSPM,
		chatTemplate:   v.ChatTemplate,
	}
	for i, s := range t.tokens {
		typ := v.typeOf(i)
		if typ == TypeUndefined {
			typ = TypeNormal
		}
		t.types[i] = typ
		t.ids[s] = int32(i) // a later duplicate wins, as in llama.cpp
	}
	var err error
	switch v.Model {
	case ModelSPM:
		t.spm, err = newSPM(t, v.Scores)
	case ModelBPE:
		t.bpe, err = newBPE(t, v.Pre, v.Merges)
	default:
		err = fmt.Errorf("%w: tokenizer model %q (supported: %q, %q)", ErrUnsupported, v.Model, ModelSPM, ModelBPE)
	}
	if err != nil {
		return nil, err
	}
	t.pieces = make([]string, len(t.tokens))
	for i := range t.tokens {
		t.pieces[i] = t.decodePiece(int32(i))
	}
	t.specials = newSpecialMatcher(t.tokens, t.types)
	t.eog = t.findEOG()
	return t, nil
}

// Model returns the tokenizer model name: ModelSPM or ModelBPE.
func (t *Tokenizer) Model() string { return t.model }

// Len returns the number of tokens in the vocabulary.
func (t *Tokenizer) Len() int { return len(t.tokens) }

// BOS returns the beginning-of-sequence token id, or NoToken.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS returns the end-of-sequence token id, or NoToken.
func (t *Tokenizer) EOS() int32 { return t.eos }

// EOT returns the end-of-turn token id (Llama 3's <|eot_id|>), or NoToken.
func (t *Tokenizer) EOT() int32 { return t.eot }

// UNK returns the unknown token id, or NoToken.
func (t *Tokenizer) UNK() int32 { return t.unk }

// AddBOS reports whether the model expects a BOS token before a prompt.
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// ChatTemplate returns the model's chat template text, or "".
func (t *Tokenizer) ChatTemplate() string { return t.chatTemplate }

// EOG returns the tokens that end generation: EOS and EOT when present.
func (t *Tokenizer) EOG() []int32 { return slices.Clone(t.eog) }

// IsEOG reports whether id ends generation.
func (t *Tokenizer) IsEOG(id int32) bool { return slices.Contains(t.eog, id) }

// Text returns a token's text as stored in the vocabulary (for example
// "▁Hello" or "ĠHello"), or "" for an id outside it.
func (t *Tokenizer) Text(id int32) string {
	if id < 0 || int(id) >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// Type returns a token's type, or TypeUndefined for an id outside the
// vocabulary.
func (t *Tokenizer) Type(id int32) TokenType {
	if id < 0 || int(id) >= len(t.types) {
		return TypeUndefined
	}
	return t.types[id]
}

// Lookup returns the id of the token whose vocabulary text is exactly s.
func (t *Tokenizer) Lookup(s string) (int32, bool) {
	id, ok := t.ids[s]
	return id, ok
}

// Piece returns the bytes a token stands for when decoded on its own, with
// control tokens rendered as their text. SentencePiece pieces keep their
// leading space.
func (t *Tokenizer) Piece(id int32) string {
	if id < 0 || int(id) >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// piece returns what decoding emits for id: control and unknown tokens only
// when special is set, unused tokens never.
func (t *Tokenizer) piece(id int32, special bool) string {
	if id < 0 || int(id) >= len(t.pieces) {
		return ""
	}
	switch t.types[id] {
	case TypeControl, TypeUnknown:
		if !special {
			return ""
		}
	case TypeUnused:
		return ""
	}
	return t.pieces[id]
}

// decodePiece computes the bytes token id stands for.
func (t *Tokenizer) decodePiece(id int32) string {
	text := t.tokens[id]
	switch t.types[id] {
	case TypeByte:
		if b, ok := parseByteToken(text); ok {
			return string([]byte{b})
		}
		return text
	case TypeNormal:
		if t.bpe != nil {
			return bytesFromByteLevel(text)
		}
		return strings.ReplaceAll(text, spaceMarker, " ")
	}
	return text
}

// parseByteToken reads a SentencePiece byte token such as "<0x0A>".
func parseByteToken(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(s[3:5], 16, 8)
	if err != nil {
		return 0, false
	}
	return byte(v), true
}

// endOfTurnTexts are control tokens that close a turn in common chat
// formats; the first one present becomes EOT when the metadata names none.
var endOfTurnTexts = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>"}

// endOfGenerationTexts are further control tokens that end generation when
// sampled (Llama 3's end of text and tool-call end, GPT-style end of text).
var endOfGenerationTexts = []string{"<|end_of_text|>", "<|eom_id|>", "<|endoftext|>"}

// controlID returns the id of the control token with text s, or NoToken.
func (t *Tokenizer) controlID(s string) int32 {
	if id, ok := t.ids[s]; ok && t.types[id] == TypeControl {
		return id
	}
	return NoToken
}

// findEOG lists the tokens that end generation: EOS, EOT and the known
// end-of-generation control tokens present in the vocabulary.
func (t *Tokenizer) findEOG() []int32 {
	if t.eot == NoToken {
		for _, s := range endOfTurnTexts {
			if id := t.controlID(s); id != NoToken {
				t.eot = id
				break
			}
		}
	}
	var eog []int32
	add := func(id int32) {
		if id != NoToken && !slices.Contains(eog, id) {
			eog = append(eog, id)
		}
	}
	add(t.eos)
	add(t.eot)
	for _, s := range endOfTurnTexts {
		add(t.controlID(s))
	}
	for _, s := range endOfGenerationTexts {
		add(t.controlID(s))
	}
	return eog
}

// Encode turns text into token ids. Any byte string is accepted: invalid
// UTF-8 is encoded byte by byte (SPM byte fallback, or the byte-level
// alphabet for BPE), so Decode gives the same bytes back.
func (t *Tokenizer) Encode(text string, o EncodeOptions) []int32 {
	out := make([]int32, 0, len(text)/3+2)
	if o.AddBOS && t.bos != NoToken {
		out = append(out, t.bos)
	}
	// SPM adds its space prefix to text at the start and after every special
	// token, as llama.cpp does.
	afterSpecial := true
	start := 0
	if t.specials.active(o.ParseSpecial) {
		for i := 0; i < len(text); {
			id, n := t.specials.match(text[i:], o.ParseSpecial)
			if n == 0 {
				i++
				continue
			}
			if i > start {
				out = t.encodeText(out, text[start:i], afterSpecial)
			}
			out = append(out, id)
			afterSpecial = true
			i += n
			start = i
		}
	}
	if start < len(text) {
		out = t.encodeText(out, text[start:], afterSpecial)
	}
	return out
}

// encodeText encodes a fragment that holds no special tokens.
func (t *Tokenizer) encodeText(out []int32, text string, afterSpecial bool) []int32 {
	if t.spm != nil {
		return t.spm.encode(out, text, t.addSpacePrefix && afterSpecial)
	}
	return t.bpe.encode(out, text)
}

// Decode turns token ids back into text. Control tokens produce nothing and
// SentencePiece's added leading space is removed, so
// Decode(Encode(x, ...)) == x. Ids outside the vocabulary are skipped.
func (t *Tokenizer) Decode(ids []int32) string {
	return t.DecodeWith(ids, DecodeOptions{})
}

// DecodeWith is Decode with options.
func (t *Tokenizer) DecodeWith(ids []int32, o DecodeOptions) string {
	var b strings.Builder
	strip := t.addSpacePrefix && !o.Continuation
	for _, id := range ids {
		p := t.piece(id, o.Special)
		if p == "" {
			continue
		}
		if strip {
			p = strings.TrimPrefix(p, " ")
			strip = false
		}
		b.WriteString(p)
	}
	return b.String()
}

// specialToken is a token recognised verbatim in text.
type specialToken struct {
	text   string
	id     int32
	always bool // user-defined: matched even without ParseSpecial
}

// specialMatcher finds special tokens in text, longest first at each
// position (leftmost-longest, as Hugging Face's added-token matcher does).
type specialMatcher struct {
	byFirst   [256][]specialToken // sorted longest first
	hasAlways bool
	hasAny    bool
}

func newSpecialMatcher(tokens []string, types []TokenType) specialMatcher {
	var m specialMatcher
	for i, s := range tokens {
		if s == "" {
			continue
		}
		switch types[i] {
		case TypeControl, TypeUnknown, TypeUserDefined:
		default:
			continue
		}
		always := types[i] == TypeUserDefined
		m.byFirst[s[0]] = append(m.byFirst[s[0]], specialToken{s, int32(i), always})
		m.hasAny = true
		m.hasAlways = m.hasAlways || always
	}
	for i := range m.byFirst {
		slices.SortStableFunc(m.byFirst[i], func(a, b specialToken) int { return len(b.text) - len(a.text) })
	}
	return m
}

func (m *specialMatcher) active(parseSpecial bool) bool {
	return m.hasAlways || (parseSpecial && m.hasAny)
}

// match returns the special token that s starts with and its length, or
// n == 0.
func (m *specialMatcher) match(s string, parseSpecial bool) (id int32, n int) {
	for _, st := range m.byFirst[s[0]] {
		if (parseSpecial || st.always) && strings.HasPrefix(s, st.text) {
			return st.id, len(st.text)
		}
	}
	return 0, 0
}
