package graphtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/corral-ai/corral/bots/graphtest"
)

// FuzzServeHTTP sends arbitrary bodies to both platforms' paths: the fake
// never panics, records every call, and answers either success or a Graph
// error envelope.
func FuzzServeHTTP(f *testing.F) {
	f.Add("/v25.0/1/messages", []byte(`{"messaging_product":"whatsapp","to":"5215512345678","type":"text","text":{"body":"hi"}}`))
	f.Add("/v25.0/me/messages", []byte(`{"recipient":{"id":"7"},"messaging_type":"RESPONSE","message":{"text":"hi","quick_replies":[{"content_type":"text","title":"a","payload":"b"}]}}`))
	f.Add("/v25.0/1/messages", []byte(`{"messaging_product":"whatsapp","status":"read","message_id":"w","typing_indicator":{"type":"text"}}`))
	f.Add("/v25.0/1/messages", []byte(`{"messaging_product":"whatsapp","to":"1","type":"interactive","interactive":{"type":"button","body":{"text":"x"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"a"}}]}}}`))
	f.Add("/x", []byte(`[]`))
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		fake := graphtest.NewServer(graphtest.Options{Seed: 1})
		req := httptest.NewRequest(http.MethodPost, "http://fake/", strings.NewReader(string(body)))
		req.URL.Path = path
		req.Header.Set("Authorization", "Bearer t")
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, req)
		res := rec.Result()
		data, _ := io.ReadAll(res.Body)
		var answer map[string]any
		if err := json.Unmarshal(data, &answer); err != nil {
			t.Fatalf("answer %d is not JSON: %q", res.StatusCode, data)
		}
		_, isErr := answer["error"]
		if isErr == (res.StatusCode == 200) {
			t.Fatalf("status %d with body %s", res.StatusCode, data)
		}
		if calls := fake.Calls(); len(calls) != 1 || calls[0].Status != res.StatusCode {
			t.Fatalf("calls %+v", calls)
		}
	})
}
