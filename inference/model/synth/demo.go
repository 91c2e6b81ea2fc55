package synth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// DemoFile is the demo model's file name inside the folder EnsureDemo gets.
const DemoFile = "corral-demo-llama.gguf"

// demoSeed fixes the demo's weights, so every install has the same model.
const demoSeed = 20250101

// Output steering of the demo (see Spec.outputBias): whole words and
// punctuation are favoured over word fragments and byte tokens, and the end
// token has a weight that makes replies a few dozen tokens long.
const (
	demoWordBias     = 0.6
	demoFragmentBias = -0.6
	demoEndBias      = 0.8
)

// DemoSpec returns the demo model's spec: a 4-layer Llama of width 256 with
// grouped-query attention, Q8_0 weights and the demo vocabulary; about 4 MB.
// Its replies are random words: it exists so Corral runs end to end with
// no download.
func DemoSpec() Spec {
	v := DemoVocab()
	return Spec{
		Shape: Shape{
			Name: "corral-demo", Dim: 256, Layers: 4, Heads: 8, KVHeads: 4, FFN: 768,
			Vocab: len(v.Tokens), ContextLength: 2048, RopeBase: 10000,
		},
		Type:       gguf.TypeQ8_0,
		Seed:       demoSeed,
		Vocab:      v,
		Name:       "Corral demo (random weights, replies are not meaningful)",
		outputBias: demoBias(v),
	}
}

// demoBias favours the tokens that are whole words of the list (with their
// leading space) or punctuation, and the end-of-turn tokens.
func demoBias(v *tokenizer.Vocab) []float32 {
	whole := map[string]bool{}
	for _, w := range demoWordList() {
		whole[spmSpace+w] = true
		if len(w) == 1 && strings.ContainsAny(w, ".,!?") {
			whole[w] = true
		}
	}
	b := make([]float32, len(v.Tokens))
	for i, t := range v.Tokens {
		switch {
		case t == "</s>" || t == "<|im_end|>":
			b[i] = demoEndBias
		case whole[t]:
			b[i] = demoWordBias
		default:
			b[i] = demoFragmentBias
		}
	}
	return b
}

// EnsureDemo writes the demo model into dir unless a file of that name is
// already there, and returns its path and whether it was written now.
func EnsureDemo(dir string) (path string, created bool, err error) {
	path = filepath.Join(dir, DemoFile)
	if _, err := os.Stat(path); err == nil {
		return path, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("demo model: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("demo model: %w", err)
	}
	if err := WriteFile(path, DemoSpec()); err != nil {
		return "", false, fmt.Errorf("demo model: %w", err)
	}
	return path, true, nil
}

// DemoWordList returns the demo vocabulary's words, space separated.
func DemoWordList() string { return strings.Join(demoWordList(), " ") }
