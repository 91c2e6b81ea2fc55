package messenger

import (
	"context"
	"net/url"

	"github.com/corral-ai/corral/bots/graph"
)

// Client sends messages through the Messenger Send API. It is safe for
// concurrent use; the Page and its token come with every call.
type Client struct {
	g      *graph.Client
	limits graph.Limits
}

// NewClient returns a Client for the Graph API at cfg (empty fields take
// their defaults).
func NewClient(cfg graph.Config) (*Client, error) {
	g, err := graph.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{g: g, limits: graph.LimitsFor(platform)}, nil
}

// Channel is the Facebook Page to send as.
type Channel struct {
	// PageID is the Page's id; empty sends to /me, which the Page token
	// resolves to its Page.
	PageID string
	// AccessToken is the Page access token. It travels in the
	// Authorization header, never in the URL.
	AccessToken string
}

// Messaging types.
const (
	// MessagingResponse answers a user's message inside the 24-hour window
	// (the default).
	MessagingResponse = "RESPONSE"
	// MessagingUpdate is a proactive message inside the window.
	MessagingUpdate = "UPDATE"
	// MessagingTag sends outside the window with a Tag.
	MessagingTag = "MESSAGE_TAG"
)

// Text is a text message, optionally with quick replies.
type Text struct {
	// To is the user's page-scoped id (PSID).
	To string
	// Text is at most graph.LimitsFor(messenger).Text characters (split
	// longer replies with bots/split).
	Text string
	// QuickReplies are offered under the text; a tap comes back as a
	// ChatMessage of kind BUTTON_REPLY with the title and payload.
	QuickReplies []QuickReply
	// MessagingType is MessagingResponse when empty.
	MessagingType string
	// Tag is required with MessagingTag (e.g. "HUMAN_AGENT").
	Tag string
	// Metadata comes back in the echo of this message, so the receiver can
	// tell its own sends from a human's; at most 1000 characters.
	Metadata string
}

// QuickReply is one quick-reply button.
type QuickReply struct {
	// Title is shown on the button.
	Title string
	// Payload comes back when it is tapped.
	Payload string
}

// Action is a sender action.
type Action string

// Sender actions.
const (
	// MarkSeen marks the user's messages as seen.
	MarkSeen Action = "mark_seen"
	// TypingOn shows the typing indicator.
	TypingOn Action = "typing_on"
	// TypingOff hides it, e.g. when the bot decides not to answer.
	TypingOff Action = "typing_off"
)

// Sent describes an accepted message.
type Sent struct {
	// MessageID is the mid of the message (opaque).
	MessageID string
	// RecipientID is the PSID the message went to.
	RecipientID string
	// Usage holds the answer's rate-limit usage headers.
	Usage graph.Usage
}

// Operation names, used in errors, spans and metrics.
const (
	OpSendText     = "messenger.send_text"
	OpSenderAction = "messenger.sender_action"
)

const maxMetadata = 1000

type recipient struct {
	ID string `json:"id"`
}

type sendBody struct {
	Recipient     recipient    `json:"recipient"`
	MessagingType string       `json:"messaging_type,omitempty"`
	Tag           string       `json:"tag,omitempty"`
	Message       *messageBody `json:"message,omitempty"`
	SenderAction  Action       `json:"sender_action,omitempty"`
}

type messageBody struct {
	Text         string           `json:"text"`
	QuickReplies []quickReplyBody `json:"quick_replies,omitempty"`
	Metadata     string           `json:"metadata,omitempty"`
}

type quickReplyBody struct {
	ContentType string `json:"content_type"`
	Title       string `json:"title"`
	Payload     string `json:"payload"`
}

type sendAnswer struct {
	RecipientID string `json:"recipient_id"`
	MessageID   string `json:"message_id"`
}

// SendText sends a text message as ch. Errors are *graph.Error; see
// graph.KindOf and graph.Retryable.
func (c *Client) SendText(ctx context.Context, ch Channel, m Text) (Sent, error) {
	if err := c.checkText(ch, m); err != nil {
		return Sent{}, err
	}
	b := &sendBody{Recipient: recipient{ID: m.To}, MessagingType: m.MessagingType, Tag: m.Tag,
		Message: &messageBody{Text: m.Text, Metadata: m.Metadata}}
	if b.MessagingType == "" {
		b.MessagingType = MessagingResponse
	}
	for _, q := range m.QuickReplies {
		b.Message.QuickReplies = append(b.Message.QuickReplies, quickReplyBody{ContentType: "text", Title: q.Title, Payload: q.Payload})
	}
	var ans sendAnswer
	res, err := c.g.Post(ctx, c.request(OpSendText, ch, b), &ans)
	if err != nil {
		return Sent{}, err
	}
	if ans.MessageID == "" {
		return Sent{}, &graph.Error{Op: OpSendText, Status: res.Status, Kind: graph.KindBadResponse, Usage: res.Usage,
			Message: "answer has no message_id"}
	}
	return Sent{MessageID: ans.MessageID, RecipientID: ans.RecipientID, Usage: res.Usage}, nil
}

// SendAction sends a sender action (mark seen, typing on/off) to user to.
func (c *Client) SendAction(ctx context.Context, ch Channel, to string, a Action) error {
	if err := checkChannel(OpSenderAction, ch); err != nil {
		return err
	}
	if to == "" {
		return graph.Invalid(OpSenderAction, "no recipient")
	}
	switch a {
	case MarkSeen, TypingOn, TypingOff:
	default:
		return graph.Invalid(OpSenderAction, "unknown sender action %q", a)
	}
	_, err := c.g.Post(ctx, c.request(OpSenderAction, ch, &sendBody{Recipient: recipient{ID: to}, SenderAction: a}), nil)
	return err
}

func (c *Client) request(op string, ch Channel, body *sendBody) graph.Request {
	path, route := "/me/messages", "/me/messages"
	if ch.PageID != "" {
		path, route = "/"+url.PathEscape(ch.PageID)+"/messages", "/{page_id}/messages"
	}
	return graph.Request{Op: op, Path: path, Route: route, Token: ch.AccessToken, Body: body}
}

func checkChannel(op string, ch Channel) error {
	if ch.AccessToken == "" {
		return &graph.Error{Op: op, Kind: graph.KindAuth, Err: graph.ErrNoToken}
	}
	return nil
}

func (c *Client) checkText(ch Channel, m Text) error {
	const op = OpSendText
	if err := checkChannel(op, ch); err != nil {
		return err
	}
	switch {
	case m.To == "":
		return graph.Invalid(op, "no recipient")
	case m.Text == "":
		return graph.Invalid(op, "empty text")
	case graph.TextLen(m.Text) > c.limits.Text:
		return graph.Invalid(op, "text is %d characters, limit %d", graph.TextLen(m.Text), c.limits.Text)
	case len(m.QuickReplies) > c.limits.QuickReplies:
		return graph.Invalid(op, "%d quick replies, limit %d", len(m.QuickReplies), c.limits.QuickReplies)
	case graph.TextLen(m.Metadata) > maxMetadata:
		return graph.Invalid(op, "metadata is %d characters, limit %d", graph.TextLen(m.Metadata), maxMetadata)
	}
	switch m.MessagingType {
	case "", MessagingResponse, MessagingUpdate:
	case MessagingTag:
		if m.Tag == "" {
			return graph.Invalid(op, "messaging type %s needs a tag", MessagingTag)
		}
	default:
		return graph.Invalid(op, "unknown messaging type %q", m.MessagingType)
	}
	for i, q := range m.QuickReplies {
		switch {
		case q.Title == "" || q.Payload == "":
			return graph.Invalid(op, "quick reply %d has no title or payload", i+1)
		case graph.TextLen(q.Title) > c.limits.QuickReplyTitle:
			return graph.Invalid(op, "quick reply %d title is %d characters, limit %d", i+1, graph.TextLen(q.Title), c.limits.QuickReplyTitle)
		case graph.TextLen(q.Payload) > c.limits.QuickReplyPayload:
			return graph.Invalid(op, "quick reply %d payload is %d characters, limit %d", i+1, graph.TextLen(q.Payload), c.limits.QuickReplyPayload)
		}
	}
	return nil
}
