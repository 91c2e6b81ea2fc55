package messenger

import (
	"encoding/json"

	"github.com/corral-ai/corral/bots/internal/lenient"
)

// The webhook's JSON shapes, restated from the fact sheet
// (../shared/docs/platforms.md §7). Lists of items are kept raw and decoded
// one by one, so that one malformed item is skipped with a warning instead of
// failing the delivery.

type envelope struct {
	Object lenient.String `json:"object"`
	Entry  lenient.List   `json:"entry"`
}

type entry struct {
	ID        lenient.String `json:"id"`
	Time      lenient.Int    `json:"time"`
	Messaging lenient.List   `json:"messaging"`
	Standby   lenient.List   `json:"standby"`
	Changes   lenient.List   `json:"changes"`
}

type party struct {
	ID      lenient.String `json:"id"`
	UserRef lenient.String `json:"user_ref"`
}

// event is one item of messaging[] or standby[]: sender, recipient,
// timestamp and exactly one kind key.
type event struct {
	Sender    *party      `json:"sender"`
	Recipient *party      `json:"recipient"`
	Timestamp lenient.Int `json:"timestamp"`

	Message              *message  `json:"message"`
	Postback             *postback `json:"postback"`
	Delivery             *receipt  `json:"delivery"`
	Read                 *receipt  `json:"read"`
	Reaction             *reaction `json:"reaction"`
	MessageEdit          *edit     `json:"message_edit"`
	PassThreadControl    *handover `json:"pass_thread_control"`
	TakeThreadControl    *handover `json:"take_thread_control"`
	RequestThreadControl *handover `json:"request_thread_control"`

	// Kinds that only become notices; only their presence matters.
	Referral           json.RawMessage `json:"referral"`
	Optin              json.RawMessage `json:"optin"`
	AccountLinking     json.RawMessage `json:"account_linking"`
	PolicyEnforcement  json.RawMessage `json:"policy-enforcement"`
	PolicyEnforcement2 json.RawMessage `json:"policy_enforcement"`
	AppRoles           json.RawMessage `json:"app_roles"`
	GamePlay           json.RawMessage `json:"game_play"`
	Payment            json.RawMessage `json:"payment"`
	CheckoutUpdate     json.RawMessage `json:"checkout_update"`
	PreCheckout        json.RawMessage `json:"pre_checkout"`
	MessagingFeedback  json.RawMessage `json:"messaging_feedback"`
}

type message struct {
	MID           lenient.String `json:"mid"`
	Text          lenient.String `json:"text"`
	IsEcho        lenient.Bool   `json:"is_echo"`
	AppID         lenient.String `json:"app_id"`
	Metadata      lenient.String `json:"metadata"`
	IsDeleted     lenient.Bool   `json:"is_deleted"`
	IsUnsupported lenient.Bool   `json:"is_unsupported"`
	QuickReply    *quickReply    `json:"quick_reply"`
	ReplyTo       *replyTo       `json:"reply_to"`
	Attachments   lenient.List   `json:"attachments"`
}

// Aliases of unnamed structs, not types of their own: encoding/json names
// the type in its errors, which the careful path's warnings quote.
type (
	quickReply = struct {
		Payload lenient.String `json:"payload"`
	}
	replyTo = struct {
		MID lenient.String `json:"mid"`
	}
)

type attachment struct {
	Type  lenient.String `json:"type"`
	Title lenient.String `json:"title"`
	URL   lenient.String `json:"url"`
	// Payload is an object for most types; a fallback's may be a plain string.
	Payload json.RawMessage `json:"payload"`
}

type attachmentPayload struct {
	URL         lenient.String `json:"url"`
	StickerID   lenient.String `json:"sticker_id"`
	Title       lenient.String `json:"title"`
	Coordinates *struct {
		Lat  lenient.Float `json:"lat"`
		Long lenient.Float `json:"long"`
	} `json:"coordinates"`
}

type postback struct {
	MID     lenient.String `json:"mid"`
	Title   lenient.String `json:"title"`
	Payload lenient.String `json:"payload"`
}

type receipt struct {
	MIDs      []lenient.String `json:"mids"`
	Watermark lenient.Int      `json:"watermark"`
}

type reaction struct {
	Reaction lenient.String `json:"reaction"`
	Emoji    lenient.String `json:"emoji"`
	Action   lenient.String `json:"action"`
	MID      lenient.String `json:"mid"`
}

type edit struct {
	MID     lenient.String `json:"mid"`
	Text    lenient.String `json:"text"`
	NumEdit lenient.Int    `json:"num_edit"`
}

type handover struct {
	NewOwnerAppID       lenient.String `json:"new_owner_app_id"`
	PreviousOwnerAppID  lenient.String `json:"previous_owner_app_id"`
	RequestedOwnerAppID lenient.String `json:"requested_owner_app_id"`
	Metadata            lenient.String `json:"metadata"`
}
