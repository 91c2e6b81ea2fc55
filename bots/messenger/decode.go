package messenger

import (
	"encoding/json"

	"github.com/corral-ai/corral/bots/internal/lenient"
	"github.com/corral-ai/corral/bots/webhook"
)

// The one-pass decoders: every level of the body is read once, straight
// into the typed shapes of payload.go. An item whose shape they leave
// alone (lenient.ErrShape, or a wrong kind of value anywhere inside it) is
// kept raw and read by the careful path's function for that item, so the
// result is the careful path's in every case; the other items are not
// read again. Attachments stay raw items (lenient.List), read by
// fillAttachment as before: they are rare and their payloads vary.

type fastEntry struct {
	id        lenient.String
	time      lenient.Int
	messaging []lenient.Item[event]
	standby   []lenient.Item[event]
	changes   []lenient.Item[struct{}]
}

// parseFast is Parse in one pass. ok is false when the body is not a
// well-formed delivery (not JSON, another object, no entry list): the
// careful path then says why.
func parseFast(body []byte) (*webhook.Result, bool) {
	entries, ok := lenient.Envelope(body, Object, decodeEntry)
	if !ok {
		return nil, false
	}
	res := &webhook.Result{Platform: platform}
	warn := warner(res)
	lenient.EachItem(entries, "entry", warn, func(path string, it *lenient.Item[fastEntry]) {
		e := &it.Value
		pageID := string(e.id)
		lenient.EachItem(e.messaging, path+".messaging", warn, func(p string, ev *lenient.Item[event]) {
			// The item outlives the body in ChatMessage.raw.
			handleEvent(res, p, append(json.RawMessage(nil), ev.Raw...), &ev.Value, pageID)
		}, func(p string, raw json.RawMessage) {
			parseEvent(res, p, append(json.RawMessage(nil), raw...), pageID)
		})
		lenient.EachItem(e.standby, path+".standby", warn, func(_ string, ev *lenient.Item[event]) {
			handleStandby(res, &ev.Value, pageID)
		}, func(p string, raw json.RawMessage) { parseStandby(res, p, raw, pageID) })
		lenient.EachItem(e.changes, path+".changes", warn, func(string, *lenient.Item[struct{}]) {
			feedNotice(res, pageID, int64(e.time))
		}, func(string, json.RawMessage) { feedNotice(res, pageID, int64(e.time)) })
	}, func(path string, raw json.RawMessage) { parseEntry(res, path, raw) })
	return res, true
}

// items is lenient.Items for a field the careful path reads as a
// lenient.List: a value that is neither a list nor null is its warning.
func items[T any](s *lenient.Scanner, dec func(*lenient.Scanner, *T) error) ([]lenient.Item[T], error) {
	if c := s.Next(); c != '[' && c != 'n' {
		return nil, lenient.ErrShape
	}
	return lenient.Items(s, dec)
}

func decodeEntry(s *lenient.Scanner, e *fastEntry) error {
	return s.Object(func(key []byte) (bool, error) {
		var err error
		switch string(key) {
		case "id":
			err = s.Scalar(&e.id)
		case "time":
			err = s.Scalar(&e.time)
		case "messaging":
			e.messaging, err = items(s, decodeEvent)
		case "standby":
			e.standby, err = items(s, decodeEvent)
		case "changes":
			e.changes, err = items(s, func(s *lenient.Scanner, _ *struct{}) error {
				s.Skip() // only counted
				return nil
			})
		default:
			return false, nil
		}
		return true, err
	})
}

func decodeEvent(s *lenient.Scanner, ev *event) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "sender":
			return true, lenient.Ptr(s, &ev.Sender, decodeParty)
		case "recipient":
			return true, lenient.Ptr(s, &ev.Recipient, decodeParty)
		case "timestamp":
			return true, s.Scalar(&ev.Timestamp)
		case "message":
			return true, lenient.Ptr(s, &ev.Message, decodeMessage)
		case "postback":
			return true, lenient.Ptr(s, &ev.Postback, decodePostback)
		case "delivery":
			return true, lenient.Ptr(s, &ev.Delivery, decodeReceipt)
		case "read":
			return true, lenient.Ptr(s, &ev.Read, decodeReceipt)
		case "reaction":
			return true, lenient.Ptr(s, &ev.Reaction, decodeReaction)
		case "message_edit":
			return true, lenient.Ptr(s, &ev.MessageEdit, decodeEdit)
		case "pass_thread_control":
			return true, lenient.Ptr(s, &ev.PassThreadControl, decodeHandover)
		case "take_thread_control":
			return true, lenient.Ptr(s, &ev.TakeThreadControl, decodeHandover)
		case "request_thread_control":
			return true, lenient.Ptr(s, &ev.RequestThreadControl, decodeHandover)
		}
		if raw := rawKind(ev, key); raw != nil {
			s.Raw(raw)
			return true, nil
		}
		return false, nil
	})
}

// rawKind returns the field of ev for an event kind only noticed, or nil.
func rawKind(ev *event, key []byte) *json.RawMessage {
	switch string(key) {
	case "referral":
		return &ev.Referral
	case "optin":
		return &ev.Optin
	case "account_linking":
		return &ev.AccountLinking
	case "policy-enforcement":
		return &ev.PolicyEnforcement
	case "policy_enforcement":
		return &ev.PolicyEnforcement2
	case "app_roles":
		return &ev.AppRoles
	case "game_play":
		return &ev.GamePlay
	case "payment":
		return &ev.Payment
	case "checkout_update":
		return &ev.CheckoutUpdate
	case "pre_checkout":
		return &ev.PreCheckout
	case "messaging_feedback":
		return &ev.MessagingFeedback
	}
	return nil
}

func decodeParty(s *lenient.Scanner, p *party) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "id":
			return true, s.Scalar(&p.ID)
		case "user_ref":
			return true, s.Scalar(&p.UserRef)
		}
		return false, nil
	})
}

func decodeMessage(s *lenient.Scanner, m *message) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "mid":
			return true, s.Scalar(&m.MID)
		case "text":
			return true, s.Scalar(&m.Text)
		case "is_echo":
			return true, s.Scalar(&m.IsEcho)
		case "app_id":
			return true, s.Scalar(&m.AppID)
		case "metadata":
			return true, s.Scalar(&m.Metadata)
		case "is_deleted":
			return true, s.Scalar(&m.IsDeleted)
		case "is_unsupported":
			return true, s.Scalar(&m.IsUnsupported)
		case "quick_reply":
			return true, lenient.Ptr(s, &m.QuickReply, func(s *lenient.Scanner, q *quickReply) error {
				return s.Object(func(key []byte) (bool, error) {
					if string(key) == "payload" {
						return true, s.Scalar(&q.Payload)
					}
					return false, nil
				})
			})
		case "reply_to":
			return true, lenient.Ptr(s, &m.ReplyTo, func(s *lenient.Scanner, r *replyTo) error {
				return s.Object(func(key []byte) (bool, error) {
					if string(key) == "mid" {
						return true, s.Scalar(&r.MID)
					}
					return false, nil
				})
			})
		case "attachments":
			return true, s.List(&m.Attachments)
		}
		return false, nil
	})
}

func decodePostback(s *lenient.Scanner, p *postback) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "mid":
			return true, s.Scalar(&p.MID)
		case "title":
			return true, s.Scalar(&p.Title)
		case "payload":
			return true, s.Scalar(&p.Payload)
		}
		return false, nil
	})
}

func decodeReceipt(s *lenient.Scanner, r *receipt) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "mids":
			return true, lenient.Slice(s, &r.MIDs, func(s *lenient.Scanner, v *lenient.String) error { return s.Scalar(v) })
		case "watermark":
			return true, s.Scalar(&r.Watermark)
		}
		return false, nil
	})
}

func decodeReaction(s *lenient.Scanner, r *reaction) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "reaction":
			return true, s.Scalar(&r.Reaction)
		case "emoji":
			return true, s.Scalar(&r.Emoji)
		case "action":
			return true, s.Scalar(&r.Action)
		case "mid":
			return true, s.Scalar(&r.MID)
		}
		return false, nil
	})
}

func decodeEdit(s *lenient.Scanner, e *edit) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "mid":
			return true, s.Scalar(&e.MID)
		case "text":
			return true, s.Scalar(&e.Text)
		case "num_edit":
			return true, s.Scalar(&e.NumEdit)
		}
		return false, nil
	})
}

func decodeHandover(s *lenient.Scanner, h *handover) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "new_owner_app_id":
			return true, s.Scalar(&h.NewOwnerAppID)
		case "previous_owner_app_id":
			return true, s.Scalar(&h.PreviousOwnerAppID)
		case "requested_owner_app_id":
			return true, s.Scalar(&h.RequestedOwnerAppID)
		case "metadata":
			return true, s.Scalar(&h.Metadata)
		}
		return false, nil
	})
}
