package tokenizer_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/tokenizer"
)

// benchFragments are the building blocks of the benchmark text, one group
// per kind of content.
var benchFragments = [][]string{
	{"The quick brown fox jumps over the lazy dog.", "Operators point Corral at a model file and it serves chats.",
		"I'll be there at nine, won't you?", "Continuous batching keeps the accelerator busy."},
	{"Größere Änderungen erfordern eine Überprüfung.", "Der Tokenizer zerlegt den Text in Stücke.",
		"Fünf Brüder aßen zwölf Äpfel."},
	{"Съешь же ещё этих мягких французских булок.", "Токенизатор разбивает текст на части.", "Привет, как дела?"},
	{"我想在苹果公司工作。", "今天天气很好，我们去公园散步吧。", "分词器把文本切成小块。"},
	{"日本語のテキストを分割します。", "カタカナとひらがなと漢字。", "東京は大きな都市です。"},
	{"مرحبا بالعالم، كيف حالك؟", "هذا نص عربي للاختبار.", "المحلل يقسم النص إلى أجزاء."},
	{"🦙🚀 ", "😶‍🌫️ ", "👨‍👩‍👧‍👦 ", "✅ done ", "🎉🎉🎉 "},
	{"func main() {\n\tfmt.Println(\"hello\")\n}\n", "for i := 0; i < n; i++ {\n\tsum += x[i] * y[i]\n}\n",
		"if err != nil {\n\treturn fmt.Errorf(\"read: %w\", err)\n}\n", "SELECT id, name FROM users WHERE age > 42;\n"},
}

// benchText returns about size bytes of mixed-language text, the same on
// every run: sentences from each group, numbers, and paragraph breaks.
func benchText(size int) string {
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for b.Len() < size {
		g := benchFragments[r.IntN(len(benchFragments))]
		b.WriteString(g[r.IntN(len(g))])
		switch r.IntN(8) {
		case 0:
			fmt.Fprintf(&b, " %d.%02d ", r.IntN(100000), r.IntN(100))
		case 1:
			b.WriteString("\n\n")
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// BenchmarkEncode measures encoding speed (MB/s) on 1 MB of multilingual
// text for both vocabularies.
func BenchmarkEncode(b *testing.B) {
	text := benchText(1 << 20)
	for _, vc := range []struct {
		name string
		tok  func(testing.TB) *tokenizer.Tokenizer
	}{{"spm", spmTokenizer}, {"bpe", bpeTokenizer}} {
		b.Run(vc.name, func(b *testing.B) {
			tok := vc.tok(b)
			b.SetBytes(int64(len(text)))
			var n int
			for b.Loop() {
				n = len(tok.Encode(text, tokenizer.EncodeOptions{AddBOS: true}))
			}
			b.ReportMetric(float64(len(text))/float64(n), "bytes/token")
		})
	}
}

// BenchmarkDecodeStream measures streaming decoding, token by token.
func BenchmarkDecodeStream(b *testing.B) {
	text := benchText(1 << 20)
	for _, vc := range []struct {
		name string
		tok  func(testing.TB) *tokenizer.Tokenizer
	}{{"spm", spmTokenizer}, {"bpe", bpeTokenizer}} {
		b.Run(vc.name, func(b *testing.B) {
			tok := vc.tok(b)
			ids := tok.Encode(text, tokenizer.EncodeOptions{})
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				d := tok.NewStreamDecoder(tokenizer.DecodeOptions{})
				for _, id := range ids {
					d.Next(id)
				}
				d.Flush()
			}
		})
	}
}
