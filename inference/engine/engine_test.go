package engine_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/corral-ai/corral/inference/chattemplate"
	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/sample"
	"github.com/corral-ai/corral/inference/shareddata"
)

func sampleGreedy(maxTokens int) sample.Options { return sample.Options{MaxTokens: maxTokens} }

// TestStoriesGolden is llama2.c's `run stories260K.bin -t 0.0 -n 200`
// through the engine: greedy from BOS, 200 generated ids.
func TestStoriesGolden(t *testing.T) {
	golden, err := os.ReadFile(shareddata.Path(t, "stories260K", "golden_greedy_ids.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(golden)), "\n")
	var want []int32
	for _, f := range strings.Fields(lines[len(lines)-1]) {
		v, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, int32(v))
	}
	b := load(t, storiesPath(t), engine.LoadOptions{})
	// A small prefill chunk changes nothing: the kernels are batch invariant.
	for _, chunk := range []int{0, 7} {
		e := newEngine(t, b, engine.Options{PrefillChunk: chunk})
		res := run(t, e, greedy([]int32{1}, 200))
		if !slices.Equal(res.Tokens, want) {
			t.Fatalf("chunk %d: ids differ from golden_greedy_ids.txt\ngot  %v\nwant %v", chunk, res.Tokens, want)
		}
		f := res.Final
		if f.Finish != engine.FinishLength || f.Usage != (engine.Usage{PromptTokens: 1, CompletionTokens: 200}) || f.Err != nil {
			t.Fatalf("final %+v", f)
		}
		tm := f.Timings
		if tm.Queue < 0 || tm.FirstToken < tm.Queue || tm.Total < tm.FirstToken || tm.TokensPerSecond <= 0 || tm.PromptTokensPerSecond <= 0 {
			t.Fatalf("timings %+v", tm)
		}
		if err := e.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStoriesContextEnd: with no length limit the reply runs to the end of
// the 512-token context; the last sampled token is not fed back, so a
// 1-token prompt gets 512 tokens.
func TestStoriesContextEnd(t *testing.T) {
	b := load(t, storiesPath(t), engine.LoadOptions{})
	e := newEngine(t, b, engine.Options{})
	res := run(t, e, greedy([]int32{1}, 0))
	if res.Final.Finish != engine.FinishContextLength || len(res.Tokens) != 512 || e.ContextLength() != 512 {
		t.Fatalf("finish %v after %d tokens (context %d)", res.Final.Finish, len(res.Tokens), e.ContextLength())
	}
	// A prompt that fills the context exactly still gets one token.
	full := make([]int32, 512)
	for i := range full {
		full[i] = int32(1 + i%300)
	}
	res = run(t, e, greedy(full, 10))
	if res.Final.Finish != engine.FinishContextLength || len(res.Tokens) != 1 {
		t.Fatalf("full prompt: finish %v after %d tokens", res.Final.Finish, len(res.Tokens))
	}
}

// TestFinishReasons drives every way a generation ends but cancellation
// (TestCancel) with a scripted model.
func TestFinishReasons(t *testing.T) {
	hello, world, st, op := word(t, "▁Hello"), word(t, "▁world"), word(t, "ST"), word(t, "OP")
	prompt := []int32{tBOS, hello}
	failAt3 := func(_ context.Context, call int, _ []model.Entry) error {
		if call == 3 {
			return errTest
		}
		return nil
	}
	tests := []struct {
		name     string
		next     func(int) int32
		hook     func(context.Context, int, []model.Entry) error
		opts     engine.Options
		sampling sample.Options
		finish   engine.FinishReason
		text     string
		tokens   []int32
	}{
		{"end of sequence", after(2, hello, world), nil, engine.Options{}, sample.Options{},
			engine.FinishStop, " Hello world", []int32{hello, world}},
		{"request stop token", after(2, hello, world, hello), nil, engine.Options{}, sample.Options{StopTokens: []int32{world}},
			engine.FinishStop, " Hello", []int32{hello}},
		{"stop string across tokens", after(2, hello, st, op, world), nil, engine.Options{}, sample.Options{StopStrings: []string{"STOP"}},
			engine.FinishStopString, " Hello", []int32{hello, st, op}},
		{"stop string inside a token", after(2, hello, world), nil, engine.Options{}, sample.Options{StopStrings: []string{"lo wo"}},
			engine.FinishStopString, " Hel", []int32{hello, world}},
		{"stop string prefix released at the end", after(2, hello, st), nil, engine.Options{}, sample.Options{StopStrings: []string{"STOP"}},
			engine.FinishStop, " HelloST", []int32{hello, st}},
		{"length", repeat(hello), nil, engine.Options{}, sample.Options{MaxTokens: 3},
			engine.FinishLength, " Hello Hello Hello", []int32{hello, hello, hello}},
		{"context end", repeat(world), nil, engine.Options{ContextLength: 6}, sample.Options{},
			engine.FinishContextLength, strings.Repeat(" world", 5), slices.Repeat([]int32{world}, 5)},
		{"length and context end at once: length", repeat(world), nil, engine.Options{ContextLength: 6}, sample.Options{MaxTokens: 5},
			engine.FinishLength, strings.Repeat(" world", 5), slices.Repeat([]int32{world}, 5)},
		{"model error", repeat(world), failAt3, engine.Options{}, sample.Options{},
			engine.FinishError, " world world", []int32{world, world}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.next, tt.hook, tt.opts)
			res := run(t, f.e, engine.Request{Input: engine.Input{IDs: prompt}, Sampling: tt.sampling})
			if res.Final.Finish != tt.finish || res.Text != tt.text || !slices.Equal(res.Tokens, tt.tokens) {
				t.Fatalf("got %v %q %v, want %v %q %v (err %v)", res.Final.Finish, res.Text, res.Tokens, tt.finish, tt.text, tt.tokens, res.Final.Err)
			}
			if u := res.Final.Usage; u.PromptTokens != 2 || u.CompletionTokens != len(tt.tokens) {
				t.Fatalf("usage %+v", u)
			}
			if tt.finish == engine.FinishError && !errors.Is(res.Final.Err, errTest) {
				t.Fatalf("error %v, want the model's", res.Final.Err)
			}
			if tt.finish != engine.FinishError && res.Final.Err != nil {
				t.Fatalf("error %v on %v", res.Final.Err, tt.finish)
			}
		})
	}
}

// TestUTF8 feeds characters split over byte tokens, invalid bytes and a
// character cut off by the end: every event is valid UTF-8, and the joined
// text is the characters with U+FFFD for what cannot be one.
func TestUTF8(t *testing.T) {
	hello := word(t, "▁Hello")
	bytes := func(s string) []int32 {
		var ids []int32
		for _, c := range []byte(s) {
			ids = append(ids, byteToken(c))
		}
		return ids
	}
	tests := []struct {
		name string
		gen  []int32
		want string
	}{
		{"two and three byte characters", append(append([]int32{hello}, bytes(" é☃")...), bytes("🦙")...), " Hello é☃🦙"},
		{"invalid byte", append([]int32{hello}, bytes("\xffa")...), " Hello\uFFFDa"},
		{"cut off at the end", append([]int32{hello}, bytes("\xe2\x98")...), " Hello\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, after(1, tt.gen...), nil, engine.Options{})
			s, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 0))
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			for ev := range s.Events() {
				if !utf8.ValidString(ev.Text) {
					t.Fatalf("event text %q is not valid UTF-8", ev.Text)
				}
				text.WriteString(ev.Text)
			}
			if text.String() != tt.want {
				t.Fatalf("text %q, want %q", text.String(), tt.want)
			}
		})
	}
}

// TestStopStringNeverShown: no event ever shows a piece of the stop string,
// however the reader's pace merges the events.
func TestStopStringNeverShown(t *testing.T) {
	hello, st, op := word(t, "▁Hello"), word(t, "ST"), word(t, "OP")
	f := newFixture(t, after(1, hello, st, hello, st, op, hello), nil, engine.Options{})
	s, err := f.e.Submit(t.Context(), engine.Request{Input: engine.Input{IDs: []int32{tBOS}}, Sampling: sample.Options{StopStrings: []string{"STOP"}}})
	if err != nil {
		t.Fatal(err)
	}
	var events []engine.Event
	for ev := range s.Events() {
		events = append(events, ev)
	}
	var text string
	for _, ev := range events {
		text += ev.Text
	}
	if text != " HelloST Hello" || events[len(events)-1].Finish != engine.FinishStopString {
		t.Fatalf("text %q, events %+v", text, events)
	}
}

// TestCancel ends requests at each stage: while queued, during the prompt
// (between chunks), during the reply, and by leaving the Events loop.
func TestCancel(t *testing.T) {
	hello := word(t, "▁Hello")
	long := slices.Repeat([]int32{hello}, 20)

	t.Run("mid-prefill", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		f := newFixture(t, repeat(hello), func(_ context.Context, call int, _ []model.Entry) error {
			if call == 2 {
				cancel()
			}
			return nil
		}, engine.Options{PrefillChunk: 4})
		s, err := f.e.Submit(ctx, greedy(long, 0))
		if err != nil {
			t.Fatal(err)
		}
		res := s.Collect()
		if res.Final.Finish != engine.FinishCancelled || !errors.Is(res.Final.Err, context.Canceled) || len(res.Tokens) != 0 {
			t.Fatalf("final %+v, %d tokens", res.Final, len(res.Tokens))
		}
		if n, _ := f.m.passes(); n != 2 {
			t.Fatalf("%d forward passes, want 2 (cancelled in the second of 5 chunks)", n)
		}
		// Only the first chunk was computed: 4 tokens, not 20.
		if tm := res.Final.Timings; tm.Prefill <= 0 || tm.PromptTokensPerSecond*tm.Prefill.Seconds() > 4.01 {
			t.Fatalf("timings %+v: prompt rate counts tokens not computed", tm)
		}
	})

	t.Run("mid-decode", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		f := newFixture(t, repeat(hello), func(_ context.Context, call int, _ []model.Entry) error {
			if call == 6 { // the prompt, then the passes after tokens 1..4, this one after token 5
				cancel()
			}
			return nil
		}, engine.Options{})
		s, err := f.e.Submit(ctx, greedy([]int32{tBOS}, 0))
		if err != nil {
			t.Fatal(err)
		}
		res := s.Collect()
		if res.Final.Finish != engine.FinishCancelled || res.Final.Usage.CompletionTokens != 5 || len(res.Tokens) != 5 {
			t.Fatalf("final %+v, tokens %v", res.Final, res.Tokens)
		}
		if n, _ := f.m.passes(); n != 6 {
			t.Fatalf("%d forward passes after cancelling in the 6th", n)
		}
	})

	t.Run("while queued", func(t *testing.T) {
		release := make(chan struct{})
		f := newFixture(t, repeat(hello), func(ctx context.Context, call int, _ []model.Entry) error {
			if call == 1 {
				<-release
			}
			return nil
		}, engine.Options{})
		first, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 2))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		second, err := f.e.Submit(ctx, greedy([]int32{tBOS, hello, hello}, 2))
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		close(release)
		if res := first.Collect(); res.Final.Finish != engine.FinishLength {
			t.Fatalf("first: %+v", res.Final)
		}
		res := second.Collect()
		if res.Final.Finish != engine.FinishCancelled || res.Final.Usage.CompletionTokens != 0 || res.Final.Timings.Queue <= 0 {
			t.Fatalf("second: %+v", res.Final)
		}
		if _, seen := f.m.passes(); len(seen) != 2 {
			t.Fatalf("the model saw %d passes; the cancelled request should not have run", len(seen))
		}
	})

	t.Run("leaving the loop", func(t *testing.T) {
		read := make(chan struct{})
		f := newFixture(t, repeat(hello), func(ctx context.Context, call int, _ []model.Entry) error {
			if call == 3 { // hold the reply until the reader has seen a token
				select {
				case <-read:
				case <-ctx.Done():
				}
			}
			return nil
		}, engine.Options{})
		s, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 0))
		if err != nil {
			t.Fatal(err)
		}
		for range s.Events() {
			break
		}
		close(read)
		var final engine.Event
		for {
			ev, ok := s.Next()
			if !ok {
				break
			}
			final = ev
		}
		if final.Finish != engine.FinishCancelled || !errors.Is(final.Err, context.Canceled) {
			t.Fatalf("final %+v", final)
		}
	})

	t.Run("stream cancel", func(t *testing.T) {
		f := newFixture(t, repeat(hello), func(ctx context.Context, call int, _ []model.Entry) error {
			if call == 2 {
				<-ctx.Done() // a reply that would go on until cancelled
			}
			return nil
		}, engine.Options{})
		s, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 0))
		if err != nil {
			t.Fatal(err)
		}
		s.Cancel()
		s.Cancel()
		if res := s.Collect(); res.Final.Finish != engine.FinishCancelled {
			t.Fatalf("final %+v", res.Final)
		}
	})
}

// TestCancelRealModel cancels inside a long prompt on the real model: the
// forward pass itself stops between layers.
func TestCancelRealModel(t *testing.T) {
	b := load(t, storiesPath(t), engine.LoadOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	hooked := &hookedModel{Model: b.Model(), before: func(ctx context.Context) {
		if calls++; calls == 2 {
			cancel()
		}
	}}
	hb, err := engine.NewBundle(hooked, b.Tokenizer(), "")
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, hb, engine.Options{PrefillChunk: 64})
	prompt := make([]int32, 400)
	for i := range prompt {
		prompt[i] = int32(1 + i%300)
	}
	s, err := e.Submit(ctx, greedy(prompt, 0))
	if err != nil {
		t.Fatal(err)
	}
	res := s.Collect()
	if res.Final.Finish != engine.FinishCancelled || calls != 2 || hooked.lastErr == nil || !errors.Is(hooked.lastErr, context.Canceled) {
		t.Fatalf("final %+v after %d passes (last error %v)", res.Final, calls, hooked.lastErr)
	}
}

// hookedModel runs before ahead of each forward pass of the model it
// wraps and keeps the pass's error.
type hookedModel struct {
	model.Model
	before  func(ctx context.Context)
	lastErr error
}

func (m *hookedModel) Forward(ctx context.Context, batch []model.Entry, kv model.KV) ([]float32, error) {
	m.before(ctx)
	out, err := m.Model.Forward(ctx, batch, kv)
	m.lastErr = err
	return out, err
}

// Close leaves the wrapped model to its own bundle.
func (m *hookedModel) Close() error { return nil }

// TestSlowConsumer: a reader that never comes back does not hold up the
// next request, and its stream keeps everything merged for later.
func TestSlowConsumer(t *testing.T) {
	hello := word(t, "▁Hello")
	f := newFixture(t, repeat(hello), nil, engine.Options{})
	abandoned, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 30))
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, f.e, greedy([]int32{tBOS}, 3))
	if res.Final.Finish != engine.FinishLength {
		t.Fatalf("second request: %+v", res.Final)
	}
	// Once the first has finished too, all of it is waiting, merged into
	// one event.
	for f.e.Stats().Completed < 2 {
		time.Sleep(time.Millisecond)
	}
	ev, ok := abandoned.Next()
	if !ok || !ev.Final() || len(ev.Tokens) != 30 || ev.Text != strings.Repeat(" Hello", 30) {
		t.Fatalf("abandoned stream: %v %+v", ok, ev)
	}
	if _, ok := abandoned.Next(); ok {
		t.Fatal("an event after the final one")
	}
}

// TestSupersede: a newer request with the same conversation key cancels
// the older one; other keys are left alone.
func TestSupersede(t *testing.T) {
	hello := word(t, "▁Hello")
	release := make(chan struct{})
	f := newFixture(t, repeat(hello), func(ctx context.Context, call int, _ []model.Entry) error {
		if call == 1 {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return nil
	}, engine.Options{})
	req := func(key string) engine.Request {
		r := greedy([]int32{tBOS}, 2)
		r.ConversationKey = key
		return r
	}
	old, err := f.e.Submit(t.Context(), req("whatsapp:1"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.e.Submit(t.Context(), req("whatsapp:2"))
	if err != nil {
		t.Fatal(err)
	}
	newer, err := f.e.Submit(t.Context(), req("whatsapp:1"))
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	if res := old.Collect(); res.Final.Finish != engine.FinishCancelled || !errors.Is(res.Final.Err, engine.ErrSuperseded) {
		t.Fatalf("old: %+v", res.Final)
	}
	for name, s := range map[string]*engine.Stream{"other": other, "newer": newer} {
		if res := s.Collect(); res.Final.Finish != engine.FinishLength {
			t.Fatalf("%s: %+v", name, res.Final)
		}
	}
}

// TestOverloaded: past the queue's size Submit refuses at once.
func TestOverloaded(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	f := newFixture(t, repeat(tEOS), func(_ context.Context, call int, _ []model.Entry) error {
		if call == 1 {
			close(started)
			<-release
		}
		return nil
	}, engine.Options{QueueSize: 1})
	running, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 1))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	queued, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 1))
	if err != nil {
		t.Fatal(err)
	}
	if st := f.e.Stats(); st.Running != 1 || st.Waiting != 1 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 1)); !errors.Is(err, engine.ErrOverloaded) {
		t.Fatalf("third request: %v, want ErrOverloaded", err)
	}
	close(release)
	for _, s := range []*engine.Stream{running, queued} {
		if res := s.Collect(); res.Final.Finish != engine.FinishStop {
			t.Fatalf("final %+v", res.Final)
		}
	}
	if st := f.e.Stats(); st.Completed != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestClose: Close drains what is queued; Close whose context ends first
// cancels the rest with ErrClosed; Submit after Close fails.
func TestClose(t *testing.T) {
	hello := word(t, "▁Hello")
	t.Run("drain", func(t *testing.T) {
		f := newFixture(t, repeat(hello), nil, engine.Options{})
		var streams []*engine.Stream
		for range 3 {
			s, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 5))
			if err != nil {
				t.Fatal(err)
			}
			streams = append(streams, s)
		}
		if err := f.e.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, s := range streams {
			if res := s.Collect(); res.Final.Finish != engine.FinishLength || len(res.Tokens) != 5 {
				t.Fatalf("final %+v", res.Final)
			}
		}
		if _, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 5)); !errors.Is(err, engine.ErrClosed) {
			t.Fatalf("submit after close: %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		started := make(chan struct{})
		f := newFixture(t, repeat(hello), func(ctx context.Context, call int, _ []model.Entry) error {
			if call == 1 {
				close(started)
				<-ctx.Done() // a pass that would run on without cancellation
			}
			return nil
		}, engine.Options{})
		running, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 5))
		if err != nil {
			t.Fatal(err)
		}
		queued, err := f.e.Submit(t.Context(), greedy([]int32{tBOS}, 5))
		if err != nil {
			t.Fatal(err)
		}
		<-started
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if err := f.e.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("close: %v, want the deadline", err)
		}
		for _, s := range []*engine.Stream{running, queued} {
			if res := s.Collect(); res.Final.Finish != engine.FinishCancelled || !errors.Is(res.Final.Err, engine.ErrClosed) {
				t.Fatalf("final %+v", res.Final)
			}
		}
		if err := f.e.Close(t.Context()); err != nil {
			t.Fatalf("second close: %v", err)
		}
	})
}

// TestInvalidRequests: each kind of bad request fails in Submit with its
// typed error, and nothing runs.
func TestInvalidRequests(t *testing.T) {
	f := newFixture(t, repeat(tEOS), nil, engine.Options{ContextLength: 8})
	ids := func(n int) []int32 { return slices.Repeat([]int32{tBOS}, n) }
	tests := []struct {
		name string
		r    engine.Request
		want error
	}{
		{"empty prompt", engine.Request{}, engine.ErrInvalidRequest},
		{"empty id list", engine.Request{Input: engine.Input{IDs: []int32{}}}, engine.ErrInvalidRequest},
		{"two forms", engine.Request{Input: engine.Input{Text: "hi", IDs: ids(1)}}, engine.ErrInvalidRequest},
		{"id beyond vocabulary", engine.Request{Input: engine.Input{IDs: []int32{1, 99999}}}, engine.ErrInvalidRequest},
		{"negative id", engine.Request{Input: engine.Input{IDs: []int32{-1}}}, engine.ErrInvalidRequest},
		{"chat without template", engine.Request{Input: engine.Input{Chat: []engine.Turn{{Role: engine.User, Content: "hi"}}}}, engine.ErrInvalidRequest},
		{"negative temperature", engine.Request{Input: engine.Input{IDs: ids(1)}, Sampling: sample.Options{Temperature: -1}}, engine.ErrInvalidRequest},
		{"empty stop string", engine.Request{Input: engine.Input{IDs: ids(1)}, Sampling: sample.Options{StopStrings: []string{""}}}, engine.ErrInvalidRequest},
		{"negative max tokens", engine.Request{Input: engine.Input{IDs: ids(1)}, Sampling: sample.Options{MaxTokens: -1}}, engine.ErrInvalidRequest},
		{"unknown priority", engine.Request{Input: engine.Input{IDs: ids(1)}, Priority: 7}, engine.ErrInvalidRequest},
		{"prompt longer than the context", engine.Request{Input: engine.Input{IDs: ids(9)}}, engine.ErrPromptTooLong},
		{"text longer than the context", engine.Request{Input: engine.Input{Text: strings.Repeat("Hello ", 9)}}, engine.ErrPromptTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := f.e.Submit(t.Context(), tt.r)
			if !errors.Is(err, tt.want) || s != nil {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("context already ended", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := f.e.Submit(ctx, greedy(ids(1), 1)); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v", err)
		}
	})
	if n, _ := f.m.passes(); n != 0 {
		t.Fatalf("%d forward passes for refused requests", n)
	}
	// The full context is still accepted.
	if res := run(t, f.e, greedy(ids(8), 0)); res.Final.Finish != engine.FinishStop {
		t.Fatalf("prompt of the context's length: %+v", res.Final)
	}
}

// TestChat renders a conversation with the demo model's ChatML template:
// the ids are the template's, and <|im_end|> stops the reply.
func TestChat(t *testing.T) {
	b := load(t, demoPath(t), engine.LoadOptions{})
	e := newEngine(t, b, engine.Options{})
	conv := []engine.Turn{
		{Role: engine.System, Content: "You are a pirate."},
		{Role: engine.User, Content: "hello"},
		{Role: engine.Assistant, Content: "Arr."},
		{Role: engine.User, Content: "how are you?"},
	}
	p, err := b.Prompt(engine.Input{Chat: conv})
	if err != nil {
		t.Fatal(err)
	}
	want, err := chattemplate.ChatML.Apply(b.Tokenizer(), chattemplate.Conversation{System: "You are a pirate.", Turns: []chattemplate.Turn{
		{Role: chattemplate.User, Content: "hello"}, {Role: chattemplate.Assistant, Content: "Arr."}, {Role: chattemplate.User, Content: "how are you?"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	imEnd, _ := b.Tokenizer().Lookup("<|im_end|>")
	if !slices.Equal(p.IDs, want.IDs) || p.Template != "chatml" || !slices.Contains(p.StopTokens, imEnd) {
		t.Fatalf("prompt %+v, want ids %v and <|im_end|> (%d) among the stops", p, want.IDs, imEnd)
	}
	if b.Info().ChatTemplate != "chatml" || b.Info().ID != "corral-demo-llama" {
		t.Fatalf("info %+v", b.Info())
	}
	res := run(t, e, engine.Request{Input: engine.Input{Chat: conv}, Sampling: sample.Options{Temperature: 1, Seed: 3, MaxTokens: 300}})
	if res.Final.Usage.PromptTokens != len(want.IDs) || res.Final.Err != nil {
		t.Fatalf("final %+v", res.Final)
	}
	if slices.Contains(res.Tokens, imEnd) {
		t.Fatal("the stop token is among the reply's tokens")
	}

	for _, bad := range [][]engine.Turn{
		{{Role: engine.User, Content: "a"}, {Role: engine.System, Content: "b"}},
		{{Role: "narrator", Content: "a"}},
		{{Role: engine.Assistant, Content: "a"}},
		{{Role: engine.System, Content: "only a system turn"}},
	} {
		if _, err := e.Submit(t.Context(), engine.Request{Input: engine.Input{Chat: bad}}); !errors.Is(err, engine.ErrInvalidRequest) {
			t.Errorf("conversation %v: error %v, want ErrInvalidRequest", bad, err)
		}
	}
}

// TestSeed: equal seeds give equal replies; a random seed is reported and
// reproduces its reply.
func TestSeed(t *testing.T) {
	b := load(t, demoPath(t), engine.LoadOptions{})
	e := newEngine(t, b, engine.Options{})
	req := engine.Request{Input: engine.Input{Text: "Once upon a time"}, Sampling: sample.Options{Temperature: 1, Seed: 42, MaxTokens: 40}}
	a, c := run(t, e, req), run(t, e, req)
	if a.Text != c.Text || !slices.Equal(a.Tokens, c.Tokens) || a.Final.Seed != 42 {
		t.Fatalf("seed 42 twice: %q / %q, seed %d", a.Text, c.Text, a.Final.Seed)
	}
	req.RandomSeed = true
	r := run(t, e, req)
	req.RandomSeed, req.Sampling.Seed = false, r.Final.Seed
	if again := run(t, e, req); again.Text != r.Text {
		t.Fatalf("random seed %d not reproduced: %q / %q", r.Final.Seed, r.Text, again.Text)
	}
}

func TestThreads(t *testing.T) {
	cpus, err := engine.Threads(0)
	if err != nil || cpus < 1 {
		t.Fatalf("Threads(0) = %d, %v", cpus, err)
	}
	if n, err := engine.Threads(cpus + 500); n != cpus || err != nil {
		t.Fatalf("Threads(%d) = %d, %v; want the cap %d", cpus+500, n, err, cpus)
	}
	if n, err := engine.Threads(1); n != 1 || err != nil {
		t.Fatalf("Threads(1) = %d, %v", n, err)
	}
	if _, err := engine.Threads(-1); !errors.Is(err, engine.ErrInvalidOptions) {
		t.Fatalf("Threads(-1): %v", err)
	}
}

func TestOptions(t *testing.T) {
	tok := testTokenizer(t)
	m := &scripted{cfg: model.Config{Vocab: tok.Len(), ContextLength: 64}, next: repeat(tEOS)}
	b, err := engine.NewBundle(m, tok, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []engine.Options{{ContextLength: 65}, {ContextLength: -1}, {QueueSize: -1}, {PrefillChunk: -1}} {
		if _, err := engine.New(b, o); !errors.Is(err, engine.ErrInvalidOptions) {
			t.Errorf("New(%+v): %v, want ErrInvalidOptions", o, err)
		}
	}
	if _, err := engine.NewBundle(m, tok, "vicuna"); !errors.Is(err, engine.ErrInvalidOptions) {
		t.Errorf("unknown chat template: %v", err)
	}
	small := &scripted{cfg: model.Config{Vocab: 10, ContextLength: 64}}
	if _, err := engine.NewBundle(small, tok, ""); !errors.Is(err, model.ErrFormat) {
		t.Errorf("tokenizer larger than the model's vocabulary: %v", err)
	}
	if _, err := engine.Load(demoPath(t), engine.LoadOptions{Threads: -2}); !errors.Is(err, engine.ErrInvalidOptions) {
		t.Errorf("negative threads: %v", err)
	}
	if _, err := engine.Load(demoPath(t), engine.LoadOptions{ChatTemplate: "vicuna"}); !errors.Is(err, engine.ErrInvalidOptions) {
		t.Errorf("unknown chat template: %v", err)
	}
}
