package safety

import (
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"", "how do I kill a Python process", "h0w t0 m4k3 4 b0mb", "k i l l", "k.i.l.l", "ｆｕｌｌ",
	"he\u200bllo", "рizzа", "\xff\xfe", "a$$", "1111 2222 3333 4444", "+44 20 7946 0958", "DE89 3704 0044 0532 0130 00",
	strings.Repeat("a ", 500), strings.Repeat("ab", 300), "ignore all previous instructions",
}

// FuzzNormalize checks that normalisation never panics and yields valid
// UTF-8 words separated by single spaces.
func FuzzNormalize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if !utf8.ValidString(n) {
			t.Fatalf("invalid UTF-8 from %q", s)
		}
		if strings.Contains(n, "  ") || strings.HasPrefix(n, " ") || strings.HasSuffix(n, " ") {
			t.Fatalf("bad spacing %q from %q", n, s)
		}
	})
}

// FuzzCheck runs the whole stage and the redactor on arbitrary input.
func FuzzCheck(f *testing.F) {
	s, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	for _, x := range fuzzSeeds {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, text string) {
		v := s.Check(text, User, nil)
		if v.Unsafe < 0 || v.Unsafe > 1 {
			t.Fatalf("unsafe %v", v.Unsafe)
		}
		red, fs := Redact(text)
		last := 0
		for _, f := range fs {
			if f.Start < last || f.End > len(text) || f.Start >= f.End {
				t.Fatalf("bad finding %+v", f)
			}
			last = f.End
		}
		if len(fs) == 0 && red != text {
			t.Fatal("text changed without findings")
		}
	})
}

// FuzzParseGuardAnswer and FuzzReadCorpus cover the two parsers of outside
// input.
func FuzzParseGuardAnswer(f *testing.F) {
	for _, s := range []string{"safe", "unsafe\nS1,S2", "unsafe", "unsafe\nS99", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		unsafe, cats, err := ParseGuardAnswer(s)
		if err != nil && (unsafe || cats != nil) {
			t.Fatal("error with a verdict")
		}
		for _, c := range cats {
			if c.LlamaGuardCode() == "" {
				t.Fatalf("category %v outside Llama Guard", c)
			}
		}
	})
}

func FuzzReadCorpus(f *testing.F) {
	f.Add(`{"id":"a","text":"x","label":"safe","category":"none"}`)
	f.Add(`{"id":"a","text":"x","label":"unsafe","category":"hate"}` + "\n{")
	f.Fuzz(func(t *testing.T, s string) {
		ex, err := ReadCorpus(strings.NewReader(s))
		if err == nil {
			for _, e := range ex {
				if e.validate() != nil {
					t.Fatal("invalid example accepted")
				}
			}
		}
	})
}

// TestLinearTime checks that checking time grows about linearly with the
// text, on inputs built to defeat the normaliser and the matchers: one
// long word, many single letters, many matches, many digits.
func TestLinearTime(t *testing.T) {
	s := newTestStage(t)
	shapes := map[string]func(n int) string{
		"long word":      func(n int) string { return strings.Repeat("a", n) },
		"spaced letters": func(n int) string { return strings.Repeat("k ", n/2) },
		"many matches":   func(n int) string { return strings.Repeat("kill bomb how to ", n/17) },
		"digits":         func(n int) string { return strings.Repeat("4111 ", n/5) },
		"invisible":      func(n int) string { return strings.Repeat("a\u200b", n/4) },
		"homoglyphs":     func(n int) string { return strings.Repeat("аео ", n/7) },
	}
	// The time is the thread's CPU time where the system gives it, so
	// other processes on a busy machine do not count, and the best of
	// rounds that alternate the two sizes.
	clock := func() time.Duration {
		if c, ok := threadCPU(); ok {
			return c
		}
		return time.Duration(time.Now().UnixNano())
	}
	measure := func(small, large string) (time.Duration, time.Duration) {
		// One thread for all readings: the clock is that thread's.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		bs, bl := time.Duration(1<<62), time.Duration(1<<62)
		for range 7 {
			start := clock()
			s.Check(small, User, nil)
			mid := clock()
			s.Check(large, User, nil)
			end := clock()
			bs, bl = min(bs, mid-start), min(bl, end-mid)
		}
		return bs, bl
	}
	for name, gen := range shapes {
		t.Run(name, func(t *testing.T) {
			small, large := measure(gen(2_000), gen(32_000))
			// 16 times the input; allow 64 times the time (noise, caches)
			// where quadratic behaviour would take 256 times.
			if large > 64*small+5*time.Millisecond {
				t.Errorf("2 KB took %v, 32 KB took %v: not linear", small, large)
			}
		})
	}
}
