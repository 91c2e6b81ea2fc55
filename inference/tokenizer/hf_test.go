package tokenizer_test

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/tokenizer"
)

const llama3Split = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// miniTokenizerJSON builds a small Llama 3-style tokenizer.json: the 256
// byte-level tokens, "Ġa" and "ab" with their merges, and two added tokens.
func miniTokenizerJSON(t testing.TB, edit func(m map[string]any)) []byte {
	t.Helper()
	vocab := map[string]int{}
	for b := range 256 {
		vocab[byteLevelChar(byte(b))] = b
	}
	vocab["Ġa"] = 256
	vocab["ab"] = 257
	m := map[string]any{
		"added_tokens": []any{
			map[string]any{"id": 258, "content": "<|begin|>", "special": true},
			map[string]any{"id": 260, "content": "<name>", "special": false},
		},
		"pre_tokenizer": map[string]any{
			"type": "Sequence",
			"pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": llama3Split}, "behavior": "Isolated"},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false},
			},
		},
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": []string{"Ġ a", "a b"}, "ignore_merges": true},
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// byteLevelChar is the byte-level BPE character for b (GPT-2's alphabet).
func byteLevelChar(b byte) string {
	printable := func(c int) bool { return (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE }
	if printable(int(b)) {
		return string(rune(b))
	}
	n := 0
	for c := range int(b) {
		if !printable(c) {
			n++
		}
	}
	return string(rune(256 + n))
}

func TestImportHF(t *testing.T) {
	cfg := []byte(`{"bos_token": "<|begin|>", "eos_token": {"content": "<|begin|>"}, "add_bos_token": true,
		"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}`)
	v, err := tokenizer.ImportHF(miniTokenizerJSON(t, nil), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v.Model != tokenizer.ModelBPE || v.Pre != tokenizer.PreLlama3 || len(v.Tokens) != 261 {
		t.Fatalf("model %q pre %q %d tokens", v.Model, v.Pre, len(v.Tokens))
	}
	if v.Tokens[259] != "[PAD259]" || v.Types[259] != tokenizer.TypeUnused {
		t.Errorf("hole: %q %v, want an unused [PAD259]", v.Tokens[259], v.Types[259])
	}
	if v.Types[258] != tokenizer.TypeControl || v.Types[260] != tokenizer.TypeUserDefined || v.Types[256] != tokenizer.TypeNormal {
		t.Errorf("types %v %v %v", v.Types[258], v.Types[260], v.Types[256])
	}
	if v.BOS != 258 || v.EOS != 258 || !v.AddBOS || v.ChatTemplate != "D" || !slices.Equal(v.Merges, []string{"Ġ a", "a b"}) {
		t.Errorf("bos %d eos %d addBOS %v template %q merges %q", v.BOS, v.EOS, v.AddBOS, v.ChatTemplate, v.Merges)
	}
	tok, err := tokenizer.New(v)
	if err != nil {
		t.Fatal(err)
	}
	// User-defined tokens are recognised even without ParseSpecial.
	got := tok.Encode("<|begin|>ab a<name>", tokenizer.EncodeOptions{AddBOS: true})
	want := []int32{258, '<', '|', 'b', 'e', 'g', 'i', 'n', '|', '>', 257, 256, 260}
	if !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
}

func TestImportHFVariants(t *testing.T) {
	t.Run("merges as pairs", func(t *testing.T) {
		js := miniTokenizerJSON(t, func(m map[string]any) {
			m["model"].(map[string]any)["merges"] = [][]string{{"Ġ", "a"}, {"a", "b"}}
		})
		v, err := tokenizer.ImportHF(js, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(v.Merges, []string{"Ġ a", "a b"}) || v.BOS != tokenizer.NoToken || v.AddBOS {
			t.Errorf("merges %q bos %d addBOS %v", v.Merges, v.BOS, v.AddBOS)
		}
	})
	t.Run("string template and no add_bos", func(t *testing.T) {
		v, err := tokenizer.ImportHF(miniTokenizerJSON(t, nil), []byte(`{"bos_token": "<|begin|>", "add_bos_token": false, "chat_template": "X", "pad_token": null}`))
		if err != nil {
			t.Fatal(err)
		}
		if v.AddBOS || v.ChatTemplate != "X" || v.PAD != tokenizer.NoToken {
			t.Errorf("addBOS %v template %q pad %d", v.AddBOS, v.ChatTemplate, v.PAD)
		}
	})
	tests := []struct {
		name string
		js   []byte
		cfg  []byte
		want error
	}{
		{"not json", []byte("{"), nil, nil},
		{"unigram", miniTokenizerJSON(t, func(m map[string]any) { m["model"].(map[string]any)["type"] = "Unigram" }), nil, tokenizer.ErrUnsupported},
		{"byte fallback", miniTokenizerJSON(t, func(m map[string]any) { m["model"].(map[string]any)["byte_fallback"] = true }), nil, tokenizer.ErrUnsupported},
		{"gpt2 pre-tokenizer", miniTokenizerJSON(t, func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "use_regex": true}
		}), nil, tokenizer.ErrUnsupported},
		{"no merges", miniTokenizerJSON(t, func(m map[string]any) { delete(m["model"].(map[string]any), "merges") }), nil, tokenizer.ErrInvalidVocab},
		{"three-part merge", miniTokenizerJSON(t, func(m map[string]any) { m["model"].(map[string]any)["merges"] = [][]string{{"a", "b", "c"}} }), nil, tokenizer.ErrInvalidVocab},
		{"negative id", miniTokenizerJSON(t, func(m map[string]any) { m["model"].(map[string]any)["vocab"].(map[string]int)["x"] = -1 }), nil, tokenizer.ErrInvalidVocab},
		{"huge id", miniTokenizerJSON(t, func(m map[string]any) { m["model"].(map[string]any)["vocab"].(map[string]int)["x"] = 1 << 40 }), nil, tokenizer.ErrInvalidVocab},
		{"bos not in vocabulary", miniTokenizerJSON(t, nil), []byte(`{"bos_token": "<s>"}`), tokenizer.ErrInvalidVocab},
		{"bad config", miniTokenizerJSON(t, nil), []byte(`[]`), nil},
		{"bad template", miniTokenizerJSON(t, nil), []byte(`{"chat_template": 3}`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tokenizer.ImportHF(tt.js, tt.cfg)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("ImportHF() error = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzImportHF feeds arbitrary tokenizer.json and tokenizer_config.json
// text to the importer and builds a tokenizer from whatever it accepts. The
// seeds are the real Llama 3 config and a cut-down copy of the real
// tokenizer.json (the whole file is 9 MB, too big to mutate usefully).
func FuzzImportHF(f *testing.F) {
	f.Add(miniTokenizerJSON(f, nil), []byte(`{"bos_token": "<|begin|>"}`))
	if cfg, err := os.ReadFile(sharedPath(f, "llama3-bpe", "tokenizer_config.json")); err == nil {
		f.Add(miniTokenizerJSON(f, nil), cfg)
	}
	if js, err := os.ReadFile(sharedPath(f, "llama3-bpe", "tokenizer.json")); err == nil {
		f.Add(cutTokenizerJSON(f, js, 400), []byte(`{"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}`))
	}
	f.Fuzz(func(t *testing.T, js, cfg []byte) {
		v, err := tokenizer.ImportHF(js, cfg)
		if err != nil {
			return
		}
		tok, err := tokenizer.New(v)
		if err != nil {
			return
		}
		for _, parse := range []bool{false, true} {
			ids := tok.Encode("Hello, wörld! 123 <|begin|>", tokenizer.EncodeOptions{AddBOS: true, ParseSpecial: parse})
			for _, id := range ids {
				if id < 0 || int(id) >= tok.Len() {
					t.Fatalf("id %d outside the vocabulary of %d", id, tok.Len())
				}
			}
			tok.Decode(ids)
		}
	})
}

// cutTokenizerJSON keeps the first n vocabulary entries and the merges and
// added tokens that only use them.
func cutTokenizerJSON(tb testing.TB, js []byte, n int) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		tb.Fatal(err)
	}
	model := m["model"].(map[string]any)
	vocab := map[string]any{}
	for k, id := range model["vocab"].(map[string]any) {
		if int(id.(float64)) < n {
			vocab[k] = id
		}
	}
	model["vocab"] = vocab
	var merges []any
	for _, mg := range model["merges"].([]any) {
		l, r, _ := strings.Cut(mg.(string), " ")
		if _, ok := vocab[l+r]; ok {
			merges = append(merges, mg)
		}
	}
	model["merges"] = merges
	m["added_tokens"] = m["added_tokens"].([]any)[:12]
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
