package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Report is a run's result, as written by --out.
type Report struct {
	// Mode is "open", "closed" or "engine".
	Mode     string    `json:"mode"`
	Scenario *Scenario `json:"scenario,omitempty"`
	RunID    int       `json:"run_id,omitempty"`
	Started  time.Time `json:"started"`
	// ElapsedS is the whole run, sending and draining, in seconds.
	ElapsedS float64 `json:"elapsed_s"`

	// Sent counts the messages posted; Acked those the gateway accepted;
	// Refused those it never accepted after every retry.
	Sent    int64 `json:"sent"`
	Acked   int64 `json:"acked"`
	Refused int64 `json:"refused"`
	// Replies counts accepted messages that got at least one reply part;
	// Lost those that got none by the end of the drain.
	Replies int64 `json:"replies"`
	Lost    int64 `json:"lost"`
	// Duplicated counts reply pieces that arrived more than once.
	Duplicated int64 `json:"duplicated"`
	// Parts counts the distinct reply pieces received.
	Parts int64 `json:"parts"`
	// Unmatched counts Send API messages to no user of this run.
	Unmatched int64 `json:"unmatched"`
	// Replays counts webhooks delivered again on purpose (--replay-rate).
	Replays int64 `json:"replays"`
	// Errors counts failed webhook posts and refused Send API calls;
	// ErrorsByKind splits them (webhook_503, webhook_network,
	// graph_130429, ...).
	Errors       int64            `json:"errors"`
	ErrorsByKind map[string]int64 `json:"errors_by_kind"`
	// ThroughputPerS is replies a second over the elapsed time.
	ThroughputPerS float64 `json:"throughput_per_s"`

	// E2E is webhook sent → last reply part received; FirstPart → first
	// part; Ack → the gateway's 200. In open loop each is measured from
	// the message's intended send time (corrected for coordinated
	// omission); the Uncorrected ones from the actual post.
	E2E            Summary            `json:"e2e_ms"`
	FirstPart      Summary            `json:"first_part_ms"`
	Ack            Summary            `json:"ack_ms"`
	E2EUncorrected *Summary           `json:"e2e_uncorrected_ms,omitempty"`
	AckUncorrected *Summary           `json:"ack_uncorrected_ms,omitempty"`
	ByPlatform     map[string]Summary `json:"e2e_by_platform_ms,omitempty"`
	Timeline       []Second           `json:"timeline,omitempty"`
	Percentiles    []Percentile       `json:"percentiles,omitempty"`

	Engine *EngineReport `json:"engine,omitempty"`

	SLO       []SLOResult `json:"slo,omitempty"`
	SLOPassed bool        `json:"slo_passed"`
}

// Second is one second of a run, by when messages were sent.
type Second struct {
	T       int     `json:"t"`
	Sent    int     `json:"sent"`
	Replies int     `json:"replies"`
	Lost    int     `json:"lost"`
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
}

// Percentile is one point of the latency distribution.
type Percentile struct {
	Q         float64 `json:"q"`
	E2E       float64 `json:"e2e_ms"`
	FirstPart float64 `json:"first_part_ms"`
	Ack       float64 `json:"ack_ms"`
}

var percentilePoints = []float64{0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1}

// build fills the reply numbers of r from the tracker's outcome. ack and
// ackRaw are the acknowledgement latencies the runner measured.
func (r *Report) build(o Outcome, ack, ackRaw *Histogram, open bool) {
	var e2e, first, e2eRaw Histogram
	perPlatform := map[corralv1.Platform]*Histogram{}
	seconds := map[int]*struct {
		Second
		h Histogram
	}{}
	for _, m := range o.Messages {
		if m.Refused || !m.Acked {
			continue
		}
		sec := int(m.Start.Sub(r.Started) / time.Second)
		s := seconds[sec]
		if s == nil {
			s = &struct {
				Second
				h Histogram
			}{Second: Second{T: sec}}
			seconds[sec] = s
		}
		s.Sent++
		r.Duplicated += int64(m.Duplicates)
		if m.Parts == 0 {
			r.Lost++
			s.Lost++
			continue
		}
		r.Replies++
		s.Replies++
		r.Parts += int64(m.Parts)
		d := m.Last.Sub(m.Start)
		e2e.Record(d)
		s.h.Record(d)
		first.Record(m.First.Sub(m.Start))
		e2eRaw.Record(m.Last.Sub(m.Sent))
		h := perPlatform[m.Platform]
		if h == nil {
			h = &Histogram{}
			perPlatform[m.Platform] = h
		}
		h.Record(d)
	}
	r.Unmatched = o.Unmatched
	for k, v := range o.GraphErrors {
		r.ErrorsByKind[k] += v
		r.Errors += v
	}
	r.E2E, r.FirstPart, r.Ack = e2e.Summary(), first.Summary(), ack.Summary()
	if open {
		eu, au := e2eRaw.Summary(), ackRaw.Summary()
		r.E2EUncorrected, r.AckUncorrected = &eu, &au
	}
	r.ByPlatform = map[string]Summary{}
	for p, h := range perPlatform {
		r.ByPlatform[corralv1.PlatformToken(p)] = h.Summary()
	}
	if r.ElapsedS > 0 {
		r.ThroughputPerS = float64(r.Replies) / r.ElapsedS
	}
	for _, s := range seconds {
		s.P50, s.P99, s.Max = ms(s.h.Quantile(0.5)), ms(s.h.Quantile(0.99)), ms(s.h.Max())
		r.Timeline = append(r.Timeline, s.Second)
	}
	slices.SortFunc(r.Timeline, func(a, b Second) int { return a.T - b.T })
	for _, q := range percentilePoints {
		r.Percentiles = append(r.Percentiles, Percentile{Q: q, E2E: ms(e2e.Quantile(q)), FirstPart: ms(first.Quantile(q)), Ack: ms(ack.Quantile(q))})
	}
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteText writes the human summary.
func (r *Report) WriteText(w io.Writer) {
	if r.Mode == "engine" && r.Engine != nil {
		r.Engine.WriteText(w)
		r.writeErrors(w)
		r.writeSLO(w)
		return
	}
	fmt.Fprintf(w, "loadgen: %s loop, %.1fs, run id %d\n", r.Mode, r.ElapsedS, r.RunID)
	fmt.Fprintf(w, "  sent %d  acked %d  refused %d  replies %d  lost %d  duplicated %d  unmatched %d  replays %d\n",
		r.Sent, r.Acked, r.Refused, r.Replies, r.Lost, r.Duplicated, r.Unmatched, r.Replays)
	fmt.Fprintf(w, "  throughput %.2f replies/s  reply parts %d  errors %d\n", r.ThroughputPerS, r.Parts, r.Errors)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  latency ms\tcount\tp50\tp90\tp99\tp99.9\tmax\t")
	row := func(name string, s Summary) {
		fmt.Fprintf(tw, "  %s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", name, s.Count, s.P50, s.P90, s.P99, s.P999, s.Max)
	}
	row("end to end", r.E2E)
	row("first part", r.FirstPart)
	row("gateway ack", r.Ack)
	if r.E2EUncorrected != nil {
		row("e2e (uncorrected)", *r.E2EUncorrected)
	}
	_ = tw.Flush()
	r.writeErrors(w)
	r.writeSLO(w)
}

func (r *Report) writeErrors(w io.Writer) {
	if len(r.ErrorsByKind) > 0 {
		kinds := make([]string, 0, len(r.ErrorsByKind))
		for k := range r.ErrorsByKind {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		var parts []string
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%s %d", k, r.ErrorsByKind[k]))
		}
		fmt.Fprintf(w, "  errors by kind: %s\n", strings.Join(parts, ", "))
	}
}

func (r *Report) writeSLO(w io.Writer) {
	for _, s := range r.SLO {
		fmt.Fprintf(w, "  slo %s\n", s)
	}
}
