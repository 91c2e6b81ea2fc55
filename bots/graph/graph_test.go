package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

func TestLookupCode(t *testing.T) {
	tests := []struct {
		code, subcode int
		want          Kind
	}{
		{4, 0, KindRateLimit}, {17, 0, KindRateLimit}, {32, 0, KindRateLimit}, {613, 0, KindRateLimit},
		{80007, 0, KindRateLimit}, {130429, 0, KindRateLimit}, {131048, 0, KindRateLimit}, {131056, 0, KindRateLimit},
		{1, 0, KindTemporary}, {2, 0, KindTemporary}, {1200, 0, KindTemporary}, {131000, 0, KindTemporary}, {131016, 0, KindTemporary},
		{131047, 0, KindOutsideWindow}, {470, 0, KindOutsideWindow}, {10, 2018278, KindOutsideWindow}, {10, 2018065, KindOutsideWindow},
		{10, 2018108, KindUserUnavailable}, {551, 1545041, KindUserUnavailable}, {200, 1545041, KindUserUnavailable},
		{100, 2018001, KindUserUnavailable}, {131026, 0, KindUserUnavailable},
		{190, 0, KindAuth}, {190, 463, KindAuth}, {104, 0, KindAuth},
		{10, 0, KindPermission}, {10, 12345, KindPermission}, {200, 2018028, KindPermission}, {230, 0, KindPermission},
		{299, 0, KindPermission}, {3, 0, KindPermission},
		{100, 0, KindInvalidRequest}, {100, 33, KindInvalidRequest}, {131008, 0, KindInvalidRequest}, {131009, 0, KindInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d_%d", tt.code, tt.subcode), func(t *testing.T) {
			info, ok := LookupCode(tt.code, tt.subcode)
			if !ok || info.Kind != tt.want {
				t.Fatalf("LookupCode(%d, %d) = %+v, %v; want %s", tt.code, tt.subcode, info, ok, tt.want)
			}
		})
	}
	if _, ok := LookupCode(987654, 0); ok {
		t.Error("unknown code found")
	}
}

func TestKindRetryable(t *testing.T) {
	retry := map[Kind]bool{KindRateLimit: true, KindTemporary: true, KindTimeout: true, KindNetwork: true}
	for _, k := range []Kind{KindRateLimit, KindTemporary, KindTimeout, KindNetwork, KindOutsideWindow, KindUserUnavailable,
		KindAuth, KindPermission, KindInvalidRequest, KindBadResponse, KindCanceled, KindUnknown} {
		if k.Retryable() != retry[k] {
			t.Errorf("%s.Retryable() = %v", k, k.Retryable())
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{name: "zero means defaults", cfg: Config{}, ok: true},
		{name: "local fake", cfg: Config{BaseURL: "http://127.0.0.1:9999/graph", Version: "v26.0"}, ok: true},
		{name: "bad scheme", cfg: Config{BaseURL: "ftp://x"}},
		{name: "no host", cfg: Config{BaseURL: "https://"}},
		{name: "query", cfg: Config{BaseURL: "https://x/?access_token=a"}},
		{name: "bad version", cfg: Config{Version: "25.0"}},
		{name: "negative timeout", cfg: Config{Timeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Fatalf("Validate() = %v, ok %v", err, tt.ok)
			}
		})
	}
}

func TestParseUsage(t *testing.T) {
	h := http.Header{}
	h.Set(HeaderAppUsage, `{"call_count":28,"total_time":25,"total_cputime":91}`)
	h.Set(HeaderBusinessUseCase, `{"104000000000001":[{"type":"messenger","call_count":10,"total_cputime":2,"total_time":97,"estimated_time_to_regain_access":3}],"2":[{"type":"pages","call_count":"5","new_key":"x"}]}`)
	u := ParseUsage(h)
	if u.AppPercent != 91 || u.BusinessPercent != 97 || u.RegainAccess != 3*time.Minute {
		t.Fatalf("usage = %+v", u)
	}
	if u := ParseUsage(http.Header{}); u.AppPercent != -1 || u.BusinessPercent != -1 || u.RegainAccess != 0 {
		t.Fatalf("absent usage = %+v", u)
	}
	h.Set(HeaderAppUsage, "garbage")
	if u := ParseUsage(h); u.AppPercent != -1 {
		t.Fatalf("garbage usage = %+v", u)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, "0.5": 500 * time.Millisecond, "-1": 0, "x": 0, "999999": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestTextLen(t *testing.T) {
	for s, want := range map[string]int{"": 0, "abc": 3, "héllo": 5, "你好": 2, "😀": 2, "a😀b": 4, "👍🏽": 4} {
		if got := TextLen(s); got != want {
			t.Errorf("TextLen(%q) = %d, want %d", s, got, want)
		}
	}
	if LimitsFor(corralv1.Platform_PLATFORM_WHATSAPP).Text != 4096 || LimitsFor(corralv1.Platform_PLATFORM_MESSENGER).Text != 2000 {
		t.Error("text limits changed")
	}
}

// server answers every POST with status, headers and body, recording the
// last request.
func server(t *testing.T, status int, header map[string]string, body string) (*Client, *http.Request) {
	t.Helper()
	var last http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last = *r.Clone(context.Background())
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, Version: "v25.0"})
	if err != nil {
		t.Fatal(err)
	}
	return c, &last
}

func TestPostErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		wantKind   Kind
		wantCode   int
		wantSub    int
		wantRetry  time.Duration
		wantDetail string
	}{
		{name: "window", status: 400, body: `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"more than 24 hours"},"fbtrace_id":"AbC123"}}`,
			wantKind: KindOutsideWindow, wantCode: 131047, wantDetail: "more than 24 hours"},
		{name: "messenger window", status: 400, body: `{"error":{"message":"(#10) This message is sent outside of allowed window.","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"x"}}`,
			wantKind: KindOutsideWindow, wantCode: 10, wantSub: 2018278},
		{name: "rate limit with retry-after", status: 400, header: map[string]string{"Retry-After": "7"}, body: `{"error":{"message":"(#130429) Rate limit hit","code":130429}}`,
			wantKind: KindRateLimit, wantCode: 130429, wantRetry: 7 * time.Second},
		{name: "rate limit regain access", status: 400, header: map[string]string{HeaderBusinessUseCase: `{"1":[{"type":"messenger","call_count":100,"estimated_time_to_regain_access":2}]}`},
			body: `{"error":{"message":"Calls to this api have exceeded the rate limit.","code":613}}`, wantKind: KindRateLimit, wantCode: 613, wantRetry: 2 * time.Minute},
		{name: "bad token", status: 401, body: `{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"fbtrace_id":"y"}}`,
			wantKind: KindAuth, wantCode: 190},
		{name: "code as string", status: 400, body: `{"error":{"message":"x","code":"131026"}}`, wantKind: KindUserUnavailable, wantCode: 131026},
		{name: "transient unknown code", status: 400, body: `{"error":{"message":"x","code":99999,"is_transient":true}}`, wantKind: KindTemporary, wantCode: 99999},
		{name: "unknown code 4xx", status: 400, body: `{"error":{"message":"x","code":99999}}`, wantKind: KindUnknown, wantCode: 99999},
		{name: "unknown code 5xx", status: 503, body: `{"error":{"message":"x","code":99999}}`, wantKind: KindTemporary, wantCode: 99999},
		{name: "error in 200 body", status: 200, body: `{"error":{"message":"(#100) Invalid parameter","code":100}}`, wantKind: KindInvalidRequest, wantCode: 100},
		{name: "html 502", status: 502, body: `<html>Bad Gateway</html>`, wantKind: KindTemporary},
		{name: "plain 429", status: 429, header: map[string]string{"Retry-After": "2"}, body: ``, wantKind: KindRateLimit, wantRetry: 2 * time.Second},
		{name: "plain 404", status: 404, body: `not found`, wantKind: KindInvalidRequest},
		{name: "plain 403", status: 403, body: ``, wantKind: KindAuth},
		{name: "unreadable 200", status: 200, body: `{"messages":`, wantKind: KindBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := server(t, tt.status, tt.header, tt.body)
			var out struct{ Messages []any }
			_, err := c.Post(t.Context(), Request{Op: "test.send", Path: "/1/messages", Token: "tok-7f3e9", Body: map[string]string{"a": "b"}}, &out)
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if ge.Kind != tt.wantKind || ge.Code != tt.wantCode || ge.Subcode != tt.wantSub || ge.RetryAfter != tt.wantRetry || ge.Details != tt.wantDetail {
				t.Fatalf("got %+v", ge)
			}
			if KindOf(err) != tt.wantKind || Retryable(err) != tt.wantKind.Retryable() || RetryAfter(err) != tt.wantRetry {
				t.Fatalf("helpers disagree: %s %v %v", KindOf(err), Retryable(err), RetryAfter(err))
			}
			if strings.Contains(err.Error(), "tok-7f3e9") {
				t.Fatalf("error mentions the token: %v", err)
			}
		})
	}
}

func TestPostSuccessSendsTokenAndTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })

	c, last := server(t, 200, map[string]string{HeaderAppUsage: `{"call_count":12}`}, `{"messages":[{"id":"wamid.X"}]}`)
	ctx, parent := tp.Tracer("test").Start(t.Context(), "parent")
	var out struct {
		Messages []struct{ ID string }
	}
	res, err := c.Post(ctx, Request{Op: "whatsapp.send", Path: "/42/messages", Route: "/{phone_number_id}/messages", Token: "secret-token", Body: map[string]string{"k": "v"}}, &out)
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	if out.Messages[0].ID != "wamid.X" || res.Status != 200 || res.Usage.AppPercent != 12 {
		t.Fatalf("out %+v res %+v", out, res)
	}
	if last.Header.Get("Authorization") != "Bearer secret-token" || last.URL.Path != "/v25.0/42/messages" || last.URL.RawQuery != "" {
		t.Fatalf("request %s %v", last.URL, last.Header)
	}
	tp0 := last.Header.Get("Traceparent")
	if !strings.Contains(tp0, parent.SpanContext().TraceID().String()) {
		t.Fatalf("traceparent %q does not carry trace %s", tp0, parent.SpanContext().TraceID())
	}
	spans := exp.GetSpans()
	var found bool
	for _, s := range spans {
		if s.Name == "POST /v25.0/{phone_number_id}/messages" {
			found = true
			for _, a := range s.Attributes {
				if strings.Contains(a.Value.String(), "secret-token") {
					t.Errorf("span attribute %s holds the token", a.Key)
				}
			}
		}
	}
	if !found {
		t.Fatalf("no client span among %d", len(spans))
	}
}

func TestPostTransportErrors(t *testing.T) {
	t.Run("no token", func(t *testing.T) {
		c, _ := New(Config{})
		_, err := c.Post(t.Context(), Request{Op: "x", Path: "/1/messages"}, nil)
		if KindOf(err) != KindAuth || !errors.Is(err, ErrNoToken) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c, _ := New(Config{BaseURL: "http://" + addr})
		_, err = c.Post(t.Context(), Request{Op: "x", Path: "/1/messages", Token: "t"}, nil)
		if KindOf(err) != KindNetwork || !Retryable(err) {
			t.Fatalf("err = %v (%s)", err, KindOf(err))
		}
	})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body so the server watches the connection and cancels
		// r.Context() when the client goes away.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	t.Run("timeout", func(t *testing.T) {
		c, _ := New(Config{BaseURL: slow.URL, Timeout: 50 * time.Millisecond})
		_, err := c.Post(t.Context(), Request{Op: "x", Path: "/1/messages", Token: "t"}, nil)
		if KindOf(err) != KindTimeout || !Retryable(err) {
			t.Fatalf("err = %v (%s)", err, KindOf(err))
		}
	})
	t.Run("caller canceled", func(t *testing.T) {
		c, _ := New(Config{BaseURL: slow.URL})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := c.Post(ctx, Request{Op: "x", Path: "/1/messages", Token: "t"}, nil)
		if KindOf(err) != KindCanceled || Retryable(err) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v (%s)", err, KindOf(err))
		}
	})
}
