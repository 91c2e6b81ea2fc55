package tokenizer_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/corral-ai/corral/inference/tokenizer"
)

func TestEncodeOptions(t *testing.T) {
	spm, bpe := spmTokenizer(t), bpeTokenizer(t)
	tests := []struct {
		name string
		tok  *tokenizer.Tokenizer
		text string
		opts tokenizer.EncodeOptions
		want []int32
	}{
		{"spm plain", spm, "Hello world", tokenizer.EncodeOptions{}, []int32{15043, 3186}},
		{"spm bos", spm, "Hello world", tokenizer.EncodeOptions{AddBOS: true}, []int32{1, 15043, 3186}},
		{"spm empty with bos", spm, "", tokenizer.EncodeOptions{AddBOS: true}, []int32{1}},
		{"spm empty", spm, "", tokenizer.EncodeOptions{}, nil},
		// Control text is ordinary text unless asked for.
		{"spm control as text", spm, "<s>", tokenizer.EncodeOptions{}, []int32{529, 29879, 29958}},
		{"spm control parsed", spm, "<s>", tokenizer.EncodeOptions{ParseSpecial: true}, []int32{1}},
		// After a special token SPM adds its space prefix again, as llama.cpp does.
		{"spm prefix after special", spm, "Hello</s>world", tokenizer.EncodeOptions{ParseSpecial: true}, []int32{15043, 2, 3186}},
		{"spm byte fallback", spm, "\x00", tokenizer.EncodeOptions{}, []int32{29871, 3}},
		{"bpe plain", bpe, "Hello world", tokenizer.EncodeOptions{}, []int32{9906, 1917}},
		{"bpe bos", bpe, "Hello", tokenizer.EncodeOptions{AddBOS: true}, []int32{128000, 9906}},
		{"bpe control parsed", bpe, "<|begin_of_text|>Hello<|eot_id|>", tokenizer.EncodeOptions{ParseSpecial: true}, []int32{128000, 9906, 128009}},
		{"bpe no space prefix after special", bpe, "<|eot_id|> Hello", tokenizer.EncodeOptions{ParseSpecial: true}, []int32{128009, 22691}},
		{"bpe invalid utf8", bpe, "\xff", tokenizer.EncodeOptions{}, []int32{187}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tok.Encode(tt.text, tt.opts); !slices.Equal(got, tt.want) {
				t.Errorf("Encode(%q, %+v) = %v, want %v", tt.text, tt.opts, got, tt.want)
			}
		})
	}
	t.Run("bpe control as text", func(t *testing.T) {
		got := bpe.Encode("<|eot_id|>", tokenizer.EncodeOptions{})
		if slices.Contains(got, 128009) || bpe.Decode(got) != "<|eot_id|>" {
			t.Errorf("Encode without ParseSpecial = %v (%q)", got, bpe.Decode(got))
		}
	})
}

func TestDecodeOptions(t *testing.T) {
	spm, bpe := spmTokenizer(t), bpeTokenizer(t)
	tests := []struct {
		name string
		tok  *tokenizer.Tokenizer
		ids  []int32
		opts tokenizer.DecodeOptions
		want string
	}{
		{"spm strips added space", spm, []int32{15043, 3186}, tokenizer.DecodeOptions{}, "Hello world"},
		{"spm strips added space after bos", spm, []int32{1, 15043, 3186}, tokenizer.DecodeOptions{}, "Hello world"},
		{"spm keeps space of continuation", spm, []int32{15043, 3186}, tokenizer.DecodeOptions{Continuation: true}, " Hello world"},
		{"spm renders control", spm, []int32{1, 15043, 2}, tokenizer.DecodeOptions{Special: true}, "<s> Hello</s>"},
		{"spm byte tokens", spm, []int32{29871, 243, 162, 169, 156}, tokenizer.DecodeOptions{}, "🦙"},
		{"spm out of range skipped", spm, []int32{-5, 15043, 1 << 30}, tokenizer.DecodeOptions{}, "Hello"},
		{"bpe plain", bpe, []int32{128000, 9906, 1917, 128009}, tokenizer.DecodeOptions{}, "Hello world"},
		{"bpe special", bpe, []int32{128000, 9906, 128009}, tokenizer.DecodeOptions{Special: true}, "<|begin_of_text|>Hello<|eot_id|>"},
		{"bpe partial character", bpe, []int32{9468, 248}, tokenizer.DecodeOptions{}, "\xf0\x9f\x9a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tok.DecodeWith(tt.ids, tt.opts); got != tt.want {
				t.Errorf("DecodeWith(%v, %+v) = %q, want %q", tt.ids, tt.opts, got, tt.want)
			}
		})
	}
}

func TestSpecialIDs(t *testing.T) {
	spm, bpe := spmTokenizer(t), bpeTokenizer(t)
	tests := []struct {
		name                string
		tok                 *tokenizer.Tokenizer
		model               string
		bos, eos, eot       int32
		eog                 []int32
		addBOS              bool
		templatePrefix      string
		textOf              int32
		text, piece         string
		lookup              string
		lookupID            int32
		lookupType          tokenizer.TokenType
		vocabLen            int
		unk                 int32
		wantTemplateMissing bool
	}{
		{
			name: "spm", tok: spm, model: tokenizer.ModelSPM, bos: 1, eos: 2, eot: tokenizer.NoToken,
			eog: []int32{2}, addBOS: true, textOf: 15043, text: "▁Hello", piece: " Hello",
			lookup: "<0x0A>", lookupID: 13, lookupType: tokenizer.TypeByte, vocabLen: 32000, unk: 0,
			wantTemplateMissing: true,
		},
		{
			name: "bpe", tok: bpe, model: tokenizer.ModelBPE, bos: 128000, eos: 128001, eot: 128009,
			eog: []int32{128001, 128009}, addBOS: true, templatePrefix: "{% set loop_messages",
			textOf: 22691, text: "ĠHello", piece: " Hello",
			lookup: "<|eot_id|>", lookupID: 128009, lookupType: tokenizer.TypeControl, vocabLen: 128256, unk: tokenizer.NoToken,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.tok
			if tok.Model() != tt.model || tok.BOS() != tt.bos || tok.EOS() != tt.eos || tok.EOT() != tt.eot || tok.UNK() != tt.unk {
				t.Errorf("model %q bos %d eos %d eot %d unk %d, want %q %d %d %d %d",
					tok.Model(), tok.BOS(), tok.EOS(), tok.EOT(), tok.UNK(), tt.model, tt.bos, tt.eos, tt.eot, tt.unk)
			}
			if !slices.Equal(tok.EOG(), tt.eog) {
				t.Errorf("EOG = %v, want %v", tok.EOG(), tt.eog)
			}
			for _, id := range tt.eog {
				if !tok.IsEOG(id) {
					t.Errorf("IsEOG(%d) = false", id)
				}
			}
			if tok.IsEOG(tt.textOf) {
				t.Errorf("IsEOG(%d) = true for a word", tt.textOf)
			}
			if tok.AddBOS() != tt.addBOS || tok.Len() != tt.vocabLen {
				t.Errorf("AddBOS %v Len %d, want %v %d", tok.AddBOS(), tok.Len(), tt.addBOS, tt.vocabLen)
			}
			if got := tok.Text(tt.textOf); got != tt.text {
				t.Errorf("Text(%d) = %q, want %q", tt.textOf, got, tt.text)
			}
			if got := tok.Piece(tt.textOf); got != tt.piece {
				t.Errorf("Piece(%d) = %q, want %q", tt.textOf, got, tt.piece)
			}
			if id, ok := tok.Lookup(tt.lookup); !ok || id != tt.lookupID || tok.Type(id) != tt.lookupType {
				t.Errorf("Lookup(%q) = %d, %v (type %v), want %d (%v)", tt.lookup, id, ok, tok.Type(id), tt.lookupID, tt.lookupType)
			}
			if _, ok := tok.Lookup("no such token \x00"); ok {
				t.Error("Lookup of a missing text succeeded")
			}
			if tok.Text(-1) != "" || tok.Piece(int32(tok.Len())) != "" || tok.Type(-1) != tokenizer.TypeUndefined {
				t.Error("out-of-range ids must give empty answers")
			}
			if tt.wantTemplateMissing != (tok.ChatTemplate() == "") || !strings.HasPrefix(tok.ChatTemplate(), tt.templatePrefix) {
				t.Errorf("ChatTemplate() = %.40q", tok.ChatTemplate())
			}
		})
	}
}

// TestStreamDecoder feeds ids one at a time: no chunk may end inside a
// character, and the chunks must add up to DecodeWith.
func TestStreamDecoder(t *testing.T) {
	texts := []string{
		"Hello world", "🦙 llamas 🚀😶‍🌫️ (emoji)", "Führer Cửa Việt нещо на Български",
		"我想在apple工作1314151天～", "កាន់តែពិសេសអាចខលចេញ", "مرحبا بالعالم", "\n\t  x  ",
	}
	for _, vc := range []struct {
		name string
		tok  *tokenizer.Tokenizer
	}{{"spm", spmTokenizer(t)}, {"bpe", bpeTokenizer(t)}} {
		for _, opts := range []tokenizer.DecodeOptions{{}, {Continuation: true}, {Special: true}} {
			for _, text := range texts {
				ids := vc.tok.Encode(text, tokenizer.EncodeOptions{AddBOS: true})
				d := vc.tok.NewStreamDecoder(opts)
				var b strings.Builder
				for _, id := range ids {
					chunk := d.Next(id)
					if !utf8.ValidString(chunk) {
						t.Errorf("%s %+v %q: chunk %q is not whole characters", vc.name, opts, text, chunk)
					}
					b.WriteString(chunk)
				}
				if rest := d.Flush(); rest != "" {
					t.Errorf("%s %q: Flush left %q for valid text", vc.name, text, rest)
				}
				if want := vc.tok.DecodeWith(ids, opts); b.String() != want {
					t.Errorf("%s %+v: stream gives %q, DecodeWith %q", vc.name, opts, b.String(), want)
				}
			}
		}
	}
}

func TestStreamDecoderBytes(t *testing.T) {
	spm := spmTokenizer(t)
	// "🦙" is four byte tokens in the Llama 2 vocabulary.
	d := spm.NewStreamDecoder(tokenizer.DecodeOptions{Continuation: true})
	var got []string
	for _, id := range []int32{243, 162, 169, 156, 29889} {
		got = append(got, d.Next(id))
	}
	if want := []string{"", "", "", "🦙", "."}; !slices.Equal(got, want) {
		t.Errorf("chunks %q, want %q", got, want)
	}

	tests := []struct {
		name  string
		ids   []int32
		want  []string
		flush string
	}{
		{"incomplete at end is flushed", []int32{243, 162}, []string{"", ""}, "\xf0\x9f"},
		{"invalid byte passes through", []int32{258}, []string{"\xff"}, ""},
		{"broken sequence is not held forever", []int32{243, 29889}, []string{"", "\xf0."}, ""},
		{"bad second byte is released at once", []int32{230, 3}, []string{"", "\xe3\x00"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := spm.NewStreamDecoder(tokenizer.DecodeOptions{})
			var got []string
			for _, id := range tt.ids {
				got = append(got, d.Next(id))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("chunks %q, want %q", got, tt.want)
			}
			if f := d.Flush(); f != tt.flush {
				t.Errorf("Flush() = %q, want %q", f, tt.flush)
			}
		})
	}
}

// TestInvalidUTF8 pins the defined behaviour for bytes that are not UTF-8:
// each is encoded as its byte token and decodes to itself.
func TestInvalidUTF8(t *testing.T) {
	inputs := []string{"\xff", "0\xc3 00", "a\xc3(b", "\xe4\xb8", "\xed\xa0\x80 surrogate", "ok\x80\x80\x80end", "\xf4\x90\x80\x80"}
	for _, vc := range []struct {
		name string
		tok  *tokenizer.Tokenizer
	}{{"spm", spmTokenizer(t)}, {"bpe", bpeTokenizer(t)}} {
		for _, in := range inputs {
			ids := vc.tok.Encode(in, tokenizer.EncodeOptions{AddBOS: true})
			if got := vc.tok.Decode(ids); got != in {
				t.Errorf("%s: Decode(Encode(%q)) = %q", vc.name, in, got)
			}
		}
	}
}

func TestNewRejectsBadVocab(t *testing.T) {
	byteLevel := func() []string {
		// The 256 single-character tokens of GPT-2's byte alphabet.
		var toks []string
		for b := range 256 {
			r := rune(b)
			switch {
			case b >= '!' && b <= '~', b >= 0xA1 && b <= 0xAC, b >= 0xAE:
			default:
				r = rune(256 + len(toks) - countPrintable(b))
			}
			toks = append(toks, string(r))
		}
		return toks
	}
	tests := []struct {
		name string
		v    tokenizer.Vocab
		want error
	}{
		{"no tokens", tokenizer.Vocab{Model: tokenizer.ModelSPM}, tokenizer.ErrInvalidVocab},
		{"unknown model", tokenizer.Vocab{Model: "bert", Tokens: []string{"a"}, BOS: -1, EOS: -1, EOT: -1, UNK: -1, PAD: -1}, tokenizer.ErrUnsupported},
		{"scores length", tokenizer.Vocab{Model: tokenizer.ModelSPM, Tokens: []string{"a"}, Scores: []float32{1, 2}, UNK: 0, BOS: -1, EOS: -1, EOT: -1, PAD: -1}, tokenizer.ErrInvalidVocab},
		{"types length", tokenizer.Vocab{Model: tokenizer.ModelSPM, Tokens: []string{"a"}, Types: []tokenizer.TokenType{1, 1}, UNK: 0, BOS: -1, EOS: -1, EOT: -1, PAD: -1}, tokenizer.ErrInvalidVocab},
		{"bad type", tokenizer.Vocab{Model: tokenizer.ModelSPM, Tokens: []string{"a"}, Types: []tokenizer.TokenType{9}, UNK: 0, BOS: -1, EOS: -1, EOT: -1, PAD: -1}, tokenizer.ErrInvalidVocab},
		{"bos out of range", tokenizer.Vocab{Model: tokenizer.ModelSPM, Tokens: []string{"a"}, UNK: 0, BOS: 7, EOS: -1, EOT: -1, PAD: -1}, tokenizer.ErrInvalidVocab},
		{"spm without byte fallback or unk", tokenizer.Vocab{Model: tokenizer.ModelSPM, Tokens: []string{"a"}, UNK: -1, BOS: -1, EOS: -1, EOT: -1, PAD: -1}, tokenizer.ErrInvalidVocab},
		{"bpe unknown pre", tokenizer.Vocab{Model: tokenizer.ModelBPE, Pre: "qwen2", Tokens: byteLevel(), UNK: -1, BOS: -1, EOS: -1, EOT: -1, PAD: -1}, tokenizer.ErrUnsupported},
		{"bpe missing byte", tokenizer.Vocab{Model: tokenizer.ModelBPE, Pre: tokenizer.PreLlama3, Tokens: byteLevel()[1:], UNK: -1, BOS: -1, EOS: -1, EOT: -1, PAD: -1}, tokenizer.ErrInvalidVocab},
		{"bpe merge without space", tokenizer.Vocab{Model: tokenizer.ModelBPE, Pre: tokenizer.PreLlama3, Tokens: byteLevel(), Merges: []string{"ab"}, UNK: -1, BOS: -1, EOS: -1, EOT: -1, PAD: -1}, tokenizer.ErrInvalidVocab},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tokenizer.New(tt.v); !errors.Is(err, tt.want) {
				t.Errorf("New() error = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("minimal bpe works", func(t *testing.T) {
		toks := append(byteLevel(), "ab")
		tok, err := tokenizer.New(tokenizer.Vocab{Model: tokenizer.ModelBPE, Pre: tokenizer.PreLlama3, Tokens: toks,
			Merges: []string{"a b"}, UNK: -1, BOS: -1, EOS: -1, EOT: -1, PAD: -1})
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Encode("abc", tokenizer.EncodeOptions{AddBOS: true}); !slices.Equal(got, []int32{256, 'c'}) {
			t.Errorf("Encode = %v", got)
		}
	})
}

// countPrintable counts the bytes below b that GPT-2's alphabet keeps as
// themselves.
func countPrintable(b int) int {
	n := 0
	for c := range b {
		if (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE {
			n++
		}
	}
	return n
}
