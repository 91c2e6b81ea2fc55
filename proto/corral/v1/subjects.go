package corralv1

// This file is hand-written: every NATS stream, subject and service name the
// roles share lives here, beside the message types that travel on them.
//
// Chat traffic (JetStream, at-least-once):
//
//	stream    subjects                                 carries
//	CHAT_IN   chat.in.<platform>.<channel>.<user>      ChatMessage   gateway -> chat
//	CHAT_OUT  chat.out.<platform>.<channel>.<user>     OutboundMessage chat -> sender
//	CHAT_DLQ  chat.dlq.<original subject>              poison messages of any stream
//	CHAT_DLQ  chat.dlq.webhook.<platform>              signed webhook bodies that are not webhooks
//
// Publishers set Nats-Msg-Id so that JetStream drops a second copy inside its
// duplicate window: ChatMessage.DedupeID on CHAT_IN, OutboundMessage.DedupeID
// on CHAT_OUT.
//
// <platform> is PlatformToken ("whatsapp", "messenger"); <channel> and <user>
// are the channel and user ids escaped with EscapeToken. One conversation
// therefore has one subject per direction, which lets consumers keep a
// conversation in order while different conversations run in parallel.
//
// Inference (core NATS request/reply, service "inference", queue group
// "inference" so that replicas share the load):
//
//	inference.generate   GenerateRequest -> stream of GenerateEvent on the reply subject
//	inference.warm       WarmRequest     -> WarmResponse
//	inference.count      CountRequest    -> CountResponse
//	inference.models     ModelsRequest   -> ModelsResponse
//	inference.stats      StatsRequest    -> StatsResponse (per replica)
//
// The generate stream has flow control and liveness checks in both
// directions, carried by the headers below; docs/inference-protocol.md is
// the whole protocol.
//
// Persona changes (core NATS, at most once; caches also expire on their own):
//
//	persona.updated      PersonaEvent    persona store -> every persona cache

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// JetStream stream names.
const (
	// StreamChatIn holds inbound ChatMessages, subjects SubjectChatIn.
	StreamChatIn = "CHAT_IN"
	// StreamChatOut holds OutboundMessages waiting to be sent, subjects SubjectChatOut.
	StreamChatOut = "CHAT_OUT"
	// StreamChatDLQ holds messages that failed processing too often, subjects SubjectChatDLQ.
	StreamChatDLQ = "CHAT_DLQ"
)

// Subject filters of the streams. Each is the only subject of its stream.
const (
	// SubjectChatIn matches every inbound chat subject.
	SubjectChatIn = subjectChatInPrefix + ">"
	// SubjectChatOut matches every outbound chat subject.
	SubjectChatOut = subjectChatOutPrefix + ">"
	// SubjectChatDLQ matches every dead-letter subject.
	SubjectChatDLQ = subjectDLQPrefix + ">"
)

const (
	subjectChatInPrefix  = "chat.in."
	subjectChatOutPrefix = "chat.out."
	subjectDLQPrefix     = "chat.dlq."
)

// The inference service, run with the NATS micro framework.
const (
	// InferenceService is the service name the inference role registers.
	InferenceService = "inference"
	// InferenceQueueGroup is the queue group of every inference endpoint, so
	// that each request reaches one replica.
	InferenceQueueGroup = "inference"
	// InferenceEndpointGenerate streams tokens: GenerateRequest in, a sequence
	// of GenerateEvent messages published to the request's reply subject, the
	// last one with a finish reason.
	InferenceEndpointGenerate = "generate"
	// InferenceEndpointWarm answers WarmRequest with WarmResponse.
	InferenceEndpointWarm = "warm"
	// InferenceEndpointCount answers CountRequest with CountResponse.
	InferenceEndpointCount = "count"
	// InferenceEndpointModels answers ModelsRequest with ModelsResponse.
	InferenceEndpointModels = "models"
	// InferenceEndpointStats answers StatsRequest with StatsResponse.
	InferenceEndpointStats = "stats"

	// SubjectInferenceGenerate is the subject of InferenceEndpointGenerate.
	SubjectInferenceGenerate = InferenceService + "." + InferenceEndpointGenerate
	// SubjectInferenceWarm is the subject of InferenceEndpointWarm.
	SubjectInferenceWarm = InferenceService + "." + InferenceEndpointWarm
	// SubjectInferenceCount is the subject of InferenceEndpointCount.
	SubjectInferenceCount = InferenceService + "." + InferenceEndpointCount
	// SubjectInferenceModels is the subject of InferenceEndpointModels.
	SubjectInferenceModels = InferenceService + "." + InferenceEndpointModels
	// SubjectInferenceStats is the subject of InferenceEndpointStats.
	SubjectInferenceStats = InferenceService + "." + InferenceEndpointStats
)

// Headers of the generate stream (docs/inference-protocol.md). Their
// values are decimal numbers unless said otherwise. The W3C trace context
// (traceparent, tracestate) and baggage travel beside them on the request.
const (
	// HeaderWindow, on a GenerateRequest, is the most events the caller
	// will buffer: the service never has more than this many events sent
	// and not yet acknowledged. Unset means InferenceDefaultWindow; the
	// service clamps it to [InferenceMinWindow, InferenceMaxWindow].
	HeaderWindow = "Corral-Window"
	// HeaderProbe, set to "1" on an empty message from the service, asks
	// the caller to answer at once that it is still there. The first probe
	// follows acceptance of the request; its reply subject is where the
	// caller sends acknowledgements and cancellation.
	HeaderProbe = "Corral-Probe"
	// HeaderAck, on the caller's answer to an event sent as a request,
	// carries that event's seq: the caller has consumed every event up to
	// it, and the service may send InferenceWindow more.
	HeaderAck = "Corral-Ack"
	// HeaderCancel, on any message from the caller to the service's reply
	// subject, cancels the generation; the value is a reason for logs.
	HeaderCancel = "Corral-Cancel"
	// HeaderRetryAfter, on an ERROR_CODE_OVERLOADED answer, is how many
	// milliseconds the caller should wait before trying again.
	HeaderRetryAfter = "Corral-Retry-After"
)

// Flow-control limits of the generate stream, in events.
const (
	// InferenceDefaultWindow is the window when HeaderWindow is unset.
	InferenceDefaultWindow = 32
	// InferenceMinWindow is the smallest window the service grants.
	InferenceMinWindow = 2
	// InferenceMaxWindow is the largest window the service grants.
	InferenceMaxWindow = 1024
)

// SubjectPersonaUpdated carries a PersonaEvent after every committed change
// to a persona (edit, publish, rollback, delete), so that chat processes
// drop their cached copies. It is plain NATS, not a stream: a process that
// misses events while disconnected relies on its cache's expiry.
const SubjectPersonaUpdated = "persona.updated"

// Errors returned when parsing subjects and tokens.
var (
	// ErrBadToken means a subject token is not in the form EscapeToken produces.
	ErrBadToken = errors.New("malformed subject token")
	// ErrNotConversationSubject means a subject is not a chat.in or chat.out
	// conversation subject.
	ErrNotConversationSubject = errors.New("not a conversation subject")
)

// Conversation names one conversation: one user talking to one of our
// channels on one platform. It is the unit of ordering.
type Conversation struct {
	// Platform the conversation is on.
	Platform Platform
	// ChannelID is our side: phone number id or Page id.
	ChannelID string
	// UserID is the user's id on that channel.
	UserID string
}

// Conversation returns the conversation m belongs to.
func (m *ChatMessage) Conversation() Conversation {
	return Conversation{Platform: m.GetPlatform(), ChannelID: m.GetChannelId(), UserID: m.GetUserId()}
}

// Conversation returns the conversation m answers in.
func (m *OutboundMessage) Conversation() Conversation {
	return Conversation{Platform: m.GetPlatform(), ChannelID: m.GetChannelId(), UserID: m.GetUserId()}
}

// Key returns "<platform>.<channel>.<user>" with the ids escaped: the
// conversation's part of its subjects, also usable as a map or Redis key.
// Distinct conversations always have distinct keys.
func (c Conversation) Key() string {
	return PlatformToken(c.Platform) + "." + EscapeToken(c.ChannelID) + "." + EscapeToken(c.UserID)
}

// ChatInSubject returns the CHAT_IN subject for messages of c.
func ChatInSubject(c Conversation) string { return subjectChatInPrefix + c.Key() }

// ChatOutSubject returns the CHAT_OUT subject for replies in c.
func ChatOutSubject(c Conversation) string { return subjectChatOutPrefix + c.Key() }

// ParseConversationSubject returns the conversation of a chat.in or chat.out
// subject built by ChatInSubject or ChatOutSubject.
func ParseConversationSubject(subject string) (Conversation, error) {
	rest, ok := strings.CutPrefix(subject, subjectChatInPrefix)
	if !ok {
		rest, ok = strings.CutPrefix(subject, subjectChatOutPrefix)
	}
	if !ok {
		return Conversation{}, fmt.Errorf("parse subject %q: %w", subject, ErrNotConversationSubject)
	}
	toks := strings.Split(rest, ".")
	if len(toks) != 3 {
		return Conversation{}, fmt.Errorf("parse subject %q: want 3 tokens after the prefix, got %d: %w",
			subject, len(toks), ErrNotConversationSubject)
	}
	p, err := ParsePlatformToken(toks[0])
	if err != nil {
		return Conversation{}, fmt.Errorf("parse subject %q: %w", subject, err)
	}
	ch, err := UnescapeToken(toks[1])
	if err != nil {
		return Conversation{}, fmt.Errorf("parse subject %q: channel: %w", subject, err)
	}
	user, err := UnescapeToken(toks[2])
	if err != nil {
		return Conversation{}, fmt.Errorf("parse subject %q: user: %w", subject, err)
	}
	return Conversation{Platform: p, ChannelID: ch, UserID: user}, nil
}

// DLQSubject returns the dead-letter subject for a message that failed on
// subject original: "chat.dlq." followed by the whole original subject, so
// the DLQ keeps where the message came from.
func DLQSubject(original string) string { return subjectDLQPrefix + original }

// DLQOriginalSubject reverses DLQSubject. It reports false when dlq is not a
// dead-letter subject.
func DLQOriginalSubject(dlq string) (string, bool) {
	orig, ok := strings.CutPrefix(dlq, subjectDLQPrefix)
	return orig, ok && orig != ""
}

// WebhookDLQSubject returns the dead-letter subject of a signed webhook body
// of platform p that is not a webhook delivery at all: the gateway keeps the
// raw body there (JSON, not protobuf) with the reason in its headers, since
// Meta would retry a refused delivery forever.
func WebhookDLQSubject(p Platform) string { return DLQSubject("webhook." + PlatformToken(p)) }

// DedupeID returns the id under which m is published (the Nats-Msg-Id), so
// that JetStream drops a second copy of the same platform message arriving
// within the stream's duplicate window: "<platform>.<channel>.<message id>"
// with the ids escaped.
func (m *ChatMessage) DedupeID() string {
	return PlatformToken(m.GetPlatform()) + "." + EscapeToken(m.GetChannelId()) + "." + EscapeToken(m.GetPlatformMessageId())
}

// DedupeID returns the id under which m is published to CHAT_OUT (its
// Nats-Msg-Id): the escaped reply id for a reply, and the escaped reply id, a
// dot and ActionToken for an action, so an action and the reply it announces
// never drop each other and distinct reply ids never collide.
func (m *OutboundMessage) DedupeID() string {
	id := EscapeToken(m.GetReplyId())
	if a := m.GetAction(); a != OutboundAction_OUTBOUND_ACTION_UNSPECIFIED {
		return id + "." + ActionToken(a)
	}
	return id
}

// ActionToken returns the name of a: lower case without its prefix
// ("typing", "mark_read"), or "reply" for OUTBOUND_ACTION_UNSPECIFIED, or the
// decimal number of a value this build does not know. Metric labels and
// OutboundMessage.DedupeID use it.
func ActionToken(a OutboundAction) string {
	if a == OutboundAction_OUTBOUND_ACTION_UNSPECIFIED {
		return "reply"
	}
	name, ok := OutboundAction_name[int32(a)]
	if !ok {
		return strconv.FormatInt(int64(a), 10)
	}
	return strings.ToLower(strings.TrimPrefix(name, "OUTBOUND_ACTION_"))
}

// PlatformToken returns the subject token of p: the lower-case enum name
// without its prefix ("whatsapp"), or the decimal number of a value this
// build does not know.
func PlatformToken(p Platform) string {
	name, ok := Platform_name[int32(p)]
	if !ok {
		return strconv.FormatInt(int64(p), 10)
	}
	return strings.ToLower(strings.TrimPrefix(name, "PLATFORM_"))
}

// ParsePlatformToken reverses PlatformToken.
func ParsePlatformToken(tok string) (Platform, error) {
	if tok != strings.ToLower(tok) {
		return 0, fmt.Errorf("platform %q: %w", tok, ErrBadToken)
	}
	if v, ok := Platform_value["PLATFORM_"+strings.ToUpper(tok)]; ok {
		return Platform(v), nil
	}
	n, err := strconv.ParseInt(tok, 10, 32)
	if err != nil || strconv.FormatInt(n, 10) != tok {
		return 0, fmt.Errorf("platform %q: %w", tok, ErrBadToken)
	}
	if _, known := Platform_name[int32(n)]; known {
		// Known values must use their name, so every platform has one token.
		return 0, fmt.Errorf("platform %q: %w", tok, ErrBadToken)
	}
	return Platform(n), nil
}

// emptyToken stands for the empty string, which a subject token cannot be.
// A lone '%' never occurs otherwise, because '%' always starts an escape.
const emptyToken = "%"

// EscapeToken turns any string into a valid NATS subject token. ASCII
// letters, digits, '-' and '_' stay as they are; every other byte (including
// '.', '*', '>', '%', spaces and all non-ASCII bytes) becomes '%' and two
// upper-case hex digits, and the empty string becomes "%". The mapping is
// one-to-one, so UnescapeToken recovers the input exactly, and a user id can
// never add tokens or wildcards to a subject.
func EscapeToken(s string) string {
	if s == "" {
		return emptyToken
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !tokenSafe(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if tokenSafe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xF])
	}
	return b.String()
}

// UnescapeToken reverses EscapeToken. It accepts only what EscapeToken
// produces (upper-case hex, no escapes of safe bytes), so each string has
// exactly one token and two different tokens never name the same id.
func UnescapeToken(tok string) (string, error) {
	if tok == emptyToken {
		return "", nil
	}
	if tok == "" {
		return "", fmt.Errorf("empty token: %w", ErrBadToken)
	}
	if !strings.Contains(tok, "%") {
		for i := 0; i < len(tok); i++ {
			if !tokenSafe(tok[i]) {
				return "", fmt.Errorf("token %q: byte %#x at %d: %w", tok, tok[i], i, ErrBadToken)
			}
		}
		return tok, nil
	}
	b := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case tokenSafe(c):
			b = append(b, c)
		case c == '%':
			if i+2 >= len(tok) {
				return "", fmt.Errorf("token %q: short escape at %d: %w", tok, i, ErrBadToken)
			}
			hi, ok1 := unhex(tok[i+1])
			lo, ok2 := unhex(tok[i+2])
			v := hi<<4 | lo
			if !ok1 || !ok2 || tokenSafe(v) {
				return "", fmt.Errorf("token %q: bad escape at %d: %w", tok, i, ErrBadToken)
			}
			b = append(b, v)
			i += 2
		default:
			return "", fmt.Errorf("token %q: byte %#x at %d: %w", tok, c, i, ErrBadToken)
		}
	}
	return string(b), nil
}

func tokenSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// unhex decodes one upper-case hex digit.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
