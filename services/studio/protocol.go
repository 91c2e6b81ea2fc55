package studio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
)

// Operations of the protocol (docs/studio-protocol.md).
const (
	opAuth          = "auth"
	opPersonaList   = "persona.list"
	opPersonaGet    = "persona.get"
	opPersonaCreate = "persona.create"
	opPersonaUpdate = "persona.update"
	opPublish       = "persona.publish"
	opRollback      = "persona.rollback"
	opDelete        = "persona.delete"
	opStats         = "persona.stats"
	opChannelList   = "channel.list"
	opChannelBind   = "channel.bind"
	opPreviewChat   = "preview.chat"
	opPreviewCancel = "preview.cancel"
)

// Error codes, the "code" of an error answer. They are part of the
// protocol: never rename one.
const (
	codeBadRequest      = "bad_request"     // the frame is not a request, or a parameter is missing or malformed
	codeUnknownOp       = "unknown_op"      // no such operation
	codeUnauthenticated = "unauthenticated" // not signed in, or the token is invalid or revoked
	codeForbidden       = "forbidden"       // not the owner
	codeNotFound        = "not_found"       // no such persona, version or channel
	codeConflict        = "conflict"        // changed since the given revision
	codeHandleTaken     = "handle_taken"    // the handle belongs to another persona
	codeInvalid         = "invalid"         // the persona has bad fields, listed in "fields"
	codeRefused         = "refused"         // the publish gate refused it, reasons in "fields"
	codeNotPublished    = "not_published"   // the persona has no published version
	codeLimit           = "limit"           // too many personas, or too many previews at once
	codeRateLimited     = "rate_limited"    // too many requests; retry after retry_after_ms
	codeDuplicateID     = "duplicate_id"    // a request with this id is still running
	codePromptTooLong   = "prompt_too_long" // the preview conversation does not fit the model
	codeUnavailable     = "unavailable"     // the inference service or Redis cannot answer now; retry
	codeInternal        = "internal"        // a bug; the server log has the details
)

// maxIDLen bounds a request id.
const maxIDLen = 64

// request is one frame from the browser.
type request struct {
	ID string `json:"id"`
	Op string `json:"op"`

	Token     string          `json:"token,omitempty"`
	PersonaID string          `json:"persona_id,omitempty"`
	Revision  uint64          `json:"revision,omitempty"`
	Version   uint32          `json:"version,omitempty"`
	Persona   json.RawMessage `json:"persona,omitempty"`
	Platform  string          `json:"platform,omitempty"`
	ChannelID string          `json:"channel_id,omitempty"`
	Messages  []chatMessage   `json:"messages,omitempty"`
	Target    string          `json:"target,omitempty"`
}

// chatMessage is one message of a preview conversation.
type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Limits of a preview conversation.
const (
	maxPreviewMessages = 40
	maxPreviewChars    = 4000
)

// errFrame is a frame that is not a request; the answer names what is
// wrong, with the id when one could be read.
type errFrame struct {
	id  string
	msg string
}

func (e *errFrame) Error() string { return e.msg }

// decodeRequest reads one frame. Unknown fields are refused so a typo in a
// parameter name is not silently ignored.
func decodeRequest(data []byte) (request, error) {
	var r request
	if !utf8.Valid(data) {
		return r, &errFrame{msg: "frame is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		// Try to recover the id so the browser can match the error.
		var probe struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(data, &probe)
		return r, &errFrame{id: clip(probe.ID), msg: "malformed request: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	if dec.More() {
		return r, &errFrame{id: clip(r.ID), msg: "malformed request: data after the JSON object"}
	}
	switch {
	case r.ID == "":
		return r, &errFrame{msg: `request has no "id"`}
	case len(r.ID) > maxIDLen:
		return r, &errFrame{msg: fmt.Sprintf(`"id" is longer than %d bytes`, maxIDLen)}
	case r.Op == "":
		return r, &errFrame{id: r.ID, msg: `request has no "op"`}
	}
	return r, nil
}

func clip(id string) string {
	if len(id) > maxIDLen || !utf8.ValidString(id) {
		return ""
	}
	return id
}

// Frames to the browser. Exactly one of Result and Error is set on the
// answer to a request; Event frames carry a request's stream (with its id)
// or a push (without).
type response struct {
	ID     string     `json:"id,omitempty"`
	Result any        `json:"result,omitempty"`
	Error  *wireError `json:"error,omitempty"`
}

type event struct {
	ID    string `json:"id,omitempty"`
	Event string `json:"event"`
	Data  any    `json:"data"`
}

// wireError is a typed error.
type wireError struct {
	Code    string           `json:"code"`
	Message string           `json:"message"`
	Fields  []wireFieldError `json:"fields,omitempty"`
	// RetryAfterMS, on rate_limited and unavailable, says when to retry.
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
}

// wireFieldError is one problem with one field of a persona.
type wireFieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e *wireError) Error() string { return e.Code + ": " + e.Message }

func newError(code, format string, a ...any) *wireError {
	return &wireError{Code: code, Message: fmt.Sprintf(format, a...)}
}

// storeError maps an error of the persona store onto the protocol.
func storeError(err error) *wireError {
	if verr, ok := errors.AsType[*persona.ValidationError](err); ok {
		e := &wireError{Code: codeInvalid, Message: "the persona has fields to fix"}
		for _, f := range verr.Fields {
			e.Fields = append(e.Fields, wireFieldError(f))
		}
		return e
	}
	switch {
	case errors.Is(err, store.ErrUnauthenticated):
		return newError(codeUnauthenticated, "the token is invalid or revoked")
	case errors.Is(err, store.ErrForbidden):
		return newError(codeForbidden, "not yours")
	case errors.Is(err, store.ErrNotPublished):
		return newError(codeNotPublished, "the persona has no published version")
	case errors.Is(err, store.ErrNotFound):
		return newError(codeNotFound, "%s", trimStore(err))
	case errors.Is(err, store.ErrConflict):
		return newError(codeConflict, "changed since you loaded it (in another tab?); reload and apply your change again")
	case errors.Is(err, store.ErrHandleTaken):
		return &wireError{Code: codeHandleTaken, Message: "the handle is taken",
			Fields: []wireFieldError{{Field: "handle", Reason: "is taken by another persona; choose another"}}}
	case errors.Is(err, store.ErrLimit):
		return newError(codeLimit, "%s", trimStore(err))
	case errors.Is(err, store.ErrInvalidArgument):
		return newError(codeBadRequest, "%s", trimStore(err))
	case errors.Is(err, store.ErrContended):
		return &wireError{Code: codeUnavailable, Message: "too many changes at once; try again", RetryAfterMS: 500}
	case errors.Is(err, persona.ErrBadJSON):
		return newError(codeBadRequest, "%s", err.Error())
	}
	return nil
}

// trimStore keeps the store's message, which names what was not found.
func trimStore(err error) string { return err.Error() }

// Views of the store's types on the wire.

type personaView struct {
	ID         string             `json:"id"`
	Handle     string             `json:"handle"`
	Visibility persona.Visibility `json:"visibility"`
	Revision   uint64             `json:"revision"`
	Published  uint32             `json:"published"`
	Draft      persona.Spec       `json:"draft"`
	CreatedAt  time.Time          `json:"created_at"`
	UpdatedAt  time.Time          `json:"updated_at"`
}

func viewPersona(p persona.Persona) personaView {
	return personaView{ID: p.ID, Handle: p.Handle, Visibility: p.Visibility, Revision: p.Revision,
		Published: p.Published, Draft: p.Draft, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

type versionView struct {
	Number      uint32       `json:"number"`
	From        uint32       `json:"from,omitempty"`
	PublishedAt time.Time    `json:"published_at"`
	Spec        persona.Spec `json:"spec"`
}

func viewVersion(v persona.Version) versionView {
	return versionView{Number: v.Number, From: v.From, PublishedAt: v.PublishedAt, Spec: v.Spec}
}

type channelView struct {
	Platform  string `json:"platform"`
	ID        string `json:"id"`
	Name      string `json:"name"`
	PersonaID string `json:"persona_id"`
}
