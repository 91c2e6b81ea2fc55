package chat

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
	"github.com/corral-ai/corral/services/internal/natstest"
)

// TestConvOrderReady walks one conversation through its messages on a
// real stream and Redis: a batch is ready only when every earlier
// message of its conversation is finished or in the batch, a batch with a
// gap answers the part before it, and other conversations never wait.
func TestConvOrderReady(t *testing.T) {
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
	publish := func(user, id string) (string, uint64) {
		m := &corralv1.ChatMessage{Platform: corralv1.Platform_PLATFORM_WHATSAPP, ChannelId: "42", UserId: user,
			PlatformMessageId: id, Kind: corralv1.MessageKind_MESSAGE_KIND_TEXT, Text: id}
		subject := streams.Subject(corralv1.ChatInSubject(m.Conversation()))
		ack, err := natsbus.Publish(t.Context(), js, subject, m.DedupeID(), m)
		if err != nil {
			t.Fatal(err)
		}
		return subject, ack.Sequence
	}
	u, s1 := publish("u", "m1")
	v, x := publish("v", "x1")
	_, s2 := publish("u", "m2")
	_, s3 := publish("u", "m3")

	st, _ := newState(t)
	o := &convOrder{state: st, log: slog.New(slog.DiscardHandler)}
	if err := o.open(t.Context(), js, streams.StreamName(corralv1.StreamChatIn)); err != nil {
		t.Fatal(err)
	}
	if o.ttl != 24*time.Hour+orderSlack {
		t.Errorf("watermark ttl %v, want the stream's max age and the slack", o.ttl)
	}
	steps := []struct {
		name    string
		finish  uint64 // finished before the check, 0: none
		subject string
		seqs    []uint64
		want    int
	}{
		{"first message", 0, u, []uint64{s1}, 1},
		{"second before the first", 0, u, []uint64{s2}, 0},
		{"gap in the batch", 0, u, []uint64{s1, s3}, 1},
		{"whole conversation", 0, u, []uint64{s1, s2, s3}, 3},
		{"another conversation", 0, v, []uint64{x}, 1},
		{"second after the first", s1, u, []uint64{s2}, 1},
		{"third still behind the second", 0, u, []uint64{s3}, 0},
		{"first again (redelivery)", 0, u, []uint64{s1}, 1},
		{"redelivery and the rest", 0, u, []uint64{s1, s2, s3}, 3},
		{"third after the second", s2, u, []uint64{s3}, 1},
		{"watermark never goes back", s1, u, []uint64{s3}, 1},
	}
	for _, step := range steps {
		if step.finish != 0 {
			o.finished(step.subject, step.finish)
		}
		if got := o.ready(t.Context(), step.subject, step.seqs); got != step.want {
			t.Errorf("%s: ready(%v) = %d, want %d", step.name, step.seqs, got, step.want)
		}
	}
}
