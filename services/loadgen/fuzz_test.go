package loadgen

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// FuzzParseScenario: any YAML gives a valid scenario or an ErrScenario,
// never a panic.
func FuzzParseScenario(f *testing.F) {
	f.Add("users: 5\nrate: 2\n")
	f.Add("stages: [{rate: 1, duration: 1s}]\nplatforms: {whatsapp: 1}\n")
	f.Add("graph: {latency: 5ms, error_rate: 0.5}\npersonas: [a]\n")
	f.Add("duration: 1e300\n")
	f.Add("&a [*a]")
	f.Fuzz(func(t *testing.T, doc string) {
		s, err := ParseScenario([]byte(doc))
		if err != nil {
			if !errors.Is(err, ErrScenario) {
				t.Fatalf("error %v does not wrap ErrScenario", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted an invalid scenario: %v", err)
		}
	})
}

// FuzzParseArgs: any command line parses, asks for help, or is a usage
// error.
func FuzzParseArgs(f *testing.F) {
	f.Add("--users 5 --rate 2 --duration 3s")
	f.Add("--ramp 1,2,x --slo p99<2s,lost=0")
	f.Add("--platforms whatsapp=2,messenger=-1 --personas @a,b")
	f.Add("--engine http://x/v1 --concurrency 3")
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		for _, a := range args {
			if strings.HasPrefix(strings.TrimLeft(a, "-"), "scenario") || strings.HasPrefix(strings.TrimLeft(a, "-"), "corpus") {
				return // reads files
			}
		}
		o, err := ParseArgs(args, io.Discard)
		switch {
		case err == nil:
			if o.Engine.URL == "" {
				if err := o.Scenario.Validate(); err != nil {
					t.Fatalf("accepted %q: %v", line, err)
				}
			}
		case errors.Is(err, flag.ErrHelp), errors.Is(err, ErrScenario):
		default:
			t.Fatalf("%q: error %v is not a usage error", line, err)
		}
	})
}

// FuzzParseSLO: objectives parse or are refused with ErrScenario.
func FuzzParseSLO(f *testing.F) {
	f.Add("p99<2s,lost=0,dup=0")
	f.Add("first_p50<=1.5s, throughput>=3")
	f.Add("=,<,>")
	f.Fuzz(func(t *testing.T, spec string) {
		objs, err := ParseSLO(spec)
		if err != nil {
			if !errors.Is(err, ErrScenario) {
				t.Fatalf("error %v does not wrap ErrScenario", err)
			}
			return
		}
		r := &Report{}
		for _, res := range r.Check(objs) {
			if res.Op == "" || res.Metric == "" {
				t.Fatalf("objective %+v", res)
			}
		}
	})
}

// FuzzParseCorpus: any text gives messages that can be sent or an error.
func FuzzParseCorpus(f *testing.F) {
	f.Add("hi\n# c\n\nbye\r\n")
	f.Add("/reset")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCorpus(text)
		if err != nil {
			if !errors.Is(err, ErrScenario) {
				t.Fatalf("error %v does not wrap ErrScenario", err)
			}
			return
		}
		for _, m := range c {
			if m == "" || strings.HasPrefix(m, "/") || strings.ContainsAny(m, "\n") {
				t.Fatalf("message %q", m)
			}
		}
	})
}
