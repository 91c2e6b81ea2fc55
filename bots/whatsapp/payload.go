package whatsapp

import (
	"encoding/json"

	"github.com/corral-ai/corral/bots/internal/lenient"
)

// The webhook's JSON shapes, restated from the fact sheet
// (../shared/docs/platforms.md §5). Lists of items are kept raw and decoded
// one by one, so that one malformed item is skipped with a warning instead of
// failing the delivery.
//
// The small nested shapes are aliases of unnamed structs, not types of
// their own: encoding/json names the type in its errors, which the careful
// path's warnings quote.

type envelope struct {
	Object lenient.String `json:"object"`
	Entry  lenient.List   `json:"entry"`
}

type entry struct {
	ID      lenient.String `json:"id"`
	Changes lenient.List   `json:"changes"`
}

type change struct {
	Field lenient.String  `json:"field"`
	Value json.RawMessage `json:"value"`
}

type value struct {
	Metadata *metadata    `json:"metadata"`
	Contacts lenient.List `json:"contacts"`
	Messages lenient.List `json:"messages"`
	Statuses lenient.List `json:"statuses"`
	Errors   lenient.List `json:"errors"`
	// Echoes of messages the business sent from the WhatsApp Business app
	// (field smb_message_echoes).
	MessageEchoes lenient.List `json:"message_echoes"`
}

type metadata struct {
	DisplayPhoneNumber lenient.String `json:"display_phone_number"`
	PhoneNumberID      lenient.String `json:"phone_number_id"`
}

type contact struct {
	WaID    lenient.String `json:"wa_id"`
	UserID  lenient.String `json:"user_id"`
	Profile profile        `json:"profile"`
}

type profile = struct {
	Name lenient.String `json:"name"`
}

type message struct {
	From        lenient.String  `json:"from"`
	FromUserID  lenient.String  `json:"from_user_id"`
	To          lenient.String  `json:"to"`         // echoes only
	ToUserID    lenient.String  `json:"to_user_id"` // echoes only
	ID          lenient.String  `json:"id"`
	Timestamp   lenient.Int     `json:"timestamp"`
	Type        lenient.String  `json:"type"`
	Context     *messageContext `json:"context"`
	Text        *inboundText    `json:"text"`
	Image       *media          `json:"image"`
	Video       *media          `json:"video"`
	Audio       *media          `json:"audio"`
	Document    *media          `json:"document"`
	Sticker     *media          `json:"sticker"`
	Location    *location       `json:"location"`
	Contacts    []sharedContact `json:"contacts"`
	Interactive *interactive    `json:"interactive"`
	Button      *button         `json:"button"`
	Reaction    *reaction       `json:"reaction"`
	Errors      []platformError `json:"errors"`
}

type inboundText = struct {
	Body lenient.String `json:"body"`
}

type messageContext struct {
	From                lenient.String `json:"from"`
	ID                  lenient.String `json:"id"`
	Forwarded           lenient.Bool   `json:"forwarded"`
	FrequentlyForwarded lenient.Bool   `json:"frequently_forwarded"`
}

type media struct {
	ID       lenient.String `json:"id"`
	MimeType lenient.String `json:"mime_type"`
	SHA256   lenient.String `json:"sha256"`
	Caption  lenient.String `json:"caption"`
	Filename lenient.String `json:"filename"`
	URL      lenient.String `json:"url"`
	Voice    lenient.Bool   `json:"voice"`
	Animated lenient.Bool   `json:"animated"`
}

type location struct {
	Latitude  lenient.Float  `json:"latitude"`
	Longitude lenient.Float  `json:"longitude"`
	Name      lenient.String `json:"name"`
	Address   lenient.String `json:"address"`
	URL       lenient.String `json:"url"`
}

type sharedContact struct {
	Name   contactName    `json:"name"`
	Phones []contactPhone `json:"phones"`
	Emails []contactEmail `json:"emails"`
}

type contactName = struct {
	FormattedName lenient.String `json:"formatted_name"`
	FirstName     lenient.String `json:"first_name"`
	LastName      lenient.String `json:"last_name"`
}

type contactPhone = struct {
	Phone lenient.String `json:"phone"`
}

type contactEmail = struct {
	Email lenient.String `json:"email"`
}

type interactive struct {
	Type        lenient.String `json:"type"`
	ButtonReply *buttonReply   `json:"button_reply"`
	ListReply   *listReply     `json:"list_reply"`
	NFMReply    *nfmReply      `json:"nfm_reply"`
}

type buttonReply = struct {
	ID    lenient.String `json:"id"`
	Title lenient.String `json:"title"`
}

type listReply = struct {
	ID          lenient.String `json:"id"`
	Title       lenient.String `json:"title"`
	Description lenient.String `json:"description"`
}

type nfmReply = struct {
	Name         lenient.String `json:"name"`
	Body         lenient.String `json:"body"`
	ResponseJSON lenient.String `json:"response_json"`
}

type button struct {
	Text    lenient.String `json:"text"`
	Payload lenient.String `json:"payload"`
}

type reaction struct {
	MessageID lenient.String `json:"message_id"`
	Emoji     lenient.String `json:"emoji"`
}

type platformError struct {
	Code      lenient.Int    `json:"code"`
	Title     lenient.String `json:"title"`
	Message   lenient.String `json:"message"`
	ErrorData errorData      `json:"error_data"`
}

type errorData = struct {
	Details lenient.String `json:"details"`
}

type status struct {
	ID                    lenient.String  `json:"id"`
	Status                lenient.String  `json:"status"`
	Timestamp             lenient.Int     `json:"timestamp"`
	RecipientID           lenient.String  `json:"recipient_id"`
	RecipientUserID       lenient.String  `json:"recipient_user_id"`
	BizOpaqueCallbackData lenient.String  `json:"biz_opaque_callback_data"`
	Errors                []platformError `json:"errors"`
	Pricing               *pricing        `json:"pricing"`
}

type pricing = struct {
	Category lenient.String `json:"category"`
}
