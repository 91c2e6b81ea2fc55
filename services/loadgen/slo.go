package loadgen

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Objective is one service-level objective a run is checked against, such
// as "p99<2s" or "lost=0".
type Objective struct {
	// Metric is what is compared: a latency percentile (p50, p90, p99,
	// p999, max; prefixed first_ or ack_ for the first reply part and the
	// gateway's acknowledgement), lost, dup, errors, refused, or
	// throughput (replies a second).
	Metric string `json:"metric"`
	// Op is <, <=, =, >= or >.
	Op string `json:"op"`
	// Value is in milliseconds for latencies.
	Value float64 `json:"value"`
	// Text is the objective as written.
	Text string `json:"text"`
}

var latencyMetrics = map[string]bool{"p50": true, "p90": true, "p99": true, "p999": true, "max": true}

// ParseSLO reads a comma-separated list of objectives.
func ParseSLO(spec string) ([]Objective, error) {
	var out []Objective
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.IndexAny(item, "<>=")
		if i <= 0 {
			return nil, bad("objective %q: want METRIC OP VALUE, such as p99<2s or lost=0", item)
		}
		metric, rest := strings.ToLower(strings.TrimSpace(item[:i])), item[i:]
		op := rest[:1]
		if len(rest) > 1 && rest[1] == '=' && op != "=" {
			op += "="
		}
		value := strings.TrimSpace(rest[len(op):])
		o := Objective{Metric: metric, Op: op, Text: item}
		base := strings.TrimPrefix(strings.TrimPrefix(metric, "first_"), "ack_")
		switch {
		case latencyMetrics[base]:
			d, err := parseDuration(value)
			if err != nil || d < 0 {
				return nil, bad("objective %q: want a duration such as 2s", item)
			}
			o.Value = float64(d.Microseconds()) / 1000
		case metric == "lost" || metric == "dup" || metric == "errors" || metric == "refused" || metric == "throughput":
			v, err := strconv.ParseFloat(value, 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, bad("objective %q: want a number of zero or more", item)
			}
			o.Value = v
		default:
			return nil, bad("objective %q: unknown metric %q (p50, p90, p99, p999, max, first_p99, ack_p99, lost, dup, errors, refused, throughput)", item, metric)
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return nil, bad("--slo %q holds no objective", spec)
	}
	return out, nil
}

// SLOResult is an objective with the value the run measured.
type SLOResult struct {
	Objective
	Got float64 `json:"got"`
	Met bool    `json:"met"`
}

// Check compares the run's numbers with each objective.
func (r *Report) Check(objs []Objective) []SLOResult {
	out := make([]SLOResult, 0, len(objs))
	for _, o := range objs {
		got := r.metric(o.Metric)
		out = append(out, SLOResult{Objective: o, Got: got, Met: compare(got, o.Op, o.Value)})
	}
	return out
}

func (r *Report) metric(name string) float64 {
	sum := r.E2E
	switch {
	case strings.HasPrefix(name, "first_"):
		sum, name = r.FirstPart, strings.TrimPrefix(name, "first_")
	case strings.HasPrefix(name, "ack_"):
		sum, name = r.Ack, strings.TrimPrefix(name, "ack_")
	}
	switch name {
	case "p50":
		return sum.P50
	case "p90":
		return sum.P90
	case "p99":
		return sum.P99
	case "p999":
		return sum.P999
	case "max":
		return sum.Max
	case "lost":
		return float64(r.Lost)
	case "dup":
		return float64(r.Duplicated)
	case "errors":
		return float64(r.Errors)
	case "refused":
		return float64(r.Refused)
	case "throughput":
		return r.ThroughputPerS
	}
	return math.NaN()
}

func compare(got float64, op string, want float64) bool {
	switch op {
	case "<":
		return got < want
	case "<=":
		return got <= want
	case "=":
		return got == want
	case ">=":
		return got >= want
	case ">":
		return got > want
	}
	return false
}

// String is "p99<2s: 1234.5 ok".
func (s SLOResult) String() string {
	verdict := "MISSED"
	if s.Met {
		verdict = "met"
	}
	return fmt.Sprintf("%s (got %s) %s", s.Text, strconv.FormatFloat(s.Got, 'f', -1, 64), verdict)
}
