package engine_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/llama2c"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/model/synth"
	"github.com/corral-ai/corral/inference/shareddata"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// Token ids of the test vocabulary (testTokenizer).
const (
	tUNK, tBOS, tEOS = 0, 1, 2
	tByte            = 3 // ids 3..258 are the bytes 0x00..0xFF
)

// testWords are the test vocabulary's word tokens, from id 259 on.
var testWords = []string{"▁Hello", "▁world", ".", "▁How", "▁are", "▁you", "?", "▁bad", "ST", "OP", "▁fine", "!"}

// word returns the id of a word token of the test vocabulary.
func word(t testing.TB, w string) int32 {
	t.Helper()
	for i, s := range testWords {
		if s == w {
			return int32(259 + i)
		}
	}
	t.Fatalf("no test token %q", w)
	return 0
}

func byteToken(b byte) int32 { return tByte + int32(b) }

// testTokenizer is a small SentencePiece vocabulary: <unk>, <s>, </s>, the
// 256 byte tokens and testWords; no chat template.
func testTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	toks := []string{"<unk>", "<s>", "</s>"}
	types := []tokenizer.TokenType{tokenizer.TypeUnknown, tokenizer.TypeControl, tokenizer.TypeControl}
	for b := range 256 {
		toks = append(toks, fmt.Sprintf("<0x%02X>", b))
		types = append(types, tokenizer.TypeByte)
	}
	for _, w := range testWords {
		toks = append(toks, w)
		types = append(types, tokenizer.TypeNormal)
	}
	scores := make([]float32, len(toks))
	for i := range scores {
		scores[i] = -float32(i)
	}
	tok, err := tokenizer.New(tokenizer.Vocab{
		Model: tokenizer.ModelSPM, Tokens: toks, Types: types, Scores: scores,
		BOS: tBOS, EOS: tEOS, EOT: tokenizer.NoToken, UNK: tUNK, PAD: tokenizer.NoToken,
		AddBOS: true, AddSpacePrefix: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// scripted is a model.Model whose logits make greedy sampling follow a
// script: the token after position pos is next(pos). Before each pass it
// calls hook, which may block, cancel or fail the pass; then, like the
// real model between layers, it checks the context.
type scripted struct {
	cfg  model.Config
	next func(pos int) int32
	hook func(ctx context.Context, call int, batch []model.Entry) error

	mu     sync.Mutex
	calls  int
	seen   [][]model.Entry
	logits []float32
	closed bool
}

var _ model.Model = (*scripted)(nil)

func (m *scripted) Config() model.Config { return m.cfg }
func (m *scripted) File() *gguf.File     { return nil }

func (m *scripted) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

func (m *scripted) Forward(ctx context.Context, batch []model.Entry, kv model.KV) ([]float32, error) {
	m.mu.Lock()
	m.calls++
	call := m.calls
	m.seen = append(m.seen, append([]model.Entry(nil), batch...))
	m.mu.Unlock()
	if m.hook != nil {
		if err := m.hook(ctx, call, batch); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out int
	for _, e := range batch {
		if e.Token < 0 || int(e.Token) >= m.cfg.Vocab {
			return nil, fmt.Errorf("%w: token %d", model.ErrBatch, e.Token)
		}
		if e.Logits {
			out++
		}
	}
	// One slice reused, as the real model does.
	if cap(m.logits) < out*m.cfg.Vocab {
		m.logits = make([]float32, out*m.cfg.Vocab)
	}
	m.logits = m.logits[:out*m.cfg.Vocab]
	clear(m.logits)
	j := 0
	for _, e := range batch {
		if e.Logits {
			m.logits[j*m.cfg.Vocab+int(m.next(e.Pos))] = 10
			j++
		}
	}
	return m.logits, nil
}

// passes returns how many forward passes ran and the entries of each.
func (m *scripted) passes() (int, [][]model.Entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls, m.seen
}

// after returns a script that generates gen after a prompt of n tokens,
// then EOS.
func after(n int, gen ...int32) func(pos int) int32 {
	return func(pos int) int32 {
		if k := pos - (n - 1); k >= 0 && k < len(gen) {
			return gen[k]
		}
		return tEOS
	}
}

// repeat returns a script that generates id forever.
func repeat(id int32) func(int) int32 { return func(int) int32 { return id } }

// fixture is an engine over a scripted model and the test tokenizer.
type fixture struct {
	m *scripted
	e *engine.Engine
}

func newFixture(t *testing.T, next func(int) int32, hook func(context.Context, int, []model.Entry) error, o engine.Options) *fixture {
	t.Helper()
	tok := testTokenizer(t)
	m := &scripted{cfg: model.Config{Name: "scripted", Vocab: tok.Len(), ContextLength: 64, Layers: 1, Heads: 1, KVHeads: 1, HeadDim: 1}, next: next, hook: hook}
	b, err := engine.NewBundle(m, tok, "")
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, b, o)
	return &fixture{m: m, e: e}
}

// newEngine starts an engine that the test closes at its end.
func newEngine(t *testing.T, b *engine.Bundle, o engine.Options) *engine.Engine {
	t.Helper()
	e, err := engine.New(b, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return e
}

// run submits r and collects its result.
func run(t *testing.T, e *engine.Engine, r engine.Request) engine.Result {
	t.Helper()
	s, err := e.Submit(t.Context(), r)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return s.Collect()
}

// greedy is a request for the token ids, sampled greedily.
func greedy(ids []int32, maxTokens int) engine.Request {
	return engine.Request{Input: engine.Input{IDs: ids}, Sampling: sampleGreedy(maxTokens)}
}

// storiesPath converts the shared stories260K checkpoint to a temporary
// GGUF file.
func storiesPath(t testing.TB) string {
	t.Helper()
	bin := shareddata.Path(t, "stories260K", "stories260K.bin")
	out := filepath.Join(t.TempDir(), "stories260K.gguf")
	if err := llama2c.ConvertFile(bin, out, "", llama2c.Options{}); err != nil {
		t.Fatal(err)
	}
	return out
}

// load opens a bundle that the test closes at its end (after its engines,
// whose cleanups run first).
func load(t testing.TB, path string, o engine.LoadOptions) *engine.Bundle {
	t.Helper()
	if o.Threads == 0 {
		o.Threads = 1
	}
	b, err := engine.Load(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func demoPath(t testing.TB) string {
	t.Helper()
	path, _, err := synth.EnsureDemo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// errTest is a failure a hook injects.
var errTest = errors.New("injected failure")
