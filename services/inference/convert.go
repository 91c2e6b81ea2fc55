package inference

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/sample"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Sampling defaults of the NATS API, for options a GenerateRequest leaves
// unset: those of `corral generate`. The OpenAI-compatible API has its
// own (OpenAI's).
const (
	defaultTemperature = 0.8
	defaultTopP        = 0.95
)

// Limits on stop strings, so a request cannot make every token's check
// expensive.
const (
	maxStopStrings = 16
	maxStopBytes   = 256
)

// wireError is a failure with its code on the wire, made where a request is
// turned into an engine request.
type wireError struct {
	code corralv1.ErrorCode
	msg  string
}

func (e *wireError) Error() string { return e.msg }

func invalid(format string, a ...any) error {
	return &wireError{code: corralv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, msg: fmt.Sprintf(format, a...)}
}

// codeOf maps an error of the engine or of a request's conversion to its
// stable code. Context errors are the caller's: a deadline or a cancel.
func codeOf(err error) corralv1.ErrorCode {
	var we *wireError
	switch {
	case err == nil:
		return corralv1.ErrorCode_ERROR_CODE_UNSPECIFIED
	case errors.As(err, &we):
		return we.code
	case errors.Is(err, engine.ErrInvalidRequest):
		return corralv1.ErrorCode_ERROR_CODE_INVALID_REQUEST
	case errors.Is(err, engine.ErrPromptTooLong):
		return corralv1.ErrorCode_ERROR_CODE_PROMPT_TOO_LONG
	case errors.Is(err, engine.ErrOverloaded):
		return corralv1.ErrorCode_ERROR_CODE_OVERLOADED
	case errors.Is(err, engine.ErrClosed):
		return corralv1.ErrorCode_ERROR_CODE_UNAVAILABLE
	case errors.Is(err, engine.ErrSuperseded):
		return corralv1.ErrorCode_ERROR_CODE_SUPERSEDED
	case errors.Is(err, context.DeadlineExceeded):
		return corralv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED
	case errors.Is(err, context.Canceled):
		return corralv1.ErrorCode_ERROR_CODE_CANCELLED
	}
	return corralv1.ErrorCode_ERROR_CODE_INTERNAL
}

// outcomeOf names a code for the metrics.
func outcomeOf(c corralv1.ErrorCode) string {
	switch c {
	case corralv1.ErrorCode_ERROR_CODE_UNSPECIFIED:
		return outcomeOK
	case corralv1.ErrorCode_ERROR_CODE_INVALID_REQUEST:
		return outcomeInvalid
	case corralv1.ErrorCode_ERROR_CODE_MODEL_NOT_FOUND:
		return outcomeModelNotFound
	case corralv1.ErrorCode_ERROR_CODE_PROMPT_TOO_LONG:
		return outcomePromptTooLong
	case corralv1.ErrorCode_ERROR_CODE_OVERLOADED:
		return outcomeOverloaded
	case corralv1.ErrorCode_ERROR_CODE_UNAVAILABLE:
		return outcomeUnavailable
	case corralv1.ErrorCode_ERROR_CODE_CANCELLED, corralv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED:
		return outcomeCancelled
	case corralv1.ErrorCode_ERROR_CODE_SUPERSEDED:
		return outcomeSuperseded
	case corralv1.ErrorCode_ERROR_CODE_UNSUPPORTED:
		return outcomeUnsupported
	}
	return outcomeError
}

// checkModel refuses a model name other than the one served.
func checkModel(asked, served string) error {
	if asked != "" && asked != served {
		return &wireError{code: corralv1.ErrorCode_ERROR_CODE_MODEL_NOT_FOUND,
			msg: fmt.Sprintf("model %q is not served here; this replica serves %q", asked, served)}
	}
	return nil
}

// inputOf turns the prompt forms shared by GenerateRequest and WarmRequest
// into an engine input.
func inputOf(text *string, tokens *corralv1.TokenIDs, chat *corralv1.ChatTurns) (engine.Input, error) {
	switch {
	case text != nil:
		return engine.Input{Text: *text}, nil
	case tokens != nil:
		return engine.Input{IDs: append([]int32{}, tokens.GetIds()...)}, nil
	case chat != nil:
		turns := make([]engine.Turn, len(chat.GetTurns()))
		for i, t := range chat.GetTurns() {
			switch t.GetRole() {
			case corralv1.ChatRole_CHAT_ROLE_SYSTEM:
				turns[i].Role = engine.System
			case corralv1.ChatRole_CHAT_ROLE_USER:
				turns[i].Role = engine.User
			case corralv1.ChatRole_CHAT_ROLE_ASSISTANT:
				turns[i].Role = engine.Assistant
			default:
				return engine.Input{}, invalid("chat turn %d has role %v; want system, user or assistant", i, t.GetRole())
			}
			turns[i].Content = t.GetContent()
		}
		if len(turns) == 0 {
			return engine.Input{}, invalid("the chat has no turns")
		}
		return engine.Input{Chat: turns}, nil
	}
	return engine.Input{}, invalid("no prompt: set prompt, prompt_tokens or chat")
}

func generateInput(r *corralv1.GenerateRequest) (engine.Input, error) {
	switch in := r.GetInput().(type) {
	case *corralv1.GenerateRequest_Prompt:
		return inputOf(&in.Prompt, nil, nil)
	case *corralv1.GenerateRequest_PromptTokens:
		return inputOf(nil, in.PromptTokens, nil)
	case *corralv1.GenerateRequest_Chat:
		return inputOf(nil, nil, in.Chat)
	}
	return inputOf(nil, nil, nil)
}

func warmInput(r *corralv1.WarmRequest) (engine.Input, error) {
	switch in := r.GetInput().(type) {
	case *corralv1.WarmRequest_Prompt:
		return inputOf(&in.Prompt, nil, nil)
	case *corralv1.WarmRequest_PromptTokens:
		return inputOf(nil, in.PromptTokens, nil)
	case *corralv1.WarmRequest_Chat:
		return inputOf(nil, nil, in.Chat)
	}
	return inputOf(nil, nil, nil)
}

// engineRequest turns a GenerateRequest into an engine request: options the
// request leaves unset take the NATS API's defaults, an unset seed draws a
// fresh one, and an unset max_tokens is the service's limit maxTokens, which
// no request may exceed.
func engineRequest(r *corralv1.GenerateRequest, served string, maxTokens int) (engine.Request, error) {
	if err := checkModel(r.GetModel(), served); err != nil {
		return engine.Request{}, err
	}
	in, err := generateInput(r)
	if err != nil {
		return engine.Request{}, err
	}
	s := r.GetSampling()
	o := sample.Options{
		Temperature: defaultTemperature, TopP: defaultTopP, MaxTokens: maxTokens,
		TopK: int(s.GetTopK()), MinP: s.GetMinP(), RepeatPenalty: s.GetRepeatPenalty(), PenaltyWindow: int(s.GetPenaltyWindow()),
		PresencePenalty: s.GetPresencePenalty(), FrequencyPenalty: s.GetFrequencyPenalty(), Seed: s.GetSeed(),
	}
	if s != nil && s.Temperature != nil {
		o.Temperature = s.GetTemperature()
	}
	if s != nil && s.TopP != nil {
		o.TopP = s.GetTopP()
	}
	switch n := s.GetMaxTokens(); {
	case n < 0:
		return engine.Request{}, invalid("max_tokens %d must not be negative", n)
	case int(n) > maxTokens:
		return engine.Request{}, invalid("max_tokens %d is above this service's limit of %d", n, maxTokens)
	case n > 0:
		o.MaxTokens = int(n)
	}
	if o.StopStrings, err = stopStrings(s.GetStop()); err != nil {
		return engine.Request{}, err
	}
	prio, err := priorityOf(r.GetPriority())
	if err != nil {
		return engine.Request{}, err
	}
	return engine.Request{
		ID: r.GetRequestId(), Input: in, Sampling: o, RandomSeed: s == nil || s.Seed == nil,
		Priority: prio, ConversationKey: r.GetConversationKey(),
	}, nil
}

func stopStrings(stop []string) ([]string, error) {
	if len(stop) > maxStopStrings {
		return nil, invalid("%d stop strings; at most %d", len(stop), maxStopStrings)
	}
	for i, s := range stop {
		if s == "" {
			return nil, invalid("stop string %d is empty", i)
		}
		if len(s) > maxStopBytes {
			return nil, invalid("stop string %d has %d bytes; at most %d", i, len(s), maxStopBytes)
		}
	}
	return stop, nil
}

func priorityOf(p corralv1.Priority) (engine.Priority, error) {
	switch p {
	case corralv1.Priority_PRIORITY_UNSPECIFIED, corralv1.Priority_PRIORITY_LIVE:
		return engine.PriorityLive, nil
	case corralv1.Priority_PRIORITY_PREVIEW:
		return engine.PriorityPreview, nil
	case corralv1.Priority_PRIORITY_BATCH:
		return engine.PriorityBatch, nil
	}
	return 0, invalid("priority %v is not a class", p)
}

// finishOf maps a final event's reason to the wire, with the error it
// carries: ERROR always has one; CANCELLED has one saying why when the
// caller did not cancel (superseded); the engine shutting down under a
// request is an ERROR the caller retries elsewhere (UNAVAILABLE).
func finishOf(ev engine.Event) (corralv1.FinishReason, *corralv1.GenerateError) {
	switch ev.Finish {
	case engine.FinishStop:
		return corralv1.FinishReason_FINISH_REASON_STOP, nil
	case engine.FinishStopString:
		return corralv1.FinishReason_FINISH_REASON_STOP_STRING, nil
	case engine.FinishLength:
		return corralv1.FinishReason_FINISH_REASON_LENGTH, nil
	case engine.FinishContextLength:
		return corralv1.FinishReason_FINISH_REASON_CONTEXT_LENGTH, nil
	case engine.FinishSafety:
		return corralv1.FinishReason_FINISH_REASON_SAFETY, nil
	case engine.FinishCancelled:
		code := codeOf(ev.Err)
		e := &corralv1.GenerateError{Code: code, Message: errText(ev.Err, "cancelled")}
		if code == corralv1.ErrorCode_ERROR_CODE_UNAVAILABLE {
			return corralv1.FinishReason_FINISH_REASON_ERROR, e
		}
		if code != corralv1.ErrorCode_ERROR_CODE_SUPERSEDED && code != corralv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED {
			e.Code = corralv1.ErrorCode_ERROR_CODE_CANCELLED
		}
		return corralv1.FinishReason_FINISH_REASON_CANCELLED, e
	case engine.FinishError:
		code := codeOf(ev.Err)
		if code == corralv1.ErrorCode_ERROR_CODE_CANCELLED || code == corralv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
			code = corralv1.ErrorCode_ERROR_CODE_INTERNAL
		}
		return corralv1.FinishReason_FINISH_REASON_ERROR, &corralv1.GenerateError{Code: code, Message: errText(ev.Err, "generation failed")}
	}
	return corralv1.FinishReason_FINISH_REASON_UNSPECIFIED, nil
}

func errText(err error, otherwise string) string {
	if err == nil {
		return otherwise
	}
	return err.Error()
}

// protoEvent turns an engine event into the seq-th GenerateEvent of a
// stream; a final event carries usage, timings, the seed and, when it
// failed, the error.
func protoEvent(ev engine.Event, id, model string, seq uint32) *corralv1.GenerateEvent {
	out := &corralv1.GenerateEvent{RequestId: id, Seq: seq, Text: ev.Text, TokenIds: ev.Tokens, Model: model}
	if !ev.Final() {
		return out
	}
	out.FinishReason, out.Error = finishOf(ev)
	out.Seed = ev.Seed
	out.Usage = &corralv1.Usage{
		PromptTokens: int32(ev.Usage.PromptTokens), CompletionTokens: int32(ev.Usage.CompletionTokens),
		CachedPromptTokens: int32(ev.Usage.CachedPromptTokens),
	}
	t := ev.Timings
	out.Timings = &corralv1.Timings{
		Queue: durationpb.New(t.Queue), FirstToken: durationpb.New(t.FirstToken), Total: durationpb.New(t.Total),
		TokensPerSecond: t.TokensPerSecond, PromptTokensPerSecond: t.PromptTokensPerSecond,
	}
	return out
}

// refusal is the one event of a request refused before it started.
func refusal(id, model string, err error) *corralv1.GenerateEvent {
	return &corralv1.GenerateEvent{
		RequestId: id, Model: model, FinishReason: corralv1.FinishReason_FINISH_REASON_ERROR,
		Error: &corralv1.GenerateError{Code: codeOf(err), Message: err.Error()},
	}
}
