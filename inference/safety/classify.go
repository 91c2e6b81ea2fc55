package safety

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// request is one input line of Classify.
type request struct {
	ID   string `json:"id"`
	Text string `json:"text"`
	Role string `json:"role"`
}

// CategoryScore is a category in Classify's output.
type CategoryScore struct {
	Name  string  `json:"name"`
	Score float64 `json:"score"`
}

// result is one output line of Classify.
type result struct {
	ID         string          `json:"id"`
	Verdict    string          `json:"verdict,omitempty"`
	Categories []CategoryScore `json:"categories"`
	MS         float64         `json:"ms"`
	Error      string          `json:"error,omitempty"`
}

// Classify reads JSON lines {"id", "text", "role": "user"|"assistant"}
// from r and writes one JSON line per input to w: {"id", "verdict":
// "allow"|"refuse"|"redact", "categories": [{"name", "score"}], "ms"},
// where categories are those that crossed the policy's threshold and ms is
// the time this message took. A line that is not such an object gets a
// line with "error" instead, and Classify goes on; it then returns an
// error wrapping ErrBadInput that counts them. With a Guard on the Stage,
// uncertain messages go to the guard model.
func Classify(ctx context.Context, r io.Reader, w io.Writer, s *Stage, p *Policy) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxExampleBytes)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	bad, line := 0, 0
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var req request
		out := result{Categories: []CategoryScore{}}
		role, err := parseRequest(sc.Bytes(), &req)
		out.ID = req.ID
		if err != nil {
			bad++
			out.Error = fmt.Sprintf("line %d: %v", line, err)
		} else {
			start := time.Now()
			v, gerr := s.CheckContext(ctx, req.Text, role, p)
			out.MS = float64(time.Since(start).Nanoseconds()) / 1e6
			if gerr != nil {
				out.Error = gerr.Error() // the fast verdict still stands
			}
			out.Verdict = v.Action.String()
			for _, c := range v.Categories {
				out.Categories = append(out.Categories, CategoryScore{CategoryName(c.Category), round3(c.Score)})
			}
		}
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read line %d: %w", line+1, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d lines: %w", bad, line, ErrBadInput)
	}
	return nil
}

func parseRequest(b []byte, req *request) (Role, error) {
	if err := json.Unmarshal(b, req); err != nil {
		return User, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	if req.Text == "" {
		return User, fmt.Errorf("%w: %w", ErrBadInput, ErrEmptyText)
	}
	switch req.Role {
	case "", "user":
		return User, nil
	case "assistant":
		return Assistant, nil
	}
	return User, fmt.Errorf("%w: role %q is not user or assistant", ErrBadInput, req.Role)
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

// TrainReport summarises a training run.
type TrainReport struct {
	Examples, Train, HeldOut int
	Seconds                  float64
	WeightsBytes             int
	HeldOutRecall, HeldOutFP float64 // of the classifier alone at 0.5
}

// TrainCorpus reads a corpus (JSON lines of Examples) from r, holds out a
// stratified holdout fraction (by seed), trains on the rest and writes the
// weights file to w. The defaults (seed 1, holdout DefaultHoldout) give the
// committed weights.
func TrainCorpus(r io.Reader, w io.Writer, o TrainOptions, holdout float64) (TrainReport, error) {
	start := time.Now()
	all, err := ReadCorpus(r)
	if err != nil {
		return TrainReport{}, err
	}
	if holdout < 0 || holdout >= 1 {
		return TrainReport{}, fmt.Errorf("holdout %v not in [0, 1)", holdout)
	}
	o = o.withDefaults()
	train, test := Split(all, o.Seed, holdout)
	m, err := Train(train, o)
	if err != nil {
		return TrainReport{}, err
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return TrainReport{}, err
	}
	if _, err := w.Write(b); err != nil {
		return TrainReport{}, fmt.Errorf("write weights: %w", err)
	}
	rep := TrainReport{Examples: len(all), Train: len(train), HeldOut: len(test), WeightsBytes: len(b)}
	var tp, fn, fp, tn int
	var feats []uint32
	var buf []byte
	for _, e := range test {
		feats, buf = appendFeatures(feats[:0], Normalize(e.Text), buf)
		p, _ := m.score(feats)
		switch {
		case p >= 0.5 && e.Unsafe():
			tp++
		case p >= 0.5:
			fp++
		case e.Unsafe():
			fn++
		default:
			tn++
		}
	}
	if tp+fn > 0 {
		rep.HeldOutRecall = float64(tp) / float64(tp+fn)
	}
	if fp+tn > 0 {
		rep.HeldOutFP = float64(fp) / float64(fp+tn)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}
