package whatsapp

import (
	"context"
	"net/url"

	"github.com/corral-ai/corral/bots/graph"
)

// Client sends messages through the WhatsApp Cloud API. It is safe for
// concurrent use; the sending number and its token come with every call.
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

// Channel is the business phone number to send from.
type Channel struct {
	// PhoneNumberID is the Cloud API id of the number (webhook
	// metadata.phone_number_id), not the phone number itself.
	PhoneNumberID string
	// AccessToken is a system-user or user access token for it.
	AccessToken string
}

// Text is a plain text message.
type Text struct {
	// To is the user: a wa_id (digits), or a business-scoped user id
	// ("US.1349…"), which is sent as "recipient" instead of "to".
	To string
	// Body is the text, at most graph.LimitsFor(whatsapp).Text characters
	// (split longer replies with bots/split).
	Body string
	// PreviewURL asks WhatsApp to render a preview of the first link.
	PreviewURL bool
	// ReplyTo is the wamid of the user's message to quote; empty for none.
	ReplyTo string
}

// Buttons is an interactive message with up to three reply buttons. A tap
// comes back as a ChatMessage of kind BUTTON_REPLY with the button's title
// and ID.
type Buttons struct {
	// To, Body and ReplyTo are as in Text; Body has a lower limit
	// (graph.Limits.QuickReplyText).
	To      string
	Body    string
	ReplyTo string
	// Buttons are the choices, with unique IDs and titles.
	Buttons []Button
}

// Button is one reply button.
type Button struct {
	// ID comes back as the payload of the tap.
	ID string
	// Title is shown on the button.
	Title string
}

// Sent describes an accepted message. Acceptance is not delivery: the
// outcome arrives later as a status webhook for MessageID.
type Sent struct {
	// MessageID is the wamid of the message.
	MessageID string
	// WaID is the recipient's wa_id as WhatsApp resolved it; empty for
	// sends to a business-scoped user id.
	WaID string
	// Usage holds the answer's rate-limit usage headers.
	Usage graph.Usage
}

// Operation names, used in errors, spans and metrics.
const (
	OpSendText    = "whatsapp.send_text"
	OpSendButtons = "whatsapp.send_buttons"
	OpMarkRead    = "whatsapp.mark_read"
)

type sendBody struct {
	MessagingProduct string           `json:"messaging_product"`
	RecipientType    string           `json:"recipient_type"`
	To               string           `json:"to,omitempty"`
	Recipient        string           `json:"recipient,omitempty"`
	Type             string           `json:"type"`
	Context          *replyContext    `json:"context,omitempty"`
	Text             *textBody        `json:"text,omitempty"`
	Interactive      *interactiveBody `json:"interactive,omitempty"`
}

type replyContext struct {
	MessageID string `json:"message_id"`
}

type textBody struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url"`
}

type interactiveBody struct {
	Type string `json:"type"`
	Body struct {
		Text string `json:"text"`
	} `json:"body"`
	Action struct {
		Buttons []replyButton `json:"buttons"`
	} `json:"action"`
}

type replyButton struct {
	Type  string `json:"type"`
	Reply struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"reply"`
}

type sendAnswer struct {
	Contacts []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"contacts"`
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
}

// SendText sends a text message from ch. Errors are *graph.Error; see
// graph.KindOf and graph.Retryable.
func (c *Client) SendText(ctx context.Context, ch Channel, m Text) (Sent, error) {
	if err := c.checkText(OpSendText, ch, m.To, m.Body, c.limits.Text); err != nil {
		return Sent{}, err
	}
	b := newSendBody(m.To, m.ReplyTo, "text")
	b.Text = &textBody{Body: m.Body, PreviewURL: m.PreviewURL}
	return c.send(ctx, OpSendText, ch, b)
}

// SendButtons sends an interactive message with reply buttons from ch.
func (c *Client) SendButtons(ctx context.Context, ch Channel, m Buttons) (Sent, error) {
	if err := c.checkText(OpSendButtons, ch, m.To, m.Body, c.limits.QuickReplyText); err != nil {
		return Sent{}, err
	}
	if err := c.checkButtons(m.Buttons); err != nil {
		return Sent{}, err
	}
	b := newSendBody(m.To, m.ReplyTo, "interactive")
	ib := &interactiveBody{Type: "button"}
	ib.Body.Text = m.Body
	for _, bt := range m.Buttons {
		rb := replyButton{Type: "reply"}
		rb.Reply.ID, rb.Reply.Title = bt.ID, bt.Title
		ib.Action.Buttons = append(ib.Action.Buttons, rb)
	}
	b.Interactive = ib
	return c.send(ctx, OpSendButtons, ch, b)
}

// MarkRead marks the user's message messageID (and every earlier one) as
// read, and with typing also shows a typing indicator, which WhatsApp hides
// when our next message arrives or after 25 seconds.
func (c *Client) MarkRead(ctx context.Context, ch Channel, messageID string, typing bool) error {
	if err := checkChannel(OpMarkRead, ch); err != nil {
		return err
	}
	if messageID == "" {
		return graph.Invalid(OpMarkRead, "no message id")
	}
	body := map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": messageID}
	if typing {
		body["typing_indicator"] = map[string]string{"type": "text"}
	}
	_, err := c.g.Post(ctx, graph.Request{Op: OpMarkRead, Path: messagesPath(ch), Route: route, Token: ch.AccessToken, Body: body}, nil)
	return err
}

const route = "/{phone_number_id}/messages"

func messagesPath(ch Channel) string { return "/" + url.PathEscape(ch.PhoneNumberID) + "/messages" }

func newSendBody(to, replyTo, typ string) *sendBody {
	b := &sendBody{MessagingProduct: "whatsapp", RecipientType: "individual", Type: typ}
	if IsWaID(to) {
		b.To = to
	} else {
		b.Recipient = to
	}
	if replyTo != "" {
		b.Context = &replyContext{MessageID: replyTo}
	}
	return b
}

func (c *Client) send(ctx context.Context, op string, ch Channel, b *sendBody) (Sent, error) {
	var ans sendAnswer
	res, err := c.g.Post(ctx, graph.Request{Op: op, Path: messagesPath(ch), Route: route, Token: ch.AccessToken, Body: b}, &ans)
	if err != nil {
		return Sent{}, err
	}
	if len(ans.Messages) == 0 || ans.Messages[0].ID == "" {
		return Sent{}, &graph.Error{Op: op, Status: res.Status, Kind: graph.KindBadResponse, Usage: res.Usage,
			Message: "answer has no messages[0].id"}
	}
	s := Sent{MessageID: ans.Messages[0].ID, Usage: res.Usage}
	if len(ans.Contacts) > 0 {
		s.WaID = ans.Contacts[0].WaID
	}
	return s, nil
}

func checkChannel(op string, ch Channel) error {
	if ch.PhoneNumberID == "" {
		return graph.Invalid(op, "no phone number id")
	}
	if ch.AccessToken == "" {
		return &graph.Error{Op: op, Kind: graph.KindAuth, Err: graph.ErrNoToken}
	}
	return nil
}

func (c *Client) checkText(op string, ch Channel, to, body string, limit int) error {
	if err := checkChannel(op, ch); err != nil {
		return err
	}
	if to == "" {
		return graph.Invalid(op, "no recipient")
	}
	if body == "" {
		return graph.Invalid(op, "empty text")
	}
	if n := graph.TextLen(body); n > limit {
		return graph.Invalid(op, "text is %d characters, limit %d", n, limit)
	}
	return nil
}

func (c *Client) checkButtons(buttons []Button) error {
	if len(buttons) == 0 || len(buttons) > c.limits.QuickReplies {
		return graph.Invalid(OpSendButtons, "%d buttons, want 1 to %d", len(buttons), c.limits.QuickReplies)
	}
	ids, titles := map[string]bool{}, map[string]bool{}
	for i, b := range buttons {
		switch {
		case b.ID == "" || b.Title == "":
			return graph.Invalid(OpSendButtons, "button %d has no id or title", i+1)
		case graph.TextLen(b.Title) > c.limits.QuickReplyTitle:
			return graph.Invalid(OpSendButtons, "button %d title is %d characters, limit %d", i+1, graph.TextLen(b.Title), c.limits.QuickReplyTitle)
		case graph.TextLen(b.ID) > c.limits.QuickReplyPayload:
			return graph.Invalid(OpSendButtons, "button %d id is %d characters, limit %d", i+1, graph.TextLen(b.ID), c.limits.QuickReplyPayload)
		case ids[b.ID] || titles[b.Title]:
			return graph.Invalid(OpSendButtons, "button %d repeats an id or title", i+1)
		}
		ids[b.ID], titles[b.Title] = true, true
	}
	return nil
}

// IsWaID reports whether id looks like a wa_id (digits, as WhatsApp writes
// phone-based ids) rather than a business-scoped user id.
func IsWaID(id string) bool {
	if id == "" {
		return false
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
