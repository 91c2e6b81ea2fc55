package graph

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzAnswer feeds arbitrary Graph answers (status, body, usage and
// Retry-After headers) through the client: every failure must come back as
// an *Error with a Kind, and a 2xx without an error envelope must succeed
// or be KindBadResponse.
func FuzzAnswer(f *testing.F) {
	f.Add(200, []byte(`{"messages":[{"id":"wamid.X"}]}`), "", "", "")
	f.Add(400, []byte(`{"error":{"message":"(#131047) x","code":131047,"error_subcode":"5","error_data":{"details":"d"},"fbtrace_id":"A"}}`), "3", "", "")
	f.Add(429, []byte(``), "Wed, 21 Oct 2015 07:28:00 GMT", `{"call_count":100}`, `{"1":[{"estimated_time_to_regain_access":5}]}`)
	f.Add(502, []byte(`<html>`), "", "x", "y")
	f.Add(200, []byte(`{"error":"flat"}`), "", "", "")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter, appUsage, bucUsage string) {
		if status < 200 || status > 599 {
			status = 200 + (status%400+400)%400
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range map[string]string{"Retry-After": retryAfter, HeaderAppUsage: appUsage, HeaderBusinessUseCase: bucUsage} {
				if v != "" && validHeader(v) {
					w.Header().Set(k, v)
				}
			}
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		c, err := New(Config{BaseURL: srv.URL, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		res, err := c.Post(t.Context(), Request{Op: "fuzz", Path: "/1/messages", Token: "t", Body: struct{}{}}, &out)
		if err == nil {
			if res == nil || res.Status/100 != 2 {
				t.Fatalf("success with %+v", res)
			}
			return
		}
		k := KindOf(err)
		if k == "" || k == KindCanceled || k == KindNetwork {
			t.Fatalf("kind %q for %v", k, err)
		}
		if RetryAfter(err) < 0 {
			t.Fatalf("negative retry-after")
		}
		_ = err.Error()
	})
}

func validHeader(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return false
		}
	}
	return true
}
