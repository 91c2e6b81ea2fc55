package whatsapp

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
// read again.

type fastEntry struct {
	changes []lenient.Item[fastChange]
}

type fastChange struct {
	field lenient.String
	value *fastValue // nil when absent or null
}

type fastValue struct {
	metadata *metadata
	contacts []lenient.Item[contact]
	messages []lenient.Item[message]
	statuses []lenient.Item[status]
	errors   []lenient.Item[platformError]
	echoes   []lenient.Item[message]
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
	lenient.EachItem(entries, "entry", warn, func(path string, e *lenient.Item[fastEntry]) {
		lenient.EachItem(e.Value.changes, path+".changes", warn, func(path string, c *lenient.Item[fastChange]) {
			handleChange(res, path, &c.Value)
		}, func(path string, raw json.RawMessage) { parseChange(res, path, raw) })
	}, func(path string, raw json.RawMessage) { parseEntry(res, path, raw) })
	return res, true
}

// handleChange is parseChange for a change read in one pass.
func handleChange(res *webhook.Result, path string, c *fastChange) {
	field := string(c.field)
	switch {
	case field == "messages" || field == "smb_message_echoes":
		v := c.value
		channel := ""
		if v.metadata != nil {
			channel = string(v.metadata.PhoneNumberID)
		}
		vp := path + ".value"
		warn := warner(res)
		if field == "smb_message_echoes" {
			lenient.EachItem(v.echoes, vp+".message_echoes", warn, func(p string, it *lenient.Item[message]) {
				handleEcho(res, p, &it.Value, channel)
			}, func(p string, raw json.RawMessage) { parseEcho(res, p, raw, channel) })
			return
		}
		contacts := make([]contact, 0, len(v.contacts))
		lenient.EachItem(v.contacts, vp+".contacts", warn, func(_ string, it *lenient.Item[contact]) {
			contacts = append(contacts, it.Value)
		}, func(p string, raw json.RawMessage) { contacts = parseContact(res, p, raw, contacts) })
		lenient.EachItem(v.messages, vp+".messages", warn, func(p string, it *lenient.Item[message]) {
			// The item outlives the body in ChatMessage.raw.
			handleMessage(res, p, append(json.RawMessage(nil), it.Raw...), &it.Value, channel, contacts)
		}, func(p string, raw json.RawMessage) {
			parseMessage(res, p, append(json.RawMessage(nil), raw...), channel, contacts)
		})
		lenient.EachItem(v.statuses, vp+".statuses", warn, func(p string, it *lenient.Item[status]) {
			handleStatus(res, p, &it.Value, channel)
		}, func(p string, raw json.RawMessage) { parseStatus(res, p, raw, channel) })
		lenient.EachItem(v.errors, vp+".errors", warn, func(_ string, it *lenient.Item[platformError]) {
			handleValueError(res, &it.Value, channel)
		}, func(p string, raw json.RawMessage) { parseValueError(res, p, raw, channel) })
	case noticeFields[field]:
		n := webhook.Notice{Kind: field, Platform: platform}
		if c.value != nil && c.value.metadata != nil {
			n.ChannelID = string(c.value.metadata.PhoneNumberID)
		}
		res.Notices = append(res.Notices, n)
	case field == "":
		res.Warnf(path, "change without field")
	default:
		res.Warnf(path, "unknown subscription field %q", lenient.Truncate(field))
	}
}

func decodeEntry(s *lenient.Scanner, e *fastEntry) error {
	var id lenient.String
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "id":
			return true, s.Scalar(&id)
		case "changes":
			if s.Next() != '[' && s.Next() != 'n' {
				return true, lenient.ErrShape
			}
			var err error
			e.changes, err = lenient.Items(s, decodeChange)
			return true, err
		}
		return false, nil
	})
}

func decodeChange(s *lenient.Scanner, c *fastChange) error {
	sawValue := false
	err := s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "field":
			return true, s.Scalar(&c.field)
		case "value":
			// Null or not an object: the careful path's warnings.
			sawValue = true
			c.value = &fastValue{}
			return true, decodeValue(s, c.value)
		}
		return false, nil
	})
	if err == nil && !sawValue {
		err = lenient.ErrShape // the careful path warns about a missing value
	}
	return err
}

func decodeValue(s *lenient.Scanner, v *fastValue) error {
	return s.Object(func(key []byte) (bool, error) {
		var err error
		switch string(key) {
		case "metadata":
			err = lenient.Ptr(s, &v.metadata, decodeMetadata)
		case "contacts":
			v.contacts, err = items(s, decodeContact)
		case "messages":
			v.messages, err = items(s, decodeMessage)
		case "statuses":
			v.statuses, err = items(s, decodeStatus)
		case "errors":
			v.errors, err = items(s, decodePlatformError)
		case "message_echoes":
			v.echoes, err = items(s, decodeMessage)
		default:
			return false, nil
		}
		return true, err
	})
}

// items is lenient.Items for a field the careful path reads as a
// lenient.List: a value that is neither a list nor null is its warning.
func items[T any](s *lenient.Scanner, dec func(*lenient.Scanner, *T) error) ([]lenient.Item[T], error) {
	if c := s.Next(); c != '[' && c != 'n' {
		return nil, lenient.ErrShape
	}
	return lenient.Items(s, dec)
}

func decodeMetadata(s *lenient.Scanner, m *metadata) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "display_phone_number":
			return true, s.Scalar(&m.DisplayPhoneNumber)
		case "phone_number_id":
			return true, s.Scalar(&m.PhoneNumberID)
		}
		return false, nil
	})
}

func decodeContact(s *lenient.Scanner, c *contact) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "wa_id":
			return true, s.Scalar(&c.WaID)
		case "user_id":
			return true, s.Scalar(&c.UserID)
		case "profile":
			return true, lenient.Struct(s, &c.Profile, decodeProfile)
		}
		return false, nil
	})
}

func decodeProfile(s *lenient.Scanner, p *profile) error {
	return s.Object(func(key []byte) (bool, error) {
		if string(key) == "name" {
			return true, s.Scalar(&p.Name)
		}
		return false, nil
	})
}

func decodeMessage(s *lenient.Scanner, m *message) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "from":
			return true, s.Scalar(&m.From)
		case "from_user_id":
			return true, s.Scalar(&m.FromUserID)
		case "to":
			return true, s.Scalar(&m.To)
		case "to_user_id":
			return true, s.Scalar(&m.ToUserID)
		case "id":
			return true, s.Scalar(&m.ID)
		case "timestamp":
			return true, s.Scalar(&m.Timestamp)
		case "type":
			return true, s.Scalar(&m.Type)
		case "context":
			return true, lenient.Ptr(s, &m.Context, decodeContext)
		case "text":
			return true, lenient.Ptr(s, &m.Text, decodeText)
		case "image":
			return true, lenient.Ptr(s, &m.Image, decodeMedia)
		case "video":
			return true, lenient.Ptr(s, &m.Video, decodeMedia)
		case "audio":
			return true, lenient.Ptr(s, &m.Audio, decodeMedia)
		case "document":
			return true, lenient.Ptr(s, &m.Document, decodeMedia)
		case "sticker":
			return true, lenient.Ptr(s, &m.Sticker, decodeMedia)
		case "location":
			return true, lenient.Ptr(s, &m.Location, decodeLocation)
		case "contacts":
			return true, lenient.Slice(s, &m.Contacts, decodeSharedContact)
		case "interactive":
			return true, lenient.Ptr(s, &m.Interactive, decodeInteractive)
		case "button":
			return true, lenient.Ptr(s, &m.Button, decodeButton)
		case "reaction":
			return true, lenient.Ptr(s, &m.Reaction, decodeReaction)
		case "errors":
			return true, lenient.Slice(s, &m.Errors, decodePlatformError)
		}
		return false, nil
	})
}

func decodeText(s *lenient.Scanner, t *inboundText) error {
	return s.Object(func(key []byte) (bool, error) {
		if string(key) == "body" {
			return true, s.Scalar(&t.Body)
		}
		return false, nil
	})
}

func decodeContext(s *lenient.Scanner, c *messageContext) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "from":
			return true, s.Scalar(&c.From)
		case "id":
			return true, s.Scalar(&c.ID)
		case "forwarded":
			return true, s.Scalar(&c.Forwarded)
		case "frequently_forwarded":
			return true, s.Scalar(&c.FrequentlyForwarded)
		}
		return false, nil
	})
}

func decodeMedia(s *lenient.Scanner, m *media) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "id":
			return true, s.Scalar(&m.ID)
		case "mime_type":
			return true, s.Scalar(&m.MimeType)
		case "sha256":
			return true, s.Scalar(&m.SHA256)
		case "caption":
			return true, s.Scalar(&m.Caption)
		case "filename":
			return true, s.Scalar(&m.Filename)
		case "url":
			return true, s.Scalar(&m.URL)
		case "voice":
			return true, s.Scalar(&m.Voice)
		case "animated":
			return true, s.Scalar(&m.Animated)
		}
		return false, nil
	})
}

func decodeLocation(s *lenient.Scanner, l *location) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "latitude":
			return true, s.Scalar(&l.Latitude)
		case "longitude":
			return true, s.Scalar(&l.Longitude)
		case "name":
			return true, s.Scalar(&l.Name)
		case "address":
			return true, s.Scalar(&l.Address)
		case "url":
			return true, s.Scalar(&l.URL)
		}
		return false, nil
	})
}

func decodeSharedContact(s *lenient.Scanner, c *sharedContact) error {
	if s.Next() == 'n' { // a null item of a list of structs stays zero
		s.Skip()
		return nil
	}
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "name":
			return true, lenient.Struct(s, &c.Name, decodeContactName)
		case "phones":
			return true, lenient.Slice(s, &c.Phones, decodeContactPhone)
		case "emails":
			return true, lenient.Slice(s, &c.Emails, decodeContactEmail)
		}
		return false, nil
	})
}

func decodeContactName(s *lenient.Scanner, n *contactName) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "formatted_name":
			return true, s.Scalar(&n.FormattedName)
		case "first_name":
			return true, s.Scalar(&n.FirstName)
		case "last_name":
			return true, s.Scalar(&n.LastName)
		}
		return false, nil
	})
}

func decodeContactPhone(s *lenient.Scanner, p *contactPhone) error {
	return lenient.Struct(s, p, func(s *lenient.Scanner, p *contactPhone) error {
		return s.Object(func(key []byte) (bool, error) {
			if string(key) == "phone" {
				return true, s.Scalar(&p.Phone)
			}
			return false, nil
		})
	})
}

func decodeContactEmail(s *lenient.Scanner, e *contactEmail) error {
	return lenient.Struct(s, e, func(s *lenient.Scanner, e *contactEmail) error {
		return s.Object(func(key []byte) (bool, error) {
			if string(key) == "email" {
				return true, s.Scalar(&e.Email)
			}
			return false, nil
		})
	})
}

func decodeInteractive(s *lenient.Scanner, it *interactive) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "type":
			return true, s.Scalar(&it.Type)
		case "button_reply":
			return true, lenient.Ptr(s, &it.ButtonReply, func(s *lenient.Scanner, r *buttonReply) error {
				return s.Object(func(key []byte) (bool, error) {
					switch string(key) {
					case "id":
						return true, s.Scalar(&r.ID)
					case "title":
						return true, s.Scalar(&r.Title)
					}
					return false, nil
				})
			})
		case "list_reply":
			return true, lenient.Ptr(s, &it.ListReply, func(s *lenient.Scanner, r *listReply) error {
				return s.Object(func(key []byte) (bool, error) {
					switch string(key) {
					case "id":
						return true, s.Scalar(&r.ID)
					case "title":
						return true, s.Scalar(&r.Title)
					case "description":
						return true, s.Scalar(&r.Description)
					}
					return false, nil
				})
			})
		case "nfm_reply":
			return true, lenient.Ptr(s, &it.NFMReply, func(s *lenient.Scanner, r *nfmReply) error {
				return s.Object(func(key []byte) (bool, error) {
					switch string(key) {
					case "name":
						return true, s.Scalar(&r.Name)
					case "body":
						return true, s.Scalar(&r.Body)
					case "response_json":
						return true, s.Scalar(&r.ResponseJSON)
					}
					return false, nil
				})
			})
		}
		return false, nil
	})
}

func decodeButton(s *lenient.Scanner, b *button) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "text":
			return true, s.Scalar(&b.Text)
		case "payload":
			return true, s.Scalar(&b.Payload)
		}
		return false, nil
	})
}

func decodeReaction(s *lenient.Scanner, r *reaction) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "message_id":
			return true, s.Scalar(&r.MessageID)
		case "emoji":
			return true, s.Scalar(&r.Emoji)
		}
		return false, nil
	})
}

func decodePlatformError(s *lenient.Scanner, e *platformError) error {
	if s.Next() == 'n' { // a null item of a list of structs stays zero
		s.Skip()
		return nil
	}
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "code":
			return true, s.Scalar(&e.Code)
		case "title":
			return true, s.Scalar(&e.Title)
		case "message":
			return true, s.Scalar(&e.Message)
		case "error_data":
			return true, lenient.Struct(s, &e.ErrorData, func(s *lenient.Scanner, d *errorData) error {
				return s.Object(func(key []byte) (bool, error) {
					if string(key) == "details" {
						return true, s.Scalar(&d.Details)
					}
					return false, nil
				})
			})
		}
		return false, nil
	})
}

func decodeStatus(s *lenient.Scanner, st *status) error {
	return s.Object(func(key []byte) (bool, error) {
		switch string(key) {
		case "id":
			return true, s.Scalar(&st.ID)
		case "status":
			return true, s.Scalar(&st.Status)
		case "timestamp":
			return true, s.Scalar(&st.Timestamp)
		case "recipient_id":
			return true, s.Scalar(&st.RecipientID)
		case "recipient_user_id":
			return true, s.Scalar(&st.RecipientUserID)
		case "biz_opaque_callback_data":
			return true, s.Scalar(&st.BizOpaqueCallbackData)
		case "errors":
			return true, lenient.Slice(s, &st.Errors, decodePlatformError)
		case "pricing":
			return true, lenient.Ptr(s, &st.Pricing, func(s *lenient.Scanner, p *pricing) error {
				return s.Object(func(key []byte) (bool, error) {
					if string(key) == "category" {
						return true, s.Scalar(&p.Category)
					}
					return false, nil
				})
			})
		}
		return false, nil
	})
}
