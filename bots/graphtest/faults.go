package graphtest

import (
	"time"

	"github.com/corral-ai/corral/bots/graph"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Fault makes matching calls fail or slow down. The zero values of the
// match fields match everything.
type Fault struct {
	// Platform restricts the fault to one platform.
	Platform corralv1.Platform
	// Channel restricts it to one phone number id or Page id.
	Channel string
	// Recipient restricts it to one user.
	Recipient string
	// SendsOnly skips read receipts, typing indicators and sender actions.
	SendsOnly bool
	// Rate is the fraction of matching calls hit, in (0, 1], spread
	// evenly from a random phase (at least one in every 1/Rate calls);
	// 0 hits every matching call.
	Rate float64
	// Count stops the fault after it hit this many calls (a burst); 0
	// never stops.
	Count int

	// Delay is added before answering. A fault with only a Delay slows
	// calls down without failing them.
	Delay time.Duration
	// Code and Subcode are the Graph error returned. Message defaults to
	// the code table's meaning.
	Code    int
	Subcode int
	Message string
	// Status is the HTTP status; 0 picks the one Graph uses for the code's
	// kind (401 for tokens, 403 for permissions, 500 for temporary
	// failures, else 400).
	Status int
	// RetryAfter, when set, is sent as a Retry-After header (seconds).
	RetryAfter time.Duration
	// RawBody, when set, is answered as-is with Status (default 502) as
	// text/html instead of an error envelope, like a proxy in front of
	// Graph would.
	RawBody string
	// Drop closes the connection without an answer.
	Drop bool
}

// fails reports whether the fault answers with an error rather than only
// delaying.
func (f *Fault) fails() bool { return f.Code != 0 || f.RawBody != "" || f.Drop || f.Status != 0 }

// RateLimited is the throughput limit error: 130429 on WhatsApp, 613 on
// Messenger.
func RateLimited(p corralv1.Platform) Fault {
	if p == corralv1.Platform_PLATFORM_MESSENGER {
		return Fault{Platform: p, Code: 613}
	}
	return Fault{Platform: p, Code: 130429}
}

// PairRateLimited is WhatsApp's too-many-messages-to-one-user error, 131056.
func PairRateLimited() Fault {
	return Fault{Platform: corralv1.Platform_PLATFORM_WHATSAPP, Code: 131056}
}

// ServerError is Graph's transient "unknown error" (code 2, HTTP 500).
func ServerError() Fault { return Fault{Code: 2, Status: 500} }

// BadGateway is a non-Graph HTML 502 from a proxy in front of the API.
func BadGateway() Fault {
	return Fault{Status: 502, RawBody: "<html><body><h1>502 Bad Gateway</h1></body></html>"}
}

// OutsideWindow is the 24-hour window error: 131047 on WhatsApp, 10/2018278
// on Messenger.
func OutsideWindow(p corralv1.Platform) Fault {
	if p == corralv1.Platform_PLATFORM_MESSENGER {
		return Fault{Platform: p, Code: 10, Subcode: 2018278}
	}
	return Fault{Platform: p, Code: 131047}
}

// UserUnavailable is the user-cannot-receive error: 131026 on WhatsApp,
// 551/1545041 on Messenger.
func UserUnavailable(p corralv1.Platform) Fault {
	if p == corralv1.Platform_PLATFORM_MESSENGER {
		return Fault{Platform: p, Code: 551, Subcode: 1545041}
	}
	return Fault{Platform: p, Code: 131026}
}

// BadToken is the invalid-token error 190 (HTTP 401).
func BadToken() Fault { return Fault{Code: 190, Subcode: 463} }

// statusFor is the HTTP status Graph answers an error code with.
func statusFor(code, subcode int) int {
	info, _ := graph.LookupCode(code, subcode)
	switch info.Kind {
	case graph.KindAuth:
		return 401
	case graph.KindPermission:
		return 403
	case graph.KindTemporary:
		return 500
	}
	return 400
}

// RateLimit throttles message sends (not read receipts or typing) like the
// platforms do, with token buckets.
type RateLimit struct {
	// PerSecond is the sustained rate per channel (WhatsApp's default is
	// 80 messages/s per number); 0 means no channel limit.
	PerSecond float64
	// Burst is the bucket size per channel; default max(1, PerSecond).
	Burst int
	// PairPerSecond limits messages to one user of a WhatsApp channel
	// (about 1/6 on average on WhatsApp); 0 means no pair limit.
	PairPerSecond float64
	// PairBurst is the pair bucket size; default 1.
	PairBurst int
	// RetryAfter sends a Retry-After header with the time until a call
	// would pass; Graph itself does not promise one.
	RetryAfter bool
}

type bucket struct {
	tokens float64
	last   time.Time
}

// take spends a token if there is one, else says how long until there is.
func (b *bucket) take(now time.Time, rate float64, burst int) (bool, time.Duration) {
	if b.last.IsZero() {
		b.tokens, b.last = float64(burst), now
	}
	b.tokens = min(float64(burst), b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}
