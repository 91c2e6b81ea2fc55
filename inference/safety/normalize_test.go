package safety

import (
	"strings"
	"testing"
)

// TestNormalize has one group of cases per trick the normaliser undoes.
func TestNormalize(t *testing.T) {
	groups := map[string][]struct{ in, want string }{
		"nfkc": {
			{"ｆｕｌｌ ｗｉｄｔｈ", "full width"},
			{"𝐛𝐨𝐥𝐝 𝒔𝒄𝒓𝒊𝒑𝒕", "bold script"},
			{"ⓒⓘⓡⓒⓛⓔⓓ", "circled"},
			{"ﬁne ﬂow", "fine flow"},
		},
		"contractions": {
			{"I don't know", "i dont know"},
			{"I’m here, you're there", "im here youre there"},
			{"we've, they'll, I'd, can't", "weve theyll id cant"},
			{"my competitor's prices", "my competitor s prices"},  // a possessive keeps its word
			{"c'est la vie, j'ai faim", "c est la vie j ai faim"}, // French elisions stay apart
		},
		"confusables": {
			{"hеllo wоrld", "hello world"}, // Cyrillic е and о
			{"рizzа", "pizza"},             // Cyrillic р and а
			{"ɢᴏᴏᴅ ɴɪɢʜᴛ", "good night"},   // small capitals
			{"αpple", "apple"},             // Greek alpha in a Latin word
			{"привет мир", "привет мир"},   // Russian stays Russian
			{"καλημέρα", "καλημέρα"},       // Greek stays Greek
		},
		"invisible": {
			{"he\u200bllo", "hello"},
			{"wo\u200d\u200crld", "world"},
			{"so\u00adft", "soft"},
			{"\ufeffbom", "bom"},
			{"ctl\x00\x07chars", "ctlchars"},
			{"bi\u202edi", "bidi"},
			{"str\u0336ike", "strike"},
		},
		"leetspeak": {
			{"h3ll0 w0rld", "hello world"},
			{"l33t sp34k", "leet speak"},
			{"ki11 it", "kill it"},
			{"h4x0r", "haxor"},
			{"sh!t", "shit"},
			{"1nject", "inject"},
			{"a$$", "ass"},
			{"covid19 mp3 1st 10pm 2024", "covid19 mp3 1st 10pm 2024"},
			{"call 555-1234", "call 555 1234"},
		},
		"spaced letters": {
			{"k i l l", "kill"},
			{"k.i.l.l", "kill"},
			{"k-i-l-l h-i-m", "kill him"},
			{"s p a c e d  o u t", "spaced out"},
			{"I am a cat", "i am a cat"},
			{"k 1 l l", "kill"},
		},
		"case folding": {
			{"HELLO World", "hello world"},
			{"STRASSE Straße", "strasse strasse"},
			{"ÉCOLE", "ecole"},
			{"İstanbul", "istanbul"},
		},
		"diacritics and stretching": {
			{"café naïve", "cafe naive"},
			{"kiiiiill", "kill"},
			{"sooooo good", "soo good"},
			{"killlll", "kill"},
			{"fuuuuun", "fun"},
			{"book keeper", "book keeper"},
		},
		"punctuation": {
			{"Hello, world!  How are you?", "hello world how are you"},
			{"", ""},
			{"!!!", ""},
		},
	}
	for name, cases := range groups {
		t.Run(name, func(t *testing.T) {
			for _, c := range cases {
				if got := Normalize(c.in); got != c.want {
					t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
				}
			}
		})
	}
}

func TestNormalizeLongWord(t *testing.T) {
	in := strings.Repeat("ab", 1000)
	out := Normalize(in)
	if strings.ReplaceAll(out, " ", "") != in {
		t.Fatalf("long word lost letters")
	}
}
