package sender_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/corral-ai/corral/bots/graphtest"
	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/persona/store/storetest"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/natstest"
	"github.com/corral-ai/corral/services/internal/role"
	"github.com/corral-ai/corral/services/sender"
)

const (
	waChannel     = "420000000000002"
	pageID        = "104000000000001"
	defaultToken  = "default-token"
	testSecretKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	whatsapp      = corralv1.Platform_PLATFORM_WHATSAPP
	messenger     = corralv1.Platform_PLATFORM_MESSENGER
)

// waitLimit bounds every wait; reaching it is a failure.
const waitLimit = 30 * time.Second

// env is a sender on its own streams and Redis keys, sending to a fake
// Graph API.
type env struct {
	t        testing.TB
	natsURL  string
	js       jetstream.JetStream
	streams  natsbus.StreamsConfig
	rdb      redis.UniversalClient
	redis    string // URL
	prefix   string
	graph    *graphtest.Server
	graphURL string
	reader   *sdkmetric.ManualReader
	meter    *sdkmetric.MeterProvider
	cfg      sender.Config
}

func newEnv(t testing.TB, opts graphtest.Options, mutate ...func(*sender.Config)) *env {
	t.Helper()
	natsURL := natstest.URL(t)
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, streams := streamsFor(t, nc)
	url := storetest.RedisURL(t)
	prefix := storetest.Prefix(t, url)
	ropts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(ropts)
	t.Cleanup(func() { _ = rdb.Close() })
	gs := graphtest.NewServer(opts)
	hs := httptest.NewServer(gs)
	t.Cleanup(hs.Close)
	cfg := sender.DefaultConfig()
	cfg.GraphURL, cfg.AccessToken, cfg.KeyPrefix = hs.URL, defaultToken, prefix
	if cfg.SecretKey, err = store.ParseSecretKey(testSecretKey); err != nil {
		t.Fatal(err)
	}
	cfg.RetryMin, cfg.RetryMax = 20*time.Millisecond, 300*time.Millisecond
	cfg.Workers = 4
	for _, m := range mutate {
		m(&cfg)
	}
	reader := sdkmetric.NewManualReader()
	return &env{t: t, natsURL: natsURL, js: js, streams: streams, rdb: rdb, redis: url, prefix: prefix, graph: gs, graphURL: hs.URL,
		reader: reader, meter: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)), cfg: cfg}
}

// streamsFor sets up streams in a namespace of the test's own, deleted
// afterwards.
func streamsFor(t testing.TB, nc *nats.Conn) (jetstream.JetStream, natsbus.StreamsConfig) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := natsbus.DefaultStreamsConfig()
	cfg.Namespace = natstest.Name(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, sc := range cfg.StreamConfigs() {
			if err := js.DeleteStream(ctx, sc.Name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("delete stream %s: %v", sc.Name, err)
			}
		}
	})
	if err := natsbus.EnsureStreams(context.Background(), js, cfg); err != nil {
		t.Fatal(err)
	}
	return js, cfg
}

// running is one sender process: its own NATS connection, stopped by
// stop (a clean shutdown) or kill (the connection dropped under it).
type running struct {
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan error
}

// start runs a sender on its own NATS connection until the test ends.
func (e *env) start() *running {
	t := e.t
	t.Helper()
	nc, err := nats.Connect(e.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sender.New(e.cfg, role.Deps{
		Meter: e.meter,
		NATS:  nc, JetStream: js, Streams: e.streams, Redis: e.rdb,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{nc: nc, cancel: cancel, done: make(chan error, 1)}
	go func() { run.done <- r.Run(ctx) }()
	t.Cleanup(func() { run.stop(t); nc.Close() })
	return run
}

// stop shuts the sender down cleanly and waits for it.
func (r *running) stop(t testing.TB) {
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil && !r.nc.IsClosed() {
			t.Errorf("sender Run returned %v", err)
		}
		r.done <- nil // later stops return at once
	case <-time.After(waitLimit):
		t.Error("sender did not stop")
	}
}

// publish publishes m to CHAT_OUT under its dedupe id.
func (e *env) publish(m *corralv1.OutboundMessage) {
	e.t.Helper()
	e.publishAs(m, m.DedupeID())
}

// publishAs publishes m with an explicit Nats-Msg-Id (a different one makes
// a second copy, as a chat worker's redelivery past the duplicate window would).
func (e *env) publishAs(m *corralv1.OutboundMessage, id string) {
	e.t.Helper()
	subject := e.streams.Subject(corralv1.ChatOutSubject(m.Conversation()))
	if _, err := natsbus.Publish(context.Background(), e.js, subject, id, m); err != nil {
		e.t.Fatal(err)
	}
}

// waitCalls waits until cond holds for the recorded Graph calls.
func (e *env) waitCalls(what string, cond func([]graphtest.Call) bool) []graphtest.Call {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := e.graph.Wait(ctx, cond); err != nil {
		e.t.Fatalf("waiting for %s: %v; calls:\n%s", what, err, describe(e.graph.Calls()))
	}
	return e.graph.Calls()
}

// waitSent waits until n messages were accepted.
func (e *env) waitSent(n int) []graphtest.Call {
	e.t.Helper()
	e.waitCalls(fmt.Sprintf("%d accepted messages", n), func(cs []graphtest.Call) bool { return len(accepted(cs)) >= n })
	return e.graph.Sent()
}

// quiet waits a little to let wrong extra calls show up.
func (e *env) quiet() { time.Sleep(300 * time.Millisecond) }

func accepted(cs []graphtest.Call) []graphtest.Call {
	var out []graphtest.Call
	for _, c := range cs {
		if c.Accepted() && c.IsMessage() {
			out = append(out, c)
		}
	}
	return out
}

func describe(cs []graphtest.Call) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "  #%d %s %s to %s status %d code %d text %.40q\n", c.Seq, corralv1.PlatformToken(c.Platform), c.Kind, c.Recipient, c.Status, c.ErrorCode, c.Text)
	}
	return b.String()
}

// dlq returns the messages in the DLQ stream.
func (e *env) dlq() []*jetstream.RawStreamMsg {
	e.t.Helper()
	st, err := e.js.Stream(context.Background(), e.streams.StreamName(corralv1.StreamChatDLQ))
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(context.Background(), seq)
		if err == nil {
			out = append(out, m)
		}
	}
	return out
}

// waitDLQ waits for n messages in the DLQ.
func (e *env) waitDLQ(n int) []*jetstream.RawStreamMsg {
	e.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		d := e.dlq()
		if len(d) >= n {
			return d
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("DLQ holds %d messages, want %d", len(d), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counter sums an Int64 counter's points whose attributes include want.
func (e *env) counter(name string, want ...attribute.KeyValue) int64 {
	e.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		e.t.Fatal(err)
	}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if m.Name != name || !ok {
				continue
			}
		points:
			for _, p := range sum.DataPoints {
				for _, kv := range want {
					if v, ok := p.Attributes.Value(kv.Key); !ok || v != kv.Value {
						continue points
					}
				}
				total += p.Value
			}
		}
	}
	return total
}

// reply is a reply on platform p to user with the given part texts.
func reply(p corralv1.Platform, user, id string, texts ...string) *corralv1.OutboundMessage {
	ch := waChannel
	if p == messenger {
		ch = pageID
	}
	m := &corralv1.OutboundMessage{Platform: p, ChannelId: ch, UserId: user, ReplyId: id, InReplyTo: "in-" + id,
		CreatedTime: timestamppb.Now(), ReceivedTime: timestamppb.New(time.Now().Add(-time.Second))}
	for _, t := range texts {
		m.Parts = append(m.Parts, &corralv1.ReplyPart{Text: t})
	}
	return m
}

// action is an action message announcing reply id.
func action(p corralv1.Platform, user, id string, a corralv1.OutboundAction) *corralv1.OutboundMessage {
	m := reply(p, user, id)
	m.Action = a
	return m
}
