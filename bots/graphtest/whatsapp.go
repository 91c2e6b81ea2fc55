package graphtest

import (
	"encoding/json"
	"fmt"

	"github.com/corral-ai/corral/bots/graph"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// waRequest is the part of a WhatsApp Send API body the fake checks.
type waRequest struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type"`
	To               string `json:"to"`
	Recipient        string `json:"recipient"`
	Type             string `json:"type"`
	Status           string `json:"status"`
	MessageID        string `json:"message_id"`
	TypingIndicator  *struct {
		Type string `json:"type"`
	} `json:"typing_indicator"`
	Context *struct {
		MessageID string `json:"message_id"`
	} `json:"context"`
	Text *struct {
		Body       string `json:"body"`
		PreviewURL bool   `json:"preview_url"`
	} `json:"text"`
	Interactive *struct {
		Type string `json:"type"`
		Body *struct {
			Text string `json:"text"`
		} `json:"body"`
		Action *struct {
			Buttons []struct {
				Type  string `json:"type"`
				Reply struct {
					ID    string `json:"id"`
					Title string `json:"title"`
				} `json:"reply"`
			} `json:"buttons"`
		} `json:"action"`
	} `json:"interactive"`
}

// waTypes are the message types the Cloud API knows; the fake checks text
// and reply buttons in depth and accepts the others as given.
var waTypes = map[string]bool{
	"text": true, "interactive": true, "template": true, "image": true, "audio": true, "video": true,
	"document": true, "sticker": true, "location": true, "contacts": true, "reaction": true,
}

var waLimits = graph.LimitsFor(corralv1.Platform_PLATFORM_WHATSAPP)

// checkWhatsApp validates a WhatsApp body like the Cloud API and fills call;
// a zero answer means valid.
func checkWhatsApp(body []byte, call *Call) answer {
	var req waRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return invalid(100, "Invalid parameter", "request body: "+err.Error())
	}
	if req.MessagingProduct != "whatsapp" {
		return invalid(100, "The parameter messaging_product is required.", "messaging_product must be whatsapp")
	}
	if req.Status != "" {
		return checkWhatsAppRead(&req, call)
	}
	call.Recipient = req.To
	if req.Recipient != "" {
		call.Recipient = req.Recipient
	}
	switch {
	case call.Recipient == "":
		return invalid(131008, "Required parameter is missing", "Parameter 'to' is required.")
	case req.To != "" && req.Recipient != "":
		return invalid(131009, "Parameter value is not valid", "Give either 'to' or 'recipient', not both.")
	case req.To != "" && !isPhone(req.To):
		return invalid(131009, "Parameter value is not valid", "Parameter 'to' is not a valid phone number.")
	case req.RecipientType != "" && req.RecipientType != "individual" && req.RecipientType != "group":
		return invalid(131009, "Parameter value is not valid", "recipient_type must be individual or group.")
	case req.Type == "":
		req.Type = "text" // the Cloud API defaults to text
	}
	if !waTypes[req.Type] {
		return invalid(100, fmt.Sprintf("Param type must be one of {TEXT, INTERACTIVE, TEMPLATE, ...}, got %q", req.Type), "")
	}
	if req.Context != nil {
		call.ReplyTo = req.Context.MessageID
	}
	switch req.Type {
	case "text":
		call.Kind = CallText
		if req.Text == nil || req.Text.Body == "" {
			return invalid(131008, "Required parameter is missing", "Parameter 'text.body' is required.")
		}
		call.Text = req.Text.Body
		if n := graph.TextLen(req.Text.Body); n > waLimits.Text {
			return invalid(100, fmt.Sprintf("Param text['body'] must be at most %d characters long.", waLimits.Text), fmt.Sprintf("text.body is %d characters", n))
		}
	case "interactive":
		call.Kind = CallButtons
		return checkButtons(&req, call)
	default:
		call.Kind = CallOther
	}
	return answer{}
}

func checkWhatsAppRead(req *waRequest, call *Call) answer {
	call.Kind = CallRead
	call.ReadMessageID = req.MessageID
	switch {
	case req.Status != "read":
		return invalid(100, "Param status must be read", "")
	case req.MessageID == "":
		return invalid(131008, "Required parameter is missing", "Parameter 'message_id' is required.")
	case req.TypingIndicator != nil && req.TypingIndicator.Type != "text":
		return invalid(131009, "Parameter value is not valid", "typing_indicator.type must be text.")
	}
	call.Typing = req.TypingIndicator != nil
	return answer{}
}

func checkButtons(req *waRequest, call *Call) answer {
	it := req.Interactive
	if it == nil || it.Type != "button" {
		if it != nil && it.Type != "" {
			call.Kind = CallOther // lists, flows...: accepted unchecked
			return answer{}
		}
		return invalid(131008, "Required parameter is missing", "Parameter 'interactive.type' is required.")
	}
	if it.Body == nil || it.Body.Text == "" {
		return invalid(131008, "Required parameter is missing", "Parameter 'interactive.body.text' is required.")
	}
	call.Text = it.Body.Text
	if n := graph.TextLen(it.Body.Text); n > waLimits.QuickReplyText {
		return invalid(131009, "Parameter value is not valid", fmt.Sprintf("interactive.body.text is %d characters, at most %d allowed", n, waLimits.QuickReplyText))
	}
	if it.Action == nil || len(it.Action.Buttons) == 0 || len(it.Action.Buttons) > waLimits.QuickReplies {
		return invalid(131009, "Parameter value is not valid", fmt.Sprintf("interactive.action.buttons must hold 1 to %d buttons", waLimits.QuickReplies))
	}
	ids, titles := map[string]bool{}, map[string]bool{}
	for i, b := range it.Action.Buttons {
		call.QuickReplies = append(call.QuickReplies, b.Reply.Title)
		call.Payloads = append(call.Payloads, b.Reply.ID)
		switch {
		case b.Type != "reply":
			return invalid(131009, "Parameter value is not valid", fmt.Sprintf("button %d type must be reply", i))
		case b.Reply.ID == "" || b.Reply.Title == "":
			return invalid(131008, "Required parameter is missing", fmt.Sprintf("button %d needs id and title", i))
		case graph.TextLen(b.Reply.Title) > waLimits.QuickReplyTitle:
			return invalid(131009, "Parameter value is not valid", fmt.Sprintf("button %d title is longer than %d characters", i, waLimits.QuickReplyTitle))
		case graph.TextLen(b.Reply.ID) > waLimits.QuickReplyPayload:
			return invalid(131009, "Parameter value is not valid", fmt.Sprintf("button %d id is longer than %d characters", i, waLimits.QuickReplyPayload))
		case ids[b.Reply.ID] || titles[b.Reply.Title]:
			return invalid(131009, "Parameter value is not valid", "button ids and titles must be unique")
		}
		ids[b.Reply.ID], titles[b.Reply.Title] = true, true
	}
	return answer{}
}

// isPhone accepts what the Cloud API takes as "to": digits, optionally
// with a leading + and separators.
func isPhone(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '(', r == ')':
		default:
			return false
		}
	}
	return digits >= 5 && digits <= 20
}
