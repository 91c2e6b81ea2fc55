package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/role"
	"github.com/corral-ai/corral/services/loadgen"
)

// embeddedBackends makes the roles a test starts use embedded NATS and
// Redis: their streams and services use the default namespace, which on a
// shared server would mix with other processes' roles.
func embeddedBackends(t *testing.T) {
	t.Setenv("NATS_URL", "")
	t.Setenv("REDIS_URL", "")
}

// readReport reads a loadgen JSON report.
func readReport(t *testing.T, path string) loadgen.Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r loadgen.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLoadgenEngineMode measures Corral's own inference role, running
// in-process on the demo model, through its OpenAI-compatible API.
func TestLoadgenEngineMode(t *testing.T) {
	embeddedBackends(t)
	base, _, _ := runInBackground(t, "inference", "--data", t.TempDir())
	out := filepath.Join(t.TempDir(), "engine.json")
	var stdout strings.Builder
	err := run(t.Context(), []string{"loadgen", "--engine", base, "--concurrency", "4", "--requests", "4", "--max-tokens", "16",
		"--progress=false", "--out", out, "--html", filepath.Join(t.TempDir(), "engine.html"), "--slo", "errors=0"}, &stdout, io.Discard)
	if err != nil {
		t.Fatalf("loadgen: %v\n%s", err, stdout.String())
	}
	r := readReport(t, out)
	if r.Mode != "engine" || r.Engine == nil || len(r.Engine.Levels) != 3 || r.Engine.Model == "" {
		t.Fatalf("report %+v", r)
	}
	for i, l := range r.Engine.Levels {
		if l.Concurrency != 1<<i || l.Requests != 4 || l.Errors != 0 || l.OutputTokens == 0 || l.TokensPerS <= 0 ||
			l.TTFT.Count != 4 || l.TTFT.P50 <= 0 || l.TTFT.P50 > l.Latency.P50 {
			t.Errorf("level %d: %+v", i, l)
		}
	}
	if !strings.Contains(stdout.String(), "tokens/s") {
		t.Errorf("summary:\n%s", stdout.String())
	}
}

// chatInServe reports whether `serve` runs a chat role. When it does, the
// pipeline tests go through the real chat role and inference on the demo
// model; without one they put a responder in its place.
func chatInServe() bool {
	return slices.ContainsFunc(roles, func(d role.Definition) bool { return d.Name == "chat" })
}

// startResponder answers each CHAT_IN message with a two-part
// OutboundMessage as the chat role's contract says (reply_id = the
// message's DedupeID, published with it as Nats-Msg-Id; fixed texts, which
// the sender's safety stage passes), on the NATS server at natsURL, until
// the returned stop is called. Nothing is started when serve has its own
// chat role.
func startResponder(t *testing.T, natsURL string) (stop func()) {
	t.Helper()
	if chatInServe() {
		return func() {}
	}
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	streams := natsbus.DefaultStreamsConfig()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- natsbus.Consume(ctx, js, natsbus.ConsumerConfig{Stream: streams.StreamName(corralv1.StreamChatIn), Durable: "loadgen-test-responder", Workers: 4},
			natsbus.ProtoHandler(func(ctx context.Context, m *corralv1.ChatMessage, _ jetstream.Msg) error {
				out := &corralv1.OutboundMessage{Platform: m.GetPlatform(), ChannelId: m.GetChannelId(), UserId: m.GetUserId(),
					ReplyId: m.DedupeID(), InReplyTo: m.GetPlatformMessageId(), ReceivedTime: m.GetReceivedTime(),
					Parts: []*corralv1.ReplyPart{{Text: "Thanks for writing, " + m.GetUserDisplayName() + "."}, {Text: "Anything else?"}}}
				_, err := natsbus.Publish(ctx, js, streams.Subject(corralv1.ChatOutSubject(out.Conversation())), out.DedupeID(), out)
				return err
			}))
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("responder: %v", err)
			}
			nc.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}

// checkPipelineReport checks a run through the messaging path: every
// accepted message answered, nothing twice, the objectives met.
func checkPipelineReport(t *testing.T, r loadgen.Report) {
	t.Helper()
	parts := r.Parts == 2*r.Replies // the responder's two parts
	if chatInServe() {
		parts = r.Parts >= r.Replies
	}
	if r.Sent < 5 || r.Replies != r.Acked || !parts || r.Replays == 0 || r.Unmatched != 0 || !r.SLOPassed {
		t.Fatalf("sent %d acked %d replies %d parts %d replays %d unmatched %d", r.Sent, r.Acked, r.Replies, r.Parts, r.Replays, r.Unmatched)
	}
}

// TestLoadgenGatewaySenderPipeline runs loadgen against `corral serve`
// with the demo model and loadgen's fake Graph API as the Send API:
// gateway, chat, inference and sender (or the responder in the chat
// role's place, see startResponder). Webhooks are replayed during the run; loadgen must see
// every reply exactly once, and its objectives hold.
func TestLoadgenGatewaySenderPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs serve and loadgen for several seconds")
	}
	embeddedBackends(t)
	natsAddr, graphAddr := freeAddr(t), freeAddr(t)
	const secret = "pipeline-secret"
	base, logs, _ := runInBackground(t, "serve", "--data", t.TempDir(), "--nats-listen", natsAddr,
		"--app-secret", secret, "--graph-url", "http://"+graphAddr, "--access-token", "test-token")
	startResponder(t, "nats://"+natsAddr)

	tests := []struct {
		name  string
		flags []string
	}{
		{"clean Send API", []string{"--settle", "300ms", "--duration", "10s"}},
		// The sender retries 500s and rate limits after 500ms or more, so
		// a reply is complete only after a longer quiet time. The fake
		// fails one send in five, evenly spread, so even the dozen sends
		// of a run on a loaded machine meet 500s.
		{"flaky Send API", []string{"--settle", "2s", "--graph-latency", "5ms", "--graph-jitter", "20ms", "--graph-error-rate", "0.2", "--graph-throttle-rate", "0.1"}},
		{"open loop ramp", []string{"--settle", "300ms", "--users", "40", "--ramp", "10,30"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if d := os.Getenv("CORRAL_LOADGEN_OUT"); d != "" {
				dir = d // keep the reports of a measured run
			}
			out, html := filepath.Join(dir, fmt.Sprintf("pipeline%d.json", i)), filepath.Join(dir, fmt.Sprintf("pipeline%d.html", i))
			var stdout strings.Builder
			args := append([]string{"loadgen", "--target", base, "--graph-listen", graphAddr, "--app-secret", secret,
				"--users", "6", "--duration", "5s", "--think", "200ms", "--turns", "3", "--drain", "90s", "--seed", fmt.Sprint(i + 1),
				"--replay-rate", "5", "--progress=false", "--out", out, "--html", html, "--slo", "lost=0,dup=0,refused=0"}, tt.flags...)
			// A measured run adds its own flags (the last of a flag wins),
			// such as CORRAL_LOADGEN_ARGS="--ramp 50,100,200 --duration 30s".
			args = append(args, strings.Fields(os.Getenv("CORRAL_LOADGEN_ARGS"))...)
			err := run(t.Context(), args, &stdout, io.Discard)
			t.Log("\n" + stdout.String())
			if err != nil {
				t.Fatalf("loadgen: %v\nserve logs:\n%s", err, logs.String())
			}
			r := readReport(t, out)
			checkPipelineReport(t, r)
			if tt.name == "flaky Send API" && r.ErrorsByKind["graph_2"] == 0 {
				t.Errorf("no Send API error injected: %v", r.ErrorsByKind)
			}
		})
	}
}

// serveAt runs `corral serve` with args on the HTTP address addr until
// stop is called, and waits until it is ready.
func serveAt(t *testing.T, addr string, args ...string) (logs *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append(append([]string{"serve"}, args...), "--http", addr, "--log-format", "json"), io.Discard, logs)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v\n%s", err, logs.String())
				}
			case <-time.After(60 * time.Second):
				t.Errorf("serve did not stop within 60s")
			}
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return logs, stop
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended before it was ready: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready within 60s:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLoadgenServeRestart stops the whole deployment in the middle of an
// open-loop run and starts it again on the same data folder and
// addresses: webhooks refused meanwhile are delivered again as Meta would,
// replies in flight are finished after the restart, and loadgen still
// sees every reply exactly once.
func TestLoadgenServeRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs serve twice and loadgen for several seconds")
	}
	embeddedBackends(t)
	dataDir, httpAddr, natsAddr, graphAddr := t.TempDir(), freeAddr(t), freeAddr(t), freeAddr(t)
	const secret = "restart-secret"
	args := []string{"--data", dataDir, "--nats-listen", natsAddr, "--app-secret", secret,
		"--graph-url", "http://" + graphAddr, "--access-token", "test-token", "--shutdown-timeout", "10s"}
	_, stopServe := serveAt(t, httpAddr, args...)
	stopResponder := startResponder(t, "nats://"+natsAddr)

	out := filepath.Join(t.TempDir(), "restart.json")
	var stdout strings.Builder
	loadgenDone := make(chan error, 1)
	go func() {
		loadgenDone <- run(t.Context(), []string{"loadgen", "--target", "http://" + httpAddr, "--graph-listen", graphAddr, "--app-secret", secret,
			"--rate", "20", "--users", "100", "--turns", "3", "--duration", "10s", "--settle", "500ms", "--drain", "90s", "--retries", "6",
			"--replay-rate", "2", "--progress=false", "--out", out, "--slo", "lost=0,dup=0,refused=0"}, &stdout, io.Discard)
	}()
	time.Sleep(4 * time.Second)
	stopResponder()
	stopServe()
	logs, _ := serveAt(t, httpAddr, args...)
	startResponder(t, "nats://"+natsAddr)
	if err := <-loadgenDone; err != nil {
		t.Fatalf("loadgen: %v\n%s\nserve logs after the restart:\n%s", err, stdout.String(), logs.String())
	}
	t.Log("\n" + stdout.String())
	r := readReport(t, out)
	checkPipelineReport(t, r)
}
