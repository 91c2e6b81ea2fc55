package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/sample"
)

// wordFilter blocks a reply that contains its word, and records every
// reply it was shown.
type wordFilter struct {
	word string
	mu   sync.Mutex
	seen []string
}

func (f *wordFilter) Screen(reply string) (bool, string) {
	f.mu.Lock()
	f.seen = append(f.seen, reply)
	f.mu.Unlock()
	if strings.Contains(reply, f.word) {
		return true, "contains " + f.word
	}
	return false, ""
}

var _ engine.OutputFilter = (*wordFilter)(nil)

func TestOutputFilter(t *testing.T) {
	w := func(s string) int32 { return word(t, s) }
	// " Hello world. How are you? bad fine!" as tokens.
	reply := []int32{w("▁Hello"), w("▁world"), w("."), w("▁How"), w("▁are"), w("▁you"), w("?"), w("▁bad"), w("▁fine"), w("!")}
	tests := []struct {
		name      string
		word      string
		gen       []int32
		safeReply string
		stops     []string
		waitAt    int // the forward pass that waits until the reader has seen shown
		// want
		finish  engine.FinishReason
		shown   []string // text of the events before the last
		text    string   // the reply as Collect sees it
		screens []string // what the filter was shown
	}{
		{
			name: "passes", word: "nothing", gen: reply, waitAt: 9,
			finish:  engine.FinishStop,
			shown:   []string{" Hello world.", " How are you?"},
			text:    " Hello world. How are you? bad fine!",
			screens: []string{" Hello world.", " Hello world. How are you?", " Hello world. How are you? bad fine!"},
		},
		{
			name: "blocked in the third sentence", word: "bad", gen: append(append([]int32{}, reply...), w("▁How")),
			safeReply: "Let's talk about something else.", waitAt: 9,
			finish:  engine.FinishSafety,
			shown:   []string{" Hello world.", " How are you?"},
			text:    "Let's talk about something else.",
			screens: []string{" Hello world.", " Hello world. How are you?", " Hello world. How are you? bad fine!"},
		},
		{
			name: "blocked in the first sentence, engine default reply", word: "Hello", gen: reply,
			finish:  engine.FinishSafety,
			text:    engine.DefaultSafeReply,
			screens: []string{" Hello world."},
		},
		{
			name: "blocked only at the end", word: "fine", gen: reply[:9], waitAt: 9,
			finish:  engine.FinishSafety,
			shown:   []string{" Hello world.", " How are you?"},
			text:    engine.DefaultSafeReply,
			screens: []string{" Hello world.", " Hello world. How are you?", " Hello world. How are you? bad fine"},
		},
		{
			name: "sees the text cut by a stop string", word: "bad", gen: reply, stops: []string{" bad"}, waitAt: 5,
			finish:  engine.FinishStopString,
			shown:   []string{" Hello world."},
			text:    " Hello world. How are you?",
			screens: []string{" Hello world.", " Hello world. How are you?"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The engine outruns the reader and merges events; holding one
			// pass until the reader has seen the sentences shows that they
			// were released before the end.
			caughtUp, waitAt := make(chan struct{}), tt.waitAt
			var once sync.Once
			hook := func(ctx context.Context, call int, _ []model.Entry) error {
				if call == waitAt {
					select {
					case <-caughtUp:
					case <-ctx.Done():
					}
				}
				return nil
			}
			fx := newFixture(t, after(1, tt.gen...), hook, engine.Options{})
			filter := &wordFilter{word: tt.word}
			s, err := fx.e.Submit(t.Context(), engine.Request{
				Input: engine.Input{IDs: []int32{tBOS}}, Filter: filter, SafeReply: tt.safeReply,
				Sampling: sample.Options{StopStrings: tt.stops},
			})
			if err != nil {
				t.Fatal(err)
			}
			var events []engine.Event
			var sofar string
			for {
				ev, ok := s.Next()
				if !ok {
					break
				}
				events = append(events, ev)
				if sofar += ev.Text; sofar == strings.Join(tt.shown, "") {
					once.Do(func() { close(caughtUp) })
				}
			}
			last := events[len(events)-1]
			var shown []string
			for _, ev := range events[:len(events)-1] {
				shown = append(shown, ev.Text)
				if len(ev.Tokens) != 0 {
					t.Errorf("token ids %v before the end; with a filter they wait for it", ev.Tokens)
				}
			}
			// Sentences may have been merged into one event; compare the
			// joined text.
			if strings.Join(shown, "") != strings.Join(tt.shown, "") {
				t.Errorf("shown before the end: %q, want %q", shown, tt.shown)
			}
			if last.Finish != tt.finish {
				t.Fatalf("finish %v, want %v", last.Finish, tt.finish)
			}
			if tt.finish == engine.FinishSafety {
				if !last.Retract || last.Text != tt.text || len(last.Tokens) != 0 || last.Blocked != "contains "+tt.word {
					t.Errorf("final %+v, want a retraction to %q", last, tt.text)
				}
			} else if last.Retract || len(last.Tokens) == 0 {
				t.Errorf("final %+v: want no retraction and the token ids", last)
			}
			if got := strings.Join(filter.seen, "|"); got != strings.Join(tt.screens, "|") {
				t.Errorf("filter saw %q, want %q", filter.seen, tt.screens)
			}
			if res := replay(events); res != tt.text {
				t.Errorf("collected %q, want %q", res, tt.text)
			}
		})
	}
}

// replay applies the event contract: join the texts, and on a retraction
// start over from its text.
func replay(events []engine.Event) string {
	var b strings.Builder
	for _, ev := range events {
		if ev.Retract {
			b.Reset()
		}
		b.WriteString(ev.Text)
	}
	return b.String()
}

// TestCollectRetract: Collect applies a retraction.
func TestCollectRetract(t *testing.T) {
	hello := word(t, "▁Hello")
	fx := newFixture(t, after(1, hello, word(t, "."), hello, word(t, "▁bad")), nil, engine.Options{})
	s, err := fx.e.Submit(t.Context(), engine.Request{Input: engine.Input{IDs: []int32{tBOS}}, Filter: &wordFilter{word: "bad"}})
	if err != nil {
		t.Fatal(err)
	}
	res := s.Collect()
	if res.Text != engine.DefaultSafeReply || len(res.Tokens) != 0 || res.Final.Finish != engine.FinishSafety || !res.Final.Retract {
		t.Fatalf("result %+v", res)
	}
}
