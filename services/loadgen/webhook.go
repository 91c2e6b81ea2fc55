package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/corral-ai/corral/bots/webhook"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Webhook bodies in the shapes Meta delivers them (Cloud API
// "messages" change, Messenger "messaging" event), one message each.

type waBody struct {
	Object string    `json:"object"`
	Entry  []waEntry `json:"entry"`
}

type waEntry struct {
	ID      string     `json:"id"`
	Changes []waChange `json:"changes"`
}

type waChange struct {
	Field string  `json:"field"`
	Value waValue `json:"value"`
}

type waValue struct {
	MessagingProduct string      `json:"messaging_product"`
	Metadata         waMetadata  `json:"metadata"`
	Contacts         []waContact `json:"contacts"`
	Messages         []waMessage `json:"messages"`
}

type waMetadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

type waContact struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WaID string `json:"wa_id"`
}

type waMessage struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Text      struct {
		Body string `json:"body"`
	} `json:"text"`
}

type msBody struct {
	Object string    `json:"object"`
	Entry  []msEntry `json:"entry"`
}

type msEntry struct {
	ID        string    `json:"id"`
	Time      int64     `json:"time"`
	Messaging []msEvent `json:"messaging"`
}

type msEvent struct {
	Sender    msID      `json:"sender"`
	Recipient msID      `json:"recipient"`
	Timestamp int64     `json:"timestamp"`
	Message   msMessage `json:"message"`
}

type msID struct {
	ID string `json:"id"`
}

type msMessage struct {
	Mid  string `json:"mid"`
	Text string `json:"text"`
}

// WebhookBody returns the webhook Meta would deliver for message m of user
// u sent at t, and the path it is delivered to.
func WebhookBody(u *User, m Message, t time.Time) (path string, body []byte, err error) {
	if u.Platform == corralv1.Platform_PLATFORM_WHATSAPP {
		msg := waMessage{From: u.ID, ID: m.ID, Timestamp: strconv.FormatInt(t.Unix(), 10), Type: "text"}
		msg.Text.Body = m.Text
		c := waContact{WaID: u.ID}
		c.Profile.Name = u.Name
		v := waValue{MessagingProduct: "whatsapp", Metadata: waMetadata{DisplayPhoneNumber: "15550001111", PhoneNumberID: u.Channel},
			Contacts: []waContact{c}, Messages: []waMessage{msg}}
		body, err = json.Marshal(waBody{Object: "whatsapp_business_account",
			Entry: []waEntry{{ID: "310000000000001", Changes: []waChange{{Field: "messages", Value: v}}}}})
		return "/webhooks/whatsapp", body, err
	}
	ms := t.UnixMilli()
	body, err = json.Marshal(msBody{Object: "page", Entry: []msEntry{{ID: u.Channel, Time: ms, Messaging: []msEvent{{
		Sender: msID{u.ID}, Recipient: msID{u.Channel}, Timestamp: ms, Message: msMessage{Mid: m.ID, Text: m.Text}}}}}})
	return "/webhooks/messenger", body, err
}

// delivery is one signed webhook ready to post (and post again).
type delivery struct {
	url, signature string
	body           []byte
}

func newDelivery(target, secret, path string, body []byte) delivery {
	return delivery{url: target + path, signature: webhook.Sign(secret, body), body: body}
}

// post delivers d once and returns the HTTP status; 0 with an error when
// no answer came.
func (d delivery) post(ctx context.Context, client *http.Client) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", d.signature)
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	_ = res.Body.Close()
	return res.StatusCode, nil
}
