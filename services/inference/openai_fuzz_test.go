package inference

import (
	"encoding/json"
	"net/http"
	"testing"
)

// checkDecoded holds for whatever a decoder returns: an error in the API's
// shape with a client status, or an engine request within the limits.
func checkDecoded(t *testing.T, maxTokens int, sampling func() error, max int, err *apiError) {
	t.Helper()
	if err != nil {
		if err.status != http.StatusBadRequest && err.status != http.StatusNotFound {
			t.Fatalf("status %d for a request's content", err.status)
		}
		if err.message == "" || err.typ == "" {
			t.Fatalf("error %+v lacks a message or type", err)
		}
		if _, jerr := json.Marshal(errorBody(err)); jerr != nil {
			t.Fatal(jerr)
		}
		return
	}
	if max < 1 || max > maxTokens {
		t.Fatalf("max tokens %d outside [1, %d]", max, maxTokens)
	}
	if verr := sampling(); verr != nil {
		t.Fatalf("accepted options the sampler refuses: %v", verr)
	}
}

var chatSeeds = []string{
	`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
	`{"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"}]}],"temperature":0.5,"top_p":0.9,"max_tokens":7,"stop":"x","seed":-3,"stream":true,"stream_options":{"include_usage":true}}`,
	`{"messages":[{"role":"developer","content":"d"},{"role":"user","content":"u"}],"max_completion_tokens":4,"stop":["a","b"],"n":1,"presence_penalty":-2,"frequency_penalty":2}`,
	`{"messages":[{"role":"user","content":null}]}`,
	`{"messages":[{"role":"tool","content":"x"}],"tools":[{}]}`,
	`{"messages":[],"temperature":"x"}`,
	`{"messages":[{"role":"user","content":"a"}],"stop":null,"response_format":{"type":"text"}}`,
	`[]`, `null`, `{`, `{"messages":{"role":"user"}}`, `{"max_tokens":1e99}`, `{"seed":18446744073709551615}`,
}

func FuzzDecodeChat(f *testing.F) {
	for _, s := range chatSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, er, err := decodeChat(body, "m", 2048)
		checkDecoded(t, 2048, er.Sampling.Validate, er.Sampling.MaxTokens, err)
		if err == nil && len(er.Input.Chat) == 0 {
			t.Fatal("accepted a chat without messages")
		}
	})
}

var completionSeeds = []string{
	`{"model":"m","prompt":"hi"}`,
	`{"prompt":[1,2,3],"temperature":0,"max_tokens":5,"stream":true}`,
	`{"prompt":[[1,2]],"stop":["\n"],"seed":1}`,
	`{"prompt":["a"],"echo":false,"best_of":1,"suffix":""}`,
	`{"prompt":["a","b"]}`, `{"prompt":[[1],[2]]}`, `{"prompt":{"x":1}}`, `{"prompt":[1.5]}`, `{"prompt":null}`,
	`{"prompt":"a","logprobs":null}`, `{"prompt":"a","echo":true}`, `{"prompt":[-1]}`,
}

func FuzzDecodeCompletion(f *testing.F) {
	for _, s := range completionSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, er, err := decodeCompletion(body, "m", 2048)
		checkDecoded(t, 2048, er.Sampling.Validate, er.Sampling.MaxTokens, err)
		if err == nil && er.Input.Text == "" && len(er.Input.IDs) == 0 {
			t.Fatal("accepted a completion without a prompt")
		}
	})
}
