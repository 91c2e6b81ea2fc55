package sender

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/corral-ai/corral/bots/graph"
	"github.com/corral-ai/corral/bots/messenger"
	"github.com/corral-ai/corral/bots/webhook"
	"github.com/corral-ai/corral/bots/whatsapp"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
)

// sendReply sends the pieces of reply m (CHAT_OUT sequence seq on
// subject) that its record does not list as sent, in order, once every
// earlier reply of its conversation is done.
func (s *Role) sendReply(ctx context.Context, m *corralv1.OutboundMessage, subject string, seq uint64) error {
	p := corralv1.PlatformToken(m.GetPlatform())
	conv := m.Conversation()
	wait, err := s.order.wait(ctx, m, subject, seq, s.now())
	if err != nil {
		return err
	}
	if wait > 0 {
		s.metrics.reply(ctx, p, replyHeld)
		return natsbus.RetryAfter(errHeld, wait+rand.N(50*time.Millisecond))
	}
	rec, err := s.ledger.load(ctx, m.GetReplyId())
	if err != nil {
		return err
	}
	finish := func() {
		if err := s.ledger.done(context.WithoutCancel(ctx), conv, m.GetReplyId(), seq); err != nil {
			s.log.WarnContext(ctx, "sender: recording a finished reply", "reply_id", m.GetReplyId(), "err", err)
		}
	}
	pol, err := s.policies.forReply(ctx, m)
	if err != nil {
		return err
	}
	pieces := s.plan(m, pol)
	if len(pieces) == 0 {
		finish()
		s.metrics.reply(ctx, p, replyInvalid)
		inc(ctx, s.metrics.dead, platformAttr(p), attribute.String("reason", "invalid"))
		return natsbus.Permanent(fmt.Errorf("%w: no part has text", ErrInvalidReply))
	}
	todo := pieces[:0:0]
	for _, pc := range pieces {
		if _, done := rec.sent[pc.key]; !done {
			todo = append(todo, pc)
		}
	}
	if len(todo) == 0 {
		finish()
		s.metrics.reply(ctx, p, replyDuplicate)
		return nil
	}
	token, err := s.token(ctx, m)
	if errors.Is(err, ErrNoToken) {
		finish()
		s.metrics.reply(ctx, p, replyInvalid)
		inc(ctx, s.metrics.dead, platformAttr(p), attribute.String("reason", "invalid"))
		s.log.ErrorContext(ctx, "sender: no access token; reply dead-lettered", "platform", p, "channel", m.GetChannelId(), "reply_id", m.GetReplyId())
		return natsbus.Permanent(err)
	}
	if err != nil {
		return err
	}

	for _, pc := range todo {
		if pc.refusal {
			inc(ctx, s.metrics.replaced, platformAttr(p))
			s.log.WarnContext(ctx, "sender: safety stage refused a reply piece; sending the refusal instead",
				"platform", p, "reply_id", m.GetReplyId(), "piece", pc.key)
		}
		id, err := s.send(ctx, m, token, pc)
		if err != nil {
			return s.failed(ctx, m, pc, err, finish)
		}
		if err := s.ledger.markSent(context.WithoutCancel(ctx), m.GetReplyId(), pc.key, id); err != nil {
			// Sent but not recorded: a redelivery would send it again. Say
			// so loudly; it is the one window the record cannot close.
			s.log.ErrorContext(ctx, "sender: sent a piece but could not record it", "reply_id", m.GetReplyId(), "piece", pc.key, "err", err)
			return err
		}
		inc(ctx, s.metrics.parts, platformAttr(p))
	}
	finish()
	s.metrics.reply(ctx, p, replySent)
	now := s.now()
	if t := m.GetReceivedTime(); t != nil {
		s.metrics.duration(ctx, s.metrics.e2e, p, now.Sub(t.AsTime()))
	}
	if t := m.GetCreatedTime(); t != nil {
		s.metrics.duration(ctx, s.metrics.sinceMade, p, now.Sub(t.AsTime()))
	}
	return nil
}

// failed decides what a failed send means: another try later (later
// replies of the conversation wait for it), or the DLQ for a permanent
// failure or too many tries.
func (s *Role) failed(ctx context.Context, m *corralv1.OutboundMessage, pc piece, err error, finish func()) error {
	p := corralv1.PlatformToken(m.GetPlatform())
	kind := graph.KindOf(err)
	s.metrics.sendError(ctx, p, err)
	trace.SpanFromContext(ctx).SetStatus(codes.Error, string(kind))
	log := s.log.With("platform", p, "channel", m.GetChannelId(), "reply_id", m.GetReplyId(), "piece", pc.key, "kind", string(kind), "err", err)
	if !kind.Retryable() {
		finish()
		s.metrics.reply(ctx, p, replyFailed)
		inc(ctx, s.metrics.dead, platformAttr(p), attribute.String("reason", string(kind)))
		log.ErrorContext(ctx, "sender: permanent Send API error; reply dead-lettered, not retried")
		return natsbus.Permanent(err)
	}
	n, lerr := s.ledger.failed(context.WithoutCancel(ctx), m.GetReplyId())
	if lerr != nil {
		return fmt.Errorf("%w (and %w)", err, lerr)
	}
	if n >= s.cfg.MaxAttempts {
		finish()
		s.metrics.reply(ctx, p, replyGaveUp)
		inc(ctx, s.metrics.dead, platformAttr(p), attribute.String("reason", "attempts"))
		log.ErrorContext(ctx, "sender: giving up on a reply; dead-lettered", "attempts", n)
		return natsbus.Permanent(fmt.Errorf("gave up after %d tries: %w", n, err))
	}
	delay := s.backoff(n, graph.RetryAfter(err))
	if rerr := s.ledger.retryAt(context.WithoutCancel(ctx), m.GetReplyId(), s.now().Add(delay)); rerr != nil {
		log.WarnContext(ctx, "sender: recording the retry time", "retry_err", rerr)
	}
	s.metrics.reply(ctx, p, replyRetry)
	inc(ctx, s.metrics.retries, platformAttr(p), attribute.String("kind", string(kind)))
	log.InfoContext(ctx, "sender: Send API call failed; retrying later", "attempt", n, "retry_in", delay)
	return natsbus.RetryAfter(err, delay)
}

// send makes one piece's Send API call and returns the platform message id.
func (s *Role) send(ctx context.Context, m *corralv1.OutboundMessage, token string, pc piece) (string, error) {
	began := s.now()
	defer func() {
		s.metrics.duration(ctx, s.metrics.send, corralv1.PlatformToken(m.GetPlatform()), s.now().Sub(began))
	}()
	titles, payloads := quickReplies(m.GetPlatform(), pc.quick)
	if m.GetPlatform() == corralv1.Platform_PLATFORM_WHATSAPP {
		ch := whatsapp.Channel{PhoneNumberID: m.GetChannelId(), AccessToken: token}
		replyTo := ""
		if pc.key == firstKey(m) {
			replyTo = m.GetInReplyTo()
		}
		if len(titles) > 0 {
			buttons := make([]whatsapp.Button, len(titles))
			for i := range titles {
				buttons[i] = whatsapp.Button{ID: payloads[i], Title: titles[i]}
			}
			sent, err := s.wa.SendButtons(ctx, ch, whatsapp.Buttons{To: m.GetUserId(), Body: pc.text, ReplyTo: replyTo, Buttons: buttons})
			return sent.MessageID, err
		}
		sent, err := s.wa.SendText(ctx, ch, whatsapp.Text{To: m.GetUserId(), Body: pc.text, PreviewURL: pc.preview, ReplyTo: replyTo})
		return sent.MessageID, err
	}
	ch := messenger.Channel{PageID: m.GetChannelId(), AccessToken: token}
	t := messenger.Text{To: m.GetUserId(), Text: pc.text, MessagingType: messenger.MessagingResponse,
		Metadata: webhook.OwnSendMetadata(m.GetReplyId(), pc.key)}
	for i := range titles {
		t.QuickReplies = append(t.QuickReplies, messenger.QuickReply{Title: titles[i], Payload: payloads[i]})
	}
	sent, err := s.ms.SendText(ctx, ch, t)
	return sent.MessageID, err
}

// firstKey is the key of the reply's first piece: that of its first part
// with text.
func firstKey(m *corralv1.OutboundMessage) string {
	for i, part := range m.GetParts() {
		if strings.TrimSpace(part.GetText()) != "" {
			return pieceKey(i, 0)
		}
	}
	return ""
}
