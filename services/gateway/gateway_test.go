package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/corral-ai/corral/bots/webhook"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/gateway"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/telemetry"
)

func TestHandshake(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		path   string
		query  string
		status int
		body   string
	}{
		{"whatsapp ok", gateway.PathWhatsApp, "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" + verifyToken, 200, "1158201444"},
		{"messenger ok", gateway.PathMessenger, "hub.mode=subscribe&hub.challenge=77&hub.verify_token=" + verifyToken, 200, "77"},
		{"wrong token", gateway.PathWhatsApp, "hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess", 403, ""},
		{"missing params", gateway.PathMessenger, "", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := http.Get(e.srv.URL + tt.path + "?" + tt.query)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status || tt.body != "" && string(body) != tt.body {
				t.Fatalf("GET = %d %q, want %d %q", res.StatusCode, body, tt.status, tt.body)
			}
		})
	}
	if got := e.counter(t, "corral_gateway_handshakes", attribute.String("outcome", "forbidden")); got != 1 {
		t.Errorf("forbidden handshakes counted %d, want 1", got)
	}
}

// TestDeliveryStatusCodes walks every answer a POST can get and checks
// what was published for each.
func TestDeliveryStatusCodes(t *testing.T) {
	text := waBody(waMsg{from: "5215512345678", id: "wamid.A1", text: "hola"})
	tests := []struct {
		name      string
		noSecret  bool
		body      []byte
		sign      string // secret to sign with; "" sends no signature
		header    []string
		status    int
		chatIn    int
		dlq       int
		outcome   string
		noSecrets bool
	}{
		{name: "signed text", body: text, sign: appSecret, status: 200, chatIn: 1, outcome: "accepted"},
		{name: "signed with the old secret", body: text, sign: "old-secret", status: 200, chatIn: 1, outcome: "accepted"},
		{name: "no signature", body: text, status: 401, outcome: "unauthorized"},
		{name: "wrong secret", body: text, sign: "guess", status: 401, outcome: "unauthorized"},
		{name: "malformed signature", body: text, header: []string{webhook.SignatureHeader, "sha1=abc"}, status: 401, outcome: "unauthorized"},
		{name: "no app secret configured", noSecrets: true, body: text, sign: appSecret, status: 401, outcome: "unauthorized"},
		{name: "too large", body: bytes.Repeat([]byte(" "), gateway.DefaultMaxBody+1), sign: appSecret, status: 413, outcome: "too_large"},
		{name: "signed but not JSON", body: []byte("<html>hello</html>"), sign: appSecret, status: 200, dlq: 1, outcome: "not_webhook"},
		{name: "signed but another object", body: []byte(`{"object":"instagram","entry":[]}`), sign: appSecret, status: 200, dlq: 1, outcome: "not_webhook"},
		{name: "statuses only", body: []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"4"},"statuses":[{"id":"wamid.O","status":"read","timestamp":"1733310000","recipient_id":"52"}]}}]}]}`),
			sign: appSecret, status: 200, outcome: "accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *gateway.Config) {
				if tt.noSecrets {
					c.AppSecrets = nil
				}
			})
			if got := e.post(t, gateway.PathWhatsApp, tt.body, tt.sign, tt.header...); got != tt.status {
				t.Fatalf("POST = %d, want %d", got, tt.status)
			}
			if got := len(e.stored(t, corralv1.StreamChatIn)); got != tt.chatIn {
				t.Errorf("CHAT_IN holds %d messages, want %d", got, tt.chatIn)
			}
			if got := len(e.stored(t, corralv1.StreamChatDLQ)); got != tt.dlq {
				t.Errorf("DLQ holds %d messages, want %d", got, tt.dlq)
			}
			if got := e.counter(t, "corral_gateway_webhooks", attribute.String("platform", "whatsapp"), attribute.String("outcome", tt.outcome)); got != 1 {
				t.Errorf("webhooks{outcome=%s} = %d, want 1", tt.outcome, got)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+gateway.PathMessenger, strings.NewReader("{}"))
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("PUT = %d, want 405", res.StatusCode)
	}
}

// TestBatchAllAckedBefore200 sends one delivery with several entries and
// conversations; when the 200 arrives, every message must already be in
// the stream, each conversation in the order its user wrote.
func TestBatchAllAckedBefore200(t *testing.T) {
	e := newEnv(t)
	body := waBody(
		waMsg{from: "111", id: "wamid.B3", text: "third", ts: 1733310003},
		waMsg{from: "222", id: "wamid.C1", text: "other user", ts: 1733310001},
		waMsg{from: "111", id: "wamid.B1", text: "first", ts: 1733310001},
		waMsg{channel: "430000000000009", from: "111", id: "wamid.D1", text: "other number", ts: 1733310001},
		waMsg{from: "111", id: "wamid.B2", text: "second", ts: 1733310002},
	)
	if got := e.post(t, gateway.PathWhatsApp, body, appSecret); got != 200 {
		t.Fatalf("POST = %d", got)
	}
	msgs := e.chatIn(t) // no waiting: the 200 promised they are stored
	if len(msgs) != 5 {
		t.Fatalf("CHAT_IN holds %d messages right after the 200, want 5", len(msgs))
	}
	var order []string
	for _, m := range msgs {
		if m.GetChannelId() == waChannel && m.GetUserId() == "111" {
			order = append(order, m.GetText())
		}
		if m.GetReceivedTime() == nil {
			t.Errorf("%s has no received time", m.GetPlatformMessageId())
		}
	}
	if strings.Join(order, ",") != "first,second,third" {
		t.Errorf("conversation stored as %v, want first,second,third", order)
	}
	if got := e.counter(t, "corral_gateway_messages", attribute.String("kind", "text"), attribute.String("outcome", "published")); got != 5 {
		t.Errorf("messages published counted %d, want 5", got)
	}
}

// TestRetriedDeliveryPublishesOnce delivers the same webhook three times,
// as Meta does when it saw no quick answer.
func TestRetriedDeliveryPublishesOnce(t *testing.T) {
	e := newEnv(t)
	for name, tc := range map[string]struct {
		path string
		body []byte
	}{
		"whatsapp":  {gateway.PathWhatsApp, waBody(waMsg{from: "5215512345678", id: "wamid.R1", text: "hola"})},
		"messenger": {gateway.PathMessenger, msBody(msText("7300000000000042", "m_R1", "hi", 1733310000045))},
	} {
		t.Run(name, func(t *testing.T) {
			for i := range 3 {
				if got := e.post(t, tc.path, tc.body, appSecret); got != 200 {
					t.Fatalf("delivery %d = %d", i+1, got)
				}
			}
			if got := e.counter(t, "corral_gateway_messages", attribute.String("platform", name), attribute.String("outcome", "duplicate")); got != 2 {
				t.Errorf("duplicates counted %d, want 2", got)
			}
		})
	}
	if msgs := e.chatIn(t); len(msgs) != 2 {
		t.Fatalf("CHAT_IN holds %d messages after 3 deliveries of each of 2 webhooks, want 2", len(msgs))
	}
}

// TestJetStreamDown answers 503 while publishing cannot succeed, and 200
// again once it can, without duplicating what was published before.
func TestJetStreamDown(t *testing.T) {
	e := newEnv(t)
	first := waBody(waMsg{from: "1", id: "wamid.J1", text: "before"})
	if got := e.post(t, gateway.PathWhatsApp, first, appSecret); got != 200 {
		t.Fatalf("POST = %d", got)
	}
	// A delivery whose second conversation's stream is gone: the stream
	// CHAT_IN is deleted, so no server answers the publish.
	ctx := context.Background()
	if err := e.js.DeleteStream(ctx, e.streams.StreamName(corralv1.StreamChatIn)); err != nil {
		t.Fatal(err)
	}
	both := waBody(waMsg{from: "1", id: "wamid.J1", text: "before"}, waMsg{from: "2", id: "wamid.J2", text: "during"})
	if got := e.post(t, gateway.PathWhatsApp, both, appSecret); got != 503 {
		t.Fatalf("POST with CHAT_IN missing = %d, want 503", got)
	}
	if got := e.counter(t, "corral_gateway_webhooks", attribute.String("outcome", "unavailable")); got != 1 {
		t.Errorf("unavailable counted %d, want 1", got)
	}
	if err := natsbus.EnsureStreams(ctx, e.js, e.streams); err != nil {
		t.Fatal(err)
	}
	if got := e.post(t, gateway.PathWhatsApp, both, appSecret); got != 200 {
		t.Fatalf("retried POST = %d, want 200", got)
	}
	if msgs := e.chatIn(t); len(msgs) != 2 {
		t.Errorf("CHAT_IN holds %d messages, want 2", len(msgs))
	}
}

func TestNATSDisconnected(t *testing.T) {
	e := newEnv(t)
	e.nc.Close()
	began := time.Now()
	if got := e.post(t, gateway.PathMessenger, msBody(msText("73", "m_N1", "hi", 1733310000045)), appSecret); got != 503 {
		t.Fatalf("POST with NATS closed = %d, want 503", got)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("503 took %v; a closed connection should fail at once", took)
	}
	// An unparsable body cannot reach the DLQ either, so Meta must retry it.
	if got := e.post(t, gateway.PathMessenger, []byte("not json"), appSecret); got != 503 {
		t.Fatalf("unparsable POST with NATS closed = %d, want 503", got)
	}
}

func TestDeadLetterContent(t *testing.T) {
	e := newEnv(t)
	body := []byte(`{"object":"page","entry":"not a list"}`)
	for range 2 { // Meta's retry of the same body is a duplicate in the DLQ
		if got := e.post(t, gateway.PathMessenger, body, appSecret); got != 200 {
			t.Fatalf("POST = %d", got)
		}
	}
	dl := e.stored(t, corralv1.StreamChatDLQ)
	if len(dl) != 1 {
		t.Fatalf("DLQ holds %d messages, want 1", len(dl))
	}
	m := dl[0]
	if want := e.streams.Subject("chat.dlq.webhook.messenger"); m.Subject != want {
		t.Errorf("DLQ subject %q, want %q", m.Subject, want)
	}
	if !bytes.Equal(m.Data, body) {
		t.Errorf("DLQ body %q, want the raw body", m.Data)
	}
	for k, want := range map[string]string{
		natsbus.HeaderDLQReason:   gateway.DLQReasonNotWebhook,
		gateway.HeaderPlatform:    "messenger",
		webhook.SignatureHeader:   webhook.Sign(appSecret, body),
		natsbus.HeaderContentType: "application/json",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if e := m.Header.Get(natsbus.HeaderDLQError); !strings.Contains(e, "not a webhook") {
		t.Errorf("error header %q does not say why", e)
	}
	if _, err := time.Parse(time.RFC3339Nano, m.Header.Get(natsbus.HeaderDLQTime)); err != nil {
		t.Errorf("time header: %v", err)
	}
}

// TestBusinessReplies checks what the business side did reaches the
// conversation's subject in order, and Corral's own echoes do not.
func TestBusinessReplies(t *testing.T) {
	e := newEnv(t)
	const user = "7300000000000042"
	body := msBody(
		msText(user, "m_U1", "hello?", 1733310000001),
		msEcho(user, "m_OWN", "Hi! I'm Luna.", "corral:reply-1:0.0", 1733310000002),
		msEcho(user, "m_HUMAN", "Sam here, a real person.", "", 1733310000003),
		map[string]any{"sender": map[string]any{"id": user}, "recipient": map[string]any{"id": pageID}, "timestamp": 1733310000004,
			"take_thread_control": map[string]any{"previous_owner_app_id": "1517000000000001", "metadata": ""}},
	)
	if got := e.post(t, gateway.PathMessenger, body, appSecret); got != 200 {
		t.Fatalf("POST = %d", got)
	}
	wa := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"310000000000001","changes":[{"field":"smb_message_echoes","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"` + waChannel + `"},"message_echoes":[{"from":"15550001111","to":"5215512345678","id":"wamid.ECHO01","timestamp":"1733311700","type":"text","text":{"body":"Maria from the shop here."}}]}}]}]}`)
	if got := e.post(t, gateway.PathWhatsApp, wa, appSecret); got != 200 {
		t.Fatalf("POST = %d", got)
	}
	msgs := e.chatIn(t)
	var got []string
	for _, m := range msgs {
		got = append(got, m.GetKind().String()+"/"+m.GetBusiness().GetAction().String()+"/"+m.GetUserId())
	}
	want := []string{
		"MESSAGE_KIND_TEXT/BUSINESS_ACTION_UNSPECIFIED/" + user,
		"MESSAGE_KIND_BUSINESS_REPLY/BUSINESS_ACTION_HUMAN_MESSAGE/" + user,
		"MESSAGE_KIND_BUSINESS_REPLY/BUSINESS_ACTION_THREAD_TAKEN/" + user,
		"MESSAGE_KIND_BUSINESS_REPLY/BUSINESS_ACTION_HUMAN_MESSAGE/5215512345678",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("CHAT_IN holds\n%v\nwant\n%v", got, want)
	}
	if msgs[1].GetPlatformMessageId() != "m_HUMAN" || msgs[1].GetText() != "Sam here, a real person." {
		t.Errorf("human echo published as %v", msgs[1])
	}
	if !strings.HasPrefix(msgs[2].GetPlatformMessageId(), "business:take_thread_control:") {
		t.Errorf("handover id %q", msgs[2].GetPlatformMessageId())
	}
	if got := e.counter(t, "corral_gateway_ignored", attribute.String("reason", "own_echo")); got != 1 {
		t.Errorf("own echoes counted %d, want 1", got)
	}
}

func TestStatusesAndIgnoredItemsCounted(t *testing.T) {
	e := newEnv(t)
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"4"},
	"statuses":[{"id":"wamid.O1","status":"delivered","timestamp":"1733310000","recipient_id":"52"},{"id":"wamid.O2","status":"failed","timestamp":"1733310000","recipient_id":"52","errors":[{"code":131047,"title":"Re-engagement message"}]},{"id":"wamid.O3","status":"delivered","timestamp":"1733310001","recipient_id":"52"}],
	"messages":[{"from":"52","id":"wamid.X","timestamp":"1733310000","type":"reaction","reaction":{"message_id":"wamid.O1","emoji":"👍"}},{"from":"52","id":"wamid.Y","timestamp":"1733310000","type":"hologram"}]}},
	{"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}}]}]}`)
	if got := e.post(t, gateway.PathWhatsApp, body, appSecret); got != 200 {
		t.Fatalf("POST = %d", got)
	}
	checks := []struct {
		name  string
		attrs []attribute.KeyValue
		want  int64
	}{
		{"corral_gateway_statuses", []attribute.KeyValue{attribute.String("state", "delivered")}, 2},
		{"corral_gateway_statuses", []attribute.KeyValue{attribute.String("state", "failed")}, 1},
		{"corral_gateway_ignored", []attribute.KeyValue{attribute.String("reason", "reaction")}, 1},
		{"corral_gateway_ignored", []attribute.KeyValue{attribute.String("reason", "account_update")}, 1},
	}
	for _, c := range checks {
		if got := e.counter(t, c.name, c.attrs...); got != c.want {
			t.Errorf("%s%v = %d, want %d", c.name, c.attrs, got, c.want)
		}
	}
	// The unknown "hologram" type is either a warning or an unsupported
	// message; it must not be lost silently.
	warned := e.counter(t, "corral_gateway_warnings")
	published := int64(len(e.chatIn(t)))
	if warned+published != 1 {
		t.Errorf("unknown message type: %d warnings, %d published; want exactly one of them", warned, published)
	}
}

// TestTraceReachesNATS checks that the webhook's span continues the
// caller's trace, lists the message ids, and that the published message
// carries the trace on to the consumer.
func TestTraceReachesNATS(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	oldTP, oldProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(telemetry.Propagator())
	t.Cleanup(func() { otel.SetTracerProvider(oldTP); otel.SetTextMapPropagator(oldProp) })

	e := newEnv(t)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	parent := "00-" + traceID + "-00f067aa0ba902b7-01"
	body := waBody(waMsg{from: "5215512345678", id: "wamid.T1", text: "trace me"})
	if got := e.post(t, gateway.PathWhatsApp, body, appSecret, "traceparent", parent); got != 200 {
		t.Fatalf("POST = %d", got)
	}
	stored := e.stored(t, corralv1.StreamChatIn)
	if len(stored) != 1 {
		t.Fatalf("CHAT_IN holds %d", len(stored))
	}
	tp2 := stored[0].Header.Get("traceparent")
	if !strings.HasPrefix(tp2, "00-"+traceID+"-") {
		t.Fatalf("NATS message traceparent %q does not continue trace %s", tp2, traceID)
	}
	var webhookSpan sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			webhookSpan = s
		}
	}
	if webhookSpan == nil {
		t.Fatal("no webhook span")
	}
	if webhookSpan.SpanContext().TraceID().String() != traceID {
		t.Errorf("webhook span in trace %s, want %s", webhookSpan.SpanContext().TraceID(), traceID)
	}
	found := false
	for _, a := range webhookSpan.Attributes() {
		if a.Key == "corral.platform_message_ids" && strings.Join(a.Value.AsStringSlice(), ",") == "wamid.T1" {
			found = true
		}
	}
	if !found {
		t.Errorf("webhook span lacks the message id: %v", webhookSpan.Attributes())
	}
	// The consumer side continues the same trace.
	ctx := telemetry.ExtractNATS(context.Background(), natsHeader(stored[0]))
	if got := trace.SpanContextFromContext(ctx).TraceID().String(); got != traceID {
		t.Errorf("consumer would continue trace %s, want %s", got, traceID)
	}
}

func natsHeader(m *jetstream.RawStreamMsg) map[string][]string { return m.Header }

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*gateway.Config)
		want string
	}{
		{"defaults", func(*gateway.Config) {}, ""},
		{"tiny body", func(c *gateway.Config) { c.MaxBody = 10 }, gateway.EnvMaxBody},
		{"timeout too long", func(c *gateway.Config) { c.PublishTimeout = time.Minute }, gateway.EnvPublishTimeout},
		{"timeout zero", func(c *gateway.Config) { c.PublishTimeout = 0 }, gateway.EnvPublishTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := gateway.DefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

// TestLogsHoldNoUserText sends items the parser skips or reports, carrying
// user text, and checks the log names them without quoting the text.
func TestLogsHoldNoUserText(t *testing.T) {
	e := newEnv(t)
	const secret = "my card is 4111 1111 1111 1111"
	body := []byte(`{"object":"page","entry":[{"id":"` + pageID + `","time":1733310000123,"messaging":[
		{"sender":{"id":"73"},"recipient":{"id":"` + pageID + `"},"timestamp":1733310000001,"message":{"text":"` + secret + `"}},
		{"sender":{"id":"73"},"recipient":{"id":"` + pageID + `"},"timestamp":1733310000002,"message":{"mid":"m_1","text":{"nested":"` + secret + `"}}},
		{"sender":{"id":"73"},"recipient":{"id":"` + pageID + `"},"timestamp":1733310000003,"hologram":{"text":"` + secret + `"}}]}]}`)
	if got := e.post(t, gateway.PathMessenger, body, appSecret); got != 200 {
		t.Fatalf("POST = %d", got)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "skipped a webhook item") {
		t.Fatalf("no warning logged:\n%s", logs)
	}
	if strings.Contains(logs, "4111") {
		t.Errorf("the log quotes user text:\n%s", logs)
	}
	if got := e.counter(t, "corral_gateway_warnings"); got < 2 {
		t.Errorf("warnings counted %d, want at least 2", got)
	}
}

// TestLargeBatchInOrder posts one body of 1000 messages from 50 users, as
// Meta may batch them: all are stored before the 200 (published at once,
// acknowledged together), each user's in the order of their timestamps.
func TestLargeBatchInOrder(t *testing.T) {
	e := newEnv(t)
	const users, each = 50, 20
	var msgs []waMsg
	for i := range each {
		for u := range users {
			// Timestamps run backwards within the body for odd users.
			ts := int64(1733310000 + i)
			if u%2 == 1 {
				ts = int64(1733310000 + each - i)
			}
			msgs = append(msgs, waMsg{from: fmt.Sprint(5215500000000 + u), id: fmt.Sprintf("wamid.L%d.%d", u, i), text: fmt.Sprint(ts), ts: ts})
		}
	}
	if got := e.post(t, gateway.PathWhatsApp, waBody(msgs...), appSecret); got != 200 {
		t.Fatalf("POST = %d", got)
	}
	stored := e.chatIn(t)
	if len(stored) != users*each {
		t.Fatalf("CHAT_IN holds %d messages, want %d", len(stored), users*each)
	}
	last := map[string]string{}
	for _, m := range stored {
		if prev, ok := last[m.GetUserId()]; ok && m.GetText() < prev {
			t.Fatalf("user %s: %s stored after %s", m.GetUserId(), m.GetText(), prev)
		}
		last[m.GetUserId()] = m.GetText()
	}
}
