package graph

// Kind classifies a failed Graph API call by what the caller should do. The
// set is closed, so it is safe as a metric label.
type Kind string

// Kinds of failure. Retryable reports which ones are worth another attempt.
const (
	// KindRateLimit: a rate limit (app, page, business, throughput, pair or
	// spam limit). Retry after RetryAfter or with back-off.
	KindRateLimit Kind = "rate_limit"
	// KindTemporary: a server-side or transient failure (5xx, is_transient,
	// "unknown error"). Retry with back-off.
	KindTemporary Kind = "temporary"
	// KindTimeout: no answer in time. Retry; the message may have been sent.
	KindTimeout Kind = "timeout"
	// KindNetwork: the connection failed. Retry; if the request was written
	// the message may have been sent.
	KindNetwork Kind = "network"
	// KindOutsideWindow: outside the 24-hour customer service window; needs
	// a template (WhatsApp) or a message tag (Messenger), or the user to
	// write again. Never retried.
	KindOutsideWindow Kind = "outside_window"
	// KindUserUnavailable: the user cannot receive messages from us
	// (blocked, deactivated, not on WhatsApp, unknown id). Never retried.
	KindUserUnavailable Kind = "user_unavailable"
	// KindAuth: the access token is missing, invalid or expired. Never
	// retried; alert an operator.
	KindAuth Kind = "auth"
	// KindPermission: the app, token or number lacks a permission or
	// capability, or the app is not live. Never retried; alert.
	KindPermission Kind = "permission"
	// KindInvalidRequest: the request itself is wrong (missing or invalid
	// parameter, text too long, unknown path): a bug. Never retried.
	KindInvalidRequest Kind = "invalid_request"
	// KindBadResponse: a 2xx answer that could not be read. The call may
	// have succeeded, so it is not retried.
	KindBadResponse Kind = "bad_response"
	// KindCanceled: the caller's context was canceled.
	KindCanceled Kind = "canceled"
	// KindUnknown: an error code not in the table with a 4xx status.
	// Not retried.
	KindUnknown Kind = "unknown"
)

// Retryable reports whether a call that failed this way may succeed when
// repeated.
func (k Kind) Retryable() bool {
	switch k {
	case KindRateLimit, KindTemporary, KindTimeout, KindNetwork:
		return true
	}
	return false
}

// CodeInfo is one row of the error-code table.
type CodeInfo struct {
	// Code is the Graph error code.
	Code int
	// Subcode is the error_subcode the row is for; 0 matches any.
	Subcode int
	// Kind is what to do about it.
	Kind Kind
	// Meaning describes it in a few words (also the message the fake Graph
	// API answers with).
	Meaning string
}

// codeTable is the one table of Graph API error codes of both platforms
// (../shared/docs/platforms.md §6 and §8, plus Graph's platform and
// business-use-case rate-limit codes). Rows with a subcode win over rows
// without one for the same code.
var codeTable = []CodeInfo{
	// Rate limits.
	{4, 0, KindRateLimit, "Application request limit reached"},
	{17, 0, KindRateLimit, "User request limit reached"},
	{32, 0, KindRateLimit, "Page request limit reached"},
	{613, 0, KindRateLimit, "Calls to this api have exceeded the rate limit"},
	{80001, 0, KindRateLimit, "There have been too many calls to this Page account"},
	{80006, 0, KindRateLimit, "There have been too many Messenger API calls to this Page account"},
	{80007, 0, KindRateLimit, "There have been too many calls to this WhatsApp Business account"},
	{130429, 0, KindRateLimit, "Rate limit hit"},
	{131048, 0, KindRateLimit, "Spam rate limit hit"},
	{131056, 0, KindRateLimit, "Pair rate limit hit"},

	// Temporary failures.
	{1, 0, KindTemporary, "An unknown error occurred"},
	{2, 0, KindTemporary, "Service temporarily unavailable"},
	{1200, 0, KindTemporary, "Temporary send message failure"},
	{131000, 0, KindTemporary, "Something went wrong"},
	{131016, 0, KindTemporary, "Service unavailable"},

	// Outside the 24-hour window.
	{131047, 0, KindOutsideWindow, "Re-engagement message"},
	{470, 0, KindOutsideWindow, "Message failed to send because more than 24 hours have passed since the customer last replied"},
	{10, 2018278, KindOutsideWindow, "This message is sent outside of allowed window"},
	{10, 2018065, KindOutsideWindow, "This message is sent outside of allowed window (subscription messaging)"},

	// The user cannot receive our messages.
	{10, 2018108, KindUserUnavailable, "This person cannot receive messages from this Page right now"},
	{551, 0, KindUserUnavailable, "This person isn't available right now"},
	{200, 1545041, KindUserUnavailable, "Message not sent: this person isn't receiving messages from you right now"},
	{100, 2018001, KindUserUnavailable, "No matching user found"},
	{131026, 0, KindUserUnavailable, "Message undeliverable"},
	{131049, 0, KindUserUnavailable, "This message was not delivered to maintain healthy ecosystem engagement"},

	// Token problems.
	{102, 0, KindAuth, "Session key invalid or no longer valid"},
	{104, 0, KindAuth, "An access token is required to request this resource"},
	{190, 0, KindAuth, "Invalid OAuth access token"},

	// Missing permissions or capabilities.
	{3, 0, KindPermission, "Application does not have the capability to make this API call"},
	{10, 0, KindPermission, "Application does not have permission for this action"},
	{200, 2018028, KindPermission, "Cannot message users who are not admins, developers or testers of the app until pages_messaging permission is reviewed and the app is live"},
	{230, 0, KindPermission, "Requires pages_messaging permission to manage the object"},
	{131031, 0, KindPermission, "Business account has been locked"},
	{131042, 0, KindPermission, "Business eligibility payment issue"},
	{131045, 0, KindPermission, "Incorrect certificate"},
	{133010, 0, KindPermission, "Phone number not registered"},

	// Bad requests: bugs on our side.
	{100, 0, KindInvalidRequest, "Invalid parameter"},
	{2500, 0, KindInvalidRequest, "Unknown path components"},
	{131008, 0, KindInvalidRequest, "Required parameter is missing"},
	{131009, 0, KindInvalidRequest, "Parameter value is not valid"},
	{131021, 0, KindInvalidRequest, "Recipient cannot be sender"},
	{131051, 0, KindInvalidRequest, "Unsupported message type"},
	{131053, 0, KindInvalidRequest, "Media upload error"},
}

// Permission errors span a range of codes (200-299) besides those listed.
const permissionLow, permissionHigh = 200, 299

// LookupCode returns the table row for a Graph error code and subcode: the
// row with that exact subcode, else the row for the code with any subcode,
// else, for 200-299, a permission row.
func LookupCode(code, subcode int) (CodeInfo, bool) {
	var general *CodeInfo
	for i := range codeTable {
		r := &codeTable[i]
		if r.Code != code {
			continue
		}
		if r.Subcode != 0 && r.Subcode == subcode {
			return *r, true
		}
		if r.Subcode == 0 && general == nil {
			general = r
		}
	}
	if general != nil {
		return *general, true
	}
	if code >= permissionLow && code <= permissionHigh {
		return CodeInfo{Code: code, Kind: KindPermission, Meaning: "Permissions error"}, true
	}
	return CodeInfo{}, false
}

// Codes returns a copy of the error-code table, e.g. for documentation or a
// fake server.
func Codes() []CodeInfo { return append([]CodeInfo(nil), codeTable...) }
