package whatsapp

import (
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/corral-ai/corral/bots/internal/lenient"
	"github.com/corral-ai/corral/bots/webhook"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Object is the "object" of every WhatsApp Business webhook delivery.
const Object = "whatsapp_business_account"

// Subscription fields (changes[].field) that carry no chat traffic; they
// become Notices of the same kind. A field not listed here and not handled
// below becomes a Warning.
var noticeFields = map[string]bool{
	"account_alerts":                     true,
	"account_review_update":              true,
	"account_update":                     true,
	"automatic_events":                   true,
	"business_capability_update":         true,
	"business_status_update":             true,
	"business_username_update":           true,
	"calls":                              true,
	"flows":                              true,
	"group_lifecycle_update":             true,
	"group_participants_update":          true,
	"group_settings_update":              true,
	"group_status_update":                true,
	"history":                            true,
	"message_template_components_update": true,
	"message_template_quality_update":    true,
	"message_template_status_update":     true,
	"partner_solutions":                  true,
	"payment_configuration_update":       true,
	"phone_number_name_update":           true,
	"phone_number_quality_update":        true,
	"security":                           true,
	"smb_app_state_sync":                 true,
	"template_category_update":           true,
	"user_id_update":                     true,
	"user_preferences":                   true,
}

// Message types that are understood but never answered, and the Notice kind
// each becomes.
var noticeTypes = map[string]string{
	"order":           webhook.NoticeOrder,
	"system":          webhook.NoticeSystem,
	"revoke":          webhook.NoticeDelete,
	"edit":            webhook.NoticeEdit,
	"request_welcome": webhook.NoticeWelcome,
	"referral":        webhook.NoticeReferral,
	// Set by parseMessage for interactive messages of that type.
	"call_permission_reply": "call_permission_reply",
}

var mediaTypes = map[string]corralv1.MediaType{
	"image":    corralv1.MediaType_MEDIA_TYPE_IMAGE,
	"video":    corralv1.MediaType_MEDIA_TYPE_VIDEO,
	"audio":    corralv1.MediaType_MEDIA_TYPE_AUDIO,
	"document": corralv1.MediaType_MEDIA_TYPE_DOCUMENT,
	"sticker":  corralv1.MediaType_MEDIA_TYPE_STICKER,
}

var statusStates = map[string]webhook.StatusState{
	"sent":      webhook.StatusSent,
	"delivered": webhook.StatusDelivered,
	"read":      webhook.StatusRead,
	"played":    webhook.StatusPlayed,
	"failed":    webhook.StatusFailed,
	"deleted":   webhook.StatusDeleted,
}

const platform = corralv1.Platform_PLATFORM_WHATSAPP

// Parse reads one webhook delivery (the raw, already verified body) and sorts
// everything in it into a webhook.Result: every entry, change, message and
// status counts, in body order. It fails, with an error wrapping
// webhook.ErrNotWebhook, only when body is not a WhatsApp webhook at all;
// malformed or unknown items are skipped and reported as warnings.
//
// Parse reads the body in one typed pass (decode.go); an item of a shape
// that pass leaves alone is read again, on its own, by the careful path
// below, which decodes level by level with encoding/json.
func Parse(body []byte) (*webhook.Result, error) {
	if res, ok := parseFast(body); ok {
		return res, nil
	}
	return parseCareful(body)
}

// parseCareful is Parse level by level: each list item is decoded on its
// own with encoding/json, so a malformed one is skipped with a warning.
func parseCareful(body []byte) (*webhook.Result, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %w", webhook.ErrNotWebhook, err)
	}
	if env.Object != Object {
		return nil, fmt.Errorf("%w: object %q, want %q", webhook.ErrNotWebhook, lenient.Truncate(string(env.Object)), Object)
	}
	if env.Entry.Items == nil {
		return nil, fmt.Errorf("%w: no entry list", webhook.ErrNotWebhook)
	}
	res := &webhook.Result{Platform: platform}
	env.Entry.Each("entry", warner(res), func(path string, raw json.RawMessage) {
		parseEntry(res, path, raw)
	})
	return res, nil
}

func parseEntry(res *webhook.Result, path string, raw json.RawMessage) {
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		res.Warnf(path, "cannot read entry: %v", err)
		return
	}
	e.Changes.Each(path+".changes", warner(res), func(path string, raw json.RawMessage) {
		parseChange(res, path, raw)
	})
}

func parseChange(res *webhook.Result, path string, raw json.RawMessage) {
	var c change
	if err := json.Unmarshal(raw, &c); err != nil {
		res.Warnf(path, "cannot read change: %v", err)
		return
	}
	field := string(c.Field)
	switch {
	case field == "messages" || field == "smb_message_echoes":
		var v value
		if err := json.Unmarshal(c.Value, &v); err != nil || len(c.Value) == 0 {
			res.Warnf(path+".value", "cannot read %s value: %v", field, err)
			return
		}
		channel := ""
		if v.Metadata != nil {
			channel = string(v.Metadata.PhoneNumberID)
		}
		vp := path + ".value"
		if field == "smb_message_echoes" {
			parseEchoes(res, vp, channel, v.MessageEchoes)
			return
		}
		warn := warner(res)
		contacts := parseContacts(res, vp, v.Contacts)
		v.Messages.Each(vp+".messages", warn, func(path string, raw json.RawMessage) {
			parseMessage(res, path, raw, channel, contacts)
		})
		v.Statuses.Each(vp+".statuses", warn, func(path string, raw json.RawMessage) {
			parseStatus(res, path, raw, channel)
		})
		v.Errors.Each(vp+".errors", warn, func(path string, raw json.RawMessage) {
			parseValueError(res, path, raw, channel)
		})
	case noticeFields[field]:
		n := webhook.Notice{Kind: field, Platform: platform}
		var v value
		if json.Unmarshal(c.Value, &v) == nil && v.Metadata != nil {
			n.ChannelID = string(v.Metadata.PhoneNumberID)
		}
		res.Notices = append(res.Notices, n)
	case field == "":
		res.Warnf(path, "change without field")
	default:
		res.Warnf(path, "unknown subscription field %q", lenient.Truncate(field))
	}
}

func parseContacts(res *webhook.Result, path string, list lenient.List) []contact {
	out := make([]contact, 0, len(list.Items))
	list.Each(path+".contacts", warner(res), func(path string, raw json.RawMessage) {
		out = parseContact(res, path, raw, out)
	})
	return out
}

// parseContact appends the contact in raw to out, or warns.
func parseContact(res *webhook.Result, path string, raw json.RawMessage, out []contact) []contact {
	var c contact
	if err := json.Unmarshal(raw, &c); err != nil {
		res.Warnf(path, "cannot read contact: %v", err)
		return out
	}
	return append(out, c)
}

// warner adapts Result.Warnf to lenient.List.Each.
func warner(res *webhook.Result) func(path, reason string) {
	return func(path, reason string) { res.Warnf(path, "%s", reason) }
}

// sender finds who wrote m: the wa_id when the payload has one, else the
// business-scoped user id (users with a username may have no phone number in
// the payload), and the profile name from the matching contact.
func sender(m *message, contacts []contact) (userID, scopedID, name string) {
	from, fromUser := string(m.From), string(m.FromUserID)
	var c *contact
	for i := range contacts {
		if (from != "" && string(contacts[i].WaID) == from) || (fromUser != "" && string(contacts[i].UserID) == fromUser) {
			c = &contacts[i]
			break
		}
	}
	// A lone contact is the sender unless its ids say otherwise.
	if c == nil && len(contacts) == 1 {
		only := &contacts[0]
		if (from == "" || only.WaID == "") && (fromUser == "" || only.UserID == "") {
			c = only
		}
	}
	if c != nil {
		name = string(c.Profile.Name)
		if fromUser == "" {
			fromUser = string(c.UserID)
		}
		if from == "" {
			from = string(c.WaID)
		}
	}
	userID = from
	if userID == "" {
		userID = fromUser
	}
	return userID, fromUser, name
}

func parseMessage(res *webhook.Result, path string, raw json.RawMessage, channel string, contacts []contact) {
	var m message
	if err := json.Unmarshal(raw, &m); err != nil {
		res.Warnf(path, "cannot read message: %v", err)
		return
	}
	handleMessage(res, path, raw, &m, channel, contacts)
}

// handleMessage sorts one decoded message into res; raw is its item.
func handleMessage(res *webhook.Result, path string, raw json.RawMessage, m *message, channel string, contacts []contact) {
	typ := string(m.Type)
	userID, scopedID, name := sender(m, contacts)
	sent := lenient.Time(int64(m.Timestamp))
	if typ == "interactive" && m.Interactive != nil && m.Interactive.Type == "call_permission_reply" {
		typ = "call_permission_reply" // the user answered a request to call them: not chat
	}
	if kind, ok := noticeTypes[typ]; ok {
		res.Notices = append(res.Notices, webhook.Notice{Kind: kind, Platform: platform, ChannelID: channel,
			UserID: userID, MessageID: string(m.ID), Time: sent})
		return
	}
	switch {
	case channel == "":
		res.Warnf(path, "message without metadata.phone_number_id")
		return
	case m.ID == "":
		res.Warnf(path, "message without id")
		return
	case userID == "":
		res.Warnf(path, "message without sender (from, from_user_id or contact)")
		return
	}
	cm := &corralv1.ChatMessage{
		Platform:          platform,
		ChannelId:         channel,
		UserId:            userID,
		UserScopedId:      scopedID,
		UserDisplayName:   name,
		PlatformMessageId: string(m.ID),
		Raw:               raw,
	}
	if !sent.IsZero() {
		cm.SentTime = timestamppb.New(sent)
	}
	if m.Context != nil {
		cm.ReplyToMessageId = string(m.Context.ID)
		cm.Forwarded = bool(m.Context.Forwarded || m.Context.FrequentlyForwarded)
	}
	if reason := fill(cm, m, typ); reason != "" {
		res.Warnf(path, "%s", reason)
		return
	}
	if cm.Kind == corralv1.MessageKind_MESSAGE_KIND_REACTION {
		res.Reactions = append(res.Reactions, cm)
		return
	}
	res.Messages = append(res.Messages, cm)
}

// fill sets the kind and content of cm from m's type; it returns why the
// message is skipped, or "".
func fill(cm *corralv1.ChatMessage, m *message, typ string) string {
	switch typ {
	case "text":
		if m.Text == nil {
			return "text message without text"
		}
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_TEXT
		cm.Text = string(m.Text.Body)
	case "image", "video", "audio", "document", "sticker":
		md := m.media(typ)
		if md == nil {
			return typ + " message without " + typ + " object"
		}
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_MEDIA
		cm.Text = string(md.Caption)
		cm.Media = &corralv1.Media{Type: mediaTypes[typ], MediaId: string(md.ID), Url: string(md.URL),
			MimeType: string(md.MimeType), Sha256: string(md.SHA256), Filename: string(md.Filename),
			Voice: bool(md.Voice), Animated: bool(md.Animated)}
	case "location":
		if m.Location == nil {
			return "location message without location"
		}
		l := m.Location
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_LOCATION
		cm.Location = &corralv1.Location{Latitude: float64(l.Latitude), Longitude: float64(l.Longitude),
			Name: string(l.Name), Address: string(l.Address), Url: string(l.URL)}
	case "contacts":
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_CONTACTS
		for _, c := range m.Contacts {
			cm.Contacts = append(cm.Contacts, sharedContactOf(c))
		}
	case "interactive":
		return fillInteractive(cm, m.Interactive)
	case "button":
		if m.Button == nil {
			return "button message without button"
		}
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_BUTTON_REPLY
		cm.Text = string(m.Button.Text)
		cm.Payload = string(m.Button.Payload)
	case "reaction":
		if m.Reaction == nil {
			return "reaction message without reaction"
		}
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_REACTION
		cm.Reaction = &corralv1.Reaction{MessageId: string(m.Reaction.MessageID), Emoji: string(m.Reaction.Emoji)}
	case "unsupported", "unknown":
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_UNSUPPORTED
		cm.Text = describeErrors(m.Errors)
	case "":
		return "message without type"
	default:
		return fmt.Sprintf("unknown message type %q", lenient.Truncate(typ))
	}
	return ""
}

func fillInteractive(cm *corralv1.ChatMessage, it *interactive) string {
	if it == nil {
		return "interactive message without interactive"
	}
	switch {
	case it.ButtonReply != nil && (it.Type == "button_reply" || it.Type == ""):
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_BUTTON_REPLY
		cm.Text, cm.Payload = string(it.ButtonReply.Title), string(it.ButtonReply.ID)
	case it.ListReply != nil && (it.Type == "list_reply" || it.Type == ""):
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_BUTTON_REPLY
		cm.Text, cm.Payload = string(it.ListReply.Title), string(it.ListReply.ID)
	case it.NFMReply != nil && (it.Type == "nfm_reply" || it.Type == ""):
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_FLOW_REPLY
		cm.Text, cm.Payload = string(it.NFMReply.Body), string(it.NFMReply.ResponseJSON)
	default:
		return fmt.Sprintf("unknown or empty interactive type %q", lenient.Truncate(string(it.Type)))
	}
	return ""
}

func sharedContactOf(c sharedContact) *corralv1.SharedContact {
	sc := &corralv1.SharedContact{FormattedName: string(c.Name.FormattedName)}
	if sc.FormattedName == "" {
		sc.FormattedName = strings.TrimSpace(string(c.Name.FirstName) + " " + string(c.Name.LastName))
	}
	for _, p := range c.Phones {
		if p.Phone != "" {
			sc.Phones = append(sc.Phones, string(p.Phone))
		}
	}
	for _, e := range c.Emails {
		if e.Email != "" {
			sc.Emails = append(sc.Emails, string(e.Email))
		}
	}
	return sc
}

// describeErrors gives a short log description of an unsupported message.
func describeErrors(errs []platformError) string {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		t := string(e.Title)
		if t == "" {
			t = string(e.Message)
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", t, e.Code))
	}
	return strings.Join(parts, "; ")
}

func platformErrors(errs []platformError) []webhook.PlatformError {
	if len(errs) == 0 {
		return nil
	}
	out := make([]webhook.PlatformError, 0, len(errs))
	for _, e := range errs {
		pe := webhook.PlatformError{Code: int(e.Code), Title: string(e.Title), Details: string(e.ErrorData.Details)}
		if e.Message != e.Title {
			pe.Message = string(e.Message)
		}
		out = append(out, pe)
	}
	return out
}

func parseStatus(res *webhook.Result, path string, raw json.RawMessage, channel string) {
	var s status
	if err := json.Unmarshal(raw, &s); err != nil {
		res.Warnf(path, "cannot read status: %v", err)
		return
	}
	handleStatus(res, path, &s, channel)
}

// handleStatus records one decoded status.
func handleStatus(res *webhook.Result, path string, s *status, channel string) {
	state, ok := statusStates[string(s.Status)]
	if !ok {
		state = webhook.StatusUnknown
		res.Warnf(path, "unknown status %q (kept as unknown)", lenient.Truncate(string(s.Status)))
	}
	st := webhook.Status{
		Platform:     platform,
		ChannelID:    channel,
		UserID:       string(s.RecipientID),
		MessageID:    string(s.ID),
		State:        state,
		Time:         lenient.Time(int64(s.Timestamp)),
		Errors:       platformErrors(s.Errors),
		CallbackData: string(s.BizOpaqueCallbackData),
	}
	if st.UserID == "" {
		st.UserID = string(s.RecipientUserID)
	}
	if s.Pricing != nil {
		st.PricingCategory = string(s.Pricing.Category)
	}
	res.Statuses = append(res.Statuses, st)
}

func parseValueError(res *webhook.Result, path string, raw json.RawMessage, channel string) {
	var e platformError
	if err := json.Unmarshal(raw, &e); err != nil {
		res.Warnf(path, "cannot read error: %v", err)
		return
	}
	handleValueError(res, &e, channel)
}

// handleValueError records one decoded asynchronous error.
func handleValueError(res *webhook.Result, e *platformError, channel string) {
	detail := string(e.Title)
	if e.ErrorData.Details != "" {
		detail += ": " + string(e.ErrorData.Details)
	}
	res.Notices = append(res.Notices, webhook.Notice{Kind: webhook.NoticeError, Platform: platform,
		ChannelID: channel, Code: int(e.Code), Detail: detail})
}

// parseEchoes reads smb_message_echoes: messages the business sent by hand
// from the WhatsApp Business app or a linked device.
func parseEchoes(res *webhook.Result, path, channel string, list lenient.List) {
	list.Each(path+".message_echoes", warner(res), func(p string, raw json.RawMessage) {
		parseEcho(res, p, raw, channel)
	})
}

func parseEcho(res *webhook.Result, p string, raw json.RawMessage, channel string) {
	var m message
	if err := json.Unmarshal(raw, &m); err != nil {
		res.Warnf(p, "cannot read echo: %v", err)
		return
	}
	handleEcho(res, p, &m, channel)
}

// handleEcho records one decoded echo.
func handleEcho(res *webhook.Result, p string, m *message, channel string) {
	user := string(m.To)
	if user == "" {
		user = string(m.ToUserID)
	}
	if user == "" {
		res.Warnf(p, "echo without recipient (to, to_user_id)")
		return
	}
	ev := webhook.BusinessEvent{Kind: webhook.BusinessEcho, Platform: platform, ChannelID: channel,
		UserID: user, MessageID: string(m.ID), Time: lenient.Time(int64(m.Timestamp))}
	if m.Text != nil {
		ev.Text = string(m.Text.Body)
	}
	res.Business = append(res.Business, ev)
}

// media returns the media object of a media message type.
func (m *message) media(typ string) *media {
	switch typ {
	case "image":
		return m.Image
	case "video":
		return m.Video
	case "audio":
		return m.Audio
	case "document":
		return m.Document
	case "sticker":
		return m.Sticker
	}
	return nil
}
