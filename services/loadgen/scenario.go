package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// ErrScenario marks a scenario that cannot run: a bad flag, YAML field or
// value. Commands report it as a usage error.
var ErrScenario = errors.New("bad scenario")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrScenario, fmt.Sprintf(format, args...))
}

// Scenario is what a run does: who talks, how often, about what, and how
// the fake Graph API behaves. It comes from flags, a YAML file, or both
// (flags win).
type Scenario struct {
	// Target is the base URL of the deployment's gateway; webhooks go to
	// Target/webhooks/whatsapp and Target/webhooks/messenger.
	Target string `yaml:"target" json:"target"`
	// AppSecret signs every webhook (X-Hub-Signature-256).
	AppSecret string `yaml:"app_secret" json:"-"`
	// GraphListen is where the fake Graph API listens; the deployment's
	// sender must be pointed at it (CORRAL_GRAPH_URL). Empty runs none:
	// then no reply can be seen, only acknowledgements.
	GraphListen string `yaml:"graph_listen" json:"graph_listen"`

	// Users is the number of simulated users: closed loop, each sends,
	// waits for the whole reply, thinks, sends again; open loop, the pool
	// messages are drawn from (more join when all are waiting).
	Users int `yaml:"users" json:"users"`
	// Rate, when above zero, makes the run open loop: messages arrive as a
	// Poisson process at Rate per second, whatever the replies do.
	Rate float64 `yaml:"rate" json:"rate,omitempty"`
	// Stages ramp an open-loop rate: each runs for its duration at its
	// rate, one after the other. Empty means one stage of Rate for
	// Duration.
	Stages []Stage `yaml:"stages" json:"stages,omitempty"`
	// Duration is how long messages are sent (the sum of the stages when
	// there are stages).
	Duration Duration `yaml:"duration" json:"duration"`
	// Think is the mean think time of a closed-loop user between a reply
	// and the next message (exponentially distributed).
	Think Duration `yaml:"think" json:"think"`
	// Turns is the length of a conversation: after this many messages a
	// user leaves and a new one takes the place.
	Turns int `yaml:"turns" json:"turns"`
	// Platforms weighs the platforms users come from.
	Platforms Mix `yaml:"platforms" json:"platforms"`
	// Corpus is a file of messages, one a line ("#" starts a comment);
	// empty uses the built-in corpus.
	Corpus string `yaml:"corpus" json:"corpus,omitempty"`
	// Personas are handles; each user first switches to one of them
	// (`/persona @handle`). Empty talks to whatever the channel answers as.
	Personas []string `yaml:"personas" json:"personas,omitempty"`
	// Seed makes the run repeatable: the same seed gives the same users,
	// texts, arrival times and think times.
	Seed uint64 `yaml:"seed" json:"seed"`
	// RunID goes into every user and message id, so runs against one
	// deployment never share a conversation or a dedupe key; 0 picks one
	// at random.
	RunID int `yaml:"run_id" json:"run_id"`

	// WhatsAppChannel is the phone number id messages are sent to;
	// MessengerPage the Page id.
	WhatsAppChannel string `yaml:"whatsapp_channel" json:"whatsapp_channel"`
	MessengerPage   string `yaml:"messenger_page" json:"messenger_page"`

	// Settle is how long no new reply part may arrive before a reply counts
	// as complete (the platforms have no end-of-reply marker).
	Settle Duration `yaml:"settle" json:"settle"`
	// ReplyTimeout is how long a closed-loop user waits for a reply before
	// giving up on it and writing again.
	ReplyTimeout Duration `yaml:"reply_timeout" json:"reply_timeout"`
	// Drain is how long to wait after the last message for outstanding
	// replies; what has none by then is lost.
	Drain Duration `yaml:"drain" json:"drain"`
	// Retries is how many times a refused webhook is delivered again, as
	// Meta does, with back-off from one second.
	Retries int `yaml:"retries" json:"retries"`
	// ReplayRate re-delivers an acknowledged webhook this many times a
	// second, as Meta's retries do, to prove deduplication under load.
	ReplayRate float64 `yaml:"replay_rate" json:"replay_rate,omitempty"`

	// Graph is how the fake Graph API answers.
	Graph GraphSpec `yaml:"graph" json:"graph"`
}

// Stage is one step of an open-loop ramp.
type Stage struct {
	Rate     float64  `yaml:"rate" json:"rate"`
	Duration Duration `yaml:"duration" json:"duration"`
}

// GraphSpec configures the fake Graph API's latency and failures. Failures
// use the real codes: ErrorRate answers Graph's transient code 2 (HTTP 500),
// ThrottleRate the throughput limit (130429 on WhatsApp, 613 on
// Messenger); RateLimit and PairRateLimit throttle with token buckets as the
// platforms do.
type GraphSpec struct {
	Latency       Duration `yaml:"latency" json:"latency"`
	Jitter        Duration `yaml:"jitter" json:"jitter"`
	ErrorRate     float64  `yaml:"error_rate" json:"error_rate"`
	ThrottleRate  float64  `yaml:"throttle_rate" json:"throttle_rate"`
	RateLimit     float64  `yaml:"rate_limit" json:"rate_limit"`
	PairRateLimit float64  `yaml:"pair_rate_limit" json:"pair_rate_limit"`
}

// Duration is a time.Duration written as "1.5s" in YAML and JSON.
type Duration time.Duration

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads "250ms", "2m" or a number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as 30s", n.Line)
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(d.String())), nil }

// UnmarshalJSON reads what MarshalJSON wrote.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("duration %s: want a quoted string such as \"30s\"", b)
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.Abs(f) > 1e9 {
			return 0, fmt.Errorf("duration %q out of range", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want a number with a unit, such as 30s or 250ms", s)
	}
	return v, nil
}

// Mix weighs the platforms; the weights need not sum to one.
type Mix struct {
	WhatsApp  float64 `yaml:"whatsapp" json:"whatsapp"`
	Messenger float64 `yaml:"messenger" json:"messenger"`
}

// Pick returns the platform of a uniform draw u in [0, 1).
func (m Mix) Pick(u float64) corralv1.Platform {
	if u*(m.WhatsApp+m.Messenger) < m.WhatsApp {
		return corralv1.Platform_PLATFORM_WHATSAPP
	}
	return corralv1.Platform_PLATFORM_MESSENGER
}

// String is the flag form, "whatsapp=1,messenger=1".
func (m Mix) String() string {
	return "whatsapp=" + strconv.FormatFloat(m.WhatsApp, 'g', -1, 64) + ",messenger=" + strconv.FormatFloat(m.Messenger, 'g', -1, 64)
}

// ParseMix reads "whatsapp=3,messenger=1", "whatsapp" or "messenger".
func ParseMix(s string) (Mix, error) {
	var m Mix
	for _, item := range strings.Split(s, ",") {
		name, weight, hasWeight := strings.Cut(strings.TrimSpace(item), "=")
		w := 1.0
		if hasWeight {
			var err error
			if w, err = strconv.ParseFloat(strings.TrimSpace(weight), 64); err != nil || w < 0 || math.IsInf(w, 0) || math.IsNaN(w) {
				return Mix{}, bad("platform weight %q: want a number of zero or more", weight)
			}
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "whatsapp", "wa":
			m.WhatsApp = w
		case "messenger", "ms":
			m.Messenger = w
		default:
			return Mix{}, bad("platform %q: want whatsapp or messenger", name)
		}
	}
	return m, nil
}

// DefaultScenario is a small closed-loop run against a local `corral
// serve`: 10 users on both platforms for 30 seconds.
func DefaultScenario() Scenario {
	return Scenario{
		Target:          "http://127.0.0.1:8080",
		GraphListen:     "127.0.0.1:8090",
		Users:           10,
		Duration:        Duration(30 * time.Second),
		Think:           Duration(2 * time.Second),
		Turns:           5,
		Platforms:       Mix{WhatsApp: 1, Messenger: 1},
		Seed:            1,
		WhatsAppChannel: "420000000000002",
		MessengerPage:   "104000000000001",
		Settle:          Duration(time.Second),
		ReplyTimeout:    Duration(60 * time.Second),
		Drain:           Duration(30 * time.Second),
		Retries:         3,
	}
}

// LoadScenario reads a YAML scenario over the defaults. Unknown fields are
// errors, so a typo never silently runs the default.
func LoadScenario(path string) (Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("%w: read %s: %w", ErrScenario, path, err)
	}
	s, err := ParseScenario(data)
	if err != nil {
		return Scenario{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseScenario reads a YAML scenario over the defaults and validates it.
func ParseScenario(data []byte) (Scenario, error) {
	s := DefaultScenario()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) { // empty: the defaults
		return Scenario{}, fmt.Errorf("%w: %w", ErrScenario, err)
	}
	s.resolveStages()
	if err := s.Validate(); err != nil {
		return Scenario{}, err
	}
	return s, nil
}

// Limits of a scenario, so a typo cannot start a run this machine cannot
// hold.
const (
	maxUsers = 99_999
	maxRate  = 100_000
	maxTurns = 999
)

// Open reports whether the run is open loop.
func (s *Scenario) Open() bool { return s.Rate > 0 || len(s.Stages) > 0 }

// Plan returns the stages of an open-loop run (one of Rate for Duration
// when none are set) and their total length.
func (s *Scenario) Plan() ([]Stage, time.Duration) {
	stages := s.Stages
	if len(stages) == 0 && s.Rate > 0 {
		stages = []Stage{{Rate: s.Rate, Duration: s.Duration}}
	}
	var total time.Duration
	for _, st := range stages {
		total += st.Duration.D()
	}
	if len(stages) == 0 {
		total = s.Duration.D()
	}
	return stages, total
}

// Validate reports every value that cannot run.
func (s *Scenario) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, bad(format, args...)) }
	if u, err := url.Parse(s.Target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("target %q: want an http(s) URL such as http://127.0.0.1:8080", s.Target)
	}
	if s.Users < 1 || s.Users > maxUsers {
		add("users %d: want 1 to %d", s.Users, maxUsers)
	}
	if s.Rate < 0 || s.Rate > maxRate || math.IsNaN(s.Rate) {
		add("rate %v: want 0 (closed loop) to %d messages a second", s.Rate, maxRate)
	}
	for i, st := range s.Stages {
		if !(st.Rate > 0 && st.Rate <= maxRate) || st.Duration.D() <= 0 {
			add("stage %d: want a rate above 0 up to %d and a duration above 0", i+1, maxRate)
		}
	}
	if _, total := s.Plan(); total <= 0 || total > 7*24*time.Hour {
		add("duration %v: want above 0 and at most a week", total)
	}
	if s.Think < 0 || s.Settle <= 0 || s.ReplyTimeout <= 0 || s.Drain < 0 {
		add("think, settle, reply_timeout and drain: want think and drain at least 0, settle and reply_timeout above 0")
	}
	if s.Turns < 1 || s.Turns > maxTurns {
		add("turns %d: want 1 to %d", s.Turns, maxTurns)
	}
	m := s.Platforms
	if !(m.WhatsApp >= 0 && m.Messenger >= 0 && m.WhatsApp+m.Messenger > 0) || math.IsInf(m.WhatsApp+m.Messenger, 0) {
		add("platforms %s: want weights of zero or more, not all zero", m)
	}
	for _, p := range s.Personas {
		if p == "" || strings.ContainsAny(p, " \t\n@") {
			add("persona %q: want a handle without @ or spaces", p)
		}
	}
	if s.RunID < 0 || s.RunID > 999_999 {
		add("run_id %d: want 0 (random) to 999999", s.RunID)
	}
	if !digits(s.WhatsAppChannel) || !digits(s.MessengerPage) {
		add("whatsapp_channel %q and messenger_page %q: want ids of digits", s.WhatsAppChannel, s.MessengerPage)
	}
	if s.Retries < 0 || s.Retries > 10 {
		add("retries %d: want 0 to 10", s.Retries)
	}
	if s.ReplayRate < 0 || s.ReplayRate > maxRate || math.IsNaN(s.ReplayRate) {
		add("replay_rate %v: want 0 to %d a second", s.ReplayRate, maxRate)
	}
	g := s.Graph
	if g.Latency < 0 || g.Jitter < 0 || !fraction(g.ErrorRate) || !fraction(g.ThrottleRate) ||
		!(g.RateLimit >= 0) || !(g.PairRateLimit >= 0) || g.ErrorRate+g.ThrottleRate > 1 {
		add("graph: want latency and jitter at least 0, error_rate and throttle_rate fractions summing to at most 1, rate limits at least 0")
	}
	return errors.Join(errs...)
}

func fraction(f float64) bool { return f >= 0 && f <= 1 }

func digits(s string) bool {
	return s != "" && len(s) <= 20 && !slices.ContainsFunc([]byte(s), func(c byte) bool { return c < '0' || c > '9' })
}
