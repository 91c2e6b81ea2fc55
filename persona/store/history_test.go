package store_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

func TestHistory(t *testing.T) {
	e := newEnvWith(t, store.Config{HistoryLimit: 5, HistoryTTL: time.Hour})
	ctx := t.Context()
	conv := corralv1.Conversation{Platform: whatsapp, ChannelID: "100", UserID: "49151"}
	other := corralv1.Conversation{Platform: whatsapp, ChannelID: "100", UserID: "49152"}

	if h, err := e.s.History(ctx, conv, 0); err != nil || len(h) != 0 {
		t.Fatalf("empty history = %v, %v", h, err)
	}
	var all []persona.Message
	for i := range 4 {
		turn := []persona.Message{
			{Role: persona.User, Content: fmt.Sprintf("question %d", i)},
			{Role: persona.Assistant, Content: fmt.Sprintf("answer %d ✨", i)},
		}
		if err := e.s.AppendHistory(ctx, conv, turn...); err != nil {
			t.Fatal(err)
		}
		all = append(all, turn...)
	}
	if err := e.s.AppendHistory(ctx, other, persona.Message{Role: persona.User, Content: "hi"}); err != nil {
		t.Fatal(err)
	}
	h, err := e.s.History(ctx, conv, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h, all[3:]) {
		t.Errorf("History() kept %v, want the last 5: %v", h, all[3:])
	}
	if h, _ := e.s.History(ctx, conv, 2); !reflect.DeepEqual(h, all[6:]) {
		t.Errorf("History(2) = %v", h)
	}
	ttl := e.raw.PTTL(ctx, e.cfg.Prefix+"history:"+conv.Key()).Val()
	if ttl <= 0 || ttl > time.Hour {
		t.Errorf("history expires in %v, want within an hour", ttl)
	}
	if err := e.s.AppendHistory(ctx, conv, persona.Message{Role: persona.System, Content: "x"}); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("appending a system message: %v", err)
	}
	if err := e.s.ResetHistory(ctx, conv); err != nil {
		t.Fatal(err)
	}
	if h, _ := e.s.History(ctx, conv, 0); len(h) != 0 {
		t.Errorf("after reset: %v", h)
	}
	if h, _ := e.s.History(ctx, other, 0); len(h) != 1 {
		t.Errorf("reset touched another conversation: %v", h)
	}
}

// TestHistoryFeedsAssembly checks the round trip the chat role makes:
// stored turns come back as messages prompt assembly takes.
func TestHistoryFeedsAssembly(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	conv := corralv1.Conversation{Platform: messenger, ChannelID: "page", UserID: "psid"}
	msgs := []persona.Message{{Role: persona.User, Content: "hello"}, {Role: persona.Assistant, Content: "hi!"}, {Role: persona.User, Content: "how are you?"}}
	if err := e.s.AppendHistory(ctx, conv, msgs...); err != nil {
		t.Fatal(err)
	}
	h, err := e.s.History(ctx, conv, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := persona.Assemble(persona.Default().Spec, h, persona.PromptOptions{Count: func(s string) int { return len(s) }})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Messages[p.PrefixLen:]; !reflect.DeepEqual(got, msgs) {
		t.Errorf("assembled history %v, want %v", got, msgs)
	}
}
