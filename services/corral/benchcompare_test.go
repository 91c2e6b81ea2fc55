package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update-bench", false, "rewrite the bench comparison golden file")

// llamaBenchLines are two records as llama-bench (commit c392e5094)
// writes them with -o jsonl, from a run on the project's machine.
func llamaBenchLines(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "bench", "llama-bench.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseBenchLines(t *testing.T) {
	recs, err := parseBenchLines(strings.NewReader(llamaBenchLines(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2: %+v", len(recs), recs)
	}
	for i, test := range []string{"pp512", "tg128"} {
		r := recs[i]
		if r.Model != "llama-110m-q8_0.gguf" || r.Threads != 2 || r.Test != test || r.TPS <= 0 || !strings.HasPrefix(r.Source, "llama.cpp c392e509") {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	recs, err = parseBenchLines(strings.NewReader("\n" + `{"model":"m.gguf","threads":2,"pp512_tps":900.5,"tg128_tps":300}` + "\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []benchRecord{
		{Source: "corral", Model: "m.gguf", Threads: 2, Test: "pp512", TPS: 900.5},
		{Source: "corral", Model: "m.gguf", Threads: 2, Test: "tg128", TPS: 300},
	}
	if len(recs) != 2 || recs[0] != want[0] || recs[1] != want[1] {
		t.Fatalf("corral line: %+v", recs)
	}
}

func TestParseBenchLinesErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"not json", "pp512 900\n", "line 1: not a JSON object"},
		{"array", "[1,2]\n", "line 1: not a JSON object"},
		{"unknown object", `{"a":1}` + "\n", "line 1: neither a llama-bench record"},
		{"second line", `{"model":"m","pp512_tps":1,"tg128_tps":1}` + "\n" + `{"avg_ts":5}`, "line 2: a llama-bench record needs"},
		{"no test", `{"model_filename":"m","n_prompt":0,"n_gen":0,"avg_ts":5}`, "name no test"},
		{"negative size", `{"model_filename":"m","n_prompt":-1,"n_gen":0,"avg_ts":5}`, "name no test"},
		{"half a corral result", `{"model":"m","pp512_tps":1}`, "needs model, pp512_tps and tg128_tps"},
		{"zero speed", `{"model_filename":"m","n_prompt":512,"n_gen":0,"avg_ts":0}`, "0 tokens per second"},
		{"negative speed", `{"model":"m","pp512_tps":1,"tg128_tps":-3}`, "-3 tokens per second"},
		{"wrong type", `{"model_filename":"m","n_prompt":"512","n_gen":0,"avg_ts":5}`, "not a JSON object"},
		{"too long", strings.Repeat(" ", maxBenchLine+1) + "{}", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseBenchLines(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCompareBench(t *testing.T) {
	rec := func(src, model string, threads int, test string, tps float64) benchRecord {
		return benchRecord{Source: src, Model: model, Threads: threads, Test: test, TPS: tps}
	}
	ours := []benchRecord{
		rec("corral", "a.gguf", 2, "pp512", 100), rec("corral", "a.gguf", 2, "tg128", 30),
		rec("corral", "a.gguf", 2, "pp512", 90), rec("corral", "a.gguf", 2, "tg128", 33),
		rec("corral", "a.gguf", 2, "pp512", 120), rec("corral", "a.gguf", 2, "tg128", 36),
		rec("corral", "b.gguf", 2, "pp512", 50), rec("corral", "b.gguf", 2, "tg128", 10),
		rec("corral", "c.gguf", 2, "pp512", 50),
		rec("corral", "d.gguf", 2, "tg128", 20), rec("corral", "d.gguf", 2, "tg128", 40),
	}
	theirs := []benchRecord{
		// Rounds in order: ratios 2, 1 and 3 for pp512 (median 2).
		rec("llama.cpp x", "a.gguf", 2, "pp512", 50), rec("llama.cpp x", "a.gguf", 2, "tg128", 30),
		rec("llama.cpp x", "a.gguf", 2, "pp512", 90), rec("llama.cpp x", "a.gguf", 2, "tg128", 30),
		rec("llama.cpp x", "a.gguf", 2, "pp512", 40), rec("llama.cpp x", "a.gguf", 2, "tg128", 30),
		// One record against one: unpaired counts fall back to medians.
		rec("llama.cpp x", "b.gguf", 2, "pp512", 25), rec("llama.cpp x", "b.gguf", 2, "pp512", 100),
		rec("llama.cpp x", "b.gguf", 2, "pp512", 20),
		// Two rounds against two: the median of an even count is the
		// mean of the middle two (ratios 2 and 4).
		rec("llama.cpp x", "d.gguf", 2, "tg128", 10), rec("llama.cpp x", "d.gguf", 2, "tg128", 10),
		// Other thread counts and tests do not pair.
		rec("llama.cpp x", "b.gguf", 1, "tg128", 5), rec("llama.cpp x", "b.gguf", 2, "pp512+tg128", 5),
	}
	got := compareBench(ours, theirs)
	want := []benchComparison{
		{Model: "a.gguf", Threads: 2, Test: "pp512", Against: "llama.cpp x", Ours: 100, Theirs: 50, NOurs: 3, NTheirs: 3, Ratio: 2, Min: 1, Max: 3},
		{Model: "a.gguf", Threads: 2, Test: "tg128", Against: "llama.cpp x", Ours: 33, Theirs: 30, NOurs: 3, NTheirs: 3, Ratio: 1.1, Min: 1, Max: 1.2},
		{Model: "b.gguf", Threads: 2, Test: "pp512", Against: "llama.cpp x", Ours: 50, Theirs: 25, NOurs: 1, NTheirs: 3, Ratio: 2, Min: 2, Max: 2},
		{Model: "d.gguf", Threads: 2, Test: "tg128", Against: "llama.cpp x", Ours: 30, Theirs: 10, NOurs: 2, NTheirs: 2, Ratio: 3, Min: 2, Max: 4},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for i := range want {
		g := got[i]
		g.Ratio, g.Min, g.Max = round2(g.Ratio), round2(g.Min), round2(g.Max)
		if g != want[i] {
			t.Errorf("comparison %d: got %+v, want %+v", i, g, want[i])
		}
	}
}

// TestBenchCompareCLI compares saved results with llama-bench's lines
// through the command line, and checks the printed table (a golden file).
func TestBenchCompareCLI(t *testing.T) {
	dir := t.TempDir()
	theirs := filepath.Join(dir, "llama.jsonl")
	ours := filepath.Join(dir, "corral.jsonl")
	if err := os.WriteFile(theirs, []byte(llamaBenchLines(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ours, []byte(`{"model":"llama-110m-q8_0.gguf","threads":2,"pp512_tps":1000,"tg128_tps":300}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runCLI(t, "bench", "--results", ours, "--compare", theirs)
	if err != nil {
		t.Fatalf("bench --results: %v\n%s", err, stderr)
	}
	golden := filepath.Join("testdata", "bench", "compare.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(want) {
		t.Fatalf("table:\n%s\nwant:\n%s", stdout, want)
	}

	// Results of another file, or of another thread count, compare with
	// nothing: an error naming what was looked for.
	other := filepath.Join(dir, "other.jsonl")
	if err := os.WriteFile(other, []byte(`{"model":"llama-110m-q8_0.gguf","threads":1,"pp512_tps":1000,"tg128_tps":300}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "bench", "--results", other, "--compare", theirs); err == nil || !strings.Contains(err.Error(), "llama-110m-q8_0.gguf with 1 threads") {
		t.Fatalf("nothing to compare: %v", err)
	}
	// A bad line in either file is an error naming the file and line.
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(llamaBenchLines(t)+"oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "bench", "--results", ours, "--compare", bad); err == nil || !strings.Contains(err.Error(), "bad.jsonl: line 3") {
		t.Fatalf("bad line: %v", err)
	}
	// Measuring reads the --compare file first: a missing one fails at once.
	if _, _, err := runCLI(t, "bench", "--model", demoModel(t), "--compare", filepath.Join(dir, "absent.jsonl")); err == nil || !strings.Contains(err.Error(), "absent.jsonl") {
		t.Fatalf("missing compare file: %v", err)
	}
	var ue usageError
	for _, args := range [][]string{
		{"bench", "--results", ours},
		{"bench", "--results", ours, "--compare", theirs, "--model", "x.gguf"},
	} {
		if _, _, err := runCLI(t, args...); !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

// TestBenchMeasureCompare measures the demo model and compares it with a
// saved result of its own: the JSON object, then the table.
func TestBenchMeasureCompare(t *testing.T) {
	path := demoModel(t)
	prev := filepath.Join(t.TempDir(), "prev.jsonl")
	if err := os.WriteFile(prev, []byte(`{"model":"`+filepath.Base(path)+`","threads":2,"pp512_tps":1,"tg128_tps":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runCLI(t, "bench", "--model", path, "--threads", "2", "--compare", prev)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "{") || !strings.HasPrefix(lines[1], "model") ||
		!strings.Contains(lines[2], " pp512 ") || !strings.Contains(lines[3], " tg128 ") || !strings.Contains(lines[3], "corral") {
		t.Fatalf("output:\n%s", stdout)
	}
}

func FuzzParseBenchLines(f *testing.F) {
	f.Add(`{"model":"m","threads":2,"pp512_tps":1,"tg128_tps":2}`)
	f.Add(`{"build_commit":"c392e509","model_filename":"/x/m.gguf","n_threads":2,"n_prompt":512,"n_gen":0,"avg_ts":848.1}`)
	f.Add("\n\n{}\n")
	f.Add(`{"avg_ts":1e400}`)
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := parseBenchLines(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range recs {
			if r.TPS <= 0 || r.Model == "" || r.Test == "" || r.Source == "" {
				t.Fatalf("accepted record %+v", r)
			}
		}
		// Every accepted record compares with itself as ratio 1.
		for _, c := range compareBench(recs, recs) {
			if c.Ratio != 1 {
				t.Fatalf("self comparison %+v", c)
			}
		}
	})
}
