package sample

import (
	"strings"
	"testing"
)

// referenceStop is the whole-text answer the streaming matcher must give:
// the text before the stop string that ends first (longest on a tie).
func referenceStop(text string, stops []string) (string, bool) {
	bestStart, bestEnd := -1, -1
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 {
			end := i + len(s)
			if bestEnd < 0 || end < bestEnd || (end == bestEnd && i < bestStart) {
				bestStart, bestEnd = i, end
			}
		}
	}
	if bestEnd < 0 {
		return text, false
	}
	return text[:bestStart], true
}

// stream pushes pieces through a matcher and checks what it may show at
// each step: only text that is a prefix of the final answer.
func stream(t *testing.T, stops, pieces []string) (string, bool) {
	t.Helper()
	m := NewStopMatcher(stops)
	want, _ := referenceStop(strings.Join(pieces, ""), stops)
	var out strings.Builder
	for _, p := range pieces {
		emit, stopped := m.Push(p)
		out.WriteString(emit)
		if !strings.HasPrefix(want, out.String()) {
			t.Fatalf("emitted %q, which is not a prefix of %q", out.String(), want)
		}
		if stopped {
			if !m.Stopped() {
				t.Fatal("Stopped() false after a stop")
			}
			return out.String(), true
		}
	}
	out.WriteString(m.Flush())
	return out.String(), false
}

func TestStopMatcher(t *testing.T) {
	tests := []struct {
		name    string
		stops   []string
		pieces  []string
		want    string
		stopped bool
		// heldAfter is what the first Push must hold back ("" = nothing).
		firstEmit string
	}{
		{"no stops passes through", nil, []string{"ab", "c"}, "abc", false, "ab"},
		{"stop inside one piece", []string{"STOP"}, []string{"abSTOPcd"}, "ab", true, "ab"},
		{"stop across pieces", []string{"STOP"}, []string{"abST", "OP", "cd"}, "ab", true, "ab"},
		{"held then released", []string{"STOP"}, []string{"abST", "ar"}, "abSTar", false, "ab"},
		{"partial at end is flushed", []string{"STOP"}, []string{"x", "ST"}, "xST", false, "x"},
		{"stop at the very start", []string{"User:"}, []string{"Us", "er:", " hi"}, "", true, ""},
		{"byte at a time", []string{"<|eot|>"}, strings.Split("hi<|eot|>bye", ""), "hi", true, "h"},
		{"first to end wins", []string{"abcd", "bc"}, []string{"abcd"}, "a", true, "a"},
		{"longest of equal ends", []string{"cd", "bcd"}, []string{"abcde"}, "a", true, "a"},
		{"overlapping self prefix", []string{"aab"}, []string{"aa", "a", "ab"}, "aa", true, ""},
		{"unicode stop", []string{"é!"}, []string{"caf", "é", "!x"}, "caf", true, "caf"},
		{"two stop strings, second", []string{"###", "\n\n"}, []string{"line\n", "\nnext"}, "line", true, "line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewStopMatcher(tt.stops)
			if emit, _ := m.Push(tt.pieces[0]); emit != tt.firstEmit {
				t.Fatalf("first Push emitted %q, want %q", emit, tt.firstEmit)
			}
			got, stopped := stream(t, tt.stops, tt.pieces)
			if got != tt.want || stopped != tt.stopped {
				t.Fatalf("got %q stopped=%v, want %q stopped=%v", got, stopped, tt.want, tt.stopped)
			}
		})
	}
}

func TestStopMatcherAfterStop(t *testing.T) {
	m := NewStopMatcher([]string{"x"})
	m.Push("axb")
	if emit, stopped := m.Push("more"); emit != "" || !stopped {
		t.Fatalf("Push after stop = %q, %v", emit, stopped)
	}
	if f := m.Flush(); f != "" {
		t.Fatalf("Flush after stop = %q", f)
	}
}

// FuzzStopMatcher checks that any split of any text gives the whole-text
// answer, and that nothing shown is ever taken back.
func FuzzStopMatcher(f *testing.F) {
	f.Add("hello world</s>tail", "</s>", "\n", uint64(3))
	f.Add("aaaaab", "aab", "b", uint64(1))
	f.Add("abcd", "abcd", "bc", uint64(0xff))
	f.Add("<|eot_id|><|eot_id|>", "<|eot_id|>", "<|end_of_text|>", uint64(12345))
	f.Add("héllo wörld", "ö", "llo w", uint64(7))
	f.Fuzz(func(t *testing.T, text, stop1, stop2 string, cuts uint64) {
		stops := []string{stop1, stop2}
		var pieces []string
		rest := text
		for len(rest) > 0 {
			n := 1 + int(cuts%5)
			cuts = cuts/5 + 1
			n = min(n, len(rest))
			pieces = append(pieces, rest[:n])
			rest = rest[n:]
		}
		if len(pieces) == 0 {
			pieces = []string{""}
		}
		got, stopped := stream(t, stops, pieces)
		want, wantStopped := referenceStop(text, stops)
		if got != want || stopped != wantStopped {
			t.Fatalf("text %q stops %q pieces %q: got %q/%v, want %q/%v", text, stops, pieces, got, stopped, want, wantStopped)
		}
	})
}
