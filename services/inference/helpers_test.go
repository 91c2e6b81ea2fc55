package inference

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/protobuf/proto"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/llama2c"
	"github.com/corral-ai/corral/inference/model/synth"
	"github.com/corral-ai/corral/inference/sample"
	"github.com/corral-ai/corral/inference/shareddata"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/inferclient"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/natstest"
	"github.com/corral-ai/corral/services/internal/role"
	"github.com/corral-ai/corral/services/internal/telemetry"
)

// The process-wide telemetry of the tests: the engine reports through the
// global providers, which take their delegate once, so TestMain installs
// one meter reader and one span recorder for every test.
var (
	metricReader = sdkmetric.NewManualReader()
	meters       = sdkmetric.NewMeterProvider(sdkmetric.WithReader(metricReader))
	spans        = tracetest.NewSpanRecorder()
	tracers      = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	// modelDir holds the models the tests write once per run.
	modelDir string
)

func TestMain(m *testing.M) {
	otel.SetMeterProvider(meters)
	otel.SetTracerProvider(tracers)
	otel.SetTextMapPropagator(telemetry.Propagator())
	dir, err := os.MkdirTemp("", "corral-inference-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	modelDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// once writes a model file into modelDir the first time a test asks.
type once struct {
	mu   sync.Mutex
	path string
}

func (o *once) get(t testing.TB, name string, write func(path string) error) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.path == "" {
		p := filepath.Join(modelDir, name)
		if err := write(p); err != nil {
			t.Fatal(err)
		}
		o.path = p
	}
	return o.path
}

var slow, stories once

// slowModel is a random-weight model with the demo vocabulary, big enough
// that a long reply takes seconds (about 500 tokens a second on one
// thread) and without the demo's bias towards ending: a generation that
// is still running when a test cancels it.
func slowModel(t testing.TB) string {
	return slow.get(t, "slow.gguf", func(p string) error {
		v := synth.DemoVocab()
		return synth.WriteFile(p, synth.Spec{
			Shape: synth.Shape{Name: "slow", Dim: 512, Layers: 8, Heads: 8, KVHeads: 4, FFN: 1536,
				Vocab: len(v.Tokens), ContextLength: 4096, RopeBase: 10000},
			Type: gguf.TypeQ8_0, Seed: 1, Vocab: v,
		})
	})
}

// longPrompt makes the slow model run to max_tokens when decoded greedily
// (its random weights loop without an end-of-turn token); sampled replies
// may end early, which tests of running sequences cannot have.
const longPrompt = "once upon a time"

// long is a greedy request on longPrompt for max tokens.
func long(max int32) *corralv1.GenerateRequest {
	return &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_Prompt{Prompt: longPrompt},
		Sampling: &corralv1.SamplingOptions{Temperature: ptr[float32](0), MaxTokens: ptr(max)}}
}

// storiesModel is the shared stories260K checkpoint as GGUF (placeholder
// vocabulary: prompts are token ids).
func storiesModel(t testing.TB) string {
	bin := shareddata.Path(t, "stories260K", "stories260K.bin")
	return stories.get(t, "stories260K.gguf", func(p string) error {
		return llama2c.ConvertFile(bin, p, "", llama2c.Options{})
	})
}

// fixture is a running role on a NATS connection of its own, in a
// namespace of the test's, and a client of it.
type fixture struct {
	r      *Role
	nc     *nats.Conn
	ns     string
	url    string
	client *inferclient.Client
	stop   func() // ends Run and waits for it
}

// testConfig serves path on one thread.
func testConfig(path string) Config {
	c := withModel(path)
	c.Threads = 1
	return c
}

// start runs a role serving cfg until the test ends. url and ns name the
// NATS server and namespace; empty ones are made fresh.
func start(t testing.TB, cfg Config, url, ns string, adjust ...func(*Role)) *fixture {
	t.Helper()
	if url == "" {
		url = natstest.URL(t)
	}
	if ns == "" {
		ns = natstest.Name(t)
	}
	nc := connect(t, url)
	r, err := New(cfg, role.Deps{DataDir: t.TempDir(), NATS: nc, Streams: natsbus.StreamsConfig{Namespace: ns}, Meter: meters, Tracer: tracers})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range adjust {
		a(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	waitFor(t, 30*time.Second, "the role serves", func() bool { return r.checkServing(t.Context()) == nil })
	return &fixture{r: r, nc: nc, ns: ns, url: url, client: newClient(t, connect(t, url), ns, inferclient.Options{}), stop: stop}
}

// subject is an endpoint's subject in the fixture's namespace.
func (f *fixture) subject(s string) string { return natsbus.StreamsConfig{Namespace: f.ns}.Subject(s) }

// raw sends a generate request as a bare NATS client would, with window
// as its Corral-Window, and returns what comes back to its inbox: the
// protocol seen from outside, with no inferclient in between.
func raw(t testing.TB, nc *nats.Conn, subject string, req *corralv1.GenerateRequest, window int) chan *nats.Msg {
	t.Helper()
	msgs := make(chan *nats.Msg, 4096)
	inbox := nc.NewInbox()
	sub, err := nc.ChanSubscribe(inbox, msgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	data, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(subject)
	m.Reply, m.Data = inbox, data
	if window > 0 {
		m.Header.Set(corralv1.HeaderWindow, strconv.Itoa(window))
	}
	if err := nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	return msgs
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("inference test "+t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func newClient(t testing.TB, nc *nats.Conn, ns string, o inferclient.Options) *inferclient.Client {
	t.Helper()
	o.Namespace = ns
	c, err := inferclient.New(nc, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// direct runs a request on the role's engine in process: what the APIs
// must reproduce.
func direct(t testing.TB, r *Role, req engine.Request) engine.Result {
	t.Helper()
	s, err := r.Engine().Submit(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return s.Collect()
}

func seeded(temp float32, seed uint64, maxTokens int) sample.Options {
	return sample.Options{Temperature: temp, TopP: 1, Seed: seed, MaxTokens: maxTokens}
}

func withStop(o sample.Options, stop ...string) sample.Options {
	o.StopStrings = stop
	return o
}

func attrOutcome(o string) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("outcome", o)}
}

// counter sums a counter's points whose attributes include want.
func counter(t *testing.T, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := metricReader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			data, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("%s is a %T", name, m.Data)
			}
			for _, dp := range data.DataPoints {
				match := true
				for _, kv := range want {
					if v, ok := dp.Attributes.Value(kv.Key); !ok || v != kv.Value {
						match = false
					}
				}
				if match {
					sum += dp.Value
				}
			}
		}
	}
	return sum
}
