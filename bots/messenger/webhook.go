package messenger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/corral-ai/corral/bots/internal/lenient"
	"github.com/corral-ai/corral/bots/webhook"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Object is the "object" of every Messenger webhook delivery.
const Object = "page"

const platform = corralv1.Platform_PLATFORM_MESSENGER

var mediaTypes = map[string]corralv1.MediaType{
	"image":   corralv1.MediaType_MEDIA_TYPE_IMAGE,
	"video":   corralv1.MediaType_MEDIA_TYPE_VIDEO,
	"audio":   corralv1.MediaType_MEDIA_TYPE_AUDIO,
	"file":    corralv1.MediaType_MEDIA_TYPE_DOCUMENT,
	"sticker": corralv1.MediaType_MEDIA_TYPE_STICKER,
}

// reactionEmoji maps Messenger's reaction names to the emoji the app shows;
// "other" has none.
var reactionEmoji = map[string]string{
	"smile":   "\U0001F606",
	"angry":   "\U0001F620",
	"sad":     "\U0001F622",
	"wow":     "\U0001F62E",
	"love":    "\U0001F60D",
	"like":    "\U0001F44D",
	"dislike": "\U0001F44E",
}

// Parse reads one webhook delivery (the raw, already verified body) and sorts
// everything in it into a webhook.Result: every entry and every event of its
// messaging[] and standby[] lists counts, in body order. It fails, with an
// error wrapping webhook.ErrNotWebhook, only when body is not a Messenger
// webhook at all; malformed or unknown items are skipped and reported as
// warnings.
//
// Postbacks and reactions without a platform id get a synthetic one built
// from the sender, the timestamp and the content, so a retried delivery
// yields the same id.
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
	warn := func(path, reason string) { res.Warnf(path, "%s", reason) }
	env.Entry.Each("entry", warn, func(path string, raw json.RawMessage) {
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
	warn := warner(res)
	e.Messaging.Each(path+".messaging", warn, func(path string, raw json.RawMessage) {
		parseEvent(res, path, raw, string(e.ID))
	})
	e.Standby.Each(path+".standby", warn, func(path string, raw json.RawMessage) {
		parseStandby(res, path, raw, string(e.ID))
	})
	e.Changes.Each(path+".changes", warn, func(string, json.RawMessage) {
		feedNotice(res, string(e.ID), int64(e.Time))
	})
}

// feedNotice records an item of an entry's changes[] (Page feed events).
func feedNotice(res *webhook.Result, pageID string, time int64) {
	res.Notices = append(res.Notices, webhook.Notice{Kind: webhook.NoticeFeed, Platform: platform,
		ChannelID: pageID, Time: lenient.Time(time)})
}

// warner adapts Result.Warnf to lenient.List.Each.
func warner(res *webhook.Result) func(path, reason string) {
	return func(path, reason string) { res.Warnf(path, "%s", reason) }
}

// ids returns the page (our channel) and the user of an event. For events
// the user sends, the page is the recipient; for echoes it is the sender.
func (ev *event) ids(pageID string, fromPage bool) (channel, user string) {
	var sender, recipient string
	if ev.Sender != nil {
		sender = string(ev.Sender.ID)
	}
	if ev.Recipient != nil {
		recipient = string(ev.Recipient.ID)
	}
	if fromPage {
		sender, recipient = recipient, sender
	}
	if recipient == "" {
		recipient = pageID
	}
	return recipient, sender
}

func parseEvent(res *webhook.Result, path string, raw json.RawMessage, pageID string) {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		res.Warnf(path, "cannot read event: %v", err)
		return
	}
	handleEvent(res, path, raw, &ev, pageID)
}

// handleEvent sorts one decoded messaging[] event into res; raw is its
// item.
func handleEvent(res *webhook.Result, path string, raw json.RawMessage, ev *event, pageID string) {
	at := lenient.Time(int64(ev.Timestamp))
	switch {
	case ev.Message != nil && bool(ev.Message.IsEcho):
		channel, user := ev.ids(pageID, true)
		m := ev.Message
		res.Business = append(res.Business, webhook.BusinessEvent{Kind: webhook.BusinessEcho, Platform: platform,
			ChannelID: channel, UserID: user, MessageID: string(m.MID), AppID: string(m.AppID),
			Metadata: string(m.Metadata), Text: string(m.Text), Time: at})
	case ev.Message != nil:
		parseMessage(res, path, raw, ev, pageID)
	case ev.Postback != nil:
		parsePostback(res, path, raw, ev, pageID)
	case ev.Delivery != nil, ev.Read != nil:
		parseReceipt(res, ev, pageID)
	case ev.Reaction != nil:
		parseReaction(res, path, raw, ev, pageID)
	case ev.MessageEdit != nil:
		channel, user := ev.ids(pageID, false)
		res.Notices = append(res.Notices, webhook.Notice{Kind: webhook.NoticeEdit, Platform: platform,
			ChannelID: channel, UserID: user, MessageID: string(ev.MessageEdit.MID), Time: at})
	case ev.PassThreadControl != nil, ev.TakeThreadControl != nil, ev.RequestThreadControl != nil:
		parseHandover(res, ev, pageID)
	default:
		kind := noticeKind(ev)
		if kind == "" {
			if k := keys(raw); k != "" {
				res.Warnf(path, "unknown event kind (keys %s)", k)
			} else {
				res.Warnf(path, "event without a kind")
			}
			return
		}
		channel, user := ev.ids(pageID, false)
		res.Notices = append(res.Notices, webhook.Notice{Kind: kind, Platform: platform,
			ChannelID: channel, UserID: user, Time: at})
	}
}

func noticeKind(ev *event) string {
	switch {
	case ev.Referral != nil:
		return webhook.NoticeReferral
	case ev.Optin != nil:
		return webhook.NoticeOptin
	case ev.AccountLinking != nil:
		return webhook.NoticeAccountLinking
	case ev.PolicyEnforcement != nil || ev.PolicyEnforcement2 != nil:
		return webhook.NoticePolicy
	case ev.AppRoles != nil:
		return webhook.NoticeAppRoles
	case ev.GamePlay != nil:
		return "game_play"
	case ev.Payment != nil, ev.CheckoutUpdate != nil, ev.PreCheckout != nil:
		return "payment"
	case ev.MessagingFeedback != nil:
		return "messaging_feedback"
	}
	return ""
}

// keys lists the top-level keys of an unknown event for the warning.
func keys(raw json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return "?"
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		if k != "sender" && k != "recipient" && k != "timestamp" {
			ks = append(ks, lenient.Truncate(k))
		}
	}
	slices.Sort(ks)
	if len(ks) > 8 {
		ks = append(ks[:8], "…")
	}
	return strings.Join(ks, ", ")
}

// newChat starts a ChatMessage for an event the user sent, or returns why it
// cannot be answered.
func newChat(ev *event, raw json.RawMessage, pageID, id string) (*corralv1.ChatMessage, string) {
	channel, user := ev.ids(pageID, false)
	switch {
	case user == "" && ev.Sender != nil && ev.Sender.UserRef != "":
		return nil, "event from a user_ref (plugin guest or opt-in) without a PSID to answer"
	case user == "":
		return nil, "event without sender.id"
	case channel == "":
		return nil, "event without recipient.id or entry id"
	case id == "":
		return nil, "message without mid"
	}
	cm := &corralv1.ChatMessage{Platform: platform, ChannelId: channel, UserId: user, PlatformMessageId: id, Raw: raw}
	if at := lenient.Time(int64(ev.Timestamp)); !at.IsZero() {
		cm.SentTime = timestamppb.New(at)
	}
	return cm, ""
}

func parseMessage(res *webhook.Result, path string, raw json.RawMessage, ev *event, pageID string) {
	m := ev.Message
	if m.IsDeleted {
		channel, user := ev.ids(pageID, false)
		res.Notices = append(res.Notices, webhook.Notice{Kind: webhook.NoticeDelete, Platform: platform,
			ChannelID: channel, UserID: user, MessageID: string(m.MID), Time: lenient.Time(int64(ev.Timestamp))})
		return
	}
	cm, reason := newChat(ev, raw, pageID, string(m.MID))
	if reason != "" {
		res.Warnf(path, "%s", reason)
		return
	}
	if m.ReplyTo != nil {
		cm.ReplyToMessageId = string(m.ReplyTo.MID)
	}
	cm.Text = string(m.Text)
	switch {
	case bool(m.IsUnsupported):
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_UNSUPPORTED
	case m.QuickReply != nil:
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_BUTTON_REPLY
		cm.Payload = string(m.QuickReply.Payload)
	case m.Attachments.Items != nil || m.Attachments.Invalid != nil:
		fillAttachment(res, path+".message.attachments", cm, &m.Attachments)
	case cm.Text != "":
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_TEXT
	default:
		res.Warnf(path, "message without text or attachments")
		return
	}
	res.Messages = append(res.Messages, cm)
}

// fillAttachment sets the kind of cm from its attachments. A message has one
// platform id, so it becomes one ChatMessage: a sticker wins (Meta sends a
// sticker both as a "sticker" and an old-style "image" attachment), then the
// first attachment Corral knows.
func fillAttachment(res *webhook.Result, path string, cm *corralv1.ChatMessage, list *lenient.List) {
	var atts []attachment
	var payloads []attachmentPayload
	list.Each(path, func(p, reason string) { res.Warnf(p, "%s", reason) }, func(p string, raw json.RawMessage) {
		var a attachment
		if err := json.Unmarshal(raw, &a); err != nil {
			res.Warnf(p, "cannot read attachment: %v", err)
			return
		}
		var pl attachmentPayload
		switch {
		case len(a.Payload) > 0 && a.Payload[0] == '{':
			if err := json.Unmarshal(a.Payload, &pl); err != nil {
				res.Warnf(p, "cannot read attachment payload: %v", err)
			}
		case len(a.Payload) > 0 && a.Payload[0] == '"':
			// A fallback's payload may be the shared URL itself.
			_ = json.Unmarshal(a.Payload, &pl.URL)
		}
		atts = append(atts, a)
		payloads = append(payloads, pl)
	})
	best := -1
	for i, a := range atts {
		typ := string(a.Type)
		if typ == "sticker" || (typ == "image" && payloads[i].StickerID != "") {
			best = i
			break
		}
		if best < 0 && (mediaTypes[typ] != 0 || typ == "location" || typ == "fallback") {
			best = i
		}
	}
	if best < 0 {
		if cm.Text != "" {
			cm.Kind = corralv1.MessageKind_MESSAGE_KIND_TEXT
			return
		}
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_UNSUPPORTED
		if len(atts) > 0 {
			cm.Text = "attachment type " + lenient.Truncate(string(atts[0].Type))
		}
		return
	}
	a, pl := atts[best], payloads[best]
	url := string(pl.URL)
	if url == "" {
		url = string(a.URL)
	}
	switch typ := string(a.Type); {
	case typ == "location":
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_LOCATION
		cm.Location = &corralv1.Location{Name: string(a.Title), Url: url}
		if pl.Coordinates != nil {
			cm.Location.Latitude, cm.Location.Longitude = float64(pl.Coordinates.Lat), float64(pl.Coordinates.Long)
		}
	case typ == "fallback":
		// A shared link: answer its text, or the link itself.
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_TEXT
		if cm.Text == "" {
			cm.Text = url
		}
		if cm.Text == "" {
			cm.Text = string(a.Title)
		}
		if cm.Text == "" {
			cm.Kind = corralv1.MessageKind_MESSAGE_KIND_UNSUPPORTED
		}
	default:
		cm.Kind = corralv1.MessageKind_MESSAGE_KIND_MEDIA
		cm.Media = &corralv1.Media{Type: mediaTypes[typ], Url: url}
		if pl.StickerID != "" {
			cm.Media.Type = corralv1.MediaType_MEDIA_TYPE_STICKER
			cm.Media.MediaId = string(pl.StickerID)
		}
	}
}

func parsePostback(res *webhook.Result, path string, raw json.RawMessage, ev *event, pageID string) {
	pb := ev.Postback
	id := string(pb.MID)
	if id == "" {
		_, user := ev.ids(pageID, false)
		id = syntheticID("postback", user, int64(ev.Timestamp), string(pb.Payload), string(pb.Title))
	}
	cm, reason := newChat(ev, raw, pageID, id)
	if reason != "" {
		res.Warnf(path, "%s", reason)
		return
	}
	cm.Kind = corralv1.MessageKind_MESSAGE_KIND_POSTBACK
	cm.Text, cm.Payload = string(pb.Title), string(pb.Payload)
	res.Messages = append(res.Messages, cm)
}

// syntheticID builds a stable id for an event Meta gives none: the same
// event delivered twice yields the same id, different events different ones.
func syntheticID(kind, user string, ts int64, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return kind + ":" + user + ":" + strconv.FormatInt(ts, 10) + ":" + hex.EncodeToString(h.Sum(nil)[:8])
}

func parseReceipt(res *webhook.Result, ev *event, pageID string) {
	channel, user := ev.ids(pageID, false)
	st := webhook.Status{Platform: platform, ChannelID: channel, UserID: user, Time: lenient.Time(int64(ev.Timestamp))}
	r := ev.Delivery
	st.State = webhook.StatusDelivered
	if r == nil {
		r, st.State = ev.Read, webhook.StatusRead
	}
	st.Watermark = lenient.Time(int64(r.Watermark))
	if len(r.MIDs) == 0 {
		res.Statuses = append(res.Statuses, st)
		return
	}
	for _, mid := range r.MIDs {
		s := st
		s.MessageID = string(mid)
		res.Statuses = append(res.Statuses, s)
	}
}

func parseReaction(res *webhook.Result, path string, raw json.RawMessage, ev *event, pageID string) {
	r := ev.Reaction
	_, user := ev.ids(pageID, false)
	id := syntheticID("reaction", user, int64(ev.Timestamp), string(r.MID), string(r.Action), string(r.Reaction), string(r.Emoji))
	cm, reason := newChat(ev, raw, pageID, id)
	if reason != "" {
		res.Warnf(path, "%s", reason)
		return
	}
	cm.Kind = corralv1.MessageKind_MESSAGE_KIND_REACTION
	cm.Reaction = &corralv1.Reaction{MessageId: string(r.MID)}
	if r.Action != "unreact" {
		cm.Reaction.Emoji = string(r.Emoji)
		if cm.Reaction.Emoji == "" {
			// Older payloads name the reaction without the emoji.
			cm.Reaction.Emoji = reactionEmoji[string(r.Reaction)]
		}
	}
	res.Reactions = append(res.Reactions, cm)
}

func parseHandover(res *webhook.Result, ev *event, pageID string) {
	channel, user := ev.ids(pageID, false)
	be := webhook.BusinessEvent{Platform: platform, ChannelID: channel, UserID: user, Time: lenient.Time(int64(ev.Timestamp))}
	switch {
	case ev.PassThreadControl != nil:
		be.Kind, be.AppID, be.Metadata = webhook.BusinessPassThread, string(ev.PassThreadControl.NewOwnerAppID), string(ev.PassThreadControl.Metadata)
	case ev.TakeThreadControl != nil:
		be.Kind, be.AppID, be.Metadata = webhook.BusinessTakeThread, string(ev.TakeThreadControl.PreviousOwnerAppID), string(ev.TakeThreadControl.Metadata)
	default:
		be.Kind, be.AppID, be.Metadata = webhook.BusinessRequestThread, string(ev.RequestThreadControl.RequestedOwnerAppID), string(ev.RequestThreadControl.Metadata)
	}
	res.Business = append(res.Business, be)
}

// parseStandby records an event delivered to us while another app owns the
// thread: never answered.
func parseStandby(res *webhook.Result, path string, raw json.RawMessage, pageID string) {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		res.Warnf(path, "cannot read standby event: %v", err)
		return
	}
	handleStandby(res, &ev, pageID)
}

// handleStandby records one decoded standby event.
func handleStandby(res *webhook.Result, ev *event, pageID string) {
	fromPage := ev.Message != nil && bool(ev.Message.IsEcho)
	channel, user := ev.ids(pageID, fromPage)
	n := webhook.Notice{Kind: webhook.NoticeStandby, Platform: platform, ChannelID: channel, UserID: user,
		Time: lenient.Time(int64(ev.Timestamp))}
	if ev.Message != nil {
		n.MessageID = string(ev.Message.MID)
	}
	res.Notices = append(res.Notices, n)
}
