package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/proto"

	"github.com/corral-ai/corral/bots/webhook"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/gateway"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/natstest"
	"github.com/corral-ai/corral/services/internal/role"
)

const (
	appSecret   = "test-app-secret"
	verifyToken = "test-verify-token"
	waChannel   = "420000000000002"
	pageID      = "104000000000001"
)

// env is a gateway on its own streams, served over HTTP.
type env struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	streams natsbus.StreamsConfig
	reader  *sdkmetric.ManualReader
	srv     *httptest.Server
	role    *gateway.Role
	logs    *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// streamsFor connects to NATS and sets up streams in a namespace of the
// test's own (deleted afterwards), so parallel runs on a shared server
// never meet.
func streamsFor(t testing.TB) (*nats.Conn, jetstream.JetStream, natsbus.StreamsConfig) {
	t.Helper()
	nc := natstest.Connect(t)
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
			if err := js.DeleteStream(ctx, sc.Name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) && !nc.IsClosed() {
				t.Errorf("delete stream %s: %v", sc.Name, err)
			}
		}
	})
	if err := natsbus.EnsureStreams(context.Background(), js, cfg); err != nil {
		t.Fatal(err)
	}
	return nc, js, cfg
}

func newEnv(t testing.TB, mutate ...func(*gateway.Config)) *env {
	t.Helper()
	nc, js, streams := streamsFor(t)
	cfg := gateway.DefaultConfig()
	cfg.AppSecrets = []string{"old-secret", appSecret}
	cfg.VerifyToken = verifyToken
	for _, m := range mutate {
		m(&cfg)
	}
	reader := sdkmetric.NewManualReader()
	logs := &syncBuffer{}
	r, err := gateway.New(cfg, role.Deps{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Meter:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		NATS:   nc, JetStream: js, Streams: streams,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	r.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{nc: nc, js: js, streams: streams, reader: reader, srv: srv, role: r, logs: logs}
}

// post sends body to path signed with secret ("" sends no signature).
func (e *env) post(t testing.TB, path string, body []byte, secret string, header ...string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(webhook.SignatureHeader, webhook.Sign(secret, body))
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// stored returns every message in stream base (a corralv1.Stream* name),
// in stream order.
func (e *env) stored(t testing.TB, base string) []*jetstream.RawStreamMsg {
	t.Helper()
	st, err := e.js.Stream(context.Background(), e.streams.StreamName(base))
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(context.Background(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// count returns how many messages stream base holds.
func (e *env) count(t testing.TB, base string) uint64 {
	t.Helper()
	st, err := e.js.Stream(context.Background(), e.streams.StreamName(base))
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// chatIn decodes every message in CHAT_IN.
func (e *env) chatIn(t testing.TB) []*corralv1.ChatMessage {
	t.Helper()
	var out []*corralv1.ChatMessage
	for _, m := range e.stored(t, corralv1.StreamChatIn) {
		cm := &corralv1.ChatMessage{}
		if err := proto.Unmarshal(m.Data, cm); err != nil {
			t.Fatalf("CHAT_IN message %d: %v", m.Sequence, err)
		}
		if want := e.streams.Subject(corralv1.ChatInSubject(cm.Conversation())); m.Subject != want {
			t.Errorf("message %s on %q, want %q", cm.GetPlatformMessageId(), m.Subject, want)
		}
		if got := m.Header.Get(jetstream.MsgIDHeader); got != cm.DedupeID() {
			t.Errorf("message %s has Nats-Msg-Id %q, want %q", cm.GetPlatformMessageId(), got, cm.DedupeID())
		}
		out = append(out, cm)
	}
	return out
}

// counter sums an Int64 counter's points whose attributes include want.
func (e *env) counter(t testing.TB, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
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

// waMsg is one WhatsApp text message for waBody.
type waMsg struct {
	channel, from, id, text string
	ts                      int64
}

// waBody is a WhatsApp delivery with one entry per channel, holding msgs.
func waBody(msgs ...waMsg) []byte {
	var entries []any
	byChannel := map[string]int{}
	for _, m := range msgs {
		if m.channel == "" {
			m.channel = waChannel
		}
		if m.ts == 0 {
			m.ts = 1733310000
		}
		i, ok := byChannel[m.channel]
		if !ok {
			i = len(entries)
			byChannel[m.channel] = i
			entries = append(entries, map[string]any{"id": "310000000000001", "changes": []any{map[string]any{
				"field": "messages",
				"value": map[string]any{"messaging_product": "whatsapp",
					"metadata": map[string]any{"display_phone_number": "15550001111", "phone_number_id": m.channel},
					"messages": []any{}},
			}}})
		}
		value := entries[i].(map[string]any)["changes"].([]any)[0].(map[string]any)["value"].(map[string]any)
		value["messages"] = append(value["messages"].([]any), map[string]any{
			"from": m.from, "id": m.id, "timestamp": strconv.FormatInt(m.ts, 10), "type": "text",
			"text": map[string]any{"body": m.text},
		})
	}
	return mustJSON(map[string]any{"object": "whatsapp_business_account", "entry": entries})
}

// msBody is a Messenger delivery to pageID with the given messaging events.
func msBody(events ...map[string]any) []byte {
	list := make([]any, len(events))
	for i, ev := range events {
		list[i] = ev
	}
	return mustJSON(map[string]any{"object": "page", "entry": []any{map[string]any{
		"id": pageID, "time": 1733310000123, "messaging": list,
	}}})
}

// msText is a Messenger text message from psid.
func msText(psid, mid, text string, ts int64) map[string]any {
	return map[string]any{"sender": map[string]any{"id": psid}, "recipient": map[string]any{"id": pageID},
		"timestamp": ts, "message": map[string]any{"mid": mid, "text": text}}
}

// msEcho is the echo of a message the Page sent to psid.
func msEcho(psid, mid, text, metadata string, ts int64) map[string]any {
	m := map[string]any{"is_echo": true, "app_id": 263902037430900, "mid": mid, "text": text}
	if metadata != "" {
		m["metadata"] = metadata
	}
	return map[string]any{"sender": map[string]any{"id": pageID}, "recipient": map[string]any{"id": psid},
		"timestamp": ts, "message": m}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
