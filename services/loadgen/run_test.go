package loadgen

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// scenarioFor is a short run against target with the fake Graph API on a
// free port.
func scenarioFor(target string) Scenario {
	s := DefaultScenario()
	s.Target, s.AppSecret, s.GraphListen = target, testSecret, "127.0.0.1:0"
	s.Users, s.Duration, s.Think, s.Turns = 4, Duration(1500*time.Millisecond), Duration(50*time.Millisecond), 3
	s.Settle, s.Drain, s.ReplyTimeout = Duration(150*time.Millisecond), Duration(5*time.Second), Duration(3*time.Second)
	s.RunID = 4242
	return s
}

// run starts a runner (so its fake Graph API has a URL), then a
// responder sending to it, and runs the scenario.
func run(t *testing.T, s Scenario, adjust func(*responder)) *Report {
	t.Helper()
	r, err := NewRunner(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	r.s.Target = newResponder(t, r.GraphURL, adjust)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestRunFindsLostAndDuplicated runs closed and open loops against
// responders that behave and that lose or repeat replies: loadgen must
// count exactly what they did.
func TestRunFindsLostAndDuplicated(t *testing.T) {
	tests := []struct {
		name     string
		open     bool
		replay   float64
		adjust   func(*responder)
		wantLost func(r *Report) bool
		wantDup  func(r *Report) bool
	}{
		{name: "closed loop, all answered once",
			wantLost: func(r *Report) bool { return r.Lost == 0 }, wantDup: func(r *Report) bool { return r.Duplicated == 0 }},
		{name: "open loop, all answered once", open: true,
			wantLost: func(r *Report) bool { return r.Lost == 0 }, wantDup: func(r *Report) bool { return r.Duplicated == 0 }},
		{name: "every third message dropped", open: true, adjust: func(r *responder) { r.dropEvery = 3 },
			wantLost: func(r *Report) bool { return r.Lost == r.Acked/3 }, wantDup: func(r *Report) bool { return r.Duplicated == 0 }},
		{name: "every second reply repeats its first part", adjust: func(r *responder) { r.repeatEvery = 2 },
			wantLost: func(r *Report) bool { return r.Lost == 0 }, wantDup: func(r *Report) bool { return r.Duplicated == r.Acked/2 }},
		{name: "replayed webhooks deduplicated", open: true, replay: 20,
			wantLost: func(r *Report) bool { return r.Lost == 0 }, wantDup: func(r *Report) bool { return r.Duplicated == 0 && r.Replays > 0 }},
		{name: "replayed webhooks answered again", open: true, replay: 20, adjust: func(r *responder) { r.dedupe = false },
			wantLost: func(r *Report) bool { return r.Lost == 0 }, wantDup: func(r *Report) bool { return r.Duplicated > 0 && r.Replays > 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scenarioFor("http://unused")
			if tt.open {
				s.Rate = 20
			}
			s.ReplayRate = tt.replay
			rep := run(t, s, tt.adjust)
			if rep.Sent == 0 || rep.Acked != rep.Sent || rep.Refused != 0 {
				t.Fatalf("sent %d acked %d refused %d (errors %v)", rep.Sent, rep.Acked, rep.Refused, rep.ErrorsByKind)
			}
			if !tt.wantLost(rep) || !tt.wantDup(rep) {
				t.Fatalf("acked %d: lost %d, duplicated %d, replays %d", rep.Acked, rep.Lost, rep.Duplicated, rep.Replays)
			}
			if rep.Replies+rep.Lost != rep.Acked || rep.Unmatched != 0 {
				t.Errorf("replies %d + lost %d != acked %d; unmatched %d", rep.Replies, rep.Lost, rep.Acked, rep.Unmatched)
			}
			if rep.Replies > 0 && (rep.Parts != 2*rep.Replies || rep.E2E.Count != rep.Replies || rep.E2E.P50 < 20 || rep.FirstPart.P50 > rep.E2E.P50) {
				t.Errorf("parts %d for %d replies; e2e %+v; first %+v", rep.Parts, rep.Replies, rep.E2E, rep.FirstPart)
			}
		})
	}
}

// TestRunCountsGraphErrors: a Send API that refuses every message with the
// rate-limit code loses every reply and says why.
func TestRunCountsGraphErrors(t *testing.T) {
	s := scenarioFor("http://unused")
	s.Graph.ThrottleRate = 1
	s.Users, s.Turns = 2, 1
	rep := run(t, s, nil)
	if rep.Acked == 0 || rep.Lost != rep.Acked || rep.ErrorsByKind["graph_130429"]+rep.ErrorsByKind["graph_613"] == 0 {
		t.Fatalf("acked %d lost %d errors %v", rep.Acked, rep.Lost, rep.ErrorsByKind)
	}
}

// TestRunRefusedWebhooks: a gateway that refuses every delivery is retried
// as Meta would, and nothing it refused counts as lost.
func TestRunRefusedWebhooks(t *testing.T) {
	s := scenarioFor("http://unused")
	s.AppSecret = "wrong secret"
	s.Retries = 1
	s.Users, s.Turns = 1, 1
	s.Duration = Duration(200 * time.Millisecond)
	rep := run(t, s, nil)
	if rep.Sent == 0 || rep.Refused != rep.Sent || rep.Lost != 0 || rep.ErrorsByKind["webhook_401"] != 2*rep.Sent {
		t.Fatalf("sent %d refused %d lost %d errors %v", rep.Sent, rep.Refused, rep.Lost, rep.ErrorsByKind)
	}
}

// TestReports: the JSON report has the fields scripts read, the HTML one
// embeds its charts, and objectives decide the error.
func TestReports(t *testing.T) {
	s := scenarioFor("http://unused")
	s.Rate = 20
	rep := run(t, s, nil)
	dir := t.TempDir()
	o := Options{Out: filepath.Join(dir, "r.json"), HTML: filepath.Join(dir, "r.html")}
	o.SLO, _ = ParseSLO("p99<30s,lost=0,dup=0,first_p99<30s,ack_p99<30s,throughput>0")
	var text strings.Builder
	if err := finish(rep, o, &text); err != nil {
		t.Fatalf("objectives missed: %v\n%s", err, text.String())
	}
	data, err := os.ReadFile(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sent", "replies", "lost", "duplicated", "errors", "throughput_per_s"} {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("report field %q is %v, want a number", k, m[k])
		}
	}
	for _, k := range []string{"e2e_ms", "first_part_ms", "ack_ms"} {
		obj, _ := m[k].(map[string]any)
		for _, q := range []string{"p50", "p90", "p99", "max"} {
			if _, ok := obj[q].(float64); !ok {
				t.Errorf("report field %s.%s missing", k, q)
			}
		}
	}
	if strings.Contains(string(data), testSecret) {
		t.Error("the JSON report holds the app secret")
	}
	html, err := os.ReadFile(o.HTML)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(html), `src="data:image/png;base64,`); n != 3 || strings.Contains(string(html), "http://") && strings.Contains(string(html), "<script") {
		t.Errorf("html report has %d embedded charts, want 3", n)
	}

	o.SLO, _ = ParseSLO("p99<1ms,lost=0")
	err = finish(rep, o, &text)
	se, ok := err.(*SLOError)
	if !ok || len(se.Missed) != 1 || se.Missed[0].Metric != "p99" || se.ExitCode() != 3 {
		t.Fatalf("err %v, want p99 missed", err)
	}
}
