package loadgen

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Options are everything `corral loadgen` is told: the scenario, or the
// engine to measure instead, and where the results go.
type Options struct {
	Scenario Scenario
	// ScenarioFile is the YAML file the scenario was read from.
	ScenarioFile string
	// Out and HTML are the JSON and HTML report files; empty writes none.
	Out, HTML string
	// SLO are the objectives the run must meet (exit status 3 otherwise).
	SLO []Objective
	// Progress prints a live progress line on the error output.
	Progress bool
	// Engine, when its URL is set, measures an OpenAI-compatible server
	// instead of a deployment.
	Engine EngineSpec
}

// Usage is the synopsis of the command.
const Usage = "corral loadgen [--scenario FILE] [--target URL] [--graph-listen ADDR] [--app-secret S] [--users N] [--rate R] [--duration D] [--out FILE] [--html FILE] [--slo SPEC] | corral loadgen --engine URL [--concurrency N]"

// ParseArgs reads the command line of `corral loadgen`. A --scenario file
// is read first and the other flags given override it. Errors wrap
// ErrScenario, or are flag.ErrHelp for -h.
func ParseArgs(args []string, stderr io.Writer) (Options, error) {
	// First pass: only to find the scenario file.
	probe := Options{Scenario: DefaultScenario()}
	fs := flagSet(&probe, io.Discard)
	if err := fs.Parse(args); err != nil {
		// Report with the real output below.
		fs = flagSet(&probe, stderr)
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return Options{}, err
		} else if err != nil {
			return Options{}, fmt.Errorf("%w: %w", ErrScenario, err)
		}
	}
	if fs.NArg() > 0 {
		return Options{}, bad("loadgen takes no arguments, got %q", fs.Args())
	}
	o := Options{Scenario: DefaultScenario()}
	if probe.ScenarioFile != "" {
		s, err := LoadScenario(probe.ScenarioFile)
		if err != nil {
			return Options{}, err
		}
		o.Scenario = s
	}
	fs = flagSet(&o, stderr)
	if err := fs.Parse(args); err != nil {
		return Options{}, fmt.Errorf("%w: %w", ErrScenario, err)
	}
	if o.Engine.URL != "" {
		return o, o.Engine.Validate()
	}
	o.Scenario.resolveStages()
	if err := o.Scenario.Validate(); err != nil {
		return Options{}, err
	}
	return o, nil
}

// flagSet binds every flag to o.
func flagSet(o *Options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintln(out, "usage:", Usage)
		fmt.Fprintln(out, "Drives a Corral deployment with signed WhatsApp and Messenger webhooks, answers its Send API calls with a fake Graph API, and reports reply latency, lost and duplicated replies; or measures an OpenAI-compatible engine (--engine).")
		fs.PrintDefaults()
	}
	s := &o.Scenario
	fs.StringVar(&o.ScenarioFile, "scenario", "", "YAML scenario `file`; flags given override it")
	fs.StringVar(&s.Target, "target", s.Target, "gateway base `URL` webhooks go to")
	fs.StringVar(&s.GraphListen, "graph-listen", s.GraphListen, "`address` of the fake Graph API the deployment's sender calls (CORRAL_GRAPH_URL); empty runs none")
	fs.StringVar(&s.AppSecret, "app-secret", s.AppSecret, "Meta app secret webhooks are signed with (the gateway's CORRAL_APP_SECRET)")
	fs.IntVar(&s.Users, "users", s.Users, "simulated users (closed loop) or the pool messages come from (open loop)")
	fs.Func("rate", "open loop: Poisson arrivals, messages per `per-second`; 0 runs closed loop (replaces a --ramp before it)", func(v string) error {
		r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return fmt.Errorf("rate %q: want a number", v)
		}
		s.Rate, s.Stages = r, nil
		return nil
	})
	fs.Func("ramp", "open loop: comma-separated `rates` run one after the other, each for duration/steps (replaces a --rate before it)", func(v string) error {
		var rates []float64
		for _, f := range strings.Split(v, ",") {
			r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return fmt.Errorf("rate %q: want a number", f)
			}
			rates = append(rates, r)
		}
		s.Stages = nil
		for _, r := range rates {
			s.Stages = append(s.Stages, Stage{Rate: r})
		}
		return nil
	})
	durationVar(fs, &s.Duration, "duration", "how long messages are sent")
	durationVar(fs, &s.Think, "think", "closed loop: mean think time between a reply and the next message")
	fs.IntVar(&s.Turns, "turns", s.Turns, "messages per conversation before a user leaves and a new one comes")
	fs.Func("platforms", "platform `weights`, such as whatsapp=3,messenger=1 (default "+s.Platforms.String()+")", func(v string) error {
		m, err := ParseMix(v)
		if err == nil {
			s.Platforms = m
		}
		return err
	})
	fs.StringVar(&s.Corpus, "corpus", s.Corpus, "`file` of messages, one a line; empty uses the built-in corpus")
	fs.Func("personas", "comma-separated persona `handles` users switch to first (/persona @handle)", func(v string) error {
		s.Personas = nil
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimPrefix(strings.TrimSpace(h), "@"); h != "" {
				s.Personas = append(s.Personas, h)
			}
		}
		return nil
	})
	fs.Uint64Var(&s.Seed, "seed", s.Seed, "seed of users, texts and timings: the same seed repeats the run")
	fs.IntVar(&s.RunID, "run-id", s.RunID, "number put into user and message ids (0: random), so runs never share a conversation")
	fs.StringVar(&s.WhatsAppChannel, "whatsapp-channel", s.WhatsAppChannel, "WhatsApp phone number `id` messages go to")
	fs.StringVar(&s.MessengerPage, "messenger-page", s.MessengerPage, "Messenger Page `id` messages go to")
	durationVar(fs, &s.Settle, "settle", "a reply is complete when no part came for this long")
	durationVar(fs, &s.ReplyTimeout, "reply-timeout", "closed loop: how long a user waits for a reply")
	durationVar(fs, &s.Drain, "drain", "how long to wait for outstanding replies after the last message")
	fs.IntVar(&s.Retries, "retries", s.Retries, "deliveries of a refused webhook again, as Meta retries")
	fs.Float64Var(&s.ReplayRate, "replay-rate", s.ReplayRate, "re-deliver acknowledged webhooks this many times a second (dedupe check)")
	durationVar(fs, &s.Graph.Latency, "graph-latency", "fake Graph API: latency of every call")
	durationVar(fs, &s.Graph.Jitter, "graph-jitter", "fake Graph API: random extra latency up to this")
	fs.Float64Var(&s.Graph.ErrorRate, "graph-error-rate", s.Graph.ErrorRate, "fake Graph API: fraction of sends answered with error 2 (HTTP 500)")
	fs.Float64Var(&s.Graph.ThrottleRate, "graph-throttle-rate", s.Graph.ThrottleRate, "fake Graph API: fraction of sends answered with the rate-limit error (130429 / 613)")
	fs.Float64Var(&s.Graph.RateLimit, "graph-rate-limit", s.Graph.RateLimit, "fake Graph API: messages a second per channel before rate-limit errors (WhatsApp: 80); 0 none")
	fs.Float64Var(&s.Graph.PairRateLimit, "graph-pair-rate-limit", s.Graph.PairRateLimit, "fake Graph API: messages a second to one WhatsApp user before 131056; 0 none")

	fs.StringVar(&o.Out, "out", "", "write the JSON report to `file`")
	fs.StringVar(&o.HTML, "html", "", "write the self-contained HTML report to `file`")
	fs.Func("slo", "objectives, such as p99<2s,lost=0,dup=0; missing one exits with status 3", func(v string) error {
		objs, err := ParseSLO(v)
		if err == nil {
			o.SLO = objs
		}
		return err
	})
	fs.BoolVar(&o.Progress, "progress", true, "print a live progress line")

	e := &o.Engine
	fs.StringVar(&e.URL, "engine", "", "measure the OpenAI-compatible server at this base `URL` (such as http://127.0.0.1:8080/v1) instead of a deployment")
	fs.StringVar(&e.Model, "engine-model", "", "model name sent to the engine; empty asks its /models")
	fs.StringVar(&e.APIKey, "engine-key", "", "bearer token of the engine")
	fs.IntVar(&e.Concurrency, "concurrency", 8, "engine: highest concurrency; levels are 1, 2, 4, ... up to it")
	fs.IntVar(&e.Requests, "requests", 16, "engine: requests per concurrency level (at least the level)")
	fs.IntVar(&e.MaxTokens, "max-tokens", 64, "engine: max_tokens of every request")
	fs.StringVar(&e.API, "engine-api", "chat", "engine: chat (/v1/chat/completions) or completions (/v1/completions, for a model without a chat template)")
	return fs
}

// durationVar binds a Duration flag.
func durationVar(fs *flag.FlagSet, d *Duration, name, usage string) {
	fs.Func(name, usage+" (default "+d.String()+")", func(v string) error {
		x, err := parseDuration(v)
		if err != nil {
			return err
		}
		*d = Duration(x)
		return nil
	})
}

// resolveStages fills in the durations of stages given by --ramp.
func (s *Scenario) resolveStages() {
	n := 0
	for _, st := range s.Stages {
		if st.Duration == 0 {
			n++
		}
	}
	if n == 0 {
		return
	}
	step := Duration(s.Duration.D() / time.Duration(n))
	for i := range s.Stages {
		if s.Stages[i].Duration == 0 {
			s.Stages[i].Duration = step
		}
	}
}
