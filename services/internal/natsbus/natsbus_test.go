package natsbus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/natstest"
	"github.com/corral-ai/corral/services/internal/telemetry"
)

// waitLimit bounds every wait for something to arrive; reaching it is a
// failure, not a measurement.
const waitLimit = 30 * time.Second

// setup connects to a JetStream server and returns streams config to use.
// On a private in-process server the real stream names are used; on a shared
// one (NATS_URL) every stream and subject gets a namespace unique to the test,
// and the streams are deleted afterwards.
func setup(t *testing.T) (jetstream.JetStream, natsbus.StreamsConfig) {
	t.Helper()
	nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := natsbus.DefaultStreamsConfig()
	if natstest.External() {
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
	}
	if err := natsbus.EnsureStreams(t.Context(), js, cfg); err != nil {
		t.Fatal(err)
	}
	return js, cfg
}

// recordSpans installs an in-memory span recorder and the W3C propagator as
// the global OpenTelemetry providers for the duration of the test.
func recordSpans(t *testing.T) (*tracetest.SpanRecorder, trace.Tracer) {
	t.Helper()
	oldTP, oldProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(telemetry.Propagator())
	t.Cleanup(func() {
		otel.SetTracerProvider(oldTP)
		otel.SetTextMapPropagator(oldProp)
		_ = tp.Shutdown(context.Background())
	})
	return sr, tp.Tracer("test")
}

// runConsumer runs natsbus.Consume in the background and stops it (checking
// it returns nil) when the test ends.
func runConsumer(t *testing.T, js jetstream.JetStream, cfg natsbus.ConsumerConfig, h natsbus.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- natsbus.Consume(ctx, js, cfg, h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Consume returned %v after cancel, want nil", err)
			}
		case <-time.After(waitLimit):
			t.Error("Consume did not return after cancel")
		}
	})
}

func chatMessage(user, id string) *corralv1.ChatMessage {
	return &corralv1.ChatMessage{
		Platform:          corralv1.Platform_PLATFORM_WHATSAPP,
		ChannelId:         "420000000000002",
		UserId:            user,
		UserDisplayName:   "Ana",
		PlatformMessageId: id,
		Kind:              corralv1.MessageKind_MESSAGE_KIND_TEXT,
		Text:              "hola, que tal?",
		SentTime:          timestamppb.New(time.Unix(1733310000, 0)),
		ReceivedTime:      timestamppb.New(time.Unix(1733310001, 0)),
	}
}

func consumerConfig(cfg natsbus.StreamsConfig, durable string) natsbus.ConsumerConfig {
	return natsbus.ConsumerConfig{
		Stream:     cfg.StreamName(corralv1.StreamChatIn),
		Durable:    durable,
		AckWait:    5 * time.Second,
		Backoff:    []time.Duration{10 * time.Millisecond},
		DeadLetter: cfg.DLQSubject,
	}
}

func TestChatInRoundTripKeepsTraceContext(t *testing.T) {
	sr, tr := recordSpans(t)
	js, cfg := setup(t)

	type got struct {
		msg  *corralv1.ChatMessage
		span trace.SpanContext
		sub  string
	}
	received := make(chan got, 1)
	runConsumer(t, js, consumerConfig(cfg, "chat"), natsbus.ProtoHandler(
		func(ctx context.Context, m *corralv1.ChatMessage, msg jetstream.Msg) error {
			received <- got{m, trace.SpanContextFromContext(ctx), msg.Subject()}
			return nil
		}))

	want := chatMessage("US.1349", "wamid.HBgNNTIx=")
	ctx, webhook := tr.Start(t.Context(), "webhook")
	subject := cfg.Subject(corralv1.ChatInSubject(want.Conversation()))
	ack, err := natsbus.Publish(ctx, js, subject, want.DedupeID(), want)
	webhook.End()
	if err != nil {
		t.Fatal(err)
	}
	if ack.Stream != cfg.StreamName(corralv1.StreamChatIn) || ack.Duplicate {
		t.Fatalf("publish ack = %+v, want stream %s, not duplicate", ack, cfg.StreamName(corralv1.StreamChatIn))
	}

	var g got
	select {
	case g = <-received:
	case <-time.After(waitLimit):
		t.Fatal("message not consumed")
	}
	if !proto.Equal(g.msg, want) {
		t.Fatalf("consumed %v, want %v", g.msg, want)
	}
	if g.sub != subject {
		t.Fatalf("consumed on %q, want %q", g.sub, subject)
	}

	// The chain must be webhook -> producer span -> consumer span, one trace.
	producer := findSpan(t, sr, trace.SpanKindProducer, subject)
	consumer := findSpan(t, sr, trace.SpanKindConsumer, subject)
	if producer.Parent().SpanID() != webhook.SpanContext().SpanID() {
		t.Errorf("producer span's parent = %v, want the webhook span %v", producer.Parent().SpanID(), webhook.SpanContext().SpanID())
	}
	if consumer.Parent().SpanID() != producer.SpanContext().SpanID() || !consumer.Parent().IsRemote() {
		t.Errorf("consumer span's parent = %v (remote %v), want the producer span %v from the headers",
			consumer.Parent().SpanID(), consumer.Parent().IsRemote(), producer.SpanContext().SpanID())
	}
	if tid := webhook.SpanContext().TraceID(); consumer.SpanContext().TraceID() != tid || g.span.TraceID() != tid {
		t.Errorf("trace ids differ: webhook %v, consumer %v, handler %v", tid, consumer.SpanContext().TraceID(), g.span.TraceID())
	}
	if g.span.SpanID() != consumer.SpanContext().SpanID() {
		t.Errorf("handler ctx span %v is not the consumer span %v", g.span.SpanID(), consumer.SpanContext().SpanID())
	}

	// The message was acked: nothing stays pending on the durable consumer.
	waitFor(t, "consumer to have no pending acks", func() bool {
		info, err := js.Consumer(t.Context(), cfg.StreamName(corralv1.StreamChatIn), "chat")
		if err != nil {
			t.Fatal(err)
		}
		ci, err := info.Info(t.Context())
		return err == nil && ci.NumAckPending == 0 && ci.AckFloor.Stream == ack.Sequence
	})
}

// findSpan returns the ended span of kind whose destination is subject; it
// waits because the consumer span ends after the handler returns.
func findSpan(t *testing.T, sr *tracetest.SpanRecorder, kind trace.SpanKind, subject string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found sdktrace.ReadOnlySpan
	waitFor(t, kind.String()+" span", func() bool {
		for _, s := range sr.Ended() {
			if s.SpanKind() != kind {
				continue
			}
			for _, a := range s.Attributes() {
				if a.Key == "messaging.destination.name" && a.Value.AsString() == subject {
					found = s
					return true
				}
			}
		}
		return false
	})
	return found
}

// waitFor polls cond until it holds, failing the test after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEnsureStreamsIdempotentAndUpdates(t *testing.T) {
	js, cfg := setup(t) // first EnsureStreams
	ctx := t.Context()

	in := cfg.StreamName(corralv1.StreamChatIn)
	before := streamInfos(t, js, cfg)
	m := chatMessage("7", "m1")
	if _, err := natsbus.Publish(ctx, js, cfg.Subject(corralv1.ChatInSubject(m.Conversation())), m.DedupeID(), m); err != nil {
		t.Fatal(err)
	}

	counting := &countingJS{JetStream: js}
	if err := natsbus.EnsureStreams(ctx, counting, cfg); err != nil {
		t.Fatalf("second EnsureStreams: %v", err)
	}
	if counting.creates != 0 || counting.updates != 0 {
		t.Errorf("repeated EnsureStreams made %d creates and %d updates, want none", counting.creates, counting.updates)
	}
	again := streamInfos(t, js, cfg)
	for name, b := range before {
		a := again[name]
		if !a.Created.Equal(b.Created) || !sameConfig(a.Config, b.Config) {
			t.Errorf("stream %s changed on a repeated EnsureStreams:\n before %+v\n after  %+v", name, b.Config, a.Config)
		}
	}

	// What the package documents.
	for _, want := range []struct {
		base    string
		age     time.Duration
		discard jetstream.DiscardPolicy
	}{
		{corralv1.StreamChatIn, 24 * time.Hour, jetstream.DiscardNew},
		{corralv1.StreamChatOut, 24 * time.Hour, jetstream.DiscardNew},
		{corralv1.StreamChatDLQ, 14 * 24 * time.Hour, jetstream.DiscardOld},
	} {
		c := again[cfg.StreamName(want.base)].Config
		if c.Retention != jetstream.LimitsPolicy || c.Storage != jetstream.FileStorage ||
			c.MaxAge != want.age || c.Discard != want.discard || c.Duplicates < natsbus.MinDuplicateWindow {
			t.Errorf("stream %s config %+v does not match the documented settings", c.Name, c)
		}
	}

	changed := cfg
	changed.ChatIn.MaxAge = time.Hour
	changed.ChatIn.MaxMsgs = 1000
	counting = &countingJS{JetStream: js}
	if err := natsbus.EnsureStreams(ctx, counting, changed); err != nil {
		t.Fatalf("EnsureStreams with a changed setting: %v", err)
	}
	if counting.creates != 0 || counting.updates != 1 {
		t.Errorf("EnsureStreams with one changed stream made %d creates and %d updates, want 0 and 1", counting.creates, counting.updates)
	}
	after := streamInfos(t, js, cfg)
	if got := after[in].Config; got.MaxAge != time.Hour || got.MaxMsgs != 1000 {
		t.Errorf("CHAT_IN not updated: max age %v, max msgs %d", got.MaxAge, got.MaxMsgs)
	}
	if !after[in].Created.Equal(before[in].Created) || after[in].State.Msgs != 1 {
		t.Errorf("update recreated CHAT_IN or lost its message: created %v -> %v, msgs %d",
			before[in].Created, after[in].Created, after[in].State.Msgs)
	}
	out := cfg.StreamName(corralv1.StreamChatOut)
	if !sameConfig(after[out].Config, before[out].Config) {
		t.Errorf("CHAT_OUT changed although its settings did not")
	}
}

// countingJS counts the stream changes EnsureStreams makes.
type countingJS struct {
	jetstream.JetStream
	creates, updates int
}

func (c *countingJS) CreateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	c.creates++
	return c.JetStream.CreateStream(ctx, cfg)
}

func (c *countingJS) UpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	c.updates++
	return c.JetStream.UpdateStream(ctx, cfg)
}

func (c *countingJS) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	c.updates++
	return c.JetStream.CreateOrUpdateStream(ctx, cfg)
}

func streamInfos(t *testing.T, js jetstream.JetStream, cfg natsbus.StreamsConfig) map[string]*jetstream.StreamInfo {
	t.Helper()
	infos := map[string]*jetstream.StreamInfo{}
	for _, sc := range cfg.StreamConfigs() {
		s, err := js.Stream(t.Context(), sc.Name)
		if err != nil {
			t.Fatalf("stream %s: %v", sc.Name, err)
		}
		infos[sc.Name] = s.CachedInfo()
	}
	return infos
}

func sameConfig(a, b jetstream.StreamConfig) bool {
	return a.Name == b.Name && slices.Equal(a.Subjects, b.Subjects) && a.MaxAge == b.MaxAge &&
		a.MaxMsgs == b.MaxMsgs && a.MaxBytes == b.MaxBytes && a.Duplicates == b.Duplicates &&
		a.Discard == b.Discard && a.Retention == b.Retention && a.Storage == b.Storage && a.Replicas == b.Replicas
}

func TestStreamsConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*natsbus.StreamsConfig)
		ok     bool
	}{
		{"defaults", func(*natsbus.StreamsConfig) {}, true},
		{"zero value takes defaults", func(c *natsbus.StreamsConfig) { *c = natsbus.StreamsConfig{} }, true},
		{"namespace", func(c *natsbus.StreamsConfig) { c.Namespace = "t-1_x" }, true},
		{"namespace with dot", func(c *natsbus.StreamsConfig) { c.Namespace = "a.b" }, false},
		{"short duplicate window", func(c *natsbus.StreamsConfig) { c.DuplicateWindow = time.Minute }, false},
		{"age below duplicate window", func(c *natsbus.StreamsConfig) { c.ChatOut.MaxAge = time.Minute }, false},
		{"negative max bytes", func(c *natsbus.StreamsConfig) { c.DLQ.MaxBytes = -5 }, false},
		{"too many replicas", func(c *natsbus.StreamsConfig) { c.Replicas = 7 }, false},
		{"three replicas", func(c *natsbus.StreamsConfig) { c.Replicas = 3 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := natsbus.DefaultStreamsConfig()
			tt.change(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestStreamsConfigNames(t *testing.T) {
	tests := []struct {
		ns, stream, subject, dlq string
	}{
		{"", "CHAT_IN", "chat.in.whatsapp.1.2", "chat.dlq.chat.in.whatsapp.1.2"},
		{"t1", "t1_CHAT_IN", "t1.chat.in.whatsapp.1.2", "t1.chat.dlq.chat.in.whatsapp.1.2"},
	}
	for _, tt := range tests {
		t.Run("namespace="+tt.ns, func(t *testing.T) {
			c := natsbus.StreamsConfig{Namespace: tt.ns}
			if got := c.StreamName(corralv1.StreamChatIn); got != tt.stream {
				t.Errorf("StreamName = %q, want %q", got, tt.stream)
			}
			subj := c.Subject("chat.in.whatsapp.1.2")
			if subj != tt.subject {
				t.Errorf("Subject = %q, want %q", subj, tt.subject)
			}
			if got := c.DLQSubject(subj); got != tt.dlq {
				t.Errorf("DLQSubject = %q, want %q", got, tt.dlq)
			}
		})
	}
}

// dlqMessages collects what arrives on the DLQ stream.
func dlqMessages(t *testing.T, js jetstream.JetStream, cfg natsbus.StreamsConfig) func(n int) []jetstream.Msg {
	t.Helper()
	cons, err := js.CreateOrUpdateConsumer(t.Context(), cfg.StreamName(corralv1.StreamChatDLQ), jetstream.ConsumerConfig{
		Durable:   "dlq-reader",
		AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	return func(n int) []jetstream.Msg {
		t.Helper()
		var got []jetstream.Msg
		deadline := time.Now().Add(waitLimit)
		for len(got) < n && time.Now().Before(deadline) {
			batch, err := cons.Fetch(n-len(got), jetstream.FetchMaxWait(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			for m := range batch.Messages() {
				_ = m.Ack()
				got = append(got, m)
			}
		}
		if len(got) < n {
			t.Fatalf("got %d DLQ messages, want %d", len(got), n)
		}
		return got
	}
}

func TestPoisonMessageGoesToDLQ(t *testing.T) {
	js, cfg := setup(t)
	readDLQ := dlqMessages(t, js, cfg)

	var mu sync.Mutex
	calls := map[string]int{}
	cc := consumerConfig(cfg, "poison")
	cc.MaxDeliver = 3
	runConsumer(t, js, cc, natsbus.ProtoHandler(
		func(ctx context.Context, m *corralv1.ChatMessage, msg jetstream.Msg) error {
			mu.Lock()
			calls[m.GetPlatformMessageId()]++
			mu.Unlock()
			if m.GetText() == "permanent" {
				return natsbus.Permanent(errors.New("no such persona"))
			}
			return fmt.Errorf("model exploded\non line two")
		}))

	poison := chatMessage("7", "poison-1")
	subject := cfg.Subject(corralv1.ChatInSubject(poison.Conversation()))
	ack, err := natsbus.Publish(t.Context(), js, subject, poison.DedupeID(), poison)
	if err != nil {
		t.Fatal(err)
	}
	dl := readDLQ(1)[0]
	wantHeaders := map[string]string{
		natsbus.HeaderDLQReason:     natsbus.DLQReasonMaxDeliver,
		natsbus.HeaderDLQError:      "model exploded on line two",
		natsbus.HeaderDLQStream:     cfg.StreamName(corralv1.StreamChatIn),
		natsbus.HeaderDLQConsumer:   "poison",
		natsbus.HeaderDLQSubject:    subject,
		natsbus.HeaderDLQSequence:   strconv.FormatUint(ack.Sequence, 10),
		natsbus.HeaderDLQDeliveries: "3",
		natsbus.HeaderType:          "corral.v1.ChatMessage",
	}
	checkDLQ(t, dl, cfg.DLQSubject(subject), poison, wantHeaders)
	mu.Lock()
	if n := calls["poison-1"]; n != 3 {
		t.Errorf("handler called %d times, want 3 (max deliver)", n)
	}
	mu.Unlock()

	// A permanent error skips the retries.
	perm := chatMessage("8", "poison-2")
	perm.Text = "permanent"
	subject = cfg.Subject(corralv1.ChatInSubject(perm.Conversation()))
	if _, err := natsbus.Publish(t.Context(), js, subject, perm.DedupeID(), perm); err != nil {
		t.Fatal(err)
	}
	dl = readDLQ(1)[0]
	checkDLQ(t, dl, cfg.DLQSubject(subject), perm, map[string]string{
		natsbus.HeaderDLQReason:     natsbus.DLQReasonPermanent,
		natsbus.HeaderDLQError:      "no such persona",
		natsbus.HeaderDLQDeliveries: "1",
	})

	// Bytes that are no ChatMessage are permanent too (ProtoHandler).
	garbage := nats.NewMsg(cfg.Subject("chat.in.whatsapp.1.9"))
	garbage.Data = []byte{0xff, 0xff, 0xff}
	if _, err := js.PublishMsg(t.Context(), garbage); err != nil {
		t.Fatal(err)
	}
	dl = readDLQ(1)[0]
	if dl.Headers().Get(natsbus.HeaderDLQReason) != natsbus.DLQReasonPermanent || string(dl.Data()) != string(garbage.Data) {
		t.Errorf("garbage dead-lettered with reason %q, data %x", dl.Headers().Get(natsbus.HeaderDLQReason), dl.Data())
	}

	mu.Lock()
	defer mu.Unlock()
	if calls["poison-2"] != 1 {
		t.Errorf("permanent failure handled %d times, want 1", calls["poison-2"])
	}
}

func checkDLQ(t *testing.T, dl jetstream.Msg, subject string, want proto.Message, headers map[string]string) {
	t.Helper()
	if dl.Subject() != subject {
		t.Errorf("DLQ subject %q, want %q", dl.Subject(), subject)
	}
	got := &corralv1.ChatMessage{}
	if err := proto.Unmarshal(dl.Data(), got); err != nil || !proto.Equal(got, want) {
		t.Errorf("DLQ payload %v (%v), want %v", got, err, want)
	}
	for k, v := range headers {
		if g := dl.Headers().Get(k); g != v {
			t.Errorf("DLQ header %s = %q, want %q", k, g, v)
		}
	}
	if ts, err := time.Parse(time.RFC3339Nano, dl.Headers().Get(natsbus.HeaderDLQTime)); err != nil || ts.IsZero() {
		t.Errorf("DLQ time header %q: %v", dl.Headers().Get(natsbus.HeaderDLQTime), err)
	}
}

func TestUnansweredMessageGoesToDLQ(t *testing.T) {
	// A worker that takes a message and dies never answers; after MaxDeliver
	// such deliveries the message must land in the DLQ without reaching a
	// handler again.
	js, cfg := setup(t)
	readDLQ := dlqMessages(t, js, cfg)
	cc := consumerConfig(cfg, "crashy")
	cc.MaxDeliver = 1
	cc.AckWait = time.Second
	cons, err := natsbus.EnsureConsumer(t.Context(), js, cc)
	if err != nil {
		t.Fatal(err)
	}
	m := chatMessage("7", "lost")
	subject := cfg.Subject(corralv1.ChatInSubject(m.Conversation()))
	if _, err := natsbus.Publish(t.Context(), js, subject, m.DedupeID(), m); err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(waitLimit))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range batch.Messages() {
		n++ // taken and never answered
	}
	if n != 1 {
		t.Fatalf("crashed worker fetched %d messages, want 1", n)
	}

	handled := make(chan struct{}, 1)
	runConsumer(t, js, cc, func(context.Context, jetstream.Msg) error {
		handled <- struct{}{}
		return nil
	})
	dl := readDLQ(1)[0]
	checkDLQ(t, dl, cfg.DLQSubject(subject), m, map[string]string{
		natsbus.HeaderDLQReason:     natsbus.DLQReasonNoAck,
		natsbus.HeaderDLQDeliveries: "2",
	})
	select {
	case <-handled:
		t.Error("handler was called for a message past max deliver")
	default:
	}
}

func TestPublishDedupesByMsgID(t *testing.T) {
	js, cfg := setup(t)
	ctx := t.Context()
	m := chatMessage("7", "wamid.dup")
	subject := cfg.Subject(corralv1.ChatInSubject(m.Conversation()))

	first, err := natsbus.Publish(ctx, js, subject, m.DedupeID(), m)
	if err != nil {
		t.Fatal(err)
	}
	second, err := natsbus.Publish(ctx, js, subject, m.DedupeID(), m)
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || !second.Duplicate || second.Sequence != first.Sequence {
		t.Fatalf("acks %+v then %+v: want the second to be a duplicate of the first", first, second)
	}
	other := chatMessage("7", "wamid.other")
	third, err := natsbus.Publish(ctx, js, subject, other.DedupeID(), other)
	if err != nil {
		t.Fatal(err)
	}
	if third.Duplicate {
		t.Fatalf("a different message id was treated as a duplicate: %+v", third)
	}
	s, err := js.Stream(ctx, cfg.StreamName(corralv1.StreamChatIn))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2", info.State.Msgs)
	}
	raw, err := s.GetMsg(ctx, first.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Header.Get(jetstream.MsgIDHeader) != m.DedupeID() ||
		raw.Header.Get(natsbus.HeaderType) != "corral.v1.ChatMessage" ||
		raw.Header.Get(natsbus.HeaderContentType) != natsbus.ContentTypeProtobuf {
		t.Fatalf("stored headers %v", raw.Header)
	}
}

func TestConsumeKeepsConversationOrder(t *testing.T) {
	js, cfg := setup(t)
	const users, perUser = 5, 8

	var mu sync.Mutex
	seen := map[string][]string{}
	total := make(chan struct{}, users*perUser)
	cc := consumerConfig(cfg, "ordered")
	cc.Workers = 4
	runConsumer(t, js, cc, natsbus.ProtoHandler(
		func(ctx context.Context, m *corralv1.ChatMessage, _ jetstream.Msg) error {
			mu.Lock()
			seen[m.GetUserId()] = append(seen[m.GetUserId()], m.GetPlatformMessageId())
			mu.Unlock()
			total <- struct{}{}
			return nil
		}))

	want := map[string][]string{}
	for i := range perUser {
		for u := range users {
			user := "u" + strconv.Itoa(u)
			m := chatMessage(user, fmt.Sprintf("%s-%02d", user, i))
			want[user] = append(want[user], m.GetPlatformMessageId())
			if _, err := natsbus.Publish(t.Context(), js, cfg.Subject(corralv1.ChatInSubject(m.Conversation())), m.DedupeID(), m); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range users * perUser {
		select {
		case <-total:
		case <-time.After(waitLimit):
			t.Fatal("not every message was consumed")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for user, ids := range want {
		if !slices.Equal(seen[user], ids) {
			t.Errorf("user %s handled in order %v, want %v", user, seen[user], ids)
		}
	}
}

func TestConsumeRecoversHandlerPanic(t *testing.T) {
	js, cfg := setup(t)
	readDLQ := dlqMessages(t, js, cfg)
	cc := consumerConfig(cfg, "panicky")
	cc.MaxDeliver = 1
	runConsumer(t, js, cc, func(context.Context, jetstream.Msg) error { panic("nil map") })
	m := chatMessage("7", "boom")
	if _, err := natsbus.Publish(t.Context(), js, cfg.Subject(corralv1.ChatInSubject(m.Conversation())), m.DedupeID(), m); err != nil {
		t.Fatal(err)
	}
	dl := readDLQ(1)[0]
	if got := dl.Headers().Get(natsbus.HeaderDLQError); got != "handler panicked: nil map" {
		t.Fatalf("DLQ error header %q", got)
	}
}

func TestConsumerConfigValidate(t *testing.T) {
	base := natsbus.ConsumerConfig{Stream: "CHAT_IN", Durable: "chat"}
	tests := []struct {
		name   string
		change func(*natsbus.ConsumerConfig)
		ok     bool
	}{
		{"defaults", func(*natsbus.ConsumerConfig) {}, true},
		{"no stream", func(c *natsbus.ConsumerConfig) { c.Stream = "" }, false},
		{"no durable", func(c *natsbus.ConsumerConfig) { c.Durable = "" }, false},
		{"dot in durable", func(c *natsbus.ConsumerConfig) { c.Durable = "a.b" }, false},
		{"short ack wait", func(c *natsbus.ConsumerConfig) { c.AckWait = time.Millisecond }, false},
		{"negative max deliver", func(c *natsbus.ConsumerConfig) { c.MaxDeliver = -1 }, false},
		{"negative backoff", func(c *natsbus.ConsumerConfig) { c.Backoff = []time.Duration{-1} }, false},
		{"negative workers", func(c *natsbus.ConsumerConfig) { c.Workers = -2 }, false},
		{"negative timeout", func(c *natsbus.ConsumerConfig) { c.HandlerTimeout = -time.Second }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.change(&c)
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("bad payload")
	p := natsbus.Permanent(fmt.Errorf("decode: %w", base))
	if !natsbus.IsPermanent(p) || !errors.Is(p, base) || p.Error() != "decode: bad payload" {
		t.Fatalf("Permanent lost something: %v", p)
	}
	if !natsbus.IsPermanent(fmt.Errorf("handle: %w", p)) {
		t.Fatal("wrapping a permanent error hides it")
	}
	if natsbus.IsPermanent(base) || natsbus.Permanent(nil) != nil {
		t.Fatal("plain errors must not be permanent; Permanent(nil) must be nil")
	}
}

func TestDrainClosesConnection(t *testing.T) {
	nc := natstest.Connect(t)
	if err := natsbus.Drain(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	if !nc.IsClosed() {
		t.Fatal("connection still open after Drain")
	}
	if err := natsbus.Drain(t.Context(), nc); err != nil {
		t.Fatalf("second Drain: %v", err)
	}
}

func TestNATSHeaderCarrier(t *testing.T) {
	_, tr := recordSpans(t)
	ctx, span := tr.Start(t.Context(), "op")
	defer span.End()

	h := nats.Header{}
	telemetry.InjectNATS(ctx, h)
	if h.Get("traceparent") == "" {
		t.Fatalf("no traceparent injected: %v", h)
	}
	got := trace.SpanContextFromContext(telemetry.ExtractNATS(context.Background(), h))
	if got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() || !got.IsRemote() {
		t.Fatalf("extracted %v, want remote %v", got, span.SpanContext())
	}

	// Other clients may write the W3C header in lower case, as the spec does.
	lower := nats.Header{"traceparent": {h.Get("traceparent")}}
	if got := trace.SpanContextFromContext(telemetry.ExtractNATS(context.Background(), lower)); got.SpanID() != span.SpanContext().SpanID() {
		t.Fatalf("lower-case header not found: %v", got)
	}
	if got := telemetry.ExtractNATS(ctx, nil); got != ctx {
		t.Fatal("nil headers changed the context")
	}
	if keys := telemetry.NATSHeaderCarrier(h).Keys(); len(keys) == 0 {
		t.Fatal("Keys is empty")
	}
}

func TestRetryAfter(t *testing.T) {
	base := errors.New("rate limited")
	ra := natsbus.RetryAfter(fmt.Errorf("send: %w", base), 3*time.Second)
	if d, ok := natsbus.RetryDelay(fmt.Errorf("handle: %w", ra)); !ok || d != 3*time.Second {
		t.Fatalf("RetryDelay = %v, %v; want 3s, true", d, ok)
	}
	if !errors.Is(ra, base) || ra.Error() != "send: rate limited" || natsbus.IsPermanent(ra) {
		t.Fatalf("RetryAfter changed the error: %v", ra)
	}
	if d, _ := natsbus.RetryDelay(natsbus.RetryAfter(base, -time.Second)); d != 0 {
		t.Errorf("negative delay became %v", d)
	}
	if _, ok := natsbus.RetryDelay(base); ok || natsbus.RetryAfter(nil, time.Second) != nil {
		t.Fatal("plain errors carry no delay; RetryAfter(nil) must be nil")
	}
}

// TestRetryAfterDelaysRedelivery checks that the consumer waits the delay a
// handler asked for rather than its configured back-off.
func TestRetryAfterDelaysRedelivery(t *testing.T) {
	js, cfg := setup(t)
	const asked = 700 * time.Millisecond
	var mu sync.Mutex
	var times []time.Time
	done := make(chan struct{})
	cc := consumerConfig(cfg, "retry-after")
	cc.Backoff = []time.Duration{10 * time.Millisecond} // much shorter than asked
	runConsumer(t, js, cc, func(ctx context.Context, msg jetstream.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		times = append(times, time.Now())
		if len(times) == 1 {
			return natsbus.RetryAfter(errors.New("busy"), asked)
		}
		close(done)
		return nil
	})
	m := chatMessage("5", "retry-after-1")
	if _, err := natsbus.Publish(t.Context(), js, cfg.Subject(corralv1.ChatInSubject(m.Conversation())), m.DedupeID(), m); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("message not redelivered")
	}
	mu.Lock()
	defer mu.Unlock()
	if gap := times[1].Sub(times[0]); gap < asked-50*time.Millisecond {
		t.Errorf("redelivered after %v, want at least %v", gap, asked)
	}
}

func TestPublishMsgRaw(t *testing.T) {
	js, cfg := setup(t)
	subject := cfg.Subject(corralv1.WebhookDLQSubject(corralv1.Platform_PLATFORM_WHATSAPP))
	msg := &nats.Msg{Subject: subject, Data: []byte(`{"not":"a webhook"}`)}
	for range 2 {
		if _, err := natsbus.PublishMsg(t.Context(), js, msg, "raw-1"); err != nil {
			t.Fatal(err)
		}
	}
	st, err := js.Stream(t.Context(), cfg.StreamName(corralv1.StreamChatDLQ))
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.GetLastMsgForSubject(t.Context(), subject)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != string(msg.Data) {
		t.Errorf("stored %q", got.Data)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("DLQ holds %d messages, want 1 (the second publish is a duplicate)", info.State.Msgs)
	}
}

// TestPublishAsyncKeepsOrder publishes a run of messages without waiting
// in between, then waits for all: the stream holds them in the order they
// were published, a repeated id is a duplicate, and a subject no stream
// takes fails on Wait.
