package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"slices"
	"strings"
	"text/tabwriter"
)

// benchRecord is one speed measurement read from a JSON lines file: a
// record llama-bench writes with `-o jsonl`, or half of a `corral bench`
// result (which holds two tests).
type benchRecord struct {
	// Source says who measured: "corral", or "llama.cpp" and the build's
	// commit.
	Source string
	// Model is the model file's base name, which pairs records of the
	// same file measured by different programs.
	Model   string
	Threads int
	// Test is named as llama-bench names it: pp512, tg128, pp512+tg128.
	Test string
	// TPS is tokens per second.
	TPS float64
}

// benchLine holds the fields of either kind of line; the ones present
// tell which kind it is.
type benchLine struct {
	// llama-bench -o jsonl
	BuildCommit   string   `json:"build_commit"`
	ModelFilename string   `json:"model_filename"`
	NThreads      int      `json:"n_threads"`
	NPrompt       *int     `json:"n_prompt"`
	NGen          *int     `json:"n_gen"`
	AvgTS         *float64 `json:"avg_ts"`
	// corral bench
	Model   string   `json:"model"`
	Threads int      `json:"threads"`
	PP512   *float64 `json:"pp512_tps"`
	TG128   *float64 `json:"tg128_tps"`
}

// maxBenchLine bounds one line; llama-bench's lines are under 2 KB.
const maxBenchLine = 1 << 20

// readBenchFile reads the measurements of a JSON lines file.
func readBenchFile(name string) ([]benchRecord, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := parseBenchLines(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return recs, nil
}

// parseBenchLines reads llama-bench JSON lines and corral bench results,
// in any mix, skipping blank lines. Anything else is an error naming the
// line.
func parseBenchLines(r io.Reader) ([]benchRecord, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxBenchLine)
	var recs []benchRecord
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		got, err := parseBenchLine(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		recs = append(recs, got...)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("a line is longer than %d bytes", maxBenchLine)
		}
		return nil, err
	}
	return recs, nil
}

func parseBenchLine(text string) ([]benchRecord, error) {
	var l benchLine
	if err := json.Unmarshal([]byte(text), &l); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	switch {
	case l.AvgTS != nil:
		if l.ModelFilename == "" || l.NPrompt == nil || l.NGen == nil {
			return nil, errors.New("a llama-bench record needs model_filename, n_prompt and n_gen")
		}
		p, g := *l.NPrompt, *l.NGen
		var test string
		switch {
		case p < 0 || g < 0 || p+g == 0:
			return nil, fmt.Errorf("n_prompt %d and n_gen %d name no test", p, g)
		case g == 0:
			test = fmt.Sprintf("pp%d", p)
		case p == 0:
			test = fmt.Sprintf("tg%d", g)
		default:
			test = fmt.Sprintf("pp%d+tg%d", p, g)
		}
		src := "llama.cpp"
		if l.BuildCommit != "" && l.BuildCommit != "unknown" {
			src += " " + l.BuildCommit
		}
		rec := benchRecord{Source: src, Model: baseName(l.ModelFilename), Threads: l.NThreads, Test: test, TPS: *l.AvgTS}
		if err := checkTPS(rec); err != nil {
			return nil, err
		}
		return []benchRecord{rec}, nil
	case l.PP512 != nil || l.TG128 != nil:
		if l.Model == "" || l.PP512 == nil || l.TG128 == nil {
			return nil, errors.New("a corral bench result needs model, pp512_tps and tg128_tps")
		}
		recs := []benchRecord{
			{Source: "corral", Model: baseName(l.Model), Threads: l.Threads, Test: fmt.Sprintf("pp%d", benchPrompt), TPS: *l.PP512},
			{Source: "corral", Model: baseName(l.Model), Threads: l.Threads, Test: fmt.Sprintf("tg%d", benchGen), TPS: *l.TG128},
		}
		for _, r := range recs {
			if err := checkTPS(r); err != nil {
				return nil, err
			}
		}
		return recs, nil
	}
	return nil, errors.New("neither a llama-bench record (avg_ts) nor a corral bench result (pp512_tps)")
}

func checkTPS(r benchRecord) error {
	if math.IsNaN(r.TPS) || math.IsInf(r.TPS, 0) || r.TPS <= 0 {
		return fmt.Errorf("%s %s: %v tokens per second", r.Model, r.Test, r.TPS)
	}
	return nil
}

// baseName is the file name without its directories, whichever separator
// the writer's system used.
func baseName(p string) string {
	return path.Base(strings.ReplaceAll(p, `\`, "/"))
}

// benchComparison is one model's test measured by both sides.
type benchComparison struct {
	Model   string
	Threads int
	Test    string
	Against string
	// Ours and Theirs are the medians of each side's measurements, NOurs
	// and NTheirs how many there were.
	Ours, Theirs   float64
	NOurs, NTheirs int
	// Ratio is ours ÷ theirs: with as many measurements on each side, the
	// median of the ratios of the rounds taken in order (the i-th of each
	// side pairing up, as interleaved rounds do), and Min and Max their
	// range; otherwise the ratio of the medians, and Min = Max = Ratio.
	Ratio, Min, Max float64
}

type benchKey struct {
	model   string
	threads int
	test    string
}

// compareBench pairs our records with theirs of the same file, thread
// count and test, in the order our records first name them.
func compareBench(ours, theirs []benchRecord) []benchComparison {
	group := func(recs []benchRecord) (map[benchKey][]float64, []benchKey, map[benchKey]string) {
		m := map[benchKey][]float64{}
		src := map[benchKey]string{}
		var order []benchKey
		for _, r := range recs {
			k := benchKey{r.Model, r.Threads, r.Test}
			if _, ok := m[k]; !ok {
				order = append(order, k)
				src[k] = r.Source
			}
			m[k] = append(m[k], r.TPS)
		}
		return m, order, src
	}
	om, order, _ := group(ours)
	tm, _, tsrc := group(theirs)
	var out []benchComparison
	for _, k := range order {
		o, t := om[k], tm[k]
		if len(t) == 0 {
			continue
		}
		c := benchComparison{Model: k.model, Threads: k.threads, Test: k.test, Against: tsrc[k],
			Ours: median(o), Theirs: median(t), NOurs: len(o), NTheirs: len(t)}
		if len(o) == len(t) {
			ratios := make([]float64, len(o))
			for i := range o {
				ratios[i] = o[i] / t[i]
			}
			c.Ratio, c.Min, c.Max = median(ratios), slices.Min(ratios), slices.Max(ratios)
		} else {
			c.Ratio = c.Ours / c.Theirs
			c.Min, c.Max = c.Ratio, c.Ratio
		}
		out = append(out, c)
	}
	return out
}

// writeComparison prints the comparisons as an aligned table.
func writeComparison(w io.Writer, cs []benchComparison) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tthreads\ttest\trounds\tcorral t/s\tother t/s\tratio\trange\tagainst")
	for _, c := range cs {
		rounds := fmt.Sprint(c.NOurs)
		if c.NOurs != c.NTheirs {
			rounds = fmt.Sprintf("%d/%d", c.NOurs, c.NTheirs)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.2f\t%.2f\t%.2f×\t%.2f–%.2f\t%s\n",
			c.Model, c.Threads, c.Test, rounds, c.Ours, c.Theirs, c.Ratio, c.Min, c.Max, c.Against)
	}
	return tw.Flush()
}

// writeBenchComparison prints the comparison of our measurements (from
// this run or a file) with theirs, read from theirsPath; finding nothing
// to compare is an error.
func writeBenchComparison(stdout io.Writer, ours, theirs []benchRecord, theirsPath string) error {
	cs := compareBench(ours, theirs)
	if len(cs) == 0 {
		var names []string
		seen := map[string]bool{}
		for _, r := range ours {
			if n := fmt.Sprintf("%s with %d threads", r.Model, r.Threads); !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
		return fmt.Errorf("compare: %s holds no pp%d or tg%d measurement of %s", theirsPath, benchPrompt, benchGen, strings.Join(names, ", "))
	}
	return writeComparison(stdout, cs)
}
