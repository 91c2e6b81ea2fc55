package graph

import (
	"unicode/utf8"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Limits are the sizes a platform accepts in one message. Lengths count
// characters as TextLen does.
type Limits struct {
	// Text is the longest text of one message.
	Text int
	// QuickReplies is the most quick replies (Messenger) or reply buttons
	// (WhatsApp) one message may offer.
	QuickReplies int
	// QuickReplyTitle is the longest title of one.
	QuickReplyTitle int
	// QuickReplyPayload is the longest payload (Messenger) or button id
	// (WhatsApp) of one.
	QuickReplyPayload int
	// QuickReplyText is the longest text that may carry quick replies: the
	// body of a WhatsApp interactive message is shorter than a plain text.
	QuickReplyText int
}

// limits is the one table of message limits (../shared/docs/platforms.md §6
// and §8; WhatsApp's reply-button limits from Meta's interactive message
// reference). The Messenger text limit is long-cited but not restated on
// Meta's current pages, so it stays here where one edit changes it.
var limits = map[corralv1.Platform]Limits{
	corralv1.Platform_PLATFORM_WHATSAPP: {
		Text:              4096,
		QuickReplies:      3,
		QuickReplyTitle:   20,
		QuickReplyPayload: 256,
		QuickReplyText:    1024,
	},
	corralv1.Platform_PLATFORM_MESSENGER: {
		Text:              2000,
		QuickReplies:      13,
		QuickReplyTitle:   20,
		QuickReplyPayload: 1000,
		QuickReplyText:    2000,
	},
}

// LimitsFor returns the message limits of platform p, or zero Limits for an
// unknown platform.
func LimitsFor(p corralv1.Platform) Limits { return limits[p] }

// TextLen counts characters the way the limits are enforced here: in UTF-16
// code units, so a character outside the Basic Multilingual Plane (most
// emoji) counts twice. Meta does not say how it counts; UTF-16 is never less
// than the code-point count, so text within the limit by this measure is
// within it by either.
func TextLen(s string) int {
	n := 0
	for _, r := range s {
		n += RuneLen(r)
	}
	return n
}

// RuneLen is the TextLen of one rune: 2 above U+FFFF, else 1.
func RuneLen(r rune) int {
	if r > 0xFFFF && r <= utf8.MaxRune {
		return 2
	}
	return 1
}
