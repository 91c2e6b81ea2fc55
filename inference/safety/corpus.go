package safety

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
)

// Example is one labelled text of a training or evaluation corpus, in the
// schema of the shared safety corpus.
type Example struct {
	ID       string `json:"id"`
	Source   string `json:"source,omitempty"`
	Text     string `json:"text"`
	Label    string `json:"label"`              // "safe" or "unsafe"
	Category string `json:"category,omitempty"` // a category name, or "none"
	Kind     string `json:"kind,omitempty"`
}

// Unsafe reports whether the example is labelled unsafe.
func (e Example) Unsafe() bool { return e.Label == "unsafe" }

// maxExampleBytes bounds one corpus line.
const maxExampleBytes = 1 << 20

// ReadCorpus reads JSON lines of Examples. Blank lines are skipped; a line
// that does not parse, lacks text, has a label other than safe/unsafe or an
// unknown category is an error naming the line.
func ReadCorpus(r io.Reader) ([]Example, error) {
	var out []Example
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxExampleBytes)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var e Example
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("corpus line %d: %w", line, err)
		}
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("corpus line %d (id %q): %w", line, e.ID, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("corpus line %d: %w", line+1, err)
	}
	return out, nil
}

func (e Example) validate() error {
	if strings.TrimSpace(e.Text) == "" {
		return ErrEmptyText
	}
	switch e.Label {
	case "safe":
		if e.Category != "" && e.Category != "none" {
			return fmt.Errorf("safe example with category %q: %w", e.Category, ErrBadLabel)
		}
	case "unsafe":
		if _, ok := ParseCategory(e.Category); !ok {
			return fmt.Errorf("unknown category %q: %w", e.Category, ErrBadLabel)
		}
	default:
		return fmt.Errorf("label %q: %w", e.Label, ErrBadLabel)
	}
	return nil
}

// Split divides examples into a training and a held-out part,
// deterministically from seed and stratified by label and category: each
// group is shuffled and its first holdout fraction (rounded) is held out.
// Both parts keep the input's order.
func Split(examples []Example, seed uint64, holdout float64) (train, test []Example) {
	groups := map[string][]int{}
	var keys []string
	for i, e := range examples {
		k := e.Label + "/" + e.Category
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], i)
	}
	slices.Sort(keys)
	held := make([]bool, len(examples))
	rng := rand.New(rand.NewPCG(seed, seed^0x5afe))
	for _, k := range keys {
		idx := groups[k]
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		n := int(float64(len(idx))*holdout + 0.5)
		for _, i := range idx[:n] {
			held[i] = true
		}
	}
	for i, e := range examples {
		if held[i] {
			test = append(test, e)
		} else {
			train = append(train, e)
		}
	}
	return train, test
}
