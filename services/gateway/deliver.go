package gateway

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/corral-ai/corral/bots/webhook"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
)

// Headers of a webhook body in the DLQ, beside natsbus's Corral-Dlq-*
// (reason, error, time).
const (
	// DLQReasonNotWebhook is the Corral-Dlq-Reason of a signed body that
	// is not a webhook delivery of its platform.
	DLQReasonNotWebhook = "not-webhook"
	// HeaderPlatform names the platform whose endpoint received the body.
	HeaderPlatform = "Corral-Platform"
)

// maxRaw caps ChatMessage.raw: the webhook item is kept for debugging when
// it is small, and dropped rather than bloating CHAT_IN when it is not.
const maxRaw = 4 << 10

// maxSpanIDs caps how many message ids a webhook span lists.
const maxSpanIDs = 64

// maxErrorHeader caps the error text in a DLQ header.
const maxErrorHeader = 1024

var (
	// errUnavailable means NATS is not connected, so nothing can be acked.
	errUnavailable = errors.New("NATS is not connected")
)

func platformAttr(p string) attribute.KeyValue { return attribute.String("platform", p) }
func outcomeAttr(o string) attribute.KeyValue  { return attribute.String("outcome", o) }

// deliver handles one POSTed delivery; see the package comment for the
// status codes.
func (r *Role) deliver(w http.ResponseWriter, req *http.Request, ep endpoint) {
	began := time.Now()
	ctx := otel.GetTextMapPropagator().Extract(req.Context(), propagation.HeaderCarrier(req.Header))
	ctx, span := r.tracer.Start(ctx, ep.span, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", req.Method),
			attribute.String("http.route", req.URL.Path),
			attribute.String("corral.platform", ep.token),
		))
	defer span.End()

	status, outcome := r.process(ctx, span, w, req, ep)
	r.metrics.webhook(ctx, ep.token, outcome, began)
	span.SetAttributes(attribute.Int("http.response.status_code", status), attribute.String("corral.webhook.outcome", outcome))
	if status >= 500 {
		span.SetStatus(codes.Error, outcome)
	}
	w.Header()["Content-Type"] = textPlain
	w.WriteHeader(status)
	_, _ = io.WriteString(w, statusLine(status))
}

// textPlain is the answer's Content-Type, one slice for every answer (the
// server only reads it).
var textPlain = []string{"text/plain; charset=utf-8"}

// statusLine is the body of an answer: its status text and a newline.
func statusLine(status int) string {
	switch status {
	case http.StatusOK:
		return "OK\n"
	case http.StatusServiceUnavailable:
		return "Service Unavailable\n"
	}
	return http.StatusText(status) + "\n"
}

// process does the work of deliver and returns the status and outcome.
func (r *Role) process(ctx context.Context, span trace.Span, w http.ResponseWriter, req *http.Request, ep endpoint) (int, string) {
	// Through w, the server closes the connection after a body over the
	// limit instead of reading the rest.
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, int64(r.cfg.MaxBody)))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			r.log.WarnContext(ctx, "gateway: webhook body too large", "platform", ep.token, "limit", r.cfg.MaxBody)
			return http.StatusRequestEntityTooLarge, outcomeTooLarge
		}
		r.log.InfoContext(ctx, "gateway: reading webhook body", "platform", ep.token, "err", err)
		return http.StatusBadRequest, outcomeBadRequest
	}
	span.SetAttributes(attribute.Int("http.request.body.size", len(body)))
	if err := r.verify(req.Header.Get(webhook.SignatureHeader), body); err != nil {
		span.RecordError(err)
		r.log.WarnContext(ctx, "gateway: webhook signature refused", "platform", ep.token, "err", err)
		return http.StatusUnauthorized, outcomeUnauthorized
	}
	res, err := ep.parse(body)
	if err != nil {
		if derr := r.deadLetter(ctx, ep, req, body, err); derr != nil {
			span.RecordError(derr)
			r.log.ErrorContext(ctx, "gateway: could not keep an unparsable webhook in the DLQ; Meta will retry it",
				"platform", ep.token, "err", derr, "cause", err)
			return http.StatusServiceUnavailable, outcomeUnavailable
		}
		add(ctx, r.metrics.deadLetters, 1, platformAttr(ep.token))
		r.log.WarnContext(ctx, "gateway: signed webhook body is not a webhook; kept in the DLQ", "platform", ep.token, "err", err)
		return http.StatusOK, outcomeNotWebhook
	}
	msgs := r.collect(ctx, ep, res)
	if span.IsRecording() {
		ids := make([]string, 0, min(len(msgs), maxSpanIDs))
		for _, m := range msgs[:min(len(msgs), maxSpanIDs)] {
			ids = append(ids, m.GetPlatformMessageId())
		}
		span.SetAttributes(attribute.Int("corral.webhook.messages", len(msgs)), attribute.StringSlice("corral.platform_message_ids", ids))
	}
	if err := r.publishAll(ctx, ep, msgs); err != nil {
		span.RecordError(err)
		r.log.ErrorContext(ctx, "gateway: publishing to CHAT_IN failed; answering 503 so Meta retries",
			"platform", ep.token, "messages", len(msgs), "err", err)
		return http.StatusServiceUnavailable, outcomeUnavailable
	}
	return http.StatusOK, outcomeAccepted
}

// verify checks the signature; with no app secret every body is refused.
func (r *Role) verify(header string, body []byte) error {
	if r.verifier == nil {
		return fmt.Errorf("%w (%s is not set)", webhook.ErrNoSecret, EnvAppSecret)
	}
	return r.verifier.Verify(header, body)
}

// collect turns a parsed delivery into the messages to publish, counting
// and logging everything else.
func (r *Role) collect(ctx context.Context, ep endpoint, res *webhook.Result) []*corralv1.ChatMessage {
	now := timestamppb.Now()
	msgs := make([]*corralv1.ChatMessage, 0, len(res.Messages)+len(res.Business))
	for _, m := range res.Messages {
		if len(m.Raw) > maxRaw {
			m.Raw = nil
		}
		m.ReceivedTime = now
		msgs = append(msgs, m)
	}
	for _, b := range res.Business {
		if b.FromCorral() {
			add(ctx, r.metrics.ignored, 1, platformAttr(ep.token), attribute.String("reason", "own_echo"))
			continue
		}
		m := b.ChatMessage()
		m.ReceivedTime = now
		msgs = append(msgs, m)
	}
	for _, s := range res.Statuses {
		add(ctx, r.metrics.statuses, 1, platformAttr(ep.token), attribute.String("state", string(s.State)))
		if s.State == webhook.StatusFailed {
			codes := make([]int, 0, len(s.Errors))
			for _, e := range s.Errors {
				codes = append(codes, e.Code)
			}
			r.log.InfoContext(ctx, "gateway: platform reports a sent message failed", "platform", ep.token,
				"channel", s.ChannelID, "message_id", s.MessageID, "codes", codes)
		}
	}
	add(ctx, r.metrics.ignored, int64(len(res.Reactions)), platformAttr(ep.token), attribute.String("reason", "reaction"))
	for _, n := range res.Notices {
		add(ctx, r.metrics.ignored, 1, platformAttr(ep.token), attribute.String("reason", n.Kind))
	}
	add(ctx, r.metrics.warnings, int64(len(res.Warnings)), platformAttr(ep.token))
	for _, wn := range res.Warnings {
		r.log.WarnContext(ctx, "gateway: skipped a webhook item", "platform", ep.token, "path", wn.Path, "reason", wn.Reason)
	}
	return msgs
}

// publishAll publishes msgs to CHAT_IN and returns once JetStream
// acknowledged every one, or with the errors. Each conversation's messages
// go in the order the user sent them; every publish is handed to the
// connection at once (one connection keeps their order on the way to the
// stream) and the acknowledgements are awaited together. When one fails
// the answer is 503 and Meta delivers the body again; the messages already
// stored are then duplicates the stream drops.
func (r *Role) publishAll(ctx context.Context, ep endpoint, msgs []*corralv1.ChatMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	if !r.nc.IsConnected() {
		return errUnavailable
	}
	order := msgs
	if len(msgs) > 1 {
		order = slices.Concat(byConversation(msgs)...)
	}
	out := make([]natsbus.Outgoing, len(order))
	for i, m := range order {
		out[i] = natsbus.Outgoing{Subject: r.streams.Subject(corralv1.ChatInSubject(m.Conversation())), MsgID: m.DedupeID(), Msg: m}
	}
	results, err := r.pub.PublishAll(ctx, r.cfg.PublishTimeout, out)
	for i, res := range results {
		if res.Err != nil {
			continue
		}
		outcome := "published"
		if res.Duplicate {
			outcome = "duplicate"
		}
		add(ctx, r.metrics.messages, 1, platformAttr(ep.token), attribute.String("kind", kindLabel(order[i].GetKind())), outcomeAttr(outcome))
	}
	return err
}

// byConversation groups msgs by conversation, in the order each
// conversation first appears, each group sorted by sent time (ties keep
// the body's order).
func byConversation(msgs []*corralv1.ChatMessage) [][]*corralv1.ChatMessage {
	if len(msgs) == 1 {
		return [][]*corralv1.ChatMessage{msgs}
	}
	index := map[corralv1.Conversation]int{}
	var groups [][]*corralv1.ChatMessage
	for _, m := range msgs {
		c := m.Conversation()
		i, ok := index[c]
		if !ok {
			i = len(groups)
			index[c] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], m)
	}
	for _, g := range groups {
		slices.SortStableFunc(g, func(a, b *corralv1.ChatMessage) int {
			return cmp.Compare(a.GetSentTime().AsTime().UnixNano(), b.GetSentTime().AsTime().UnixNano())
		})
	}
	return groups
}

// kindLabel is a message kind as a metric label: "text", "business_reply".
func kindLabel(k corralv1.MessageKind) string {
	name, ok := corralv1.MessageKind_name[int32(k)]
	if !ok {
		return "unknown"
	}
	return strings.ToLower(strings.TrimPrefix(name, "MESSAGE_KIND_"))
}

// deadLetter keeps a signed body that is no webhook in the DLQ stream,
// with why; the same body delivered again is a duplicate there.
func (r *Role) deadLetter(ctx context.Context, ep endpoint, req *http.Request, body []byte, cause error) error {
	if !r.nc.IsConnected() {
		return errUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	msg := nats.NewMsg(r.streams.Subject(corralv1.WebhookDLQSubject(ep.platform)))
	msg.Data = body
	msg.Header.Set(natsbus.HeaderContentType, "application/json")
	msg.Header.Set(natsbus.HeaderDLQReason, DLQReasonNotWebhook)
	msg.Header.Set(natsbus.HeaderDLQError, natsbus.HeaderValue(cause.Error(), maxErrorHeader))
	msg.Header.Set(natsbus.HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	msg.Header.Set(HeaderPlatform, ep.token)
	if sig := req.Header.Get(webhook.SignatureHeader); sig != "" {
		msg.Header.Set(webhook.SignatureHeader, sig)
	}
	sum := sha256.Sum256(body)
	_, err := natsbus.PublishMsg(ctx, r.js, msg, "webhook."+ep.token+"."+hex.EncodeToString(sum[:16]))
	return err
}
