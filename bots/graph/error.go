package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is a failed Graph API call: Meta's error envelope when there was one,
// the HTTP status, the usage headers, or the transport error underneath. Kind
// says what to do about it.
type Error struct {
	// Op names the operation, e.g. "whatsapp.send".
	Op string
	// Status is the HTTP status; 0 when no response arrived.
	Status int
	// Code, Subcode, Type and Message come from the envelope's error object.
	Code    int
	Subcode int
	Type    string
	Message string
	// Details is error_data.details, which Meta advises matching on.
	Details string
	// UserTitle and UserMessage are error_user_title/error_user_msg.
	UserTitle   string
	UserMessage string
	// FBTraceID identifies the call for Meta support.
	FBTraceID string
	// Transient is the envelope's is_transient.
	Transient bool
	// RetryAfter is how long to wait before retrying, from a Retry-After
	// header or the business use case's estimated time to regain access; 0
	// when the answer gave none.
	RetryAfter time.Duration
	// Usage holds the rate-limit usage headers of the answer.
	Usage Usage
	// Kind classifies the failure.
	Kind Kind
	// Err is the transport error underneath, if any.
	Err error
}

// Error formats the failure for logs; it never contains a token.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	switch {
	case e.Err != nil:
		fmt.Fprintf(&b, "%s: %v", e.Kind, e.Err)
	case e.Code != 0:
		fmt.Fprintf(&b, "graph error %d", e.Code)
		if e.Subcode != 0 {
			fmt.Fprintf(&b, "/%d", e.Subcode)
		}
		fmt.Fprintf(&b, " (%s, HTTP %d): %s", e.Kind, e.Status, e.Message)
		if e.Details != "" {
			fmt.Fprintf(&b, ": %s", e.Details)
		}
		if e.FBTraceID != "" {
			fmt.Fprintf(&b, " [fbtrace_id %s]", e.FBTraceID)
		}
	default:
		fmt.Fprintf(&b, "HTTP %d (%s)", e.Status, e.Kind)
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
	}
	return b.String()
}

// Unwrap returns the transport error underneath, if any.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether repeating the call may succeed.
func (e *Error) Retryable() bool { return e.Kind.Retryable() }

// KindOf classifies any error a client returned: an *Error's Kind, a
// context cancellation as KindCanceled, a deadline as KindTimeout, and
// anything else as KindUnknown (nil gives "").
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Kind
	}
	switch {
	case errors.Is(err, context.Canceled):
		return KindCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return KindTimeout
	}
	return KindUnknown
}

// Retryable reports whether a call that failed with err may succeed when
// repeated (see Kind.Retryable). Validation errors of a client (text too
// long...) are not retryable.
func Retryable(err error) bool { return KindOf(err).Retryable() }

// RetryAfter returns the wait the platform asked for before a retry, or 0.
func RetryAfter(err error) time.Duration {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.RetryAfter
	}
	return 0
}

// envelope is Meta's error body: {"error": {...}}.
type envelope struct {
	Error *struct {
		Message     string          `json:"message"`
		Type        string          `json:"type"`
		Code        flexInt         `json:"code"`
		Subcode     flexInt         `json:"error_subcode"`
		UserTitle   string          `json:"error_user_title"`
		UserMessage string          `json:"error_user_msg"`
		FBTraceID   string          `json:"fbtrace_id"`
		IsTransient bool            `json:"is_transient"`
		ErrorData   json.RawMessage `json:"error_data"`
	} `json:"error"`
}

// flexInt accepts a number or a numeric string.
type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	*n = flexInt(v)
	return nil
}

// parseEnvelope reads an error envelope from body; ok is false when body has
// none.
func parseEnvelope(body []byte, e *Error) (ok bool) {
	var env envelope
	if json.Unmarshal(body, &env) != nil || env.Error == nil {
		return false
	}
	x := env.Error
	e.Code, e.Subcode, e.Type, e.Message = int(x.Code), int(x.Subcode), x.Type, x.Message
	e.UserTitle, e.UserMessage, e.FBTraceID, e.Transient = x.UserTitle, x.UserMessage, x.FBTraceID, x.IsTransient
	if len(x.ErrorData) > 0 && x.ErrorData[0] == '{' {
		var d struct {
			Details string `json:"details"`
		}
		_ = json.Unmarshal(x.ErrorData, &d)
		e.Details = d.Details
	}
	return true
}

// classify sets e.Kind from the code table, the transient flag and the
// HTTP status, in that order.
func classify(e *Error) {
	if e.Code != 0 {
		if info, ok := LookupCode(e.Code, e.Subcode); ok {
			e.Kind = info.Kind
			return
		}
	}
	switch {
	case e.Transient:
		e.Kind = KindTemporary
	case e.Status == http.StatusTooManyRequests:
		e.Kind = KindRateLimit
	case e.Status >= 500:
		e.Kind = KindTemporary
	case e.Code == 0 && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden):
		e.Kind = KindAuth
	case e.Code == 0 && e.Status == http.StatusNotFound:
		e.Kind = KindInvalidRequest
	default:
		e.Kind = KindUnknown
	}
}

// transportError classifies an error of http.Client.Do. callerCtx is the
// caller's context (before the client added its own timeout).
func transportError(op string, callerCtx context.Context, err error) *Error {
	e := &Error{Op: op, Err: err, Kind: KindNetwork}
	var ne net.Error
	switch {
	case errors.Is(callerCtx.Err(), context.Canceled):
		e.Kind = KindCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		e.Kind = KindTimeout
	}
	return e
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 || s > 24*3600 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
