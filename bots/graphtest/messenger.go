package graphtest

import (
	"encoding/json"
	"fmt"

	"github.com/corral-ai/corral/bots/graph"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// msRequest is the part of a Messenger Send API body the fake checks.
type msRequest struct {
	Recipient *struct {
		ID      string `json:"id"`
		UserRef string `json:"user_ref"`
	} `json:"recipient"`
	MessagingType string `json:"messaging_type"`
	Tag           string `json:"tag"`
	SenderAction  string `json:"sender_action"`
	Message       *struct {
		Text         string          `json:"text"`
		Attachment   json.RawMessage `json:"attachment"`
		Metadata     string          `json:"metadata"`
		QuickReplies []struct {
			ContentType string          `json:"content_type"`
			Title       string          `json:"title"`
			Payload     json.RawMessage `json:"payload"`
		} `json:"quick_replies"`
	} `json:"message"`
}

var msLimits = graph.LimitsFor(corralv1.Platform_PLATFORM_MESSENGER)

const msMaxMetadata = 1000

var senderActions = map[string]bool{"mark_seen": true, "typing_on": true, "typing_off": true, "react": true, "unreact": true}

// checkMessenger validates a Messenger body like the Send API and fills
// call; a zero answer means valid.
func checkMessenger(body []byte, call *Call) answer {
	var req msRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return invalid(100, "Invalid parameter: "+err.Error(), "")
	}
	if req.Recipient == nil || (req.Recipient.ID == "" && req.Recipient.UserRef == "") {
		return invalid(100, "The parameter recipient is required", "")
	}
	call.Recipient = req.Recipient.ID
	if call.Recipient == "" {
		call.Recipient = req.Recipient.UserRef
	} else if !isDigits(call.Recipient) {
		return graphError(100, 2018001, "No matching user found")
	}
	switch {
	case req.SenderAction != "" && req.Message != nil, req.SenderAction == "" && req.Message == nil:
		return invalid(100, "Must send either message or sender_action", "")
	case req.SenderAction != "":
		call.Kind, call.Action = CallAction, req.SenderAction
		if !senderActions[req.SenderAction] {
			return invalid(100, "Param sender_action must be one of {MARK_SEEN, TYPING_ON, TYPING_OFF, REACT, UNREACT}", "")
		}
		return answer{}
	}
	call.Kind, call.MessagingType = CallText, req.MessagingType
	m := req.Message
	call.Text, call.Metadata = m.Text, m.Metadata
	switch req.MessagingType {
	case "RESPONSE", "UPDATE":
	case "MESSAGE_TAG":
		if req.Tag == "" {
			return invalid(100, "Param tag is required with messaging_type MESSAGE_TAG", "")
		}
	default:
		return invalid(100, "Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}", "")
	}
	switch {
	case m.Text == "" && len(m.Attachment) == 0:
		return invalid(100, "Message cannot be empty, must provide valid attachment or text", "")
	case graph.TextLen(m.Text) > msLimits.Text:
		return invalid(100, fmt.Sprintf("Length of param message[text] must be less than or equal to %d", msLimits.Text), "")
	case len(m.QuickReplies) > msLimits.QuickReplies:
		return invalid(100, fmt.Sprintf("Param message[quick_replies] must have at most %d items", msLimits.QuickReplies), "")
	case graph.TextLen(m.Metadata) > msMaxMetadata:
		return invalid(100, fmt.Sprintf("Length of param message[metadata] must be less than or equal to %d", msMaxMetadata), "")
	}
	if len(m.Attachment) > 0 {
		call.Kind = CallOther
	}
	for i, q := range m.QuickReplies {
		var payload string
		_ = json.Unmarshal(q.Payload, &payload)
		call.QuickReplies = append(call.QuickReplies, q.Title)
		call.Payloads = append(call.Payloads, payload)
		if q.ContentType != "text" {
			continue // user_phone_number, user_email: no title needed
		}
		switch {
		case q.Title == "":
			return invalid(100, fmt.Sprintf("Param message[quick_replies][%d][title] must be non-empty", i), "")
		case payload == "":
			return invalid(100, fmt.Sprintf("Param message[quick_replies][%d][payload] must be non-empty", i), "")
		case graph.TextLen(q.Title) > msLimits.QuickReplyTitle:
			return invalid(100, fmt.Sprintf("Length of param message[quick_replies][%d][title] must be less than or equal to %d", i, msLimits.QuickReplyTitle), "")
		case graph.TextLen(payload) > msLimits.QuickReplyPayload:
			return invalid(100, fmt.Sprintf("Length of param message[quick_replies][%d][payload] must be less than or equal to %d", i, msLimits.QuickReplyPayload), "")
		}
	}
	return answer{}
}
