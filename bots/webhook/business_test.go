package webhook

import (
	"strings"
	"testing"
	"time"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

func TestOwnSendMetadata(t *testing.T) {
	md := OwnSendMetadata("whatsapp.1.m", "0.2")
	if md != "corral:whatsapp.1.m:0.2" {
		t.Fatalf("metadata = %q", md)
	}
	if !(BusinessEvent{Kind: BusinessEcho, Metadata: md}).FromCorral() {
		t.Error("own metadata not recognised")
	}
	long := OwnSendMetadata(strings.Repeat("é", 700), "0.0")
	if len(long) > maxMetadata || !strings.HasPrefix(long, OwnSendPrefix) {
		t.Errorf("long metadata is %d bytes", len(long))
	}
	for _, e := range []BusinessEvent{
		{Kind: BusinessEcho},
		{Kind: BusinessEcho, Metadata: "from the page inbox"},
		{Kind: BusinessTakeThread, Metadata: md},
	} {
		if e.FromCorral() {
			t.Errorf("%+v counted as Corral's own send", e)
		}
	}
}

func TestBusinessChatMessage(t *testing.T) {
	at := time.UnixMilli(1733310000123)
	tests := []struct {
		name   string
		ev     BusinessEvent
		action corralv1.BusinessAction
		idPfx  string
	}{
		{"human echo", BusinessEvent{Kind: BusinessEcho, Platform: corralv1.Platform_PLATFORM_WHATSAPP, ChannelID: "42", UserID: "5215512345678",
			MessageID: "wamid.X", Text: "hi, Ana here", Time: at}, corralv1.BusinessAction_BUSINESS_ACTION_HUMAN_MESSAGE, "wamid.X"},
		{"take thread", BusinessEvent{Kind: BusinessTakeThread, Platform: corralv1.Platform_PLATFORM_MESSENGER, ChannelID: "104", UserID: "73",
			AppID: "263902037430900", Time: at}, corralv1.BusinessAction_BUSINESS_ACTION_THREAD_TAKEN, "business:take_thread_control:1733310000123:"},
		{"pass thread", BusinessEvent{Kind: BusinessPassThread, Platform: corralv1.Platform_PLATFORM_MESSENGER, ChannelID: "104", UserID: "73",
			AppID: "1", Time: at}, corralv1.BusinessAction_BUSINESS_ACTION_THREAD_PASSED, "business:pass_thread_control:"},
		{"request thread", BusinessEvent{Kind: BusinessRequestThread, Platform: corralv1.Platform_PLATFORM_MESSENGER, ChannelID: "104", UserID: "73",
			AppID: "1", Time: at}, corralv1.BusinessAction_BUSINESS_ACTION_THREAD_REQUESTED, "business:request_thread_control:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm := tt.ev.ChatMessage()
			if cm.GetKind() != corralv1.MessageKind_MESSAGE_KIND_BUSINESS_REPLY || cm.GetBusiness().GetAction() != tt.action {
				t.Fatalf("kind %v action %v", cm.GetKind(), cm.GetBusiness().GetAction())
			}
			if !strings.HasPrefix(cm.GetPlatformMessageId(), tt.idPfx) {
				t.Errorf("id %q, want prefix %q", cm.GetPlatformMessageId(), tt.idPfx)
			}
			if cm.GetUserId() != tt.ev.UserID || cm.GetChannelId() != tt.ev.ChannelID || cm.GetText() != tt.ev.Text ||
				cm.GetBusiness().GetAppId() != tt.ev.AppID || !cm.GetSentTime().AsTime().Equal(at) {
				t.Errorf("message %v does not carry %+v", cm, tt.ev)
			}
			if again := tt.ev.ChatMessage(); again.GetPlatformMessageId() != cm.GetPlatformMessageId() {
				t.Errorf("the same event got ids %q and %q", cm.GetPlatformMessageId(), again.GetPlatformMessageId())
			}
		})
	}
	a := BusinessEvent{Kind: BusinessTakeThread, UserID: "1", Time: at}.ChatMessage()
	b := BusinessEvent{Kind: BusinessTakeThread, UserID: "2", Time: at}.ChatMessage()
	if a.GetPlatformMessageId() == b.GetPlatformMessageId() {
		t.Error("different events got one synthetic id")
	}
}
