package messenger_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/corral-ai/corral/bots/graph"
	"github.com/corral-ai/corral/bots/graphtest"
	"github.com/corral-ai/corral/bots/messenger"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

const (
	pageID = "104000000000001"
	psid   = "7300000000000042"
)

var ch = messenger.Channel{PageID: pageID, AccessToken: "page-token"}

func newClient(t *testing.T, opts graphtest.Options) (*messenger.Client, *graphtest.Server) {
	t.Helper()
	if opts.Tokens == nil {
		opts.Tokens = map[string][]string{"page-token": {pageID}}
	}
	fake := graphtest.NewServer(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	c, err := messenger.NewClient(graphtest.Config(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return c, fake
}

func TestSendText(t *testing.T) {
	c, fake := newClient(t, graphtest.Options{})
	sent, err := c.SendText(t.Context(), ch, messenger.Text{To: psid, Text: "Hi! I'm Luna. Pick one:", Metadata: "corral:r1:0",
		QuickReplies: []messenger.QuickReply{{Title: "Red", Payload: "PICK_RED"}, {Title: "Blue", Payload: "PICK_BLUE"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := fake.Sent()[0]
	if sent.MessageID != got.MessageID || sent.RecipientID != psid || got.Channel != pageID || got.MessagingType != "RESPONSE" ||
		got.Metadata != "corral:r1:0" || strings.Join(got.QuickReplies, ",") != "Red,Blue" || strings.Join(got.Payloads, ",") != "PICK_RED,PICK_BLUE" {
		t.Fatalf("sent %+v call %+v", sent, got)
	}
	// Without a Page id the call goes to /me, which the token resolves.
	if _, err := c.SendText(t.Context(), messenger.Channel{AccessToken: "page-token"}, messenger.Text{To: psid, Text: "via me"}); err != nil {
		t.Fatal(err)
	}
	if c := fake.Sent()[1]; c.Channel != pageID {
		t.Fatalf("/me resolved to %q", c.Channel)
	}
}

func TestSendAction(t *testing.T) {
	c, fake := newClient(t, graphtest.Options{})
	for _, a := range []messenger.Action{messenger.MarkSeen, messenger.TypingOn, messenger.TypingOff} {
		if err := c.SendAction(t.Context(), ch, psid, a); err != nil {
			t.Fatal(err)
		}
	}
	calls := fake.Calls()
	if len(calls) != 3 || calls[0].Action != "mark_seen" || calls[1].Action != "typing_on" || calls[2].Kind != graphtest.CallAction || len(fake.Sent()) != 0 {
		t.Fatalf("calls %+v", calls)
	}
	if err := c.SendAction(t.Context(), ch, psid, "dance"); graph.KindOf(err) != graph.KindInvalidRequest {
		t.Fatalf("unknown action: %v", err)
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	c, fake := newClient(t, graphtest.Options{})
	lim := graph.LimitsFor(corralv1.Platform_PLATFORM_MESSENGER)
	qr := func(n int) []messenger.QuickReply {
		out := make([]messenger.QuickReply, n)
		for i := range out {
			out[i] = messenger.QuickReply{Title: "t", Payload: "p"}
		}
		return out
	}
	tests := []struct {
		name string
		m    messenger.Text
	}{
		{"empty", messenger.Text{To: psid}},
		{"no recipient", messenger.Text{Text: "x"}},
		{"too long", messenger.Text{To: psid, Text: strings.Repeat("x", lim.Text+1)}},
		{"too many quick replies", messenger.Text{To: psid, Text: "x", QuickReplies: qr(lim.QuickReplies + 1)}},
		{"long title", messenger.Text{To: psid, Text: "x", QuickReplies: []messenger.QuickReply{{Title: strings.Repeat("t", 21), Payload: "p"}}}},
		{"long payload", messenger.Text{To: psid, Text: "x", QuickReplies: []messenger.QuickReply{{Title: "t", Payload: strings.Repeat("p", 1001)}}}},
		{"empty payload", messenger.Text{To: psid, Text: "x", QuickReplies: []messenger.QuickReply{{Title: "t"}}}},
		{"tag missing", messenger.Text{To: psid, Text: "x", MessagingType: messenger.MessagingTag}},
		{"unknown type", messenger.Text{To: psid, Text: "x", MessagingType: "SPAM"}},
		{"long metadata", messenger.Text{To: psid, Text: "x", Metadata: strings.Repeat("m", 1001)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.SendText(t.Context(), ch, tt.m)
			if graph.KindOf(err) != graph.KindInvalidRequest || !errors.Is(err, graph.ErrInvalidMessage) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if _, err := c.SendText(t.Context(), messenger.Channel{PageID: pageID}, messenger.Text{To: psid, Text: "x"}); graph.KindOf(err) != graph.KindAuth {
		t.Fatalf("no token: %v", err)
	}
	if n := len(fake.Calls()); n != 0 {
		t.Fatalf("%d calls reached the API", n)
	}
	// At the limits exactly, the fake (like Meta) accepts.
	if _, err := c.SendText(t.Context(), ch, messenger.Text{To: psid, Text: strings.Repeat("ü", lim.Text), QuickReplies: qr(lim.QuickReplies)}); err != nil {
		t.Fatal(err)
	}
}

func TestErrorClassification(t *testing.T) {
	ms := corralv1.Platform_PLATFORM_MESSENGER
	tests := []struct {
		name      string
		fault     graphtest.Fault
		kind      graph.Kind
		code, sub int
	}{
		{"rate limit", graphtest.RateLimited(ms), graph.KindRateLimit, 613, 0},
		{"app limit", graphtest.Fault{Code: 4}, graph.KindRateLimit, 4, 0},
		{"temporary send failure", graphtest.Fault{Code: 1200}, graph.KindTemporary, 1200, 0},
		{"outside window", graphtest.OutsideWindow(ms), graph.KindOutsideWindow, 10, 2018278},
		{"unavailable", graphtest.UserUnavailable(ms), graph.KindUserUnavailable, 551, 1545041},
		{"cannot receive", graphtest.Fault{Code: 10, Subcode: 2018108}, graph.KindUserUnavailable, 10, 2018108},
		{"app not live", graphtest.Fault{Code: 200, Subcode: 2018028}, graph.KindPermission, 200, 2018028},
		{"no pages_messaging", graphtest.Fault{Code: 230}, graph.KindPermission, 230, 0},
		{"bad token", graphtest.BadToken(), graph.KindAuth, 190, 463},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, fake := newClient(t, graphtest.Options{})
			fake.Inject(tt.fault)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			_, err := c.SendText(ctx, ch, messenger.Text{To: psid, Text: "hi"})
			var ge *graph.Error
			if !errors.As(err, &ge) || ge.Kind != tt.kind || ge.Code != tt.code || ge.Subcode != tt.sub {
				t.Fatalf("err = %v (%+v)", err, ge)
			}
			if ge.Retryable() != tt.kind.Retryable() {
				t.Fatalf("retryable %v", ge.Retryable())
			}
		})
	}
}

// TestPermanentErrorNotRetried checks that a caller following the
// classification sends a permanently failing message once.
func TestPermanentErrorNotRetried(t *testing.T) {
	c, fake := newClient(t, graphtest.Options{})
	f := graphtest.OutsideWindow(corralv1.Platform_PLATFORM_MESSENGER)
	f.Recipient = psid
	fake.Inject(f)
	for attempt := range 5 {
		_, err := c.SendText(t.Context(), ch, messenger.Text{To: psid, Text: "hello again"})
		if err == nil {
			t.Fatal("accepted")
		}
		if !graph.Retryable(err) {
			break
		}
		if attempt == 4 {
			t.Fatal("retried a permanent error")
		}
	}
	if n := len(fake.Calls()); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}
