package sender

import (
	"slices"
	"strings"
	"testing"

	"github.com/corral-ai/corral/bots/graph"
	"github.com/corral-ai/corral/inference/safety"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

func TestQuickReplies(t *testing.T) {
	long := strings.Repeat("x", 30)
	tests := []struct {
		name     string
		p        corralv1.Platform
		in       []*corralv1.QuickReply
		titles   []string
		payloads []string
	}{
		{"payload defaults to title", corralv1.Platform_PLATFORM_MESSENGER, []*corralv1.QuickReply{{Title: "Yes"}}, []string{"Yes"}, []string{"Yes"}},
		{"titles cut to 20", corralv1.Platform_PLATFORM_MESSENGER, []*corralv1.QuickReply{{Title: long, Payload: "P"}}, []string{long[:20]}, []string{"P"}},
		{"emoji counts twice", corralv1.Platform_PLATFORM_WHATSAPP, []*corralv1.QuickReply{{Title: strings.Repeat("😀", 11), Payload: "E"}}, []string{strings.Repeat("😀", 10)}, []string{"E"}},
		{"whatsapp takes three", corralv1.Platform_PLATFORM_WHATSAPP,
			[]*corralv1.QuickReply{{Title: "a"}, {Title: "b"}, {Title: "c"}, {Title: "d"}}, []string{"a", "b", "c"}, []string{"a", "b", "c"}},
		{"repeats and blanks dropped", corralv1.Platform_PLATFORM_WHATSAPP,
			[]*corralv1.QuickReply{{Title: "a", Payload: "1"}, {Title: "a", Payload: "2"}, {Title: "b", Payload: "1"}, {Title: " "}, {Title: "c", Payload: "3"}},
			[]string{"a", "c"}, []string{"1", "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			titles, payloads := quickReplies(tt.p, tt.in)
			if !slices.Equal(titles, tt.titles) || !slices.Equal(payloads, tt.payloads) {
				t.Fatalf("got %q %q, want %q %q", titles, payloads, tt.titles, tt.payloads)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	stage, err := safety.New(safety.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &Role{safety: stage}
	sentence := "The moon is bright tonight and the stars are out. "
	buttons := []*corralv1.QuickReply{{Title: "More"}}
	tests := []struct {
		name  string
		p     corralv1.Platform
		parts []*corralv1.ReplyPart
		keys  []string
		quick string // key of the piece carrying the quick replies
	}{
		{"short parts", corralv1.Platform_PLATFORM_WHATSAPP,
			[]*corralv1.ReplyPart{{Text: "Hi."}, {Text: "  "}, {Text: "Bye.", QuickReplies: buttons}}, []string{"0.0", "2.0"}, "2.0"},
		{"long part on messenger", corralv1.Platform_PLATFORM_MESSENGER,
			[]*corralv1.ReplyPart{{Text: strings.Repeat(sentence, 90)}}, []string{"0.0", "0.1", "0.2"}, ""},
		{"whatsapp buttons take 1024 at most", corralv1.Platform_PLATFORM_WHATSAPP,
			[]*corralv1.ReplyPart{{Text: strings.Repeat(sentence, 30), QuickReplies: buttons}}, []string{"0.0", "0.1"}, "0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &corralv1.OutboundMessage{Platform: tt.p, Parts: tt.parts}
			pieces := s.plan(m, baseline())
			var keys []string
			quick := ""
			lim := graph.LimitsFor(tt.p)
			for _, pc := range pieces {
				keys = append(keys, pc.key)
				if len(pc.quick) > 0 {
					quick = pc.key
					if graph.TextLen(pc.text) > lim.QuickReplyText {
						t.Errorf("piece %s with quick replies has %d characters", pc.key, graph.TextLen(pc.text))
					}
				}
				if graph.TextLen(pc.text) > lim.Text {
					t.Errorf("piece %s has %d characters", pc.key, graph.TextLen(pc.text))
				}
			}
			if !slices.Equal(keys, tt.keys) || quick != tt.quick {
				t.Fatalf("pieces %v (quick replies on %q), want %v (%q)", keys, quick, tt.keys, tt.quick)
			}
			again := s.plan(m, baseline())
			if !slices.EqualFunc(pieces, again, func(a, b piece) bool { return a.key == b.key && a.text == b.text }) {
				t.Error("planning twice gave different pieces")
			}
		})
	}
}
