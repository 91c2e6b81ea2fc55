package whatsapp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/corral-ai/corral/bots/graph"
	"github.com/corral-ai/corral/bots/graphtest"
	"github.com/corral-ai/corral/bots/split"
	"github.com/corral-ai/corral/bots/whatsapp"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

const phoneID = "420000000000002"

var ch = whatsapp.Channel{PhoneNumberID: phoneID, AccessToken: "wa-token"}

func newClient(t *testing.T, opts graphtest.Options) (*whatsapp.Client, *graphtest.Server) {
	t.Helper()
	if opts.Tokens == nil {
		opts.Tokens = map[string][]string{"wa-token": {phoneID}}
	}
	fake := graphtest.NewServer(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := graphtest.Config(srv.URL)
	cfg.Timeout = 2 * time.Second
	c, err := whatsapp.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, fake
}

func TestSendText(t *testing.T) {
	c, fake := newClient(t, graphtest.Options{})
	sent, err := c.SendText(t.Context(), ch, whatsapp.Text{To: "5215512345678", Body: "¡Hola Ana! Soy Luna.", ReplyTo: "wamid.IN1", PreviewURL: true})
	if err != nil {
		t.Fatal(err)
	}
	calls := fake.Sent()
	if len(calls) != 1 {
		t.Fatalf("%d sends", len(calls))
	}
	got := calls[0]
	if sent.MessageID != got.MessageID || sent.WaID != "5215512345678" || got.Text != "¡Hola Ana! Soy Luna." ||
		got.ReplyTo != "wamid.IN1" || got.Recipient != "5215512345678" || got.Channel != phoneID || got.Kind != graphtest.CallText {
		t.Fatalf("sent %+v, call %+v", sent, got)
	}
	if !strings.Contains(string(got.Body), `"preview_url":true`) || !strings.Contains(string(got.Body), `"recipient_type":"individual"`) {
		t.Fatalf("body %s", got.Body)
	}

	// A business-scoped user id goes in "recipient".
	if _, err := c.SendText(t.Context(), ch, whatsapp.Text{To: "US.1349000000000000000000", Body: "hi"}); err != nil {
		t.Fatal(err)
	}
	last := fake.Sent()[1]
	if !strings.Contains(string(last.Body), `"recipient":"US.1349000000000000000000"`) || strings.Contains(string(last.Body), `"to"`) {
		t.Fatalf("body %s", last.Body)
	}
}

func TestSendButtonsAndMarkRead(t *testing.T) {
	c, fake := newClient(t, graphtest.Options{})
	_, err := c.SendButtons(t.Context(), ch, whatsapp.Buttons{To: "5215512345678", Body: "Pick a colour",
		Buttons: []whatsapp.Button{{ID: "PICK_RED", Title: "Red"}, {ID: "PICK_BLUE", Title: "Blue"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MarkRead(t.Context(), ch, "wamid.IN1", true); err != nil {
		t.Fatal(err)
	}
	if err := c.MarkRead(t.Context(), ch, "wamid.IN2", false); err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls()
	if calls[0].Kind != graphtest.CallButtons || strings.Join(calls[0].QuickReplies, ",") != "Red,Blue" || strings.Join(calls[0].Payloads, ",") != "PICK_RED,PICK_BLUE" {
		t.Fatalf("buttons %+v", calls[0])
	}
	if calls[1].Kind != graphtest.CallRead || !calls[1].Typing || calls[1].ReadMessageID != "wamid.IN1" || calls[2].Typing {
		t.Fatalf("reads %+v %+v", calls[1], calls[2])
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	c, fake := newClient(t, graphtest.Options{})
	lim := graph.LimitsFor(corralv1.Platform_PLATFORM_WHATSAPP)
	three := []whatsapp.Button{{ID: "1", Title: "a"}, {ID: "2", Title: "b"}, {ID: "3", Title: "c"}}
	tests := []struct {
		name string
		send func() error
		kind graph.Kind
	}{
		{"empty text", func() error { _, err := c.SendText(t.Context(), ch, whatsapp.Text{To: "1", Body: ""}); return err }, graph.KindInvalidRequest},
		{"no recipient", func() error { _, err := c.SendText(t.Context(), ch, whatsapp.Text{Body: "x"}); return err }, graph.KindInvalidRequest},
		{"text too long", func() error {
			_, err := c.SendText(t.Context(), ch, whatsapp.Text{To: "1", Body: strings.Repeat("😀", lim.Text/2+1)})
			return err
		}, graph.KindInvalidRequest},
		{"no token", func() error {
			_, err := c.SendText(t.Context(), whatsapp.Channel{PhoneNumberID: phoneID}, whatsapp.Text{To: "1", Body: "x"})
			return err
		}, graph.KindAuth},
		{"no phone number id", func() error {
			_, err := c.SendText(t.Context(), whatsapp.Channel{AccessToken: "t"}, whatsapp.Text{To: "1", Body: "x"})
			return err
		}, graph.KindInvalidRequest},
		{"four buttons", func() error {
			_, err := c.SendButtons(t.Context(), ch, whatsapp.Buttons{To: "1", Body: "x", Buttons: append(three, whatsapp.Button{ID: "4", Title: "d"})})
			return err
		}, graph.KindInvalidRequest},
		{"long button title", func() error {
			_, err := c.SendButtons(t.Context(), ch, whatsapp.Buttons{To: "1", Body: "x", Buttons: []whatsapp.Button{{ID: "1", Title: strings.Repeat("t", 21)}}})
			return err
		}, graph.KindInvalidRequest},
		{"duplicate button", func() error {
			_, err := c.SendButtons(t.Context(), ch, whatsapp.Buttons{To: "1", Body: "x", Buttons: []whatsapp.Button{{ID: "1", Title: "a"}, {ID: "1", Title: "b"}}})
			return err
		}, graph.KindInvalidRequest},
		{"buttons body too long", func() error {
			_, err := c.SendButtons(t.Context(), ch, whatsapp.Buttons{To: "1", Body: strings.Repeat("x", lim.QuickReplyText+1), Buttons: three})
			return err
		}, graph.KindInvalidRequest},
		{"read without id", func() error { return c.MarkRead(t.Context(), ch, "", true) }, graph.KindInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.send()
			if graph.KindOf(err) != tt.kind || graph.Retryable(err) {
				t.Fatalf("err = %v (%s)", err, graph.KindOf(err))
			}
			if tt.kind == graph.KindInvalidRequest && !errors.Is(err, graph.ErrInvalidMessage) {
				t.Fatalf("err = %v, want ErrInvalidMessage", err)
			}
		})
	}
	if n := len(fake.Calls()); n != 0 {
		t.Fatalf("%d calls reached the API", n)
	}
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name      string
		fault     graphtest.Fault
		kind      graph.Kind
		code      int
		retryable bool
		after     time.Duration
	}{
		{"throughput", func() graphtest.Fault {
			f := graphtest.RateLimited(corralv1.Platform_PLATFORM_WHATSAPP)
			f.RetryAfter = 3 * time.Second
			return f
		}(), graph.KindRateLimit, 130429, true, 3 * time.Second},
		{"pair", graphtest.PairRateLimited(), graph.KindRateLimit, 131056, true, 0},
		{"server error", graphtest.ServerError(), graph.KindTemporary, 2, true, 0},
		{"bad gateway", graphtest.BadGateway(), graph.KindTemporary, 0, true, 0},
		{"dropped", graphtest.Fault{Drop: true}, graph.KindNetwork, 0, true, 0},
		{"slow", graphtest.Fault{Delay: time.Second}, graph.KindTimeout, 0, true, 0},
		{"outside window", graphtest.OutsideWindow(corralv1.Platform_PLATFORM_WHATSAPP), graph.KindOutsideWindow, 131047, false, 0},
		{"undeliverable", graphtest.UserUnavailable(corralv1.Platform_PLATFORM_WHATSAPP), graph.KindUserUnavailable, 131026, false, 0},
		{"expired token", graphtest.BadToken(), graph.KindAuth, 190, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fake := newClient(t, graphtest.Options{})
			fake.Inject(tt.fault)
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			_, err := c.SendText(ctx, ch, whatsapp.Text{To: "5215512345678", Body: "hi"})
			var ge *graph.Error
			if !errors.As(err, &ge) {
				t.Fatalf("err = %v", err)
			}
			if ge.Kind != tt.kind || ge.Code != tt.code || ge.Retryable() != tt.retryable || ge.RetryAfter != tt.after {
				t.Fatalf("got %+v", ge)
			}
			if tt.code != 0 && ge.FBTraceID == "" {
				t.Fatalf("no fbtrace id: %+v", ge)
			}
		})
	}
}

func TestTracePropagation(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })
	c, fake := newClient(t, graphtest.Options{})
	ctx, span := tp.Tracer("test").Start(t.Context(), "reply")
	_, err := c.SendText(ctx, ch, whatsapp.Text{To: "5215512345678", Body: "hi"})
	span.End()
	if err != nil {
		t.Fatal(err)
	}
	if tpHeader := fake.Calls()[0].TraceParent; !strings.Contains(tpHeader, span.SpanContext().TraceID().String()) {
		t.Fatalf("traceparent %q, trace %s", tpHeader, span.SpanContext().TraceID())
	}
}

// TestRateLimitedRepliesArriveOnce sends a long reply, split at the
// platform limit, through a throttled and flaky fake with a retry loop that
// follows the classification: every part arrives once, in order.
func TestRateLimitedRepliesArriveOnce(t *testing.T) {
	c, fake := newClient(t, graphtest.Options{Seed: 7, RateLimit: &graphtest.RateLimit{PerSecond: 50, Burst: 1}})
	flaky := graphtest.ServerError()
	flaky.Rate = 0.2
	fake.Inject(flaky)
	reply := strings.Repeat("Every sentence here is part of a long answer that must be split. ", 400)
	parts := split.Text(reply, graph.LimitsFor(corralv1.Platform_PLATFORM_WHATSAPP).Text)
	if len(parts) < 5 {
		t.Fatalf("only %d parts", len(parts))
	}
	for i, p := range parts {
		for attempt := 0; ; attempt++ {
			_, err := c.SendText(t.Context(), ch, whatsapp.Text{To: "5215512345678", Body: p})
			if err == nil {
				break
			}
			if !graph.Retryable(err) || attempt > 50 {
				t.Fatalf("part %d attempt %d: %v", i, attempt, err)
			}
			wait := graph.RetryAfter(err)
			if wait == 0 {
				wait = 10 * time.Millisecond
			}
			time.Sleep(wait)
		}
	}
	sent := fake.Sent()
	if len(sent) != len(parts) {
		t.Fatalf("%d sends for %d parts", len(sent), len(parts))
	}
	for i, s := range sent {
		if s.Text != parts[i] {
			t.Fatalf("send %d is not part %d", i, i)
		}
	}
	var throttled, failed int
	for _, call := range fake.Calls() {
		switch call.ErrorCode {
		case 130429:
			throttled++
		case 2:
			failed++
		}
	}
	t.Logf("%d parts, %d throttled, %d server errors", len(parts), throttled, failed)
	if throttled+failed == 0 {
		t.Fatal("no call was throttled or failed; the test proves nothing")
	}
}

// TestConcurrentSends checks that the fake gives every accepted message its
// own id and records each once under concurrent senders.
func TestConcurrentSends(t *testing.T) {
	c, fake := newClient(t, graphtest.Options{})
	const users, perUser = 20, 10
	errs := make(chan error, users)
	for u := range users {
		go func() {
			var err error
			for i := range perUser {
				if _, err = c.SendText(t.Context(), ch, whatsapp.Text{To: fmt.Sprintf("52155%08d", u), Body: fmt.Sprintf("reply %d", i)}); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range users {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	sent := fake.Sent()
	ids := map[string]bool{}
	perRecipient := map[string][]string{}
	for _, s := range sent {
		ids[s.MessageID] = true
		perRecipient[s.Recipient] = append(perRecipient[s.Recipient], s.Text)
	}
	if len(sent) != users*perUser || len(ids) != len(sent) {
		t.Fatalf("%d sends, %d distinct ids", len(sent), len(ids))
	}
	for r, texts := range perRecipient {
		for i, text := range texts {
			if text != fmt.Sprintf("reply %d", i) {
				t.Fatalf("%s got %q as message %d", r, text, i)
			}
		}
	}
}
