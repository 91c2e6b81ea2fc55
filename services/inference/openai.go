package inference

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/corral-ai/corral/inference/engine"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Endpoints of the OpenAI-compatible API, as metric labels.
const (
	endpointChat        = "chat_completions"
	endpointCompletions = "completions"
	endpointModels      = "models"
)

// openAIPaths are the API's paths; others under /v1 are 404.
var openAIPaths = map[string]string{
	"/v1/chat/completions": http.MethodPost,
	"/v1/completions":      http.MethodPost,
	"/v1/models":           http.MethodGet,
}

func (r *Role) openAIRoutes(mux *http.ServeMux) {
	mux.Handle("POST /v1/chat/completions", r.authorized(endpointChat, r.serveChat))
	mux.Handle("POST /v1/completions", r.authorized(endpointCompletions, r.serveCompletion))
	mux.Handle("GET /v1/models", r.authorized(endpointModels, r.serveModelList))
	mux.Handle("GET /v1/models/{model}", r.authorized(endpointModels, r.serveModel))
	mux.HandleFunc("/v1/", r.serveUnknown)
}

// writeError answers with the OpenAI error object.
func writeError(w http.ResponseWriter, e *apiError) {
	if e.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="corral"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(errorBody(e))
}

func errorBody(e *apiError) map[string]any {
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return map[string]any{"error": map[string]any{"message": e.message, "type": e.typ, "param": null(e.param), "code": null(e.code)}}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// serveUnknown answers paths and methods the API does not have in its
// error shape.
func (r *Role) serveUnknown(w http.ResponseWriter, req *http.Request) {
	if m, ok := openAIPaths[req.URL.Path]; ok {
		w.Header().Set("Allow", m)
		writeError(w, &apiError{status: http.StatusMethodNotAllowed, typ: typeInvalid,
			message: req.Method + " " + req.URL.Path + " is not allowed; use " + m})
		return
	}
	writeError(w, &apiError{status: http.StatusNotFound, typ: typeInvalid,
		message: "unknown path " + req.URL.Path + "; this server has POST /v1/chat/completions, POST /v1/completions and GET /v1/models"})
}

// call is one API request in flight: its span, start and endpoint.
type call struct {
	ctx      context.Context
	span     trace.Span
	start    time.Time
	endpoint string
}

// authorized wraps an endpoint with its span, its metrics and the bearer
// key check.
func (r *Role) authorized(endpoint string, h func(http.ResponseWriter, *http.Request, *call) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c := &call{start: time.Now(), endpoint: endpoint}
		ctx := otel.GetTextMapPropagator().Extract(req.Context(), propagation.HeaderCarrier(req.Header))
		c.ctx, c.span = r.tracer.Start(ctx, "openai."+endpoint, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("url.path", req.URL.Path)))
		defer c.span.End()
		defer func() {
			if p := recover(); p != nil {
				r.log.Error("OpenAI API handler panicked", "endpoint", endpoint, "panic", p, "stack", string(debug.Stack()))
				writeError(w, &apiError{status: http.StatusInternalServerError, typ: typeServer, message: fmt.Sprintf("internal error: %v", p)})
				r.metrics.done(c.ctx, apiOpenAI, endpoint, outcomeError, c.start)
			}
		}()
		outcome := outcomeUnauthorized
		if r.keyOK(req.Header.Get("Authorization")) {
			outcome = h(w, req.WithContext(c.ctx), c)
		} else {
			msg := "missing API key: send Authorization: Bearer KEY"
			if req.Header.Get("Authorization") != "" {
				msg = "incorrect API key provided"
			}
			writeError(w, &apiError{status: http.StatusUnauthorized, typ: typeInvalid, code: "invalid_api_key", message: msg})
		}
		c.span.SetAttributes(attribute.String("corral.outcome", outcome))
		r.metrics.done(c.ctx, apiOpenAI, endpoint, outcome, c.start)
	})
}

// keyOK checks the Authorization header against CORRAL_API_KEY in
// constant time; with no key set every request passes.
func (r *Role) keyOK(header string) bool {
	if r.cfg.APIKey == "" {
		return true
	}
	token, ok := strings.CutPrefix(header, "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(r.cfg.APIKey)) == 1
}

// readBody reads a request body of at most maxBody bytes.
func readBody(w http.ResponseWriter, req *http.Request) ([]byte, *apiError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, typ: typeInvalid, code: "request_too_large",
			message: "the request body is larger than " + strconv.Itoa(maxBody) + " bytes"}
	case err != nil:
		return nil, badParam("", "read the request body: %v", err)
	}
	return body, nil
}

func (r *Role) serveModelList(w http.ResponseWriter, _ *http.Request, _ *call) string {
	writeJSON(w, map[string]any{"object": "list", "data": []any{r.modelObject()}})
	return outcomeOK
}

func (r *Role) serveModel(w http.ResponseWriter, req *http.Request, _ *call) string {
	if id := req.PathValue("model"); id != r.ModelID() {
		e := apiErrorOf(checkModel(id, r.ModelID()), "model")
		writeError(w, e)
		return outcomeModelNotFound
	}
	writeJSON(w, r.modelObject())
	return outcomeOK
}

func (r *Role) modelObject() map[string]any {
	return map[string]any{"id": r.ModelID(), "object": "model", "created": r.modTime.Unix(), "owned_by": "corral"}
}

// completionID makes the id of a response.
func completionID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// finishName is a finish reason as OpenAI names it.
func finishName(f engine.FinishReason) string {
	switch f {
	case engine.FinishLength, engine.FinishContextLength:
		return "length"
	case engine.FinishSafety:
		return "content_filter"
	}
	return "stop"
}

func usageObject(u engine.Usage) map[string]any {
	return map[string]any{
		"prompt_tokens": u.PromptTokens, "completion_tokens": u.CompletionTokens, "total_tokens": u.PromptTokens + u.CompletionTokens,
		"prompt_tokens_details": map[string]any{"cached_tokens": u.CachedPromptTokens},
	}
}

// finalError is the API error a final event carries, or nil when the
// generation ended normally. A request cancelled because its client left
// has nobody to tell; it is reported as gone.
func finalError(ev engine.Event) (*apiError, string) {
	switch ev.Finish {
	case engine.FinishError:
		return &apiError{status: http.StatusInternalServerError, typ: typeServer, message: errText(ev.Err, "generation failed")}, outcomeError
	case engine.FinishCancelled:
		if errors.Is(ev.Err, engine.ErrClosed) {
			return apiErrorOf(ev.Err, ""), outcomeUnavailable
		}
		return &apiError{status: 499, typ: typeInvalid, message: "cancelled"}, outcomeClientGone
	}
	return nil, outcomeOK
}

// generation is what a handler needs to answer: the response's id, object
// names and model, and how to shape a choice.
type generation struct {
	id, object, chunkObject string
	created                 int64
	model                   string
	stream                  bool
	includeUsage            bool
	// choice makes the choice of a whole response; delta that of a chunk.
	choice func(text string, finish any) map[string]any
	delta  func(text string, first bool, finish any) map[string]any
}

func (r *Role) serveChat(w http.ResponseWriter, req *http.Request, c *call) string {
	body, aerr := readBody(w, req)
	if aerr != nil {
		writeError(w, aerr)
		return outcomeInvalid
	}
	cr, er, aerr := decodeChat(body, r.ModelID(), r.cfg.MaxTokens)
	if aerr != nil {
		writeError(w, aerr)
		return outcomeOf(codeOfAPI(aerr))
	}
	g := generation{id: completionID("chatcmpl-"), object: "chat.completion", chunkObject: "chat.completion.chunk",
		created: time.Now().Unix(), model: r.ModelID(), stream: cr.Stream, includeUsage: cr.StreamOptions != nil && cr.StreamOptions.IncludeUsage,
		choice: func(text string, finish any) map[string]any {
			return map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "logprobs": nil, "finish_reason": finish}
		},
		delta: func(text string, first bool, finish any) map[string]any {
			d := map[string]any{}
			if first {
				d["role"] = "assistant"
			}
			if text != "" || first {
				d["content"] = text
			}
			return map[string]any{"index": 0, "delta": d, "logprobs": nil, "finish_reason": finish}
		}}
	return r.generate(w, req, c, er, g, "messages")
}

func (r *Role) serveCompletion(w http.ResponseWriter, req *http.Request, c *call) string {
	body, aerr := readBody(w, req)
	if aerr != nil {
		writeError(w, aerr)
		return outcomeInvalid
	}
	cr, er, aerr := decodeCompletion(body, r.ModelID(), r.cfg.MaxTokens)
	if aerr != nil {
		writeError(w, aerr)
		return outcomeOf(codeOfAPI(aerr))
	}
	text := func(text string, finish any) map[string]any {
		return map[string]any{"index": 0, "text": text, "logprobs": nil, "finish_reason": finish}
	}
	g := generation{id: completionID("cmpl-"), object: "text_completion", chunkObject: "text_completion",
		created: time.Now().Unix(), model: r.ModelID(), stream: cr.Stream, includeUsage: cr.StreamOptions != nil && cr.StreamOptions.IncludeUsage,
		choice: text,
		delta:  func(s string, _ bool, finish any) map[string]any { return text(s, finish) }}
	return r.generate(w, req, c, er, g, "prompt")
}

// codeOfAPI recovers the outcome of an API error made before the engine.
func codeOfAPI(e *apiError) corralv1.ErrorCode {
	switch e.status {
	case http.StatusNotFound:
		return corralv1.ErrorCode_ERROR_CODE_MODEL_NOT_FOUND
	case http.StatusTooManyRequests:
		return corralv1.ErrorCode_ERROR_CODE_OVERLOADED
	case http.StatusServiceUnavailable:
		return corralv1.ErrorCode_ERROR_CODE_UNAVAILABLE
	case http.StatusInternalServerError:
		return corralv1.ErrorCode_ERROR_CODE_INTERNAL
	}
	if e.code == "unsupported" {
		return corralv1.ErrorCode_ERROR_CODE_UNSUPPORTED
	}
	if e.code == "context_length_exceeded" {
		return corralv1.ErrorCode_ERROR_CODE_PROMPT_TOO_LONG
	}
	return corralv1.ErrorCode_ERROR_CODE_INVALID_REQUEST
}

// generate submits the request and answers it whole or as server-sent
// events. The request's context is the sequence's: a client that
// disconnects cancels it.
func (r *Role) generate(w http.ResponseWriter, req *http.Request, c *call, er engine.Request, g generation, param string) string {
	e := r.eng.Load()
	if e == nil {
		writeError(w, &apiError{status: http.StatusServiceUnavailable, typ: typeServer, code: "unavailable", message: "the engine is not running"})
		return outcomeUnavailable
	}
	er.ID = g.id
	s, err := e.Submit(req.Context(), er)
	if err != nil {
		aerr := apiErrorOf(err, param)
		writeError(w, aerr)
		return outcomeOf(codeOf(err))
	}
	r.metrics.stream(c.ctx, apiOpenAI, 1)
	defer r.metrics.stream(c.ctx, apiOpenAI, -1)
	if g.stream {
		return r.streamEvents(w, req, c, s, g)
	}
	var text strings.Builder
	var final engine.Event
	for ev := range s.Events() {
		r.rate.add(len(ev.Tokens))
		text.WriteString(ev.Text)
		if ev.Final() {
			final = ev
		}
	}
	if aerr, outcome := finalError(final); aerr != nil {
		if outcome == outcomeClientGone {
			r.metrics.clientGone(c.ctx, apiOpenAI, goneDisconnected)
		} else {
			writeError(w, aerr)
		}
		return outcome
	}
	writeJSON(w, map[string]any{
		"id": g.id, "object": g.object, "created": g.created, "model": g.model,
		"choices": []any{g.choice(text.String(), finishName(final.Finish))}, "usage": usageObject(final.Usage),
	})
	return outcomeOK
}

// streamEvents answers with server-sent events: a chunk per event, a last
// chunk with the finish reason, a usage chunk when asked, then [DONE]. A
// failure after the first chunk is an error object in the stream, and no
// [DONE].
func (r *Role) streamEvents(w http.ResponseWriter, req *http.Request, c *call, s *engine.Stream, g generation) string {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// The headers go out now, so a client sees its request accepted while
	// it waits in the queue.
	broken := rc.Flush() != nil
	send := func(v any) {
		if broken {
			return
		}
		b, _ := json.Marshal(v)
		if _, err := io.WriteString(w, "data: "+string(b)+"\n\n"); err != nil {
			broken = true
		} else if err := rc.Flush(); err != nil {
			broken = true
		}
		if broken {
			s.Cancel()
		}
	}
	chunk := func(choices []any) map[string]any {
		m := map[string]any{"id": g.id, "object": g.chunkObject, "created": g.created, "model": g.model, "choices": choices}
		if g.includeUsage {
			m["usage"] = nil
		}
		return m
	}
	first := true
	var final engine.Event
	for ev := range s.Events() {
		r.rate.add(len(ev.Tokens))
		if ev.Text != "" || first {
			send(chunk([]any{g.delta(ev.Text, first, nil)}))
			first = false
		}
		if ev.Final() {
			final = ev
		}
	}
	if broken || req.Context().Err() != nil {
		r.metrics.clientGone(c.ctx, apiOpenAI, goneDisconnected)
		return outcomeClientGone
	}
	if aerr, outcome := finalError(final); aerr != nil {
		send(errorBody(aerr))
		return outcome
	}
	send(chunk([]any{g.delta("", false, finishName(final.Finish))}))
	if g.includeUsage {
		u := chunk([]any{})
		u["usage"] = usageObject(final.Usage)
		send(u)
	}
	if !broken {
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
		_ = rc.Flush()
	}
	return outcomeOK
}
