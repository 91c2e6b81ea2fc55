package sender

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/corral-ai/corral/bots/messenger"
	"github.com/corral-ai/corral/bots/whatsapp"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// ActionMaxAge is how old an action may be when the sender gets to it: a
// typing indicator shown later than this would outlast WhatsApp's 25
// seconds, or come after the reply.
const ActionMaxAge = 20 * time.Second

// actionTimeout bounds the calls of one action: it is best effort, and a
// worker must not wait long on it.
const actionTimeout = 5 * time.Second

// act carries out a typing or read-receipt action once, best effort: a
// stale action, one whose reply already went out, or one whose call fails
// is counted and dropped, never retried.
func (s *Role) act(ctx context.Context, m *corralv1.OutboundMessage) {
	p, a := corralv1.PlatformToken(m.GetPlatform()), corralv1.ActionToken(m.GetAction())
	count := func(outcome string) {
		inc(ctx, s.metrics.actions, platformAttr(p), attribute.String("action", a), attribute.String("outcome", outcome))
	}
	if t := m.GetCreatedTime(); t != nil && s.now().Sub(t.AsTime()) > ActionMaxAge {
		count(actionStale)
		return
	}
	if sent, err := s.ledger.started(ctx, m.GetReplyId()); err != nil || sent {
		count(actionLate) // or unknown; an indicator after the reply is worse than none
		return
	}
	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	token, err := s.token(ctx, m)
	if err != nil {
		count(actionFailed)
		s.log.InfoContext(ctx, "sender: action skipped", "platform", p, "action", a, "err", err)
		return
	}
	done, err := s.doAction(ctx, m, token)
	switch {
	case err != nil:
		count(actionFailed)
		s.metrics.sendError(ctx, p, err)
		s.log.InfoContext(ctx, "sender: action failed; not retried", "platform", p, "action", a, "err", err)
	case !done:
		count(actionNone)
	default:
		count(actionSent)
	}
}

// doAction makes the action's calls; done is false when the platform has
// nothing for it.
func (s *Role) doAction(ctx context.Context, m *corralv1.OutboundMessage, token string) (done bool, err error) {
	act := m.GetAction()
	if m.GetPlatform() == corralv1.Platform_PLATFORM_WHATSAPP {
		typing := act == corralv1.OutboundAction_OUTBOUND_ACTION_TYPING
		if !typing && act != corralv1.OutboundAction_OUTBOUND_ACTION_MARK_READ || m.GetInReplyTo() == "" {
			return false, nil // WhatsApp hides the indicator itself; a receipt needs the message id
		}
		ch := whatsapp.Channel{PhoneNumberID: m.GetChannelId(), AccessToken: token}
		return true, s.wa.MarkRead(ctx, ch, m.GetInReplyTo(), typing)
	}
	ch := messenger.Channel{PageID: m.GetChannelId(), AccessToken: token}
	var steps []messenger.Action
	switch act {
	case corralv1.OutboundAction_OUTBOUND_ACTION_TYPING:
		steps = []messenger.Action{messenger.MarkSeen, messenger.TypingOn}
	case corralv1.OutboundAction_OUTBOUND_ACTION_MARK_READ:
		steps = []messenger.Action{messenger.MarkSeen}
	case corralv1.OutboundAction_OUTBOUND_ACTION_TYPING_OFF:
		steps = []messenger.Action{messenger.TypingOff}
	default:
		return false, nil
	}
	for _, a := range steps {
		if err := s.ms.SendAction(ctx, ch, m.GetUserId(), a); err != nil {
			return true, err
		}
	}
	return true, nil
}
