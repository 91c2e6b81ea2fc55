package tokenizer_test

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/shareddata"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// *gguf.File is the Metadata the tokenizer is built from in production.
var _ tokenizer.Metadata = (*gguf.File)(nil)

// refCase is one reference tokenisation from the shared test data.
type refCase struct {
	text string
	ids  []int32
}

// loadCases reads cases.inp (texts separated by lines holding only
// __ggml_vocab_test__) and cases.out (one line of ids per text).
func loadCases(tb testing.TB, dir string) []refCase {
	tb.Helper()
	inp, err := os.ReadFile(shareddata.Path(tb, "tokenizers", dir, "cases.inp"))
	if err != nil {
		tb.Fatal(err)
	}
	out, err := os.ReadFile(shareddata.Path(tb, "tokenizers", dir, "cases.out"))
	if err != nil {
		tb.Fatal(err)
	}
	const sep = "\n__ggml_vocab_test__\n"
	texts := strings.Split(string(inp), sep)
	if last := texts[len(texts)-1]; last != "" {
		tb.Fatalf("cases.inp does not end with a separator: %q", last)
	}
	texts = texts[:len(texts)-1]
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(texts) {
		tb.Fatalf("%d texts but %d lines of ids", len(texts), len(lines))
	}
	cases := make([]refCase, len(texts))
	for i, text := range texts {
		cases[i].text = text
		for _, f := range strings.Fields(lines[i]) {
			n, err := strconv.ParseInt(f, 10, 32)
			if err != nil {
				tb.Fatalf("cases.out line %d: %v", i+1, err)
			}
			cases[i].ids = append(cases[i].ids, int32(n))
		}
	}
	return cases
}

var (
	spmOnce sync.Once
	spmTok  *tokenizer.Tokenizer
	spmErr  error

	bpeOnce  sync.Once
	bpeVocab tokenizer.Vocab
	bpeTok   *tokenizer.Tokenizer
	bpeErr   error
)

// sharedPath returns a file of the shared tokenizer test data, or skips.
func sharedPath(tb testing.TB, rel ...string) string {
	tb.Helper()
	return shareddata.Path(tb, append([]string{"tokenizers"}, rel...)...)
}

// spmTokenizer builds the Llama 2 tokenizer from the shared vocabulary GGUF.
func spmTokenizer(tb testing.TB) *tokenizer.Tokenizer {
	tb.Helper()
	path := sharedPath(tb, "llama-spm", "ggml-vocab-llama-spm.gguf")
	spmOnce.Do(func() {
		f, err := gguf.Open(path)
		if err != nil {
			spmErr = err
			return
		}
		defer f.Close()
		spmTok, spmErr = tokenizer.FromMetadata(f)
	})
	if spmErr != nil {
		tb.Fatal(spmErr)
	}
	return spmTok
}

// llama3Vocab imports the Llama 3 tokenizer.json and tokenizer_config.json.
func llama3Vocab(tb testing.TB) tokenizer.Vocab {
	tb.Helper()
	dir := shareddata.Path(tb, "tokenizers", "llama3-bpe")
	bpeOnce.Do(func() {
		js, err := os.ReadFile(dir + "/tokenizer.json")
		if err != nil {
			bpeErr = err
			return
		}
		cfg, err := os.ReadFile(dir + "/tokenizer_config.json")
		if err != nil {
			bpeErr = err
			return
		}
		if bpeVocab, bpeErr = tokenizer.ImportHF(js, cfg); bpeErr != nil {
			return
		}
		bpeTok, bpeErr = tokenizer.New(bpeVocab)
	})
	if bpeErr != nil {
		tb.Fatal(bpeErr)
	}
	return bpeVocab
}

// bpeTokenizer builds the Llama 3 tokenizer from the imported tokenizer.json.
func bpeTokenizer(tb testing.TB) *tokenizer.Tokenizer {
	tb.Helper()
	llama3Vocab(tb)
	return bpeTok
}
