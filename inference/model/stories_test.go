package model_test

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/corral-ai/corral/inference/llama2c"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/shareddata"
)

// stories converts the shared stories260K checkpoint into a GGUF file in a
// temporary folder and opens it.
func stories(t testing.TB) model.Model {
	t.Helper()
	bin := shareddata.Path(t, "stories260K", "stories260K.bin")
	out := filepath.Join(t.TempDir(), "stories260K.gguf")
	if err := llama2c.ConvertFile(bin, out, "", llama2c.Options{}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Open(out, model.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// readNumbers reads whitespace-separated numbers, skipping '#' lines.
func readNumbers(t testing.TB, path string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, w := range strings.Fields(line) {
			v, err := strconv.ParseFloat(w, 64)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			out = append(out, v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func newCache(t testing.TB, m model.Model, seqs, positions int) *model.Cache {
	t.Helper()
	c, err := model.NewCache(m.Config(), seqs, positions)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// TestStoriesGreedy reproduces llama2.c's greedy run from BOS: 200 forward
// passes, one token at a time.
func TestStoriesGreedy(t *testing.T) {
	m := stories(t)
	want := readNumbers(t, shareddata.Path(t, "stories260K", "golden_greedy_ids.txt"))
	if len(want) != 200 {
		t.Fatalf("golden file has %d ids, want 200", len(want))
	}
	kv := newCache(t, m, 1, 256)
	tok := int32(1)
	for pos := range want {
		logits, err := m.Forward(t.Context(), []model.Entry{{Pos: pos, Token: tok, Logits: true}}, kv)
		if err != nil {
			t.Fatal(err)
		}
		tok = argmax(logits)
		if tok != int32(want[pos]) {
			t.Fatalf("position %d: id %d, want %v", pos, tok, want[pos])
		}
	}
}

// TestStoriesLogits compares logits at positions 0 and 5 with llama2.c's,
// feeding the prompt both one token at a time and as one batch.
func TestStoriesLogits(t *testing.T) {
	m := stories(t)
	inputs := []int32{1, 403, 407, 261, 378, 432}
	golden := map[int][]float64{
		0: readNumbers(t, shareddata.Path(t, "stories260K", "golden_logits_pos0.txt")),
		5: readNumbers(t, shareddata.Path(t, "stories260K", "golden_logits_pos5.txt")),
	}
	check := func(t *testing.T, pos int, logits []float32) {
		t.Helper()
		want := golden[pos]
		if len(logits) != len(want) {
			t.Fatalf("position %d: %d logits, want %d", pos, len(logits), len(want))
		}
		var worst float64
		for i, v := range logits {
			worst = max(worst, math.Abs(float64(v)-want[i]))
		}
		if worst > 1e-4 {
			t.Fatalf("position %d: largest logit difference %g, want <= 1e-4", pos, worst)
		}
		t.Logf("position %d: largest logit difference %.2g", pos, worst)
	}
	t.Run("one at a time", func(t *testing.T) {
		kv := newCache(t, m, 1, 16)
		for pos, tok := range inputs {
			logits, err := m.Forward(t.Context(), []model.Entry{{Pos: pos, Token: tok, Logits: true}}, kv)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := golden[pos]; ok {
				check(t, pos, logits)
			}
		}
	})
	t.Run("one batch", func(t *testing.T) {
		kv := newCache(t, m, 1, 16)
		batch := make([]model.Entry, len(inputs))
		for pos, tok := range inputs {
			batch[pos] = model.Entry{Pos: pos, Token: tok, Logits: pos == 0 || pos == 5}
		}
		logits, err := m.Forward(t.Context(), batch, kv)
		if err != nil {
			t.Fatal(err)
		}
		v := m.Config().Vocab
		check(t, 0, logits[:v])
		check(t, 5, logits[v:2*v])
	})
}
