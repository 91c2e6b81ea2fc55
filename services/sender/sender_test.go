package sender_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/corral-ai/corral/bots/graph"
	"github.com/corral-ai/corral/bots/graphtest"
	"github.com/corral-ai/corral/inference/safety"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/sender"
)

// TestOneCallPerPart checks the Send API calls of a two-part reply, the
// second with quick replies, on each platform.
func TestOneCallPerPart(t *testing.T) {
	for _, p := range []corralv1.Platform{whatsapp, messenger} {
		t.Run(corralv1.PlatformToken(p), func(t *testing.T) {
			e := newEnv(t, graphtest.Options{Tokens: map[string][]string{defaultToken: nil}})
			e.start()
			user := "5215512345678"
			m := reply(p, user, "r1", "Hola Ana, soy Luna.", "¿Qué color prefieres?")
			m.Parts[1].QuickReplies = []*corralv1.QuickReply{{Title: "Rojo", Payload: "PICK_RED"}, {Title: "Azul"}}
			e.publish(m)
			sent := e.waitSent(2)
			e.quiet()
			if calls := e.graph.Calls(); len(calls) != 2 {
				t.Fatalf("%d calls, want 2:\n%s", len(calls), describe(calls))
			}
			first, second := sent[0], sent[1]
			if first.Text != "Hola Ana, soy Luna." || second.Text != "¿Qué color prefieres?" || first.Recipient != user || first.Platform != p {
				t.Fatalf("sent %q then %q to %s", first.Text, second.Text, first.Recipient)
			}
			if got := strings.Join(second.QuickReplies, ","); got != "Rojo,Azul" {
				t.Errorf("quick replies %q", got)
			}
			if got := strings.Join(second.Payloads, ","); got != "PICK_RED,Azul" {
				t.Errorf("payloads %q", got)
			}
			switch p {
			case whatsapp:
				if first.ReplyTo != "in-r1" || second.ReplyTo != "" {
					t.Errorf("quoted %q and %q; want the first message to quote in-r1 only", first.ReplyTo, second.ReplyTo)
				}
				if first.Kind != graphtest.CallText || second.Kind != graphtest.CallButtons {
					t.Errorf("kinds %s, %s", first.Kind, second.Kind)
				}
			case messenger:
				if first.Metadata != "corral:r1:0.0" || second.Metadata != "corral:r1:1.0" || first.MessagingType != "RESPONSE" {
					t.Errorf("metadata %q, %q, type %q", first.Metadata, second.Metadata, first.MessagingType)
				}
			}
			if got := e.counter("corral_sender_parts"); got != 2 {
				t.Errorf("parts counted %d", got)
			}
			if got := e.counter("corral_sender_replies", attribute.String("outcome", "sent")); got != 1 {
				t.Errorf("replies sent counted %d", got)
			}
		})
	}
}

// TestLongReplySplit checks a reply longer than the platform allows goes
// out as several messages within the limit, in order, losing no word.
func TestLongReplySplit(t *testing.T) {
	for _, p := range []corralv1.Platform{whatsapp, messenger} {
		t.Run(corralv1.PlatformToken(p), func(t *testing.T) {
			e := newEnv(t, graphtest.Options{})
			e.start()
			var words []string
			for i := range 1500 {
				words = append(words, fmt.Sprintf("palabra%d", i))
				if i%12 == 11 {
					words[len(words)-1] += "."
				}
			}
			text := strings.Join(words, " ")
			limit := graph.LimitsFor(p).Text
			want := (graph.TextLen(text) + limit - 1) / limit
			e.publish(reply(p, "5215512345678", "long", text))
			e.waitCalls("the whole reply", func(cs []graphtest.Call) bool {
				var got []string
				for _, c := range accepted(cs) {
					got = append(got, c.Text)
				}
				return strings.Join(got, " ") == text
			})
			sent := e.graph.Sent()
			if len(sent) < want || len(sent) > want+2 {
				t.Errorf("%d messages for %d characters at limit %d", len(sent), len(text), limit)
			}
			for i, c := range sent {
				if n := graph.TextLen(c.Text); n > limit {
					t.Errorf("message %d has %d characters, limit %d", i, n, limit)
				}
				if i < len(sent)-1 && !strings.HasSuffix(c.Text, ".") {
					t.Errorf("message %d does not end at a sentence: ...%q", i, c.Text[len(c.Text)-20:])
				}
			}
		})
	}
}

// TestRateLimitedDeliversEveryPieceOnce floods a rate-limited, flaky Send
// API with replies of many conversations; every piece must arrive exactly
// once, each conversation in order.
func TestRateLimitedDeliversEveryPieceOnce(t *testing.T) {
	e := newEnv(t, graphtest.Options{RateLimit: &graphtest.RateLimit{PerSecond: 40, Burst: 5, PairPerSecond: 4, PairBurst: 2, RetryAfter: true}, Seed: 7})
	e.graph.Inject(graphtest.Fault{Status: 502, RawBody: "<html>502 Bad Gateway</html>", Count: 3}) // a burst from a proxy
	e.graph.Inject(graphtest.Fault{Code: 2, Status: 500, Rate: 0.15, SendsOnly: true})              // Graph's transient error
	e.graph.Inject(graphtest.Fault{Drop: true, Rate: 0.05, SendsOnly: true})                        // connections dropped
	e.graph.Inject(graphtest.Fault{Platform: messenger, Code: 613, Rate: 0.2, SendsOnly: true})     // Messenger's send limit
	e.cfg.MaxAttempts = 100
	e.start()
	e.start() // two replicas share the consumer

	const convs, replies, parts = 8, 3, 3
	want := map[string][]string{} // recipient -> texts in order
	for r := range replies {
		for c := range convs {
			p := whatsapp
			if c%2 == 1 {
				p = messenger
			}
			user := fmt.Sprintf("5215500%04d", c)
			var texts []string
			for k := range parts {
				texts = append(texts, fmt.Sprintf("c%d r%d p%d", c, r, k))
			}
			want[user] = append(want[user], texts...)
			e.publish(reply(p, user, fmt.Sprintf("c%d-r%d", c, r), texts...))
		}
	}
	total := convs * replies * parts
	e.waitSent(total)
	e.quiet()
	sent := e.graph.Sent()
	if len(sent) != total {
		t.Errorf("%d messages accepted, want %d", len(sent), total)
	}
	got := map[string][]string{}
	for _, c := range sent {
		got[c.Recipient] = append(got[c.Recipient], c.Text)
	}
	for user, texts := range want {
		if !slices.Equal(got[user], texts) {
			t.Errorf("user %s got\n%v\nwant\n%v", user, got[user], texts)
		}
	}
	if e.counter("corral_sender_retries") == 0 {
		t.Error("no retries counted; the faults did not bite")
	}
	if d := e.dlq(); len(d) != 0 {
		t.Errorf("%d replies dead-lettered", len(d))
	}
}

// TestPermanentErrorNotRetried checks each kind of permanent failure is
// tried once, counted, and dead-lettered with its Graph code.
func TestPermanentErrorNotRetried(t *testing.T) {
	tests := []struct {
		name  string
		p     corralv1.Platform
		fault graphtest.Fault
		code  string
	}{
		{"whatsapp outside window", whatsapp, graphtest.OutsideWindow(whatsapp), "131047"},
		{"messenger outside window", messenger, graphtest.OutsideWindow(messenger), "10"},
		{"whatsapp user unavailable", whatsapp, graphtest.UserUnavailable(whatsapp), "131026"},
		{"messenger user unavailable", messenger, graphtest.UserUnavailable(messenger), "551"},
		{"bad token", whatsapp, graphtest.BadToken(), "190"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, graphtest.Options{})
			e.graph.Inject(tt.fault)
			e.start()
			e.publish(reply(tt.p, "5215512345678", "perm", "first", "second"))
			dl := e.waitDLQ(1)
			e.quiet()
			if calls := e.graph.Calls(); len(calls) != 1 {
				t.Fatalf("%d calls, want 1:\n%s", len(calls), describe(calls))
			}
			if r := dl[0].Header.Get(natsbus.HeaderDLQReason); r != natsbus.DLQReasonPermanent {
				t.Errorf("DLQ reason %q", r)
			}
			if msg := dl[0].Header.Get(natsbus.HeaderDLQError); !strings.Contains(msg, "graph error "+tt.code) {
				t.Errorf("DLQ error %q lacks the Graph code %s", msg, tt.code)
			}
			if got := e.counter("corral_sender_send_errors", attribute.String("code", tt.code)); got != 1 {
				t.Errorf("send errors with code %s counted %d", tt.code, got)
			}
			if got := e.counter("corral_sender_retries"); got != 0 {
				t.Errorf("%d retries counted", got)
			}
		})
	}
}

// TestGivesUpAfterMaxAttempts dead-letters a reply that keeps failing.
func TestGivesUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t, graphtest.Options{}, func(c *sender.Config) { c.MaxAttempts = 3 })
	e.graph.Inject(graphtest.ServerError())
	e.start()
	e.publish(reply(whatsapp, "5215512345678", "doomed", "hello"))
	dl := e.waitDLQ(1)
	if calls := e.graph.Calls(); len(calls) != 3 {
		t.Errorf("%d calls, want 3 tries", len(calls))
	}
	if msg := dl[0].Header.Get(natsbus.HeaderDLQError); !strings.Contains(msg, "gave up after 3 tries") || !strings.Contains(msg, "graph error 2") {
		t.Errorf("DLQ error %q", msg)
	}
}

// TestCrashMidReplySendsNoPieceTwice kills a sender while it sends the
// second of three pieces (its NATS connection goes away and the call
// fails); another sender gets the reply after the ack wait and sends only
// what is missing.
func TestCrashMidReplySendsNoPieceTwice(t *testing.T) {
	var victim *running
	var e *env
	e = newEnv(t, graphtest.Options{OnCall: func(c graphtest.Call) {
		switch {
		case c.Text == "one" && c.Accepted():
			// The next send fails as if the sender died during the call.
			e.graph.Inject(graphtest.Fault{Drop: true, Count: 1, SendsOnly: true})
		case c.Text == "two" && !c.Accepted():
			victim.nc.Close() // the process is gone: it can neither ack nor nak
		}
	}}, func(c *sender.Config) { c.AckWait = time.Second })
	victim = e.start()
	e.publish(reply(whatsapp, "5215512345678", "crash", "one", "two", "three"))
	e.waitCalls("the second piece", func(cs []graphtest.Call) bool {
		for _, c := range cs {
			if c.Text == "two" {
				return true
			}
		}
		return false
	})
	e.start() // the replacement
	e.waitSent(3)
	e.quiet()
	sent := e.graph.Sent()
	var texts []string
	for _, c := range sent {
		texts = append(texts, c.Text)
	}
	if strings.Join(texts, ",") != "one,two,three" {
		t.Fatalf("accepted %v, want one,two,three once each", texts)
	}
	tries := 0
	for _, c := range e.graph.Calls() {
		if c.Text == "two" {
			tries++
		}
	}
	if tries != 2 {
		t.Errorf("the second piece was tried %d times, want 2 (dropped with the victim, then sent by the replacement)", tries)
	}
}

// TestRedeliveredReplySendsNothingAgain publishes a finished reply again
// (a chat worker answering the same message after a crash, past the
// duplicate window).
func TestRedeliveredReplySendsNothingAgain(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	e.start()
	m := reply(messenger, "7300000000000042", "again", "only once", "and this")
	e.publish(m)
	e.waitSent(2)
	e.publishAs(m, "another-msg-id")
	deadline := time.Now().Add(waitLimit)
	for e.counter("corral_sender_replies", attribute.String("outcome", "duplicate")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the second copy was not handled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(e.graph.Calls()); n != 2 {
		t.Fatalf("%d calls after the redelivery, want 2", n)
	}
}

// TestOrderBehindRateLimitedReply checks a reply waits for the earlier,
// rate-limited reply of its conversation, while another conversation's
// reply goes out at once.
func TestOrderBehindRateLimitedReply(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	e.graph.Inject(graphtest.Fault{Platform: whatsapp, Recipient: "5215500000111", Code: 131056, Count: 2, RetryAfter: 400 * time.Millisecond})
	e.start()
	e.publish(reply(whatsapp, "5215500000111", "a1", "first"))
	e.publish(reply(whatsapp, "5215500000111", "a2", "second"))
	e.publish(reply(whatsapp, "5215500000222", "b1", "other conversation"))
	e.waitSent(3)
	sent := e.graph.Sent()
	var order []string
	for _, c := range sent {
		order = append(order, c.Text)
	}
	if strings.Join(order, ",") != "other conversation,first,second" {
		t.Fatalf("sent %v, want the other conversation first, then first, second", order)
	}
	if e.counter("corral_sender_replies", attribute.String("outcome", "held")) == 0 {
		t.Error("the second reply was never held")
	}
}

// TestSafetyReplacesRefusedPart checks a refused part goes out as the
// refusal and ends the reply.
func TestSafetyReplacesRefusedPart(t *testing.T) {
	harmful := "Sure. Here is how to make a pipe bomb at home: fill a steel pipe with gunpowder and add a fuse."
	stage, err := safety.New(safety.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v := stage.Check(harmful, safety.Assistant, nil); v.Action != safety.ActionRefuse {
		t.Fatalf("fixture not refused by the safety stage (%s); pick another", v.Reason)
	}
	e := newEnv(t, graphtest.Options{})
	e.start()
	e.publish(reply(messenger, "7300000000000042", "unsafe", "Happy to help.", harmful, "Anything else?"))
	e.waitSent(2)
	e.quiet()
	sent := e.graph.Sent()
	if len(sent) != 2 || sent[0].Text != "Happy to help." || sent[1].Text != safety.DefaultRefusal {
		t.Fatalf("sent:\n%s", describe(sent))
	}
	if got := e.counter("corral_sender_safety_replaced"); got != 1 {
		t.Errorf("replacements counted %d", got)
	}
}

// TestActions checks typing and read receipts on both platforms, and that
// stale, late and failed ones are dropped without retries.
func TestActions(t *testing.T) {
	const (
		typing  = corralv1.OutboundAction_OUTBOUND_ACTION_TYPING
		read    = corralv1.OutboundAction_OUTBOUND_ACTION_MARK_READ
		typeOff = corralv1.OutboundAction_OUTBOUND_ACTION_TYPING_OFF
	)
	tests := []struct {
		name    string
		msg     func() *corralv1.OutboundMessage
		before  func(e *env)
		calls   []string // kind/action of each call
		outcome string
	}{
		{"whatsapp typing", func() *corralv1.OutboundMessage { return action(whatsapp, "5215512345678", "t1", typing) }, nil, []string{"read/typing"}, "sent"},
		{"whatsapp read", func() *corralv1.OutboundMessage { return action(whatsapp, "5215512345678", "t2", read) }, nil, []string{"read/"}, "sent"},
		{"whatsapp typing off", func() *corralv1.OutboundMessage { return action(whatsapp, "5215512345678", "t3", typeOff) }, nil, nil, "unsupported"},
		{"messenger typing", func() *corralv1.OutboundMessage { return action(messenger, "73", "t4", typing) }, nil, []string{"action/mark_seen", "action/typing_on"}, "sent"},
		{"messenger read", func() *corralv1.OutboundMessage { return action(messenger, "73", "t5", read) }, nil, []string{"action/mark_seen"}, "sent"},
		{"messenger typing off", func() *corralv1.OutboundMessage { return action(messenger, "73", "t6", typeOff) }, nil, []string{"action/typing_off"}, "sent"},
		{"stale", func() *corralv1.OutboundMessage {
			m := action(whatsapp, "5215512345678", "t7", typing)
			m.CreatedTime = timestamppb.New(time.Now().Add(-time.Minute))
			return m
		}, nil, nil, "stale"},
		{"failed is not retried", func() *corralv1.OutboundMessage { return action(messenger, "73", "t8", read) },
			func(e *env) { e.graph.Inject(graphtest.ServerError()) }, []string{"action/mark_seen"}, "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, graphtest.Options{})
			if tt.before != nil {
				tt.before(e)
			}
			e.start()
			m := tt.msg()
			e.publish(m)
			deadline := time.Now().Add(waitLimit)
			for e.counter("corral_sender_actions", attribute.String("outcome", tt.outcome)) != 1 {
				if time.Now().After(deadline) {
					t.Fatalf("no action counted as %s; calls:\n%s", tt.outcome, describe(e.graph.Calls()))
				}
				time.Sleep(20 * time.Millisecond)
			}
			e.quiet()
			var got []string
			for _, c := range e.graph.Calls() {
				a := c.Action
				if c.Kind == graphtest.CallRead {
					if c.Typing {
						a = "typing"
					}
					if c.ReadMessageID != m.GetInReplyTo() {
						t.Errorf("read receipt for %q, want %q", c.ReadMessageID, m.GetInReplyTo())
					}
				}
				got = append(got, string(c.Kind)+"/"+a)
			}
			if !slices.Equal(got, tt.calls) {
				t.Errorf("calls %v, want %v", got, tt.calls)
			}
		})
	}
}

// TestActionAfterReplySkipped checks an action that arrives after its
// reply was sent does nothing.
func TestActionAfterReplySkipped(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	e.start()
	e.publish(reply(whatsapp, "5215512345678", "late", "the answer"))
	e.waitSent(1)
	e.publish(action(whatsapp, "5215512345678", "late", corralv1.OutboundAction_OUTBOUND_ACTION_TYPING))
	deadline := time.Now().Add(waitLimit)
	for e.counter("corral_sender_actions", attribute.String("outcome", "after_reply")) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("late action not counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(e.graph.Calls()); n != 1 {
		t.Errorf("%d calls, want only the reply", n)
	}
}
