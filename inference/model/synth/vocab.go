package synth

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/corral-ai/corral/inference/gguf"
)

// Vocab is a SentencePiece-style (tokenizer.ggml.model "llama") vocabulary.
type Vocab struct {
	Tokens []string
	Scores []float32
	Types  []int32
	BOS    int32
	EOS    int32
	UNK    int32
	// ChatTemplate, when set, is stored as tokenizer.chat_template.
	ChatTemplate string
}

// Ids of the special tokens every synth vocabulary starts with.
const (
	unkID = 0
	bosID = 1
	eosID = 2
)

// spmSpace is SentencePiece's visible space, which starts words.
const spmSpace = "▁"

// chatMLTemplate is the widely used ChatML Jinja template.
const chatMLTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

type vocabBuilder struct {
	v    Vocab
	seen map[string]bool
}

func newVocabBuilder() *vocabBuilder {
	b := &vocabBuilder{v: Vocab{BOS: bosID, EOS: eosID, UNK: unkID}, seen: map[string]bool{}}
	b.add("<unk>", 0, gguf.TokenUnknown)
	b.add("<s>", 0, gguf.TokenControl)
	b.add("</s>", 0, gguf.TokenControl)
	for c := range 256 {
		b.add(fmt.Sprintf("<0x%02X>", c), 0, gguf.TokenByte)
	}
	return b
}

func (b *vocabBuilder) add(tok string, score float32, typ int32) {
	if b.seen[tok] {
		return
	}
	b.seen[tok] = true
	b.v.Tokens = append(b.v.Tokens, tok)
	b.v.Scores = append(b.v.Scores, score)
	b.v.Types = append(b.v.Types, typ)
}

// addWords adds every character of the words as a token, then each word
// with the word-start marker and all its prefixes. Longer pieces score
// higher, so merging runs left to right within a word.
func (b *vocabBuilder) addWords(words []string) {
	b.add(spmSpace, -1000, gguf.TokenNormal)
	for _, w := range words {
		for _, r := range w {
			b.add(string(r), -1000, gguf.TokenNormal)
		}
	}
	for i, w := range words {
		piece := spmSpace + w
		for n := len(spmSpace) + 1; n <= len(piece); n++ {
			if utf8.RuneStart(piece[n-1]) && n < len(piece) && !utf8.RuneStart(piece[n]) {
				continue
			}
			// Among equal lengths, more frequent words (earlier) score higher.
			b.add(piece[:n], float32(n)-float32(i)/float32(len(words)+1), gguf.TokenNormal)
		}
	}
}

// DemoVocab returns the demo model's vocabulary: the special and byte
// tokens, ChatML's two control tokens, and the project's word list.
func DemoVocab() *Vocab {
	b := newVocabBuilder()
	b.add("<|im_start|>", 0, gguf.TokenControl)
	b.add("<|im_end|>", 0, gguf.TokenControl)
	b.addWords(demoWordList())
	b.v.ChatTemplate = chatMLTemplate
	return &b.v
}

// PlaceholderVocab returns a vocabulary of exactly n tokens (n >= 259):
// the special and byte tokens, the demo words while they fit, then unused
// filler tokens. It lets a random-weight model of any vocabulary size
// tokenize and print text.
func PlaceholderVocab(n int) *Vocab {
	b := newVocabBuilder()
	b.addWords(strings.Fields(demoWords))
	v := &b.v
	if len(v.Tokens) > n {
		v.Tokens, v.Scores, v.Types = v.Tokens[:n], v.Scores[:n], v.Types[:n]
	}
	for i := len(v.Tokens); i < n; i++ {
		v.Tokens = append(v.Tokens, fmt.Sprintf("<unused%d>", i))
		v.Scores = append(v.Scores, -1e9)
		v.Types = append(v.Types, gguf.TokenUnused)
	}
	return v
}

// set stores the vocabulary in the writer's metadata.
func (v *Vocab) set(g *gguf.Writer) error {
	kv := []struct {
		key string
		val any
	}{
		{gguf.KeyTokenizerModel, gguf.TokenizerLlama},
		{gguf.KeyTokens, v.Tokens},
		{gguf.KeyScores, v.Scores},
		{gguf.KeyTokenType, v.Types},
		{gguf.KeyBOSID, uint32(v.BOS)},
		{gguf.KeyEOSID, uint32(v.EOS)},
		{gguf.KeyUnknownID, uint32(v.UNK)},
		{gguf.KeyAddBOS, true},
		{gguf.KeyAddEOS, false},
		{gguf.KeyAddSpacePrefix, true},
	}
	if v.ChatTemplate != "" {
		kv = append(kv, struct {
			key string
			val any
		}{gguf.KeyChatTemplate, v.ChatTemplate})
	}
	for _, e := range kv {
		if err := g.Set(e.key, e.val); err != nil {
			return err
		}
	}
	return nil
}

// demoWordList returns the demo words followed by the capitalised forms.
func demoWordList() []string {
	words := strings.Fields(demoWords)
	for _, w := range strings.Fields(demoCapitalised) {
		r, n := utf8.DecodeRuneInString(w)
		words = append(words, string(unicode.ToUpper(r))+w[n:])
	}
	return words
}
