package webhook

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestHandshake(t *testing.T) {
	const token = "my-verify-token"
	tests := []struct {
		name       string
		method     string
		query      string
		wantStatus int
		wantBody   string
		wantErr    error
	}{
		{name: "ok", query: "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=my-verify-token", wantStatus: 200, wantBody: "1158201444"},
		{name: "challenge echoed raw", query: "hub.mode=subscribe&hub.challenge=%3Cb%3Ex&hub.verify_token=my-verify-token", wantStatus: 200, wantBody: "<b>x"},
		{name: "wrong token", query: "hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess", wantStatus: 403, wantErr: ErrHandshakeToken},
		{name: "token prefix", query: "hub.mode=subscribe&hub.challenge=1&hub.verify_token=my-verify", wantStatus: 403, wantErr: ErrHandshakeToken},
		{name: "wrong mode", query: "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=my-verify-token", wantStatus: 403, wantErr: ErrHandshakeMode},
		{name: "no challenge", query: "hub.mode=subscribe&hub.verify_token=my-verify-token", wantStatus: 400, wantErr: ErrHandshakeParams},
		{name: "no token", query: "hub.mode=subscribe&hub.challenge=1", wantStatus: 400, wantErr: ErrHandshakeParams},
		{name: "no params", query: "", wantStatus: 400, wantErr: ErrHandshakeParams},
		{name: "huge challenge", query: "hub.mode=subscribe&hub.verify_token=my-verify-token&hub.challenge=" + strings.Repeat("9", 2000), wantStatus: 400, wantErr: ErrHandshakeParams},
		{name: "post refused", method: http.MethodPost, query: "hub.mode=subscribe&hub.challenge=1&hub.verify_token=my-verify-token", wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotErr error
			h := HandshakeHandler(token, func(_ *http.Request, err error) { gotErr = err })
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, "/webhooks/whatsapp?"+tt.query, nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", res.StatusCode, tt.wantStatus, body)
			}
			if tt.wantBody != "" && string(body) != tt.wantBody {
				t.Fatalf("body %q, want %q", body, tt.wantBody)
			}
			if tt.wantStatus == 200 && !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
				t.Fatalf("content type %q", res.Header.Get("Content-Type"))
			}
			if tt.wantErr != nil && !errors.Is(gotErr, tt.wantErr) {
				t.Fatalf("error %v, want %v", gotErr, tt.wantErr)
			}
		})
	}
}

func TestCheckHandshakeEmptyTokenNeverMatches(t *testing.T) {
	q := url.Values{"hub.mode": {"subscribe"}, "hub.challenge": {"1"}, "hub.verify_token": {"x"}}
	if _, err := CheckHandshake(q, ""); !errors.Is(err, ErrHandshakeToken) {
		t.Fatalf("err = %v, want ErrHandshakeToken", err)
	}
}

func FuzzCheckHandshake(f *testing.F) {
	f.Add("hub.mode=subscribe&hub.challenge=1&hub.verify_token=t")
	f.Add("hub.mode=%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		c, err := CheckHandshake(q, "t")
		if err == nil && (q.Get("hub.verify_token") != "t" || c != q.Get("hub.challenge") || q.Get("hub.mode") != "subscribe") {
			t.Fatalf("accepted %q", raw)
		}
		_ = HandshakeStatus(err)
	})
}
