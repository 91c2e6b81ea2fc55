package loadgen

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// SLOError is a run that missed an objective of --slo.
type SLOError struct{ Missed []SLOResult }

func (e *SLOError) Error() string {
	var parts []string
	for _, m := range e.Missed {
		parts = append(parts, m.String())
	}
	return "missed objectives: " + strings.Join(parts, "; ")
}

// ExitCode is the status a run that missed an objective exits with, so a
// script tells it from a run that could not be made (1) or a bad command
// line (2).
func (e *SLOError) ExitCode() int { return 3 }

// Main runs what o asks: engine mode or a scenario against a deployment,
// then writes the summary to stdout, the reports asked for, and returns
// an *SLOError when an objective was missed. The progress line and notes
// go to stderr.
func Main(ctx context.Context, o Options, stdout, stderr io.Writer) (*Report, error) {
	var progress io.Writer
	if o.Progress {
		progress = stderr
	}
	var rep *Report
	if o.Engine.URL != "" {
		corpus, err := LoadCorpus(o.Scenario.Corpus)
		if err != nil {
			return nil, err
		}
		o.Engine.Seed = o.Scenario.Seed
		if rep, err = RunEngine(ctx, o.Engine, corpus, progress); err != nil {
			return nil, err
		}
	} else {
		r, err := NewRunner(o.Scenario, progress)
		if err != nil {
			return nil, err
		}
		if err := r.Start(); err != nil {
			return nil, err
		}
		if r.GraphURL != "" {
			fmt.Fprintf(stderr, "loadgen: fake Graph API on %s (point the sender's CORRAL_GRAPH_URL at it); webhooks to %s; run id %d\n",
				r.GraphURL, o.Scenario.Target, r.RunID())
		} else {
			fmt.Fprintln(stderr, "loadgen: no fake Graph API (--graph-listen is empty): replies cannot be seen, every accepted message will count as lost")
		}
		if rep, err = r.Run(ctx); err != nil {
			return nil, err
		}
	}
	return rep, finish(rep, o, stdout)
}

// finish checks the objectives and writes the summary and reports.
func finish(rep *Report, o Options, stdout io.Writer) error {
	rep.SLO = rep.Check(o.SLO)
	var missed []SLOResult
	for _, s := range rep.SLO {
		if !s.Met {
			missed = append(missed, s)
		}
	}
	rep.SLOPassed = len(missed) == 0
	rep.WriteText(stdout)
	if o.Out != "" {
		if err := rep.WriteJSON(o.Out); err != nil {
			return err
		}
	}
	if o.HTML != "" {
		if err := rep.WriteHTML(o.HTML); err != nil {
			return err
		}
	}
	if len(missed) > 0 {
		return &SLOError{Missed: missed}
	}
	return nil
}
