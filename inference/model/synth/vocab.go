package synth

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/corral-ai/corral/inference/tokenizer"
)

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
	v    tokenizer.Vocab
	seen map[string]bool
}

// newVocabBuilder starts a SentencePiece-style vocabulary with Llama 2's
// special and byte tokens and its settings (BOS added, space prefix).
func newVocabBuilder() *vocabBuilder {
	b := &vocabBuilder{v: tokenizer.Vocab{
		Model: tokenizer.ModelSPM,
		BOS:   bosID, EOS: eosID, UNK: unkID, EOT: tokenizer.NoToken, PAD: tokenizer.NoToken,
		AddBOS: true, AddSpacePrefix: true,
	}, seen: map[string]bool{}}
	b.add("<unk>", 0, tokenizer.TypeUnknown)
	b.add("<s>", 0, tokenizer.TypeControl)
	b.add("</s>", 0, tokenizer.TypeControl)
	for c := range 256 {
		b.add(fmt.Sprintf("<0x%02X>", c), 0, tokenizer.TypeByte)
	}
	return b
}

func (b *vocabBuilder) add(tok string, score float32, typ tokenizer.TokenType) {
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
	b.add(spmSpace, -1000, tokenizer.TypeNormal)
	for _, w := range words {
		for _, r := range w {
			b.add(string(r), -1000, tokenizer.TypeNormal)
		}
	}
	for i, w := range words {
		piece := spmSpace + w
		for n := len(spmSpace) + 1; n <= len(piece); n++ {
			if utf8.RuneStart(piece[n-1]) && n < len(piece) && !utf8.RuneStart(piece[n]) {
				continue
			}
			// Among equal lengths, more frequent words (earlier) score higher.
			b.add(piece[:n], float32(n)-float32(i)/float32(len(words)+1), tokenizer.TypeNormal)
		}
	}
}

// DemoVocab returns the demo model's vocabulary: the special and byte
// tokens, ChatML's two control tokens, and the project's word list.
func DemoVocab() *tokenizer.Vocab {
	b := newVocabBuilder()
	b.add("<|im_start|>", 0, tokenizer.TypeControl)
	b.add("<|im_end|>", 0, tokenizer.TypeControl)
	b.addWords(demoWordList())
	b.v.ChatTemplate = chatMLTemplate
	return &b.v
}

// PlaceholderVocab returns a vocabulary of exactly n tokens (n >= 259):
// the special and byte tokens, the demo words while they fit, then unused
// filler tokens. It lets a random-weight model of any vocabulary size
// tokenize and print text.
func PlaceholderVocab(n int) *tokenizer.Vocab {
	b := newVocabBuilder()
	b.addWords(strings.Fields(demoWords))
	v := &b.v
	if len(v.Tokens) > n {
		v.Tokens, v.Scores, v.Types = v.Tokens[:n], v.Scores[:n], v.Types[:n]
	}
	for i := len(v.Tokens); i < n; i++ {
		v.Tokens = append(v.Tokens, fmt.Sprintf("<unused%d>", i))
		v.Scores = append(v.Scores, -1e9)
		v.Types = append(v.Types, tokenizer.TypeUnused)
	}
	return v
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
