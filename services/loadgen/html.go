package loadgen

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"os"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// The HTML report is one file: the summary as text and charts as PNG data
// URLs drawn with gonum/plot, so it opens anywhere without a network.

type chart struct {
	Title string
	PNG   template.URL
}

var page = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Corral loadgen report</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}pre{background:#f5f5f5;padding:1em;overflow:auto}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}</style>
</head><body>
<h1>Corral loadgen: {{.Mode}}</h1>
<p>Started {{.Started}}.</p>
<pre>{{.Summary}}</pre>
{{range .Charts}}<h2>{{.Title}}</h2><img alt="{{.Title}}" src="{{.PNG}}">
{{end}}</body></html>
`))

// WriteHTML writes the self-contained HTML report to path.
func (r *Report) WriteHTML(path string) error {
	var sum bytes.Buffer
	r.WriteText(&sum)
	charts, err := r.charts()
	if err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	var out bytes.Buffer
	err = page.Execute(&out, map[string]any{"Mode": r.Mode, "Started": r.Started.UTC().Format("2006-01-02 15:04:05 UTC"),
		"Summary": sum.String(), "Charts": charts})
	if err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

// Charts returns the report's charts as PNG images.
func (r *Report) charts() ([]chart, error) {
	var out []chart
	add := func(title string, p *plot.Plot, err error) error {
		if err != nil {
			return err
		}
		png, err := render(p)
		if err != nil {
			return err
		}
		out = append(out, chart{Title: title, PNG: png})
		return nil
	}
	if r.Engine != nil {
		p, err := engineTTFTPlot(r.Engine)
		if err := add("Time to first token vs concurrency", p, err); err != nil {
			return nil, err
		}
		p, err = engineTPOTPlot(r.Engine)
		if err := add("Time per output token vs concurrency", p, err); err != nil {
			return nil, err
		}
		p, err = engineThroughputPlot(r.Engine)
		if err := add("Output tokens per second vs concurrency", p, err); err != nil {
			return nil, err
		}
		return out, nil
	}
	p, err := overTimePlot(r.Timeline)
	if err := add("Reply latency over the run (by send second)", p, err); err != nil {
		return nil, err
	}
	p, err = percentilePlot(r.Percentiles)
	if err := add("Latency by percentile", p, err); err != nil {
		return nil, err
	}
	p, err = ratePlot(r.Timeline)
	if err := add("Messages sent and replies received per second", p, err); err != nil {
		return nil, err
	}
	return out, nil
}

func render(p *plot.Plot) (template.URL, error) {
	w, err := p.WriterTo(8*vg.Inch, 4*vg.Inch, "png")
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return "", err
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())), nil
}

func overTimePlot(tl []Second) (*plot.Plot, error) {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = "seconds into the run", "end-to-end latency (ms)"
	var p50, p99, mx plotter.XYs
	for _, s := range tl {
		if s.Replies == 0 {
			continue
		}
		p50 = append(p50, plotter.XY{X: float64(s.T), Y: s.P50})
		p99 = append(p99, plotter.XY{X: float64(s.T), Y: s.P99})
		mx = append(mx, plotter.XY{X: float64(s.T), Y: s.Max})
	}
	if len(p50) == 0 {
		p.Title.Text = "no replies"
		return p, nil
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p, plotutil.AddLinePoints(p, "p50", p50, "p99", p99, "max", mx)
}

// percentilePlot puts percentiles on a "nines" axis: 90% at 1, 99% at 2...
func percentilePlot(ps []Percentile) (*plot.Plot, error) {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = "percentile", "latency (ms)"
	var e2e, first, ack plotter.XYs
	for _, q := range ps {
		if q.Q >= 1 {
			continue
		}
		x := -math.Log10(1 - q.Q)
		e2e = append(e2e, plotter.XY{X: x, Y: q.E2E})
		first = append(first, plotter.XY{X: x, Y: q.FirstPart})
		ack = append(ack, plotter.XY{X: x, Y: q.Ack})
	}
	var ticks []plot.Tick
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 0.9999} {
		ticks = append(ticks, plot.Tick{Value: -math.Log10(1 - q), Label: strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", q*100), "0"), ".") + "%"})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Legend.Top, p.Legend.Left = true, true
	if len(e2e) == 0 {
		return p, nil
	}
	return p, plotutil.AddLinePoints(p, "end to end", e2e, "first part", first, "gateway ack", ack)
}

func ratePlot(tl []Second) (*plot.Plot, error) {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = "seconds into the run", "per second"
	var sent, replies, lost plotter.XYs
	for _, s := range tl {
		sent = append(sent, plotter.XY{X: float64(s.T), Y: float64(s.Sent)})
		replies = append(replies, plotter.XY{X: float64(s.T), Y: float64(s.Replies)})
		lost = append(lost, plotter.XY{X: float64(s.T), Y: float64(s.Lost)})
	}
	if len(sent) == 0 {
		return p, nil
	}
	return p, plotutil.AddLinePoints(p, "sent", sent, "answered", replies, "lost", lost)
}

// concurrencyPlot is a plot over the engine's levels, on a log2 axis.
func concurrencyPlot(e *EngineReport, ylabel string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = "concurrent requests", ylabel
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, l := range e.Levels {
		ticks = append(ticks, plot.Tick{Value: float64(l.Concurrency), Label: fmt.Sprint(l.Concurrency)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Legend.Top, p.Legend.Left = true, true
	return p
}

func engineTTFTPlot(e *EngineReport) (*plot.Plot, error) {
	p := concurrencyPlot(e, "time to first token (ms)")
	var t50, t99 plotter.XYs
	for _, l := range e.Levels {
		x := float64(l.Concurrency)
		t50 = append(t50, plotter.XY{X: x, Y: l.TTFT.P50})
		t99 = append(t99, plotter.XY{X: x, Y: l.TTFT.P99})
	}
	return p, plotutil.AddLinePoints(p, "p50", t50, "p99", t99)
}

func engineTPOTPlot(e *EngineReport) (*plot.Plot, error) {
	p := concurrencyPlot(e, "time per output token (ms)")
	var o50, o99 plotter.XYs
	for _, l := range e.Levels {
		x := float64(l.Concurrency)
		o50 = append(o50, plotter.XY{X: x, Y: l.TPOT.P50})
		o99 = append(o99, plotter.XY{X: x, Y: l.TPOT.P99})
	}
	return p, plotutil.AddLinePoints(p, "p50", o50, "p99", o99)
}

func engineThroughputPlot(e *EngineReport) (*plot.Plot, error) {
	p := concurrencyPlot(e, "output tokens/s")
	var tps plotter.XYs
	for _, l := range e.Levels {
		tps = append(tps, plotter.XY{X: float64(l.Concurrency), Y: l.TokensPerS})
	}
	return p, plotutil.AddLinePoints(p, "tokens/s", tps)
}
