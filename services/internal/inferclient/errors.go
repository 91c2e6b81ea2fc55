package inferclient

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Errors of the client. The service's codes arrive as an *Error, which
// matches the sentinel of its code with errors.Is.
var (
	// ErrNoService means no inference service subscribes to the subject:
	// no replica runs, or none is reachable.
	ErrNoService = errors.New("no inference service is running")
	// ErrStalled means the service sent nothing for Options.StallTimeout:
	// the replica died or the network between us is down.
	ErrStalled = errors.New("the inference service stopped answering")
	// ErrProtocol means the service sent something the protocol does not
	// allow (an undecodable event, an event past the window).
	ErrProtocol = errors.New("inference protocol violation")
	// ErrClosed means the stream was closed by its caller.
	ErrClosed = errors.New("stream closed")

	// ErrInvalidRequest is ERROR_CODE_INVALID_REQUEST: fix the request.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrModelNotFound is ERROR_CODE_MODEL_NOT_FOUND.
	ErrModelNotFound = errors.New("model not found")
	// ErrPromptTooLong is ERROR_CODE_PROMPT_TOO_LONG: shorten the history.
	ErrPromptTooLong = errors.New("prompt too long")
	// ErrOverloaded is ERROR_CODE_OVERLOADED: retry after Error.RetryAfter.
	ErrOverloaded = errors.New("inference service overloaded")
	// ErrUnavailable is ERROR_CODE_UNAVAILABLE: the replica is shutting
	// down; retry (another replica takes it).
	ErrUnavailable = errors.New("inference service unavailable")
	// ErrDeadlineExceeded is ERROR_CODE_DEADLINE_EXCEEDED.
	ErrDeadlineExceeded = errors.New("deadline exceeded")
	// ErrCancelled is ERROR_CODE_CANCELLED.
	ErrCancelled = errors.New("cancelled")
	// ErrInternal is ERROR_CODE_INTERNAL: a bug in the service.
	ErrInternal = errors.New("inference service internal error")
	// ErrSuperseded is ERROR_CODE_SUPERSEDED: a newer request with the same
	// conversation key replaced this one.
	ErrSuperseded = errors.New("superseded by a newer request of the same conversation")
	// ErrUnsupported is ERROR_CODE_UNSUPPORTED: this replica cannot do it.
	ErrUnsupported = errors.New("not supported by the inference service")
)

var sentinels = map[corralv1.ErrorCode]error{
	corralv1.ErrorCode_ERROR_CODE_INVALID_REQUEST:   ErrInvalidRequest,
	corralv1.ErrorCode_ERROR_CODE_MODEL_NOT_FOUND:   ErrModelNotFound,
	corralv1.ErrorCode_ERROR_CODE_PROMPT_TOO_LONG:   ErrPromptTooLong,
	corralv1.ErrorCode_ERROR_CODE_OVERLOADED:        ErrOverloaded,
	corralv1.ErrorCode_ERROR_CODE_UNAVAILABLE:       ErrUnavailable,
	corralv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED: ErrDeadlineExceeded,
	corralv1.ErrorCode_ERROR_CODE_CANCELLED:         ErrCancelled,
	corralv1.ErrorCode_ERROR_CODE_INTERNAL:          ErrInternal,
	corralv1.ErrorCode_ERROR_CODE_SUPERSEDED:        ErrSuperseded,
	corralv1.ErrorCode_ERROR_CODE_UNSUPPORTED:       ErrUnsupported,
}

// Error is a failure the service reported with a stable code.
type Error struct {
	// Code is the service's code.
	Code corralv1.ErrorCode
	// Message is the service's detail, for logs; never show it to users.
	Message string
	// RetryAfter, on ERROR_CODE_OVERLOADED, is how long the service asks
	// the caller to wait before trying again.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("inference: %s: %s", e.Code, e.Message)
}

// Is matches the sentinel error of e's code.
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Code]
	return ok && s == target
}

// Retryable reports whether err is worth trying again later: the service
// was overloaded, shutting down, missing or stalled. RetryAfter says how
// long to wait.
func Retryable(err error) bool {
	return errors.Is(err, ErrOverloaded) || errors.Is(err, ErrUnavailable) ||
		errors.Is(err, ErrNoService) || errors.Is(err, ErrStalled)
}

// RetryAfter is how long to wait before retrying after err: the service's
// hint on an overload, otherwise def.
func RetryAfter(err error, def time.Duration) time.Duration {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter
	}
	return def
}

// headerError reads the micro error headers of a message: nil when it has
// none.
func headerError(m *nats.Msg) *Error {
	code := m.Header.Get(micro.ErrorCodeHeader)
	if code == "" {
		return nil
	}
	n, err := strconv.Atoi(code)
	if err != nil {
		n = int(corralv1.ErrorCode_ERROR_CODE_INTERNAL)
	}
	e := &Error{Code: corralv1.ErrorCode(n), Message: m.Header.Get(micro.ErrorHeader)}
	if ms, err := strconv.Atoi(m.Header.Get(corralv1.HeaderRetryAfter)); err == nil && ms > 0 {
		e.RetryAfter = time.Duration(ms) * time.Millisecond
	}
	return e
}

// eventError is the error a final event reports: nil when it finished
// normally.
func eventError(ev *corralv1.GenerateEvent) error {
	ge := ev.GetError()
	switch ev.GetFinishReason() {
	case corralv1.FinishReason_FINISH_REASON_ERROR:
		if ge == nil {
			return &Error{Code: corralv1.ErrorCode_ERROR_CODE_INTERNAL, Message: "the service reported an error without saying which"}
		}
	case corralv1.FinishReason_FINISH_REASON_CANCELLED:
		if ge == nil {
			return &Error{Code: corralv1.ErrorCode_ERROR_CODE_CANCELLED, Message: "cancelled"}
		}
	default:
		return nil
	}
	return &Error{Code: ge.GetCode(), Message: ge.GetMessage()}
}
