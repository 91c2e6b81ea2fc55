package studio

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/corral-ai/corral/persona"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// opTimeout bounds one store operation.
const opTimeout = 10 * time.Second

// opLabel keeps the metric's op label to the known operations.
func opLabel(op string) string {
	switch op {
	case opAuth, opPersonaList, opPersonaGet, opPersonaCreate, opPersonaUpdate, opPublish, opRollback,
		opDelete, opStats, opChannelList, opChannelBind, opPreviewChat, opPreviewCancel:
		return op
	}
	return "unknown"
}

// dispatch runs one request and answers it; p is a preview's place, nil
// for other requests.
func (c *conn) dispatch(req request, p *previewSlot) {
	ctx, span := c.r.tracer.Start(c.ctx, "studio "+opLabel(req.Op), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("corral.studio.op", req.Op), attribute.String("corral.studio.conn", c.id)))
	defer span.End()
	began := time.Now()
	result, werr := c.do(ctx, req, p)
	// Free before the answer goes out: a client may reuse the id once it
	// has the answer.
	c.endPreview(p)
	outcome := "ok"
	if werr != nil {
		outcome = werr.Code
		span.SetStatus(codes.Error, werr.Code)
		span.SetAttributes(attribute.String("corral.studio.error", werr.Code))
	}
	c.r.metrics.request(ctx, opLabel(req.Op), outcome)
	c.r.metrics.duration.Record(ctx, time.Since(began).Seconds(), opAttrs(opLabel(req.Op)))
	if werr != nil && werr.Code == codeInternal {
		c.r.log.ErrorContext(ctx, "studio: request failed", "conn", c.id, "op", req.Op, "err", werr.Message)
		werr = newError(codeInternal, "something went wrong on our side; the server log has the details")
	}
	c.reply(req.ID, result, werr)
}

// do runs a request; an error that is not the protocol's becomes internal
// (or unavailable, when Redis cannot be reached).
func (c *conn) do(ctx context.Context, req request, p *previewSlot) (any, *wireError) {
	if req.Op == opAuth {
		return c.auth(ctx, req)
	}
	actor := c.creatorID()
	if actor == "" {
		if opLabel(req.Op) == "unknown" {
			return nil, newError(codeUnknownOp, "no operation %q", req.Op)
		}
		return nil, newError(codeUnauthenticated, "sign in first (op %q with your creator token)", opAuth)
	}
	var (
		result any
		err    error
	)
	switch req.Op {
	case opPreviewChat:
		return c.preview(ctx, actor, req, p)
	case opPreviewCancel:
		if req.Target == "" {
			return nil, newError(codeBadRequest, `"target" (the id of the preview to cancel) is required`)
		}
		return map[string]bool{"cancelled": c.cancelPreview(req.Target)}, nil
	case opPublish:
		return c.publish(ctx, actor, req)
	}
	sctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	switch req.Op {
	case opPersonaList:
		result, err = c.list(sctx, actor)
	case opPersonaGet:
		result, err = c.get(sctx, actor, req)
	case opPersonaCreate:
		result, err = c.create(sctx, actor, req)
	case opPersonaUpdate:
		result, err = c.update(sctx, actor, req)
	case opRollback:
		result, err = c.rollback(sctx, actor, req)
	case opDelete:
		if err = needPersona(req); err == nil {
			err = c.r.store.Delete(sctx, actor, req.PersonaID)
		}
	case opStats:
		result, err = c.stats(sctx, actor, req)
	case opChannelList:
		result, err = c.channels(sctx, actor)
	case opChannelBind:
		err = c.bind(sctx, actor, req)
	default:
		return nil, newError(codeUnknownOp, "no operation %q", req.Op)
	}
	if err != nil {
		return nil, asWire(err)
	}
	return result, nil
}

// asWire maps any error onto the protocol.
func asWire(err error) *wireError {
	if we, ok := errors.AsType[*wireError](err); ok {
		return we
	}
	if we := storeError(err); we != nil {
		return we
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &wireError{Code: codeUnavailable, Message: "the persona store did not answer in time", RetryAfterMS: 1000}
	}
	return newError(codeInternal, "%v", err)
}

func needPersona(req request) error {
	if req.PersonaID == "" {
		return newError(codeBadRequest, `"persona_id" is required`)
	}
	return nil
}

func needRevision(req request) error {
	if err := needPersona(req); err != nil {
		return err
	}
	if req.Revision == 0 {
		return newError(codeBadRequest, `"revision" (the revision your change is based on) is required`)
	}
	return nil
}

func (c *conn) auth(ctx context.Context, req request) (any, *wireError) {
	if req.Token == "" {
		return nil, newError(codeBadRequest, `"token" is required`)
	}
	if c.creatorID() != "" {
		return nil, newError(codeBadRequest, "already signed in; open a new connection to change creator")
	}
	sctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	cr, err := c.r.store.Authenticate(sctx, req.Token)
	if err != nil {
		c.r.log.InfoContext(ctx, "studio: sign-in refused", "conn", c.id, "err", err)
		return nil, asWire(err)
	}
	c.mu.Lock()
	c.creator = cr
	c.mu.Unlock()
	c.r.signedIn(c, cr.ID)
	return map[string]any{"creator": map[string]string{"id": cr.ID, "name": cr.Name}}, nil
}

func (c *conn) list(ctx context.Context, actor string) (any, error) {
	ps, err := c.r.store.List(ctx, actor)
	if err != nil {
		return nil, err
	}
	out := make([]personaView, 0, len(ps))
	for _, p := range ps {
		c.r.owned(p.ID, p.OwnerID)
		out = append(out, viewPersona(p))
	}
	return map[string]any{"personas": out}, nil
}

func (c *conn) get(ctx context.Context, actor string, req request) (any, error) {
	if err := needPersona(req); err != nil {
		return nil, err
	}
	p, err := c.r.store.Get(ctx, actor, req.PersonaID)
	if err != nil {
		return nil, err
	}
	c.r.owned(p.ID, p.OwnerID)
	vs, err := c.r.store.Versions(ctx, actor, req.PersonaID)
	if err != nil {
		return nil, err
	}
	versions := make([]versionView, 0, len(vs))
	for _, v := range vs {
		versions = append(versions, viewVersion(v))
	}
	return map[string]any{"persona": viewPersona(p), "versions": versions}, nil
}

func decodeEdit(req request) (persona.Edit, error) {
	if len(req.Persona) == 0 {
		return persona.Edit{}, newError(codeBadRequest, `"persona" (the persona's fields) is required`)
	}
	e, err := persona.DecodeEdit(req.Persona)
	if err != nil {
		return persona.Edit{}, newError(codeBadRequest, "%v", err)
	}
	return e, nil
}

func (c *conn) create(ctx context.Context, actor string, req request) (any, error) {
	e, err := decodeEdit(req)
	if err != nil {
		return nil, err
	}
	p, err := c.r.store.Create(ctx, actor, e)
	if err != nil {
		return nil, err
	}
	c.r.owned(p.ID, p.OwnerID)
	return map[string]any{"persona": viewPersona(p)}, nil
}

func (c *conn) update(ctx context.Context, actor string, req request) (any, error) {
	if err := needRevision(req); err != nil {
		return nil, err
	}
	e, err := decodeEdit(req)
	if err != nil {
		return nil, err
	}
	p, err := c.r.store.Update(ctx, actor, req.PersonaID, req.Revision, e)
	if err != nil {
		return nil, err
	}
	return map[string]any{"persona": viewPersona(p)}, nil
}

func (c *conn) rollback(ctx context.Context, actor string, req request) (any, error) {
	if err := needRevision(req); err != nil {
		return nil, err
	}
	if req.Version == 0 {
		return nil, newError(codeBadRequest, `"version" (the version to bring back) is required`)
	}
	v, err := c.r.store.Rollback(ctx, actor, req.PersonaID, req.Revision, req.Version)
	if err != nil {
		return nil, err
	}
	p, err := c.r.store.Get(ctx, actor, req.PersonaID)
	if err != nil {
		return nil, err
	}
	c.r.warm(p, v)
	return map[string]any{"persona": viewPersona(p), "version": viewVersion(v)}, nil
}

func (c *conn) channels(ctx context.Context, actor string) (any, error) {
	cs, err := c.r.store.Channels(ctx)
	if err != nil {
		return nil, err
	}
	out := []channelView{}
	for _, ch := range cs {
		if ch.OwnerID != actor {
			continue
		}
		out = append(out, channelView{Platform: corralv1.PlatformToken(ch.Platform), ID: ch.ID, Name: ch.Name, PersonaID: ch.PersonaID})
	}
	return map[string]any{"channels": out}, nil
}

func (c *conn) bind(ctx context.Context, actor string, req request) error {
	if req.Platform == "" || req.ChannelID == "" {
		return newError(codeBadRequest, `"platform" and "channel_id" are required ("persona_id" empty returns the channel to the default persona)`)
	}
	p, err := corralv1.ParsePlatformToken(req.Platform)
	if err != nil {
		return newError(codeBadRequest, "%v", err)
	}
	return c.r.store.Bind(ctx, actor, p, req.ChannelID, req.PersonaID)
}

func (c *conn) stats(ctx context.Context, actor string, req request) (any, error) {
	if err := needPersona(req); err != nil {
		return nil, err
	}
	u, err := c.r.store.Usage(ctx, actor, req.PersonaID)
	if err != nil {
		return nil, err
	}
	usage := make([]map[string]any, 0, len(u.Versions))
	var chatPrompt, chatCached int64
	for _, v := range u.Versions {
		usage = append(usage, map[string]any{"version": v.Version, "replies": v.Replies, "conversations": v.Conversations,
			"prompt_tokens": v.PromptTokens, "cached_prompt_tokens": v.CachedPromptTokens, "hit_ratio": v.HitRatio()})
		chatPrompt += v.PromptTokens
		chatCached += v.CachedPromptTokens
	}
	preview := c.r.hits.get(req.PersonaID)
	out := map[string]any{
		"usage":   usage,
		"preview": preview,
		// Chats are counted by every chat replica in the persona store;
		// previews by this studio process.
		"chat":   hitsOf(chatPrompt, chatCached),
		"prefix": hitsOf(chatPrompt+preview.PromptTokens, chatCached+preview.CachedTokens),
	}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := c.r.infer.Stats(ictx)
	if err != nil {
		out["engine"] = nil
		out["engine_note"] = "the inference service did not answer: " + err.Error()
	} else {
		out["engine"] = map[string]any{
			"prefix_cache_hit_ratio": st.GetPrefixCacheHitRatio(),
			"requests_total":         st.GetRequestsTotal(),
			"instance_id":            st.GetInstanceId(),
		}
	}
	return out, nil
}
