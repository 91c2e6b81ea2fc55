package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric/noop"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/natstest"
)

// dispatchEnv is a dispatcher on the test's own streams with a handler
// the test writes.
type dispatchEnv struct {
	t       *testing.T
	js      jetstream.JetStream
	streams natsbus.StreamsConfig
	cfg     Config
	stop    func() // stops the dispatcher and waits for it
}

// newDispatchEnv sets up the streams and, with handle set, starts one
// dispatcher. Tests of several processes start theirs themselves: a
// stopped dispatcher's last pull request stays with the server until it
// expires and may take messages that then wait out the ack wait.
func newDispatchEnv(t *testing.T, handle handleFunc, mutate func(*Config)) *dispatchEnv {
	t.Helper()
	nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	streams := natsbus.DefaultStreamsConfig()
	streams.Namespace = natstest.Name(t)
	if err := natsbus.EnsureStreams(t.Context(), js, streams); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, sc := range streams.StreamConfigs() {
			_ = js.DeleteStream(ctx, sc.Name)
		}
	})
	cfg := DefaultConfig()
	cfg.AckWait, cfg.Workers, cfg.RetryMin, cfg.RetryMax = 2*time.Second, 8, 10*time.Millisecond, 50*time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	e := &dispatchEnv{t: t, js: js, streams: streams, cfg: cfg}
	if handle != nil {
		e.stop = e.start(handle)
	}
	return e
}

// start runs a dispatcher (one process) with handle; the returned func
// stops it and waits, and runs at the end of the test too.
func (e *dispatchEnv) start(handle handleFunc) func() {
	return e.startReplica(handle, nil, "")
}

// startReplica is start for one of several processes sharing st: with
// st set, the dispatcher holds conversations and keeps their order in
// Redis as token, as a chat process does.
func (e *dispatchEnv) startReplica(handle handleFunc, st *state, token string) func() {
	t := e.t
	m, err := newMetrics(noop.NewMeterProvider())
	if err != nil {
		t.Fatal(err)
	}
	d := &dispatcher{cfg: e.cfg, js: e.js, log: slog.New(slog.DiscardHandler), metrics: m, handle: handle,
		consumer: e.consumerConfig()}
	if st != nil {
		d.hold = &laneHold{state: st, token: token, ttl: 2 * e.cfg.AckWait, log: d.log}
		d.order = &convOrder{state: st, log: d.log}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// consumerConfig is the durable consumer every dispatcher of the test
// shares.
func (e *dispatchEnv) consumerConfig() natsbus.ConsumerConfig {
	return natsbus.ConsumerConfig{
		Stream: e.streams.StreamName(corralv1.StreamChatIn), Durable: Durable,
		FilterSubject: e.streams.Subject(corralv1.SubjectChatIn), AckWait: e.cfg.AckWait, MaxDeliver: maxDeliver,
		Workers: e.cfg.Workers, MaxAckPending: 1024, DeadLetter: e.streams.DLQSubject,
	}
}

// publish puts message id of conversation user on CHAT_IN.
func (e *dispatchEnv) publish(user, id string) {
	e.t.Helper()
	m := &corralv1.ChatMessage{Platform: corralv1.Platform_PLATFORM_WHATSAPP, ChannelId: "42", UserId: user,
		PlatformMessageId: id, Kind: corralv1.MessageKind_MESSAGE_KIND_TEXT, Text: id}
	if _, err := natsbus.Publish(e.t.Context(), e.js, e.streams.Subject(corralv1.ChatInSubject(m.Conversation())), m.DedupeID(), m); err != nil {
		e.t.Fatal(err)
	}
}

// dlq returns the reasons of the messages in the DLQ.
func (e *dispatchEnv) dlq() []string {
	st, err := e.js.Stream(e.t.Context(), e.streams.StreamName(corralv1.StreamChatDLQ))
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := st.Info(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		if m, err := st.GetMsg(e.t.Context(), seq); err == nil {
			out = append(out, m.Header.Get(natsbus.HeaderDLQReason))
		}
	}
	return out
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recorder keeps the batches a handler saw, per user.
type recorder struct {
	mu      sync.Mutex
	batches map[string][][]string
	total   int
}

func (r *recorder) add(batch []*job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.batches == nil {
		r.batches = map[string][][]string{}
	}
	var ids []string
	for _, j := range batch {
		ids = append(ids, j.m.GetPlatformMessageId())
	}
	u := batch[0].m.GetUserId()
	r.batches[u] = append(r.batches[u], ids)
	r.total += len(ids)
}

func (r *recorder) get(u string) [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches[u])
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

func TestDispatchOrderAndParallelism(t *testing.T) {
	const users, perUser = 20, 5
	var rec recorder
	var running, most atomic.Int32
	e := newDispatchEnv(t, func(ctx context.Context, batch []*job, commit func() bool) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		if !commit() {
			return errSuperseded
		}
		rec.add(batch)
		return nil
	}, nil)
	var wg sync.WaitGroup
	for u := range users {
		wg.Go(func() {
			for i := 1; i <= perUser; i++ {
				e.publish(fmt.Sprint("u", u), fmt.Sprintf("u%d.m%d", u, i))
			}
		})
	}
	wg.Wait()
	waitUntil(t, "every message handled", func() bool { return rec.count() >= users*perUser })
	for u := range users {
		var flat []string
		for _, b := range rec.get(fmt.Sprint("u", u)) {
			flat = append(flat, b...)
		}
		var want []string
		for i := 1; i <= perUser; i++ {
			want = append(want, fmt.Sprintf("u%d.m%d", u, i))
		}
		if !slices.Equal(flat, want) {
			t.Errorf("user %d: handled %v, want %v", u, flat, want)
		}
	}
	if most.Load() < 2 {
		t.Errorf("at most %d conversations at once, want several", most.Load())
	}
}

func TestDispatchSupersede(t *testing.T) {
	var rec recorder
	started := make(chan struct{}, 1)
	var calls atomic.Int32
	e := newDispatchEnv(t, func(ctx context.Context, batch []*job, commit func() bool) error {
		if calls.Add(1) == 1 {
			started <- struct{}{}
			<-ctx.Done() // a generation, until a newer message cancels it
			return context.Cause(ctx)
		}
		if !commit() {
			return errSuperseded
		}
		rec.add(batch)
		return nil
	}, nil)
	e.publish("u", "m1")
	<-started
	e.publish("u", "m2")
	waitUntil(t, "the second handling", func() bool { return rec.count() >= 2 })
	time.Sleep(100 * time.Millisecond)
	if got := rec.get("u"); len(got) != 1 || !slices.Equal(got[0], []string{"m1", "m2"}) {
		t.Errorf("batches %v, want one answering m1 and m2 together", got)
	}
}

func TestDispatchCommittedIsNotSuperseded(t *testing.T) {
	var rec recorder
	committed := make(chan struct{}, 1)
	release := make(chan struct{})
	e := newDispatchEnv(t, func(ctx context.Context, batch []*job, commit func() bool) error {
		if !commit() {
			return errSuperseded
		}
		if batch[0].m.GetPlatformMessageId() == "m1" {
			committed <- struct{}{}
			<-release
		}
		rec.add(batch)
		return nil
	}, nil)
	e.publish("u", "m1")
	<-committed
	e.publish("u", "m2")
	time.Sleep(50 * time.Millisecond)
	close(release)
	waitUntil(t, "both handled", func() bool { return rec.count() >= 2 })
	if got := rec.get("u"); len(got) != 2 || got[0][0] != "m1" || got[1][0] != "m2" {
		t.Errorf("batches %v, want m1 then m2", got)
	}
}

func TestDispatchFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		wantCalls int32
		reason    string
	}{
		{name: "retried then dead-lettered", err: errors.New("inference away"), wantCalls: 3, reason: natsbus.DLQReasonMaxDeliver},
		{name: "permanent", err: natsbus.Permanent(errors.New("invalid request")), wantCalls: 1, reason: natsbus.DLQReasonPermanent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			e := newDispatchEnv(t, func(ctx context.Context, batch []*job, commit func() bool) error {
				calls.Add(1)
				return tc.err
			}, func(c *Config) { c.MaxAttempts = 3 })
			e.publish("u", "m1")
			waitUntil(t, "the DLQ", func() bool { return len(e.dlq()) > 0 })
			time.Sleep(100 * time.Millisecond)
			if got := e.dlq(); len(got) != 1 || got[0] != tc.reason {
				t.Errorf("DLQ reasons %v, want [%s]", got, tc.reason)
			}
			if calls.Load() != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls.Load(), tc.wantCalls)
			}
		})
	}
}

func TestDispatchUndecodable(t *testing.T) {
	var calls atomic.Int32
	e := newDispatchEnv(t, func(ctx context.Context, batch []*job, commit func() bool) error {
		calls.Add(1)
		return nil
	}, nil)
	msg := nats.NewMsg(e.streams.Subject("chat.in.whatsapp.42.u"))
	msg.Data = []byte{0xff, 0xff, 0xff}
	if _, err := natsbus.PublishMsg(t.Context(), e.js, msg, "bad"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the DLQ", func() bool { return len(e.dlq()) > 0 })
	if got := e.dlq(); got[0] != natsbus.DLQReasonPermanent || calls.Load() != 0 {
		t.Errorf("DLQ %v, %d handler calls; want the message dead-lettered unhandled", got, calls.Load())
	}
}

// TestDispatchShutdown: on stop, the answer in progress finishes and is
// acked, and messages still waiting go back at once (not after the ack
// wait) to another process.
func TestDispatchShutdown(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	var first recorder
	e := newDispatchEnv(t, func(ctx context.Context, batch []*job, commit func() bool) error {
		started <- struct{}{}
		<-release
		if !commit() {
			return errSuperseded
		}
		first.add(batch)
		return nil
	}, func(c *Config) { c.Workers, c.AckWait = 1, 30*time.Second })
	e.publish("a", "a1")
	<-started
	e.publish("b", "b1") // waits for the one worker
	time.Sleep(50 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { e.stop(); close(stopped) }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	<-stopped
	if got := first.get("a"); len(got) != 1 || first.count() != 1 {
		t.Fatalf("the stopping process answered %v, want a1 only", first.batches)
	}
	var second recorder
	began := time.Now()
	e.start(func(ctx context.Context, batch []*job, commit func() bool) error {
		if !commit() {
			return errSuperseded
		}
		second.add(batch)
		return nil
	})
	// Well inside the 30s ack wait: b1 was given back, a1 acked.
	waitUntil(t, "b1 in the next process", func() bool { return second.count() >= 1 })
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("b1 came back after %v: it was not given back on stop", d)
	}
	time.Sleep(100 * time.Millisecond)
	if second.count() != 1 || len(second.get("b")) != 1 {
		t.Errorf("the next process answered %v, want b1 only", second.batches)
	}
}

// TestDispatchReplicasKeepOrder runs two chat processes on one durable
// consumer with few workers each, so a conversation's messages often sit
// in different processes at once, one of them still waiting for a worker
// (holding nothing in Redis): every conversation must still be answered
// in the order its messages were published.
func TestDispatchReplicasKeepOrder(t *testing.T) {
	const users, perUser = 24, 4
	var rec recorder
	handle := func(ctx context.Context, batch []*job, commit func() bool) error {
		time.Sleep(time.Duration(1+rand.IntN(6)) * time.Millisecond)
		if !commit() {
			return errSuperseded
		}
		rec.add(batch)
		return nil
	}
	e := newDispatchEnv(t, nil, func(c *Config) { c.Workers = 2 })
	st, _ := newState(t)
	st.now = time.Now
	e.startReplica(handle, st, "replica-a")
	e.startReplica(handle, st, "replica-b")
	var wg sync.WaitGroup
	for u := range users {
		wg.Go(func() {
			for i := 1; i <= perUser; i++ {
				e.publish(fmt.Sprint("u", u), fmt.Sprintf("u%d.m%d", u, i))
			}
		})
	}
	wg.Wait()
	waitUntil(t, "every message handled", func() bool { return rec.count() >= users*perUser })
	time.Sleep(100 * time.Millisecond)
	for u := range users {
		var flat []string
		for _, b := range rec.get(fmt.Sprint("u", u)) {
			flat = append(flat, b...)
		}
		var want []string
		for i := 1; i <= perUser; i++ {
			want = append(want, fmt.Sprintf("u%d.m%d", u, i))
		}
		if !slices.Equal(flat, want) {
			t.Errorf("user %d: handled %v, want %v", u, flat, want)
		}
	}
}

// TestDispatchWaitsForEarlierMessage: a message whose conversation's
// earlier message is taken by another process (here the test, through the
// same durable consumer) waits for it without holding the only worker,
// goes back at once when its process stops, and is answered once the
// earlier one is finished.
func TestDispatchWaitsForEarlierMessage(t *testing.T) {
	var rec recorder
	handle := func(ctx context.Context, batch []*job, commit func() bool) error {
		if !commit() {
			return errSuperseded
		}
		rec.add(batch)
		return nil
	}
	e := newDispatchEnv(t, nil, func(c *Config) { c.Workers, c.AckWait = 1, 30*time.Second })
	st, _ := newState(t)
	st.now = time.Now

	// The other process: it takes u.m1 and does not answer yet.
	cons, err := natsbus.EnsureConsumer(t.Context(), e.js, e.consumerConfig())
	if err != nil {
		t.Fatal(err)
	}
	e.publish("u", "u.m1")
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var m1 jetstream.Msg
	for m := range batch.Messages() {
		m1 = m
	}
	if m1 == nil {
		t.Fatal("the other process got no message")
	}
	e.publish("u", "u.m2")
	e.publish("w", "w.m1")

	stop := e.startReplica(handle, st, "replica-a")
	waitUntil(t, "the other conversation answered by the one worker", func() bool { return len(rec.get("w")) == 1 })
	time.Sleep(300 * time.Millisecond)
	if got := rec.get("u"); len(got) != 0 {
		t.Fatalf("answered %v while u.m1 is still with the other process", got)
	}
	began := time.Now()
	stop()
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("stopping took %v with a batch waiting for an earlier message", d)
	}

	// The other process answers u.m1; u.m2 comes back to the next process.
	md, err := m1.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if err := m1.Ack(); err != nil {
		t.Fatal(err)
	}
	o := &convOrder{state: st, log: slog.New(slog.DiscardHandler)}
	o.finished(m1.Subject(), md.Sequence.Stream)
	e.startReplica(handle, st, "replica-b")
	waitUntil(t, "u.m2 answered", func() bool { return len(rec.get("u")) == 1 })
	if got := rec.get("u"); !slices.Equal(got[0], []string{"u.m2"}) {
		t.Errorf("batches %v, want u.m2 alone", got)
	}
}
