package webhook

import (
	"errors"
	"fmt"
	"time"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// ErrNotWebhook means a body is not a webhook delivery of the platform at all
// (not JSON, no "entry" list, another "object"). The gateway answers 200 and
// sends such a body to the dead-letter stream: Meta would retry it forever.
var ErrNotWebhook = errors.New("not a webhook delivery")

// Result is everything one webhook delivery carried, sorted by what the
// caller does with it. Lists keep the order of the body. Every item of the
// body lands in exactly one list (a message-level item that cannot be read
// becomes a Warning).
type Result struct {
	// Platform the delivery came from.
	Platform corralv1.Platform
	// Messages are the chat messages to answer, one per platform message:
	// text, button and quick-reply taps, postbacks, media, locations,
	// contacts, and messages the platform calls unsupported. ReceivedTime
	// is left for the caller to set.
	Messages []*corralv1.ChatMessage
	// Statuses are delivery receipts of messages we sent (sent, delivered,
	// read, failed...); counted in metrics, never answered.
	Statuses []Status
	// Business lists what the business did in a conversation itself: a
	// message typed by hand (echoes) or a change of thread control. The chat
	// role pauses the bot for that conversation.
	Business []BusinessEvent
	// Reactions are emoji reactions of users to earlier messages, as
	// ChatMessages of kind REACTION; recorded, never answered.
	Reactions []*corralv1.ChatMessage
	// Notices are items understood and deliberately not answered: edits,
	// deletions, standby events, referrals, opt-ins, account and template
	// notifications, asynchronous platform errors.
	Notices []Notice
	// Warnings are items skipped because they were malformed or of a kind
	// this parser does not know. The caller logs them; none is fatal.
	Warnings []Warning
}

// Warnf records a skipped item at path (a JSON path into the body such as
// "entry[0].changes[1].value.messages[2]").
func (r *Result) Warnf(path, format string, args ...any) {
	r.Warnings = append(r.Warnings, Warning{Path: path, Reason: fmt.Sprintf(format, args...)})
}

// Warning is an item of a delivery that was skipped.
type Warning struct {
	// Path is where the item sits in the body, e.g. "entry[0].messaging[3]".
	Path string `json:"path"`
	// Reason says why it was skipped.
	Reason string `json:"reason"`
}

// String formats the warning for a log line.
func (w Warning) String() string { return w.Path + ": " + w.Reason }

// StatusState is the state a Status reports. The set is closed, so it is safe
// as a metric label; a value the platform adds later reads as StatusUnknown.
type StatusState string

// Status states.
const (
	// StatusSent means the platform accepted the message for delivery.
	StatusSent StatusState = "sent"
	// StatusDelivered means it reached the user's device.
	StatusDelivered StatusState = "delivered"
	// StatusRead means the user read it (Messenger: everything up to the
	// watermark).
	StatusRead StatusState = "read"
	// StatusPlayed means the user played a voice note (WhatsApp).
	StatusPlayed StatusState = "played"
	// StatusFailed means it could not be delivered; Errors says why.
	StatusFailed StatusState = "failed"
	// StatusDeleted means it was deleted (WhatsApp).
	StatusDeleted StatusState = "deleted"
	// StatusUnknown is a state this parser does not know (also warned).
	StatusUnknown StatusState = "unknown"
)

// Status is a receipt for a message we sent.
type Status struct {
	// Platform the message was sent on.
	Platform corralv1.Platform `json:"-"`
	// ChannelID is our identity that sent it (phone number id, Page id).
	ChannelID string `json:"channel_id,omitempty"`
	// UserID is the recipient: wa_id or BSUID on WhatsApp, PSID on Messenger.
	UserID string `json:"user_id,omitempty"`
	// MessageID is the platform id of the message; empty for a Messenger
	// receipt that only gives a watermark.
	MessageID string `json:"message_id,omitempty"`
	// State is what happened.
	State StatusState `json:"state"`
	// Time is when it happened, as stated by the platform.
	Time time.Time `json:"time,omitzero"`
	// Watermark, on Messenger, means every message sent before it is
	// delivered or read.
	Watermark time.Time `json:"watermark,omitzero"`
	// Errors explain a failed state (WhatsApp).
	Errors []PlatformError `json:"errors,omitempty"`
	// PricingCategory is WhatsApp's pricing category of the conversation
	// ("service", "utility"...), when given.
	PricingCategory string `json:"pricing_category,omitempty"`
	// CallbackData is WhatsApp's biz_opaque_callback_data, echoing what the
	// sender attached to the message.
	CallbackData string `json:"callback_data,omitempty"`
}

// PlatformError is an error a platform reported inside a webhook.
type PlatformError struct {
	// Code is the platform's numeric code, e.g. 131026.
	Code int `json:"code"`
	// Title is the short description.
	Title string `json:"title,omitempty"`
	// Message is the longer description, when it differs.
	Message string `json:"message,omitempty"`
	// Details is error_data.details, which Meta advises to match on.
	Details string `json:"details,omitempty"`
}

// BusinessKind says what the business did in a conversation.
type BusinessKind string

// Business event kinds.
const (
	// BusinessEcho is a message sent by the business: on Messenger an echo
	// (AppID says which app sent it, so the caller can tell its own sends
	// from a human's or another app's); on WhatsApp a message sent from the
	// WhatsApp Business app or a linked device (smb_message_echoes).
	BusinessEcho BusinessKind = "echo"
	// BusinessPassThread means thread control passed to AppID (Messenger
	// handover protocol).
	BusinessPassThread BusinessKind = "pass_thread_control"
	// BusinessTakeThread means the primary receiver took thread control
	// from AppID.
	BusinessTakeThread BusinessKind = "take_thread_control"
	// BusinessRequestThread means AppID asked for thread control.
	BusinessRequestThread BusinessKind = "request_thread_control"
)

// BusinessEvent is something the business did in a conversation.
type BusinessEvent struct {
	// Kind of event.
	Kind BusinessKind `json:"kind"`
	// Platform it happened on.
	Platform corralv1.Platform `json:"-"`
	// ChannelID is our identity in the conversation (phone number id, Page id).
	ChannelID string `json:"channel_id"`
	// UserID is the user of the conversation.
	UserID string `json:"user_id"`
	// MessageID is the platform id of the echoed message, when there is one.
	MessageID string `json:"message_id,omitempty"`
	// AppID is the app that sent an echo, or the other app of a handover.
	AppID string `json:"app_id,omitempty"`
	// Metadata is the metadata string the sender attached (Messenger).
	Metadata string `json:"metadata,omitempty"`
	// Text is the text of an echoed message, when it has one.
	Text string `json:"text,omitempty"`
	// Time is when it happened, as stated by the platform.
	Time time.Time `json:"time,omitzero"`
}

// Notice kinds. Parsers may also use a WhatsApp subscription field name
// (account_update, message_template_status_update...) or a Messenger event
// key (game_play, payment...) from a fixed list, so the set stays bounded.
const (
	NoticeEdit           = "edit"
	NoticeDelete         = "delete"
	NoticeStandby        = "standby"
	NoticeReferral       = "referral"
	NoticeOptin          = "optin"
	NoticeAccountLinking = "account_linking"
	NoticePolicy         = "policy_enforcement"
	NoticeAppRoles       = "app_roles"
	NoticeError          = "error"
	NoticeOrder          = "order"
	NoticeSystem         = "system"
	NoticeWelcome        = "request_welcome"
	NoticeFeed           = "feed"
)

// Notice is an item understood and deliberately not answered.
type Notice struct {
	// Kind names the item (one of the Notice* constants or a WhatsApp
	// subscription field).
	Kind string `json:"kind"`
	// Platform it came from.
	Platform corralv1.Platform `json:"-"`
	// ChannelID, UserID and MessageID identify it where it has them.
	ChannelID string `json:"channel_id,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	// Time is when it happened, as stated by the platform.
	Time time.Time `json:"time,omitzero"`
	// Code is the error code of an error notice.
	Code int `json:"code,omitempty"`
	// Detail is a short human-readable description for logs.
	Detail string `json:"detail,omitempty"`
}
