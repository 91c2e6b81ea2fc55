package corralv1_test

import (
	"errors"
	"strings"
	"testing"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

func TestEscapeToken(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"digits stay", "5215512345678", "5215512345678"},
		{"letters dash underscore stay", "m_Xb3-kq9", "m_Xb3-kq9"},
		{"empty", "", "%"},
		{"dot", "US.1349", "US%2E1349"},
		{"star", "a*b", "a%2Ab"},
		{"gt", ">", "%3E"},
		{"space and tab", "a b\tc", "a%20b%09c"},
		{"percent itself", "%", "%25"},
		{"percent then hex", "%2E", "%252E"},
		{"non-ASCII bytes", "ñ", "%C3%B1"},
		{"invalid UTF-8", "\xff", "%FF"},
		{"NUL", "\x00", "%00"},
		{"wamid base64", "wamid.HBg=", "wamid%2EHBg%3D"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := corralv1.EscapeToken(tt.in)
			if got != tt.want {
				t.Fatalf("EscapeToken(%q) = %q, want %q", tt.in, got, tt.want)
			}
			back, err := corralv1.UnescapeToken(got)
			if err != nil || back != tt.in {
				t.Fatalf("UnescapeToken(%q) = %q, %v; want %q", got, back, err, tt.in)
			}
		})
	}
}

func TestUnescapeTokenRejects(t *testing.T) {
	tests := []struct{ name, tok string }{
		{"empty string", ""},
		{"raw dot", "a.b"},
		{"raw star", "*"},
		{"raw gt", ">"},
		{"raw space", "a b"},
		{"short escape at end", "ab%4"},
		{"lone percent inside", "a%"},
		{"lower-case hex", "US%2e1"},
		{"not hex", "%ZZ"},
		{"escaped safe byte", "%41"},
		{"two percents", "%%"},
		{"non-ASCII raw", "ñ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := corralv1.UnescapeToken(tt.tok)
			if !errors.Is(err, corralv1.ErrBadToken) {
				t.Fatalf("UnescapeToken(%q) = %q, %v; want ErrBadToken", tt.tok, got, err)
			}
		})
	}
}

func TestConversationSubjects(t *testing.T) {
	tests := []struct {
		name    string
		conv    corralv1.Conversation
		in, out string
	}{
		{
			name: "whatsapp",
			conv: corralv1.Conversation{Platform: corralv1.Platform_PLATFORM_WHATSAPP, ChannelID: "420000000000002", UserID: "5215512345678"},
			in:   "chat.in.whatsapp.420000000000002.5215512345678",
			out:  "chat.out.whatsapp.420000000000002.5215512345678",
		},
		{
			name: "whatsapp BSUID with dot",
			conv: corralv1.Conversation{Platform: corralv1.Platform_PLATFORM_WHATSAPP, ChannelID: "42", UserID: "US.1349"},
			in:   "chat.in.whatsapp.42.US%2E1349",
			out:  "chat.out.whatsapp.42.US%2E1349",
		},
		{
			name: "messenger",
			conv: corralv1.Conversation{Platform: corralv1.Platform_PLATFORM_MESSENGER, ChannelID: "104000000000001", UserID: "7300000000000042"},
			in:   "chat.in.messenger.104000000000001.7300000000000042",
			out:  "chat.out.messenger.104000000000001.7300000000000042",
		},
		{
			name: "wildcards and spaces in ids",
			conv: corralv1.Conversation{Platform: corralv1.Platform_PLATFORM_MESSENGER, ChannelID: "*", UserID: "a > b"},
			in:   "chat.in.messenger.%2A.a%20%3E%20b",
			out:  "chat.out.messenger.%2A.a%20%3E%20b",
		},
		{
			name: "empty ids and unspecified platform",
			conv: corralv1.Conversation{},
			in:   "chat.in.unspecified.%.%",
			out:  "chat.out.unspecified.%.%",
		},
		{
			name: "platform unknown to this build",
			conv: corralv1.Conversation{Platform: corralv1.Platform(77), ChannelID: "c", UserID: "u"},
			in:   "chat.in.77.c.u",
			out:  "chat.out.77.c.u",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := corralv1.ChatInSubject(tt.conv); got != tt.in {
				t.Errorf("ChatInSubject = %q, want %q", got, tt.in)
			}
			if got := corralv1.ChatOutSubject(tt.conv); got != tt.out {
				t.Errorf("ChatOutSubject = %q, want %q", got, tt.out)
			}
			for _, s := range []string{tt.in, tt.out} {
				got, err := corralv1.ParseConversationSubject(s)
				if err != nil || got != tt.conv {
					t.Errorf("ParseConversationSubject(%q) = %+v, %v; want %+v", s, got, err, tt.conv)
				}
				if n := strings.Count(s, "."); n != 4 {
					t.Errorf("subject %q has %d dots, want 4", s, n)
				}
			}
		})
	}
}

func TestParseConversationSubjectRejects(t *testing.T) {
	tests := []struct {
		name, subject string
		want          error
	}{
		{"other stream", "chat.dlq.chat.in.whatsapp.1.2", corralv1.ErrNotConversationSubject},
		{"inference", corralv1.SubjectInferenceGenerate, corralv1.ErrNotConversationSubject},
		{"too few tokens", "chat.in.whatsapp.1", corralv1.ErrNotConversationSubject},
		{"too many tokens", "chat.in.whatsapp.1.2.3", corralv1.ErrNotConversationSubject},
		{"wildcard", "chat.in.whatsapp.*.2", corralv1.ErrBadToken},
		{"upper-case platform", "chat.in.WHATSAPP.1.2", corralv1.ErrBadToken},
		{"unknown platform name", "chat.in.telegram.1.2", corralv1.ErrBadToken},
		{"known platform by number", "chat.in.1.1.2", corralv1.ErrBadToken},
		{"padded number", "chat.in.077.1.2", corralv1.ErrBadToken},
		{"empty token", "chat.in.whatsapp..2", corralv1.ErrBadToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := corralv1.ParseConversationSubject(tt.subject)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseConversationSubject(%q) = %+v, %v; want %v", tt.subject, got, err, tt.want)
			}
		})
	}
}

func TestMessageConversation(t *testing.T) {
	in := &corralv1.ChatMessage{
		Platform:          corralv1.Platform_PLATFORM_WHATSAPP,
		ChannelId:         "42",
		UserId:            "US.7",
		PlatformMessageId: "wamid.HBg=",
	}
	out := &corralv1.OutboundMessage{Platform: in.Platform, ChannelId: in.ChannelId, UserId: in.UserId}
	if in.Conversation() != out.Conversation() {
		t.Fatalf("inbound %+v and outbound %+v conversations differ", in.Conversation(), out.Conversation())
	}
	if got, want := in.Conversation().Key(), "whatsapp.42.US%2E7"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
	if got, want := in.DedupeID(), "whatsapp.42.wamid%2EHBg%3D"; got != want {
		t.Errorf("DedupeID = %q, want %q", got, want)
	}
	// A nil message must not panic: getters return zero values.
	var nilMsg *corralv1.ChatMessage
	if got := nilMsg.Conversation(); got != (corralv1.Conversation{}) {
		t.Errorf("nil Conversation = %+v", got)
	}
}

func TestDLQSubject(t *testing.T) {
	tests := []struct {
		name, orig, dlq string
	}{
		{"chat in", "chat.in.whatsapp.1.2", "chat.dlq.chat.in.whatsapp.1.2"},
		{"chat out", "chat.out.messenger.1.US%2E2", "chat.dlq.chat.out.messenger.1.US%2E2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := corralv1.DLQSubject(tt.orig); got != tt.dlq {
				t.Fatalf("DLQSubject(%q) = %q, want %q", tt.orig, got, tt.dlq)
			}
			got, ok := corralv1.DLQOriginalSubject(tt.dlq)
			if !ok || got != tt.orig {
				t.Fatalf("DLQOriginalSubject(%q) = %q, %v", tt.dlq, got, ok)
			}
		})
	}
	for _, s := range []string{"chat.in.whatsapp.1.2", "chat.dlq.", "chat.dlqx.a"} {
		if got, ok := corralv1.DLQOriginalSubject(s); ok {
			t.Errorf("DLQOriginalSubject(%q) = %q, true; want false", s, got)
		}
	}
}

func TestSubjectConstants(t *testing.T) {
	// Each stream's filter must match the subjects built for it and no other
	// stream's, or JetStream would refuse the overlapping streams.
	conv := corralv1.Conversation{Platform: corralv1.Platform_PLATFORM_WHATSAPP, ChannelID: "1", UserID: "2"}
	tests := []struct {
		filter  string
		matches []string
		misses  []string
	}{
		{corralv1.SubjectChatIn, []string{corralv1.ChatInSubject(conv)}, []string{corralv1.ChatOutSubject(conv), corralv1.DLQSubject(corralv1.ChatInSubject(conv))}},
		{corralv1.SubjectChatOut, []string{corralv1.ChatOutSubject(conv)}, []string{corralv1.ChatInSubject(conv), corralv1.DLQSubject(corralv1.ChatOutSubject(conv))}},
		{corralv1.SubjectChatDLQ, []string{corralv1.DLQSubject(corralv1.ChatInSubject(conv))}, []string{corralv1.ChatInSubject(conv), corralv1.ChatOutSubject(conv)}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			for _, s := range tt.matches {
				if !subjectMatches(tt.filter, s) {
					t.Errorf("%q does not match %q", tt.filter, s)
				}
			}
			for _, s := range tt.misses {
				if subjectMatches(tt.filter, s) {
					t.Errorf("%q matches %q", tt.filter, s)
				}
			}
		})
	}
	if corralv1.SubjectInferenceGenerate != "inference.generate" ||
		corralv1.SubjectInferenceModels != "inference.models" ||
		corralv1.SubjectInferenceStats != "inference.stats" {
		t.Errorf("inference subjects changed: %q %q %q", corralv1.SubjectInferenceGenerate,
			corralv1.SubjectInferenceModels, corralv1.SubjectInferenceStats)
	}
}

// subjectMatches implements NATS wildcard matching for the test.
func subjectMatches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, ft := range f {
		if ft == ">" {
			return len(s) > i
		}
		if i >= len(s) || (ft != "*" && ft != s[i]) {
			return false
		}
	}
	return len(f) == len(s)
}

func TestHazardCategoryLlamaGuard(t *testing.T) {
	tests := []struct {
		code string
		cat  corralv1.HazardCategory
		ok   bool
	}{
		{"S1", corralv1.HazardCategory_HAZARD_CATEGORY_VIOLENT_CRIMES, true},
		{"S10", corralv1.HazardCategory_HAZARD_CATEGORY_HATE, true},
		{" S14\n", corralv1.HazardCategory_HAZARD_CATEGORY_CODE_INTERPRETER_ABUSE, true},
		{"S0", 0, false},
		{"S15", 0, false},
		{"S01", 0, false},
		{"S+5", 0, false},
		{"s1", 0, false},
		{"S", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			cat, ok := corralv1.HazardCategoryFromLlamaGuard(tt.code)
			if cat != tt.cat || ok != tt.ok {
				t.Fatalf("HazardCategoryFromLlamaGuard(%q) = %v, %v; want %v, %v", tt.code, cat, ok, tt.cat, tt.ok)
			}
			if ok && cat.LlamaGuardCode() != strings.TrimSpace(tt.code) {
				t.Fatalf("LlamaGuardCode(%v) = %q", cat, cat.LlamaGuardCode())
			}
		})
	}
	for _, c := range []corralv1.HazardCategory{
		corralv1.HazardCategory_HAZARD_CATEGORY_UNSPECIFIED,
		corralv1.HazardCategory_HAZARD_CATEGORY_PROMPT_INJECTION,
		corralv1.HazardCategory_HAZARD_CATEGORY_HARASSMENT,
	} {
		if code := c.LlamaGuardCode(); code != "" {
			t.Errorf("%v.LlamaGuardCode() = %q, want empty", c, code)
		}
	}
}

func FuzzUnescapeToken(f *testing.F) {
	for _, s := range []string{"", "%", "5215512345678", "US%2E1349", "%2e", "%4", "a.b", "%41", "%C3%B1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		s, err := corralv1.UnescapeToken(tok)
		if err != nil {
			return
		}
		// Whatever decodes must be the one canonical encoding of its value.
		if back := corralv1.EscapeToken(s); back != tok {
			t.Fatalf("EscapeToken(UnescapeToken(%q)) = %q", tok, back)
		}
	})
}

func FuzzEscapeToken(f *testing.F) {
	for _, s := range []string{"", "US.1349", "a b*c>d", "%", "ñ\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := corralv1.EscapeToken(s)
		if tok == "" || strings.ContainsAny(tok, ".*> \t\r\n") {
			t.Fatalf("EscapeToken(%q) = %q is not a single safe token", s, tok)
		}
		back, err := corralv1.UnescapeToken(tok)
		if err != nil || back != s {
			t.Fatalf("UnescapeToken(EscapeToken(%q)) = %q, %v", s, back, err)
		}
	})
}

func FuzzParseConversationSubject(f *testing.F) {
	for _, s := range []string{
		"chat.in.whatsapp.420000000000002.5215512345678",
		"chat.out.messenger.1.US%2E2",
		"chat.in.unspecified.%.%",
		"chat.in.77.c.u",
		"chat.in.whatsapp.*.>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		c, err := corralv1.ParseConversationSubject(subject)
		if err != nil {
			return
		}
		if in, out := corralv1.ChatInSubject(c), corralv1.ChatOutSubject(c); in != subject && out != subject {
			t.Fatalf("%q parsed to %+v, which builds %q / %q", subject, c, in, out)
		}
	})
}

func TestWebhookDLQSubject(t *testing.T) {
	got := corralv1.WebhookDLQSubject(corralv1.Platform_PLATFORM_MESSENGER)
	if got != "chat.dlq.webhook.messenger" {
		t.Fatalf("WebhookDLQSubject = %q", got)
	}
	if !strings.HasPrefix(got, strings.TrimSuffix(corralv1.SubjectChatDLQ, ">")) {
		t.Fatalf("%q is outside the DLQ stream's filter %q", got, corralv1.SubjectChatDLQ)
	}
}

func TestOutboundDedupeID(t *testing.T) {
	const (
		typing = corralv1.OutboundAction_OUTBOUND_ACTION_TYPING
		read   = corralv1.OutboundAction_OUTBOUND_ACTION_MARK_READ
	)
	tests := []struct {
		name   string
		reply  string
		action corralv1.OutboundAction
		want   string
	}{
		{"reply", "whatsapp.42.wamid%2EA", 0, "whatsapp%2E42%2Ewamid%252EA"},
		{"typing", "r1", typing, "r1.typing"},
		{"mark read", "r1", read, "r1.mark_read"},
		{"typing off", "r1", corralv1.OutboundAction_OUTBOUND_ACTION_TYPING_OFF, "r1.typing_off"},
		{"unknown action", "r1", 99, "r1.99"},
		{"a reply id that looks like an action", "r1.typing", 0, "r1%2Etyping"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &corralv1.OutboundMessage{ReplyId: tt.reply, Action: tt.action}
			got := m.DedupeID()
			if got != tt.want {
				t.Fatalf("DedupeID = %q, want %q", got, tt.want)
			}
			if other, ok := seen[got]; ok {
				t.Fatalf("DedupeID %q also made by case %q", got, other)
			}
			seen[got] = tt.name
		})
	}
	if got := corralv1.ActionToken(0); got != "reply" {
		t.Errorf("ActionToken(UNSPECIFIED) = %q, want reply", got)
	}
}
