package inference

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/sample"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// maxBody bounds a request body of the OpenAI-compatible API: about a
// million characters of prompt, more than any context Corral serves.
const maxBody = 4 << 20

// Sampling defaults of the OpenAI-compatible API: OpenAI's own, so that
// clients get what they expect when they leave an option out.
const (
	openAITemperature = 1.0
	openAITopP        = 1.0
)

// apiError is an error in the OpenAI error object's shape, with its HTTP
// status.
type apiError struct {
	status  int
	message string
	typ     string
	param   string // "" is null
	code    string // "" is null
}

func (e *apiError) Error() string { return e.message }

// Error types of the OpenAI error object.
const (
	typeInvalid   = "invalid_request_error"
	typeServer    = "server_error"
	typeRateLimit = "rate_limit_error"
)

func badParam(param, format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, message: fmt.Sprintf(format, a...), typ: typeInvalid, param: param}
}

// apiErrorOf maps an engine or conversion error to the API's error: the
// same codes as the NATS API, as HTTP statuses.
func apiErrorOf(err error, param string) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	msg := err.Error()
	switch codeOf(err) {
	case corralv1.ErrorCode_ERROR_CODE_INVALID_REQUEST:
		return &apiError{status: http.StatusBadRequest, message: msg, typ: typeInvalid, param: param}
	case corralv1.ErrorCode_ERROR_CODE_MODEL_NOT_FOUND:
		return &apiError{status: http.StatusNotFound, message: msg, typ: typeInvalid, param: "model", code: "model_not_found"}
	case corralv1.ErrorCode_ERROR_CODE_PROMPT_TOO_LONG:
		return &apiError{status: http.StatusBadRequest, message: msg, typ: typeInvalid, param: param, code: "context_length_exceeded"}
	case corralv1.ErrorCode_ERROR_CODE_OVERLOADED:
		return &apiError{status: http.StatusTooManyRequests, message: msg + "; retry later", typ: typeRateLimit, code: "overloaded"}
	case corralv1.ErrorCode_ERROR_CODE_UNAVAILABLE:
		return &apiError{status: http.StatusServiceUnavailable, message: msg, typ: typeServer, code: "unavailable"}
	case corralv1.ErrorCode_ERROR_CODE_UNSUPPORTED:
		return &apiError{status: http.StatusBadRequest, message: msg, typ: typeInvalid, param: param, code: "unsupported"}
	}
	return &apiError{status: http.StatusInternalServerError, message: msg, typ: typeServer}
}

// decodeJSON reads a body into v. Unknown fields are tolerated, as OpenAI's
// API grows; a value of the wrong type names its field.
func decodeJSON(body []byte, v any) *apiError {
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// Fields of the embedded samplingFields come with its name.
		param := strings.TrimPrefix(te.Field, "samplingFields.")
		if param == "" {
			param = "body"
		}
		return badParam(param, "%s: got a JSON %s, want %s", param, te.Value, jsonKind(te.Type.Kind().String()))
	}
	var pe *paramError
	if errors.As(err, &pe) {
		return badParam(pe.param, "%s", pe.msg)
	}
	return badParam("", "the body is not valid JSON: %v", err)
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"):
		return "an integer"
	case strings.HasPrefix(goKind, "float"):
		return "a number"
	case goKind == "bool":
		return "a boolean"
	case goKind == "string":
		return "a string"
	case goKind == "slice":
		return "an array"
	}
	return "an object"
}

// paramError is a field a custom decoder refused.
type paramError struct{ param, msg string }

func (e *paramError) Error() string { return e.msg }

// stopList is "stop": a string, an array of strings, or null.
type stopList []string

func (s *stopList) UnmarshalJSON(b []byte) error {
	if strings.TrimSpace(string(b)) == "null" {
		*s = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = stopList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return &paramError{"stop", "stop: want a string or an array of strings"}
	}
	*s = many
	return nil
}

// samplingFields are the options both endpoints share.
type samplingFields struct {
	Model               string          `json:"model"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Stop                stopList        `json:"stop"`
	Seed                *int64          `json:"seed"`
	N                   *int64          `json:"n"`
	PresencePenalty     *float64        `json:"presence_penalty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty"`
	Stream              bool            `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	ResponseFormat      *responseFormat `json:"response_format"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type responseFormat struct {
	Type string `json:"type"`
}

// sampling checks the shared options and turns them into engine options:
// unset ones take OpenAI's defaults, an unset seed draws a fresh one, and
// an unset length is the service's limit, which none may exceed.
func (f samplingFields) sampling(maxTokens int) (sample.Options, bool, *apiError) {
	o := sample.Options{Temperature: openAITemperature, TopP: openAITopP, MaxTokens: maxTokens}
	inRange := func(name string, v *float64, lo, hi float64, dst *float32) *apiError {
		if v == nil {
			return nil
		}
		if math.IsNaN(*v) || *v < lo || *v > hi {
			return badParam(name, "%s %v: want a number from %v to %v", name, *v, lo, hi)
		}
		*dst = float32(*v)
		return nil
	}
	for _, c := range []struct {
		name   string
		v      *float64
		lo, hi float64
		dst    *float32
	}{
		{"temperature", f.Temperature, 0, 2, &o.Temperature},
		{"top_p", f.TopP, 0, 1, &o.TopP},
		{"presence_penalty", f.PresencePenalty, -2, 2, &o.PresencePenalty},
		{"frequency_penalty", f.FrequencyPenalty, -2, 2, &o.FrequencyPenalty},
	} {
		if err := inRange(c.name, c.v, c.lo, c.hi, c.dst); err != nil {
			return o, false, err
		}
	}
	name, n := "max_tokens", f.MaxTokens
	if f.MaxCompletionTokens != nil {
		name, n = "max_completion_tokens", f.MaxCompletionTokens
	}
	if n != nil {
		switch {
		case *n < 1:
			return o, false, badParam(name, "%s %d: want at least 1", name, *n)
		case *n > int64(maxTokens):
			return o, false, badParam(name, "%s %d is above this server's limit of %d", name, *n, maxTokens)
		}
		o.MaxTokens = int(*n)
	}
	if f.N != nil && *f.N != 1 {
		return o, false, badParam("n", "n %d: this server makes one choice per request; send n=1 or leave it out", *f.N)
	}
	if f.ResponseFormat != nil && f.ResponseFormat.Type != "" && f.ResponseFormat.Type != "text" {
		return o, false, &apiError{status: http.StatusBadRequest, typ: typeInvalid, param: "response_format", code: "unsupported",
			message: fmt.Sprintf("response_format %q is not supported; only text", f.ResponseFormat.Type)}
	}
	stop, err := stopStrings(f.Stop)
	if err != nil {
		return o, false, badParam("stop", "%v", err)
	}
	o.StopStrings = stop
	if f.Seed != nil {
		o.Seed = uint64(*f.Seed)
	}
	if f.StreamOptions != nil && !f.Stream {
		return o, false, badParam("stream_options", "stream_options is only allowed with stream: true")
	}
	return o, f.Seed == nil, nil
}

// chatRequest is the body of POST /v1/chat/completions.
type chatRequest struct {
	samplingFields
	Messages []chatMessage `json:"messages"`
	Logprobs *bool         `json:"logprobs"`
	Tools    []any         `json:"tools"`
}

// chatMessage is one message; content is a string, an array of content
// parts, or null.
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type contentPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// text is the message's content as plain text.
func (m chatMessage) text(i int) (string, *apiError) {
	param := fmt.Sprintf("messages[%d].content", i)
	c := strings.TrimSpace(string(m.Content))
	if c == "" || c == "null" {
		return "", badParam(param, "%s: a message needs text content", param)
	}
	var s string
	if err := json.Unmarshal(m.Content, &s); err == nil {
		return s, nil
	}
	var parts []contentPart
	if err := json.Unmarshal(m.Content, &parts); err != nil {
		return "", badParam(param, "%s: want a string or an array of content parts", param)
	}
	var b strings.Builder
	for j, p := range parts {
		if p.Type != "text" {
			return "", badParam(fmt.Sprintf("%s[%d]", param, j), "%s[%d]: content of type %q is not supported; only text", param, j, p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// decodeChat reads and checks a chat request and makes its engine request.
func decodeChat(body []byte, served string, maxTokens int) (chatRequest, engine.Request, *apiError) {
	var c chatRequest
	if err := decodeJSON(body, &c); err != nil {
		return c, engine.Request{}, err
	}
	if err := checkModel(c.Model, served); err != nil {
		return c, engine.Request{}, apiErrorOf(err, "model")
	}
	o, random, err := c.sampling(maxTokens)
	if err != nil {
		return c, engine.Request{}, err
	}
	if c.Logprobs != nil && *c.Logprobs {
		return c, engine.Request{}, &apiError{status: http.StatusBadRequest, typ: typeInvalid, param: "logprobs", code: "unsupported", message: "logprobs are not supported"}
	}
	if len(c.Tools) > 0 {
		return c, engine.Request{}, &apiError{status: http.StatusBadRequest, typ: typeInvalid, param: "tools", code: "unsupported", message: "tools are not supported"}
	}
	if len(c.Messages) == 0 {
		return c, engine.Request{}, badParam("messages", "messages: want at least one message")
	}
	turns := make([]engine.Turn, len(c.Messages))
	for i, m := range c.Messages {
		switch m.Role {
		case "system", "developer":
			turns[i].Role = engine.System
		case "user":
			turns[i].Role = engine.User
		case "assistant":
			turns[i].Role = engine.Assistant
		default:
			p := fmt.Sprintf("messages[%d].role", i)
			return c, engine.Request{}, badParam(p, "%s %q: want system, developer, user or assistant", p, m.Role)
		}
		text, err := m.text(i)
		if err != nil {
			return c, engine.Request{}, err
		}
		turns[i].Content = text
	}
	return c, engine.Request{Input: engine.Input{Chat: turns}, Sampling: o, RandomSeed: random}, nil
}

// completionRequest is the body of POST /v1/completions.
type completionRequest struct {
	samplingFields
	Prompt   json.RawMessage `json:"prompt"`
	Echo     bool            `json:"echo"`
	Suffix   *string         `json:"suffix"`
	BestOf   *int64          `json:"best_of"`
	Logprobs *int64          `json:"logprobs"`
}

// input reads "prompt": a string, token ids, or an array holding one of
// those.
func (c completionRequest) input() (engine.Input, *apiError) {
	if p := strings.TrimSpace(string(c.Prompt)); p == "" || p == "null" {
		return engine.Input{}, badParam("prompt", "prompt is required")
	}
	var s string
	if err := json.Unmarshal(c.Prompt, &s); err == nil {
		return engine.Input{Text: s}, nil
	}
	var ids []int32
	if err := json.Unmarshal(c.Prompt, &ids); err == nil {
		return engine.Input{IDs: ids}, nil
	}
	var texts []string
	if err := json.Unmarshal(c.Prompt, &texts); err == nil {
		if len(texts) != 1 {
			return engine.Input{}, badParam("prompt", "prompt: %d prompts; this server takes one per request", len(texts))
		}
		return engine.Input{Text: texts[0]}, nil
	}
	var idLists [][]int32
	if err := json.Unmarshal(c.Prompt, &idLists); err == nil {
		if len(idLists) != 1 {
			return engine.Input{}, badParam("prompt", "prompt: %d prompts; this server takes one per request", len(idLists))
		}
		return engine.Input{IDs: idLists[0]}, nil
	}
	return engine.Input{}, badParam("prompt", "prompt: want a string, an array of token ids, or an array holding one of those")
}

// decodeCompletion reads and checks a completion request and makes its
// engine request.
func decodeCompletion(body []byte, served string, maxTokens int) (completionRequest, engine.Request, *apiError) {
	var c completionRequest
	if err := decodeJSON(body, &c); err != nil {
		return c, engine.Request{}, err
	}
	if err := checkModel(c.Model, served); err != nil {
		return c, engine.Request{}, apiErrorOf(err, "model")
	}
	o, random, err := c.sampling(maxTokens)
	if err != nil {
		return c, engine.Request{}, err
	}
	unsupported := func(param, what string) *apiError {
		return &apiError{status: http.StatusBadRequest, typ: typeInvalid, param: param, code: "unsupported", message: what + " is not supported"}
	}
	switch {
	case c.Echo:
		return c, engine.Request{}, unsupported("echo", "echo")
	case c.Suffix != nil && *c.Suffix != "":
		return c, engine.Request{}, unsupported("suffix", "suffix")
	case c.BestOf != nil && *c.BestOf != 1:
		return c, engine.Request{}, unsupported("best_of", "best_of other than 1")
	case c.Logprobs != nil:
		return c, engine.Request{}, unsupported("logprobs", "logprobs")
	}
	in, err := c.input()
	if err != nil {
		return c, engine.Request{}, err
	}
	if in.Text == "" && len(in.IDs) == 0 {
		return c, engine.Request{}, badParam("prompt", "prompt is empty")
	}
	return c, engine.Request{Input: in, Sampling: o, RandomSeed: random}, nil
}
