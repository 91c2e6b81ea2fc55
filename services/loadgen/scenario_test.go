package loadgen

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/corral-ai/corral/bots/messenger"
	"github.com/corral-ai/corral/bots/webhook"
	"github.com/corral-ai/corral/bots/whatsapp"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

func TestParseScenario(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		check   func(s Scenario) bool
		wantErr string
	}{
		{name: "empty is the default", yaml: "", check: func(s Scenario) bool { return reflect.DeepEqual(s, DefaultScenario()) }},
		{name: "closed loop", yaml: "users: 50\nthink: 500ms\nturns: 3\nduration: 2m\nseed: 9\n",
			check: func(s Scenario) bool {
				return s.Users == 50 && s.Think.D() == 500*time.Millisecond && s.Turns == 3 && s.Duration.D() == 2*time.Minute && !s.Open()
			}},
		{name: "ramp", yaml: "stages:\n  - {rate: 2, duration: 10s}\n  - {rate: 5, duration: 20}\n",
			check: func(s Scenario) bool {
				st, total := s.Plan()
				return s.Open() && len(st) == 2 && st[1].Duration.D() == 20*time.Second && total == 30*time.Second
			}},
		{name: "stages share the duration", yaml: "duration: 30s\nstages: [{rate: 1}, {rate: 2}, {rate: 3}]\n",
			check: func(s Scenario) bool {
				_, total := s.Plan()
				return total == 30*time.Second && s.Stages[2].Duration.D() == 10*time.Second
			}},
		{name: "mix, personas, graph", yaml: "platforms: {whatsapp: 3, messenger: 0}\npersonas: [luna, max]\ngraph: {latency: 40ms, error_rate: 0.01, throttle_rate: 0.02, rate_limit: 80}\n",
			check: func(s Scenario) bool {
				return s.Platforms.WhatsApp == 3 && len(s.Personas) == 2 && s.Graph.Latency.D() == 40*time.Millisecond && s.Graph.RateLimit == 80
			}},
		{name: "unknown field", yaml: "user: 5\n", wantErr: "field user not found"},
		{name: "bad duration", yaml: "duration: soon\n", wantErr: "want a number with a unit"},
		{name: "no users", yaml: "users: 0\n", wantErr: "users 0"},
		{name: "negative rate", yaml: "rate: -1\n", wantErr: "rate -1"},
		{name: "no platform", yaml: "platforms: {whatsapp: 0, messenger: 0}\n", wantErr: "platforms"},
		{name: "bad target", yaml: "target: ftp://x\n", wantErr: "target"},
		{name: "persona with @", yaml: "personas: ['@luna']\n", wantErr: "persona"},
		{name: "rates over one", yaml: "graph: {error_rate: 0.7, throttle_rate: 0.7}\n", wantErr: "graph"},
		{name: "not a mapping", yaml: "- 1\n", wantErr: "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseScenario([]byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(s) {
				t.Fatalf("err %v, scenario %+v", err, s)
			}
		})
	}
}

// TestFlagsOverrideFile: a scenario file is read first, the flags given
// win, and everything else keeps the file's value.
func TestFlagsOverrideFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(path, []byte("users: 7\nrate: 3\nturns: 2\nseed: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o, err := ParseArgs([]string{"--scenario", path, "--users", "9", "--ramp", "1,2", "--duration", "4s", "--slo", "p99<2s,lost=0,dup=0",
		"--platforms", "messenger", "--personas", "@luna, max", "--out", "r.json"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := o.Scenario
	if s.Users != 9 || s.Turns != 2 || s.Seed != 5 || s.Rate != 3 || len(s.Stages) != 2 || s.Stages[1].Duration.D() != 2*time.Second ||
		s.Platforms != (Mix{Messenger: 1}) || !reflect.DeepEqual(s.Personas, []string{"luna", "max"}) || o.Out != "r.json" || len(o.SLO) != 3 {
		t.Fatalf("options %+v", o)
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--users", "x"}, "invalid value"},
		{[]string{"--users", "0"}, "users 0"},
		{[]string{"--duration", "1"}, ""},
		{[]string{"--duration", "-1s"}, "duration"},
		{[]string{"--slo", "p99<"}, "want a duration"},
		{[]string{"--slo", "speed>3"}, "unknown metric"},
		{[]string{"--platforms", "telegram"}, "telegram"},
		{[]string{"stray"}, "no arguments"},
		{[]string{"--scenario", "/nonexistent/s.yaml"}, "read"},
		{[]string{"--engine", "localhost:8080"}, "engine"},
		{[]string{"--engine", "http://h/v1", "--concurrency", "0"}, "concurrency"},
		{[]string{"--no-such-flag"}, "not defined"},
	}
	for _, tt := range tests {
		_, err := ParseArgs(tt.args, io.Discard)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.args, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want %q", tt.args, err, tt.want)
		}
	}
	if _, err := ParseArgs([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestParseSLO(t *testing.T) {
	objs, err := ParseSLO("p99<2s, lost=0,dup=0,first_p50<=300ms,ack_max<1s,throughput>=5.5,errors<3")
	if err != nil {
		t.Fatal(err)
	}
	want := []Objective{{"p99", "<", 2000, "p99<2s"}, {"lost", "=", 0, "lost=0"}, {"dup", "=", 0, "dup=0"},
		{"first_p50", "<=", 300, "first_p50<=300ms"}, {"ack_max", "<", 1000, "ack_max<1s"}, {"throughput", ">=", 5.5, "throughput>=5.5"}, {"errors", "<", 3, "errors<3"}}
	if !reflect.DeepEqual(objs, want) {
		t.Fatalf("got %+v", objs)
	}
	r := &Report{Lost: 0, Duplicated: 1, E2E: Summary{P99: 1999}, FirstPart: Summary{P50: 300}, Ack: Summary{Max: 1000}, ThroughputPerS: 6, Errors: 2}
	var missed []string
	for _, res := range r.Check(objs) {
		if !res.Met {
			missed = append(missed, res.Metric)
		}
	}
	if !reflect.DeepEqual(missed, []string{"dup", "ack_max"}) {
		t.Fatalf("missed %v", missed)
	}
}

func TestBuiltinCorpus(t *testing.T) {
	c, err := ParseCorpus(builtinCorpus)
	if err != nil || len(c) < 50 {
		t.Fatalf("%d messages, %v", len(c), err)
	}
	for _, bad := range []string{"", "# only a comment\n", "/reset\n", "ok\n\xff\n"} {
		if _, err := ParseCorpus(bad); !errors.Is(err, ErrScenario) {
			t.Errorf("corpus %q: %v", bad, err)
		}
	}
}

// TestPlanDeterministic: the seed alone decides users, texts, arrival
// times and think times; the run id changes only the ids.
func TestPlanDeterministic(t *testing.T) {
	s := DefaultScenario()
	s.Rate, s.Personas, s.Duration = 50, []string{"luna", "max"}, Duration(20*time.Second)
	plan := func(seed uint64, runID int) (users []*User, arrivals []time.Duration, thinks []time.Duration) {
		s.Seed = seed
		p := NewPlanner(s, BuiltinCorpus(), runID)
		for slot := range 20 {
			for gen := range 3 {
				u := p.User(slot, gen)
				users = append(users, u)
				thinks = append(thinks, p.Think(u), p.Think(u))
			}
		}
		a := p.Arrivals()
		for {
			at, ok := a.Next()
			if !ok {
				break
			}
			arrivals = append(arrivals, at)
		}
		return
	}
	strip := func(us []*User) (out []string) {
		for _, u := range us {
			out = append(out, u.Name+corralv1.PlatformToken(u.Platform))
			for _, m := range u.Messages {
				out = append(out, m.Text)
			}
		}
		return
	}
	u1, a1, t1 := plan(7, 1)
	u2, a2, t2 := plan(7, 1)
	u3, a3, t3 := plan(7, 2)
	u4, a4, _ := plan(8, 1)
	if !reflect.DeepEqual(strip(u1), strip(u2)) || !reflect.DeepEqual(a1, a2) || !reflect.DeepEqual(t1, t2) || u1[5].ID != u2[5].ID || u1[5].Messages[1].ID != u2[5].Messages[1].ID {
		t.Fatal("the same seed and run id planned differently")
	}
	if !reflect.DeepEqual(strip(u1), strip(u3)) || !reflect.DeepEqual(a1, a3) || !reflect.DeepEqual(t1, t3) || u1[5].ID == u3[5].ID {
		t.Fatal("another run id changed more than the ids")
	}
	if reflect.DeepEqual(strip(u1), strip(u4)) || reflect.DeepEqual(a1, a4) {
		t.Fatal("another seed planned the same run")
	}
	// About rate × duration arrivals, all inside the run.
	if n := len(a1); n < 850 || n > 1150 || a1[n-1] >= 20*time.Second {
		t.Fatalf("%d arrivals, last at %v", n, a1[n-1])
	}
	ids := map[string]bool{}
	for _, u := range u1 {
		if !strings.HasPrefix(u.Messages[0].Text, "/persona @") {
			t.Errorf("user %s starts with %q", u.ID, u.Messages[0].Text)
		}
		for _, m := range u.Messages {
			if ids[m.ID] {
				t.Fatalf("message id %s twice", m.ID)
			}
			ids[m.ID] = true
		}
	}
}

// TestWebhookBodies: what loadgen sends is what the platform parsers read
// from Meta, signed as Meta signs.
func TestWebhookBodies(t *testing.T) {
	p := NewPlanner(DefaultScenario(), Corpus{`say "hi" & <bye> 😀`}, 77)
	v, _ := webhook.NewVerifier("s3cret")
	at := time.Unix(1733310000, 0)
	for slot := range 6 {
		u := p.User(slot, 0)
		m := u.Messages[0]
		path, body, err := WebhookBody(u, m, at)
		if err != nil {
			t.Fatal(err)
		}
		parse := whatsapp.Parse
		if u.Platform == corralv1.Platform_PLATFORM_MESSENGER {
			parse = messenger.Parse
		}
		res, err := parse(body)
		if err != nil || len(res.Messages) != 1 || len(res.Warnings) != 0 {
			t.Fatalf("%s: %v %+v", path, err, res)
		}
		got := res.Messages[0]
		if got.GetPlatform() != u.Platform || got.GetUserId() != u.ID || got.GetChannelId() != u.Channel ||
			got.GetPlatformMessageId() != m.ID || got.GetText() != m.Text || got.GetKind() != corralv1.MessageKind_MESSAGE_KIND_TEXT ||
			got.GetSentTime().AsTime().Unix() != at.Unix() {
			t.Fatalf("parsed %v from %s", got, body)
		}
		d := newDelivery("http://x", "s3cret", path, body)
		if err := v.Verify(d.signature, d.body); err != nil {
			t.Fatal(err)
		}
	}
}

// TestExampleScenario: the example the README points to parses.
func TestExampleScenario(t *testing.T) {
	s, err := LoadScenario(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	stages, total := s.Plan()
	if !s.Open() || len(stages) != 3 || total != 90*time.Second || s.Graph.RateLimit != 80 || s.ReplayRate != 1 {
		t.Fatalf("%+v", s)
	}
}
