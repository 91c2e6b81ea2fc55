package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/corral-ai/corral/inference/safety"
	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
)

// stageError names the stage of a handling that failed, for the errors
// metric.
type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

func at(stage string, err error) error {
	if err == nil || errors.Is(err, errSuperseded) {
		return err
	}
	return &stageError{stage: stage, err: err}
}

// handle answers one conversation's batch of messages (oldest first) with
// at most one reply. It runs under the newest message's span.
func (r *Role) handle(ctx context.Context, batch []*job, commit func() bool) error {
	newest := batch[len(batch)-1]
	links := make([]trace.Link, 0, len(batch)-1)
	ids := make([]string, len(batch))
	for i, j := range batch {
		ids[i] = j.m.GetPlatformMessageId()
		if i < len(batch)-1 {
			links = append(links, trace.LinkFromContext(j.ctx))
		}
	}
	platform := corralv1.PlatformToken(newest.m.GetPlatform())
	ctx = trace.ContextWithSpanContext(ctx, trace.SpanContextFromContext(newest.ctx))
	ctx, span := tracer.Start(ctx, "chat.answer", trace.WithLinks(links...), trace.WithAttributes(
		attribute.String("corral.platform", platform),
		attribute.StringSlice("corral.platform_message_ids", ids),
		attribute.Int("corral.batch", len(batch))))
	defer span.End()
	err := r.answer(ctx, batch, commit)
	switch {
	case errors.Is(err, errSuperseded):
		span.SetAttributes(attribute.Bool("corral.superseded", true))
	case err != nil:
		span.RecordError(err)
		span.SetStatus(codes.Error, "answer failed")
		stage := "other"
		var se *stageError
		if errors.As(err, &se) {
			stage = se.stage
		}
		r.metrics.fail(ctx, platform, stage)
	}
	return err
}

// answer is handle's work; see the package documentation for the steps.
func (r *Role) answer(ctx context.Context, batch []*job, commit func() bool) error {
	conv := batch[0].m.Conversation()
	platform := corralv1.PlatformToken(conv.Platform)

	// 1. Drop what was answered before (and repeats inside the batch).
	ids := make([]string, 0, len(batch))
	for _, j := range batch {
		ids = append(ids, j.m.DedupeID())
	}
	seen, pending, err := r.state.lookup(ctx, ids)
	if err != nil {
		return at("state", err)
	}
	var fresh []*corralv1.ChatMessage
	taken := map[string]bool{}
	for _, j := range batch {
		id := j.m.DedupeID()
		if seen[id] || taken[id] {
			continue
		}
		taken[id] = true
		fresh = append(fresh, j.m)
	}
	if dups := len(batch) - len(fresh); dups > 0 {
		r.metrics.dedupes.Add(ctx, int64(dups), metricAttrs(platform))
		r.metrics.message(ctx, platform, msgDuplicate, dups)
	}
	if len(fresh) == 0 {
		return nil
	}
	// A reply decided for some of them whose delivery was interrupted goes
	// out now, the same reply; the rest are answered anew.
	if fresh, err = r.resume(ctx, conv, fresh, pending); err != nil {
		return err
	}
	if len(fresh) == 0 {
		return at("state", r.state.markSeen(ctx, ids, r.cfg.DedupeTTL))
	}
	done := func() error { return at("state", r.state.finish(ctx, ids, r.cfg.DedupeTTL)) }

	// 2. The business side: a person answering pauses the bot.
	users, human, paused, err := r.business(ctx, conv, fresh)
	if err != nil {
		return err
	}
	if len(users) == 0 || paused {
		if !commit() {
			return errSuperseded
		}
		if paused {
			r.metrics.message(ctx, platform, msgPaused, len(users))
		} else {
			users = nil // nothing to mark read
		}
		if err := r.keepPaused(ctx, conv, human, users); err != nil {
			return err
		}
		return done()
	}
	last := users[len(users)-1]

	// 3. A flood gets one notice a minute instead of replies.
	switch v, err := r.rate(ctx, conv, batch, users); {
	case err != nil:
		return at("state", err)
	case v != rateOK:
		r.metrics.message(ctx, platform, msgLimited, len(users))
		if !commit() {
			return errSuperseded
		}
		if v == rateNotice {
			if err := r.publishReply(ctx, last, []string{rateNoticeText}, persona.Version{}, nil, "notice"); err != nil {
				return err
			}
		} else if err := r.publishAction(ctx, last, corralv1.OutboundAction_OUTBOUND_ACTION_MARK_READ); err != nil {
			return err
		}
		return done()
	}

	// 4. Commands, texts and the rest, in order.
	res, err := r.personas.Resolve(ctx, conv)
	if err != nil {
		return at("persona", err)
	}
	t := turnPlan{version: res.Version}
	if err := r.plan(ctx, conv, users, &t); err != nil {
		return err
	}
	r.metrics.message(ctx, platform, msgCommand, t.commands)
	r.metrics.message(ctx, platform, msgTextOnly, t.notText)
	r.metrics.message(ctx, platform, msgRefused, t.refused)
	r.metrics.message(ctx, platform, msgSupport, t.crisis)
	r.metrics.message(ctx, platform, msgAnswered, len(t.texts))

	// 5. Generate the reply to the texts.
	var gen generated
	kind := "command"
	if len(t.texts) > 0 {
		if err := r.publishAction(ctx, last, corralv1.OutboundAction_OUTBOUND_ACTION_TYPING); err != nil {
			r.log.WarnContext(ctx, "chat: typing indicator", "err", err)
		}
		hist, err := r.store.History(ctx, conv, r.cfg.History)
		if err != nil {
			return at("history", err)
		}
		turns := append(hist, human...)
		for _, text := range t.texts {
			turns = append(turns, persona.Message{Role: persona.User, Content: text})
		}
		gen, err = r.generate(ctx, conv, t.version, t.policy, turns, last.DedupeID())
		if err != nil {
			return at("inference", err)
		}
		t.parts = append(t.parts, gen.text)
		kind = "generated"
		if gen.refused {
			kind = "refusal"
		}
	} else if t.crisis > 0 {
		kind = "support"
	} else if t.refused > 0 {
		kind = "refusal"
	} else if t.commands == 0 {
		kind = "note" // media without a caption and the like
	}
	if len(t.parts) == 0 {
		if !commit() {
			return errSuperseded
		}
		return done()
	}

	// 6. The first reply of a conversation says it comes from an AI.
	disclosed, err := r.state.disclosed(ctx, conv)
	if err != nil {
		return at("state", err)
	}
	if !disclosed {
		t.parts[0] = aiNotice + "\n\n" + t.parts[0]
	}

	// 7. Past this point the reply goes out: store, publish, remember.
	if !commit() {
		return errSuperseded
	}
	var stored []persona.Message
	if len(t.texts) > 0 || len(human) > 0 {
		stored = slices.Clone(human)
		for _, s := range t.stored {
			stored = append(stored, persona.Message{Role: persona.User, Content: s})
		}
		if len(t.texts) > 0 {
			stored = append(stored, persona.Message{Role: persona.Assistant, Content: gen.stored})
		}
	}
	out := reply(last, t.parts, t.version, gen.verdict)
	if err := r.deliver(ctx, conv, ids, out, stored); err != nil {
		return err
	}
	r.replied(ctx, last, kind)
	if !disclosed {
		if err := r.state.markDisclosed(ctx, conv); err != nil {
			r.log.WarnContext(ctx, "chat: recording the AI notice", "err", err)
		}
	}
	if len(t.texts) > 0 && t.version.PersonaID != persona.DefaultID {
		if err := r.store.Use(ctx, conv, t.version.PersonaID, t.version.Number, gen.prompt); err != nil && !errors.Is(err, store.ErrNotFound) {
			r.log.WarnContext(ctx, "chat: counting persona use", "err", err)
		}
	}
	return done()
}

// rate counts the batch's user messages against the rate limit, each
// message once however often its batch is handled again.
func (r *Role) rate(ctx context.Context, conv corralv1.Conversation, batch []*job, users []*corralv1.ChatMessage) (rateVerdict, error) {
	var fresh []*job
	for _, j := range batch {
		if !j.rated && slices.Contains(users, j.m) {
			fresh = append(fresh, j)
		}
	}
	if len(fresh) == 0 {
		return rateOK, nil
	}
	v, err := r.state.rate(ctx, conv, len(fresh), r.cfg.RateLimit)
	if err != nil {
		return rateOK, err
	}
	for _, j := range fresh {
		j.rated = true
	}
	return v, nil
}

// turnPlan is what a batch's user messages ask for.
type turnPlan struct {
	version  persona.Version
	policy   policy
	parts    []string // answers to commands and notes, in order
	texts    []string // texts the model answers (as the user wrote them)
	stored   []string // the same with personal data masked, for history
	commands int
	notText  int
	refused  int
	crisis   int // refused as self-harm: answered with safety.SupportMessage
}

// plan walks the user messages in order: commands run at once (a persona
// switch applies to the texts after it, /reset forgets the texts before
// it), texts pass the input safety check, other kinds are noted.
func (r *Role) plan(ctx context.Context, conv corralv1.Conversation, users []*corralv1.ChatMessage, t *turnPlan) error {
	var err error
	if t.policy, err = r.policies.forVersion(t.version); err != nil {
		return at("persona", err)
	}
	for _, m := range users {
		text := strings.TrimSpace(m.GetText())
		if cmd, ok := parseCommand(text); ok {
			t.commands++
			out, err := r.runCommand(ctx, conv, cmd, t.version)
			if err != nil {
				return at("command", err)
			}
			t.parts = append(t.parts, out)
			switch cmd.kind {
			case cmdReset:
				t.texts, t.stored = nil, nil
			case cmdPickPersona:
				res, err := r.personas.Resolve(ctx, conv)
				if err != nil {
					return at("persona", err)
				}
				t.version = res.Version
				if t.policy, err = r.policies.forVersion(t.version); err != nil {
					return at("persona", err)
				}
			}
			continue
		}
		if text == "" {
			t.notText++
			continue
		}
		v, err := r.safety.CheckContext(ctx, text, safety.User, t.policy.p)
		if err != nil {
			// The fast verdict stands; a guard model that fails must not
			// stop the conversation.
			r.metrics.guardErrors.Add(ctx, 1)
			r.log.WarnContext(ctx, "chat: guard model", "err", err)
		}
		if v.Action == safety.ActionRefuse {
			if v.Crisis() {
				t.crisis++
			} else {
				t.refused++
			}
			continue
		}
		t.texts = append(t.texts, text)
		t.stored = append(t.stored, v.Redacted)
	}
	if t.crisis > 0 {
		// Someone who says they want to die gets where to find help, and
		// nothing generated next to it.
		t.texts, t.stored = nil, nil
		t.parts = append(t.parts, safety.SupportMessage)
		return nil
	}
	if len(t.texts) == 0 {
		switch {
		case t.refused > 0:
			t.parts = append(t.parts, t.policy.refusal)
		case t.notText > 0 && len(t.parts) == 0:
			t.parts = append(t.parts, textOnlyNote)
		}
	}
	return nil
}

// business applies what the business side did (pause, resume) and returns
// the user messages the bot may answer: those after the last time a
// person stepped in, none while the bot is paused. human holds what people
// wrote from the business side, for history once the batch commits.
func (r *Role) business(ctx context.Context, conv corralv1.Conversation, fresh []*corralv1.ChatMessage) (users []*corralv1.ChatMessage, human []persona.Message, paused bool, err error) {
	platform := corralv1.PlatformToken(conv.Platform)
	if paused, err = r.state.paused(ctx, conv); err != nil {
		return nil, nil, false, at("state", err)
	}
	for _, m := range fresh {
		switch m.GetKind() {
		case corralv1.MessageKind_MESSAGE_KIND_BUSINESS_REPLY:
			r.metrics.message(ctx, platform, msgBusiness, 1)
			switch m.GetBusiness().GetAction() {
			case corralv1.BusinessAction_BUSINESS_ACTION_HUMAN_MESSAGE, corralv1.BusinessAction_BUSINESS_ACTION_THREAD_TAKEN:
				if err := r.state.pause(ctx, conv, r.cfg.Pause); err != nil {
					return nil, nil, false, at("state", err)
				}
				// What the user wrote before is the person's to answer,
				// and stays in history in order.
				for _, u := range users {
					if text := strings.TrimSpace(u.GetText()); text != "" {
						human = append(human, persona.Message{Role: persona.User, Content: r.safety.Check(text, safety.User, nil).Redacted})
					}
				}
				if text := strings.TrimSpace(m.GetText()); text != "" {
					// The person's answer is part of the conversation the
					// bot continues later.
					human = append(human, persona.Message{Role: persona.Assistant, Content: r.safety.Check(text, safety.Assistant, nil).Redacted})
				}
				r.metrics.message(ctx, platform, msgPaused, len(users))
				users, paused = nil, true
			case corralv1.BusinessAction_BUSINESS_ACTION_THREAD_PASSED:
				if err := r.state.resume(ctx, conv); err != nil {
					return nil, nil, false, at("state", err)
				}
				paused = false
			}
		case corralv1.MessageKind_MESSAGE_KIND_REACTION:
			r.metrics.message(ctx, platform, msgIgnored, 1)
		default:
			users = append(users, m)
		}
	}
	return users, human, paused, nil
}

// keepPaused records what users wrote while a person answers for the bot
// (after what the person wrote), so the bot knows it later, and marks it
// read.
func (r *Role) keepPaused(ctx context.Context, conv corralv1.Conversation, human []persona.Message, users []*corralv1.ChatMessage) error {
	msgs := human
	for _, m := range users {
		if text := strings.TrimSpace(m.GetText()); text != "" {
			v := r.safety.Check(text, safety.User, nil)
			msgs = append(msgs, persona.Message{Role: persona.User, Content: v.Redacted})
		}
	}
	if len(msgs) > 0 {
		if err := r.store.AppendHistory(ctx, conv, msgs...); err != nil {
			return at("history", err)
		}
	}
	if len(users) == 0 {
		return nil
	}
	return r.publishAction(ctx, users[len(users)-1], corralv1.OutboundAction_OUTBOUND_ACTION_MARK_READ)
}

// publishReply publishes the reply to m (the newest message it answers).
func (r *Role) publishReply(ctx context.Context, m *corralv1.ChatMessage, texts []string, v persona.Version, verdict *corralv1.SafetyVerdict, kind string) error {
	if err := r.publish(ctx, reply(m, texts, v, verdict)); err != nil {
		return err
	}
	r.replied(ctx, m, kind)
	return nil
}

// reply is the OutboundMessage answering m with texts.
func reply(m *corralv1.ChatMessage, texts []string, v persona.Version, verdict *corralv1.SafetyVerdict) *corralv1.OutboundMessage {
	out := outbound(m)
	for _, t := range texts {
		out.Parts = append(out.Parts, &corralv1.ReplyPart{Text: t})
	}
	out.PersonaId, out.PersonaVersion, out.Safety = v.PersonaID, v.Number, verdict
	return out
}

// replied counts a reply to m that was published.
func (r *Role) replied(ctx context.Context, m *corralv1.ChatMessage, kind string) {
	platform := corralv1.PlatformToken(m.GetPlatform())
	r.metrics.reply(ctx, platform, kind)
	if rt := m.GetReceivedTime(); rt.IsValid() {
		r.metrics.seconds(ctx, r.metrics.latency, platform, r.now().Sub(rt.AsTime()))
	}
}

// publishAction publishes a typing indicator or read receipt for m.
func (r *Role) publishAction(ctx context.Context, m *corralv1.ChatMessage, a corralv1.OutboundAction) error {
	out := outbound(m)
	out.Action = a
	return r.publish(ctx, out)
}

func (r *Role) publish(ctx context.Context, out *corralv1.OutboundMessage) error {
	subject := r.streams.Subject(corralv1.ChatOutSubject(out.Conversation()))
	if _, err := natsbus.Publish(ctx, r.js, subject, out.DedupeID(), out); err != nil {
		return at("publish", fmt.Errorf("publish %s: %w", corralv1.ActionToken(out.GetAction()), err))
	}
	return nil
}

// outbound starts the OutboundMessage answering m: its reply id is m's
// dedupe id, so answering m again after a crash publishes the same one.
func outbound(m *corralv1.ChatMessage) *corralv1.OutboundMessage {
	return &corralv1.OutboundMessage{
		Platform: m.GetPlatform(), ChannelId: m.GetChannelId(), UserId: m.GetUserId(),
		ReplyId: m.DedupeID(), InReplyTo: m.GetPlatformMessageId(),
		CreatedTime: timestamppb.Now(), ReceivedTime: m.GetReceivedTime(),
	}
}
