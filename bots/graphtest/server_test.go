package graphtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corral-ai/corral/bots/graphtest"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

const (
	wa = corralv1.Platform_PLATFORM_WHATSAPP
	ms = corralv1.Platform_PLATFORM_MESSENGER
)

// start serves a fake with opts and returns it with its URL.
func start(t *testing.T, opts graphtest.Options) (*graphtest.Server, string) {
	t.Helper()
	fake := graphtest.NewServer(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

type reply struct {
	status     int
	retryAfter string
	body       map[string]any
	raw        string
}

func post(t *testing.T, url, token, body string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"), raw: string(data)}
	_ = json.Unmarshal(data, &r.body)
	return r
}

func (r reply) code() (code, subcode int) {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(float64)
	s, _ := e["error_subcode"].(float64)
	return int(c), int(s)
}

func TestValidation(t *testing.T) {
	fake, url := start(t, graphtest.Options{Tokens: map[string][]string{"wa-token": {"420000000000002"}, "page-token": {"104000000000001"}}})
	waURL := url + "/v25.0/420000000000002/messages"
	msURL := url + "/v25.0/me/messages"
	long := strings.Repeat("a", 4097)
	tests := []struct {
		name        string
		url, token  string
		body        string
		wantStatus  int
		wantCode    int
		wantSubcode int
	}{
		{name: "wa text ok", url: waURL, token: "wa-token", body: `{"messaging_product":"whatsapp","to":"5215512345678","type":"text","text":{"body":"hi"}}`, wantStatus: 200},
		{name: "wa bsuid ok", url: waURL, token: "wa-token", body: `{"messaging_product":"whatsapp","recipient":"US.1349","type":"text","text":{"body":"hi"}}`, wantStatus: 200},
		{name: "wa read ok", url: waURL, token: "wa-token", body: `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.X","typing_indicator":{"type":"text"}}`, wantStatus: 200},
		{name: "wa emoji text at limit", url: waURL, token: "wa-token", body: `{"messaging_product":"whatsapp","to":"5215512345678","type":"text","text":{"body":"` + strings.Repeat("😀", 2048) + `"}}`, wantStatus: 200},
		{name: "wa text too long", url: waURL, token: "wa-token", body: `{"messaging_product":"whatsapp","to":"5215512345678","type":"text","text":{"body":"` + long + `"}}`, wantStatus: 400, wantCode: 100},
		{name: "wa no recipient", url: waURL, token: "wa-token", body: `{"messaging_product":"whatsapp","type":"text","text":{"body":"hi"}}`, wantStatus: 400, wantCode: 131008},
		{name: "wa bad to", url: waURL, token: "wa-token", body: `{"messaging_product":"whatsapp","to":"ana","type":"text","text":{"body":"hi"}}`, wantStatus: 400, wantCode: 131009},
		{name: "wa empty text", url: waURL, token: "wa-token", body: `{"messaging_product":"whatsapp","to":"5215512345678","type":"text","text":{"body":""}}`, wantStatus: 400, wantCode: 131008},
		{name: "wa four buttons", url: waURL, token: "wa-token", body: `{"messaging_product":"whatsapp","to":"5215512345678","type":"interactive","interactive":{"type":"button","body":{"text":"pick"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"a"}},{"type":"reply","reply":{"id":"2","title":"b"}},{"type":"reply","reply":{"id":"3","title":"c"}},{"type":"reply","reply":{"id":"4","title":"d"}}]}}}`, wantStatus: 400, wantCode: 131009},
		{name: "wa unknown type", url: waURL, token: "wa-token", body: `{"messaging_product":"whatsapp","to":"5215512345678","type":"hologram"}`, wantStatus: 400, wantCode: 100},
		{name: "wa no product", url: waURL, token: "wa-token", body: `{"to":"5215512345678","type":"text","text":{"body":"hi"},"messaging_product":""}`, wantStatus: 400, wantCode: 100},
		{name: "wa read without id", url: waURL, token: "wa-token", body: `{"messaging_product":"whatsapp","status":"read"}`, wantStatus: 400, wantCode: 131008},
		{name: "bad token", url: waURL, token: "nope", body: `{"messaging_product":"whatsapp","to":"5215512345678","type":"text","text":{"body":"hi"}}`, wantStatus: 401, wantCode: 190},
		{name: "no token", url: waURL, body: `{"messaging_product":"whatsapp","to":"5215512345678","type":"text","text":{"body":"hi"}}`, wantStatus: 401, wantCode: 104},
		{name: "token of another number", url: url + "/v25.0/999/messages", token: "wa-token", body: `{"messaging_product":"whatsapp","to":"5215512345678","type":"text","text":{"body":"hi"}}`, wantStatus: 400, wantCode: 100, wantSubcode: 33},
		{name: "unknown path", url: url + "/v25.0/420000000000002/media", token: "wa-token", body: `{}`, wantStatus: 400, wantCode: 2500},
		{name: "not json", url: waURL, token: "wa-token", body: `nope`, wantStatus: 400, wantCode: 100},
		{name: "ms text ok", url: msURL, token: "page-token", body: `{"recipient":{"id":"7300000000000042"},"messaging_type":"RESPONSE","message":{"text":"hi","quick_replies":[{"content_type":"text","title":"Red","payload":"R"}]}}`, wantStatus: 200},
		{name: "ms page path ok", url: url + "/v25.0/104000000000001/messages", token: "page-token", body: `{"recipient":{"id":"7300000000000042"},"sender_action":"typing_on"}`, wantStatus: 200},
		{name: "ms text too long", url: msURL, token: "page-token", body: `{"recipient":{"id":"7300000000000042"},"messaging_type":"RESPONSE","message":{"text":"` + strings.Repeat("b", 2001) + `"}}`, wantStatus: 400, wantCode: 100},
		{name: "ms no recipient", url: msURL, token: "page-token", body: `{"messaging_type":"RESPONSE","message":{"text":"hi"}}`, wantStatus: 400, wantCode: 100},
		{name: "ms unknown psid", url: msURL, token: "page-token", body: `{"recipient":{"id":"nobody"},"messaging_type":"RESPONSE","message":{"text":"hi"}}`, wantStatus: 400, wantCode: 100, wantSubcode: 2018001},
		{name: "ms 14 quick replies", url: msURL, token: "page-token", body: `{"recipient":{"id":"7"},"messaging_type":"RESPONSE","message":{"text":"hi","quick_replies":[` + strings.Repeat(`{"content_type":"text","title":"t","payload":"p"},`, 13) + `{"content_type":"text","title":"t","payload":"p"}]}}`, wantStatus: 400, wantCode: 100},
		{name: "ms long title", url: msURL, token: "page-token", body: `{"recipient":{"id":"7"},"messaging_type":"RESPONSE","message":{"text":"hi","quick_replies":[{"content_type":"text","title":"123456789012345678901","payload":"p"}]}}`, wantStatus: 400, wantCode: 100},
		{name: "ms no messaging type", url: msURL, token: "page-token", body: `{"recipient":{"id":"7"},"message":{"text":"hi"}}`, wantStatus: 400, wantCode: 100},
		{name: "ms tag needed", url: msURL, token: "page-token", body: `{"recipient":{"id":"7"},"messaging_type":"MESSAGE_TAG","message":{"text":"hi"}}`, wantStatus: 400, wantCode: 100},
		{name: "ms both message and action", url: msURL, token: "page-token", body: `{"recipient":{"id":"7"},"messaging_type":"RESPONSE","sender_action":"typing_on","message":{"text":"hi"}}`, wantStatus: 400, wantCode: 100},
		{name: "ms bad action", url: msURL, token: "page-token", body: `{"recipient":{"id":"7"},"sender_action":"dance"}`, wantStatus: 400, wantCode: 100},
		{name: "ms token in query", url: msURL + "?access_token=page-token", body: `{"recipient":{"id":"7"},"sender_action":"mark_seen"}`, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, tt.url, tt.token, tt.body)
			code, sub := r.code()
			if r.status != tt.wantStatus || code != tt.wantCode || sub != tt.wantSubcode {
				t.Fatalf("got %d %d/%d, want %d %d/%d: %s", r.status, code, sub, tt.wantStatus, tt.wantCode, tt.wantSubcode, r.raw)
			}
			if tt.wantCode != 0 {
				e := r.body["error"].(map[string]any)
				if e["type"] != "OAuthException" || e["fbtrace_id"] == "" || !strings.HasPrefix(e["message"].(string), "(#") {
					t.Fatalf("envelope %s", r.raw)
				}
			}
		})
	}
	calls := fake.Calls()
	if len(calls) != len(tests) {
		t.Fatalf("%d calls recorded, want %d", len(calls), len(tests))
	}
	for i, c := range calls {
		if c.Seq != int64(i+1) || c.Status != tests[i].wantStatus || c.ErrorCode != tests[i].wantCode {
			t.Errorf("call %d recorded as %+v", i, c)
		}
	}
}

func TestSuccessBodies(t *testing.T) {
	fake, url := start(t, graphtest.Options{})
	r := post(t, url+"/v25.0/420000000000002/messages", "t", `{"messaging_product":"whatsapp","to":"5215512345678","type":"text","context":{"message_id":"wamid.IN"},"text":{"body":"hola"}}`)
	msgs := r.body["messages"].([]any)
	contacts := r.body["contacts"].([]any)
	id := msgs[0].(map[string]any)["id"].(string)
	if r.body["messaging_product"] != "whatsapp" || !strings.HasPrefix(id, "wamid.") || contacts[0].(map[string]any)["wa_id"] != "5215512345678" {
		t.Fatalf("answer %s", r.raw)
	}
	r = post(t, url+"/v25.0/me/messages", "t", `{"recipient":{"id":"73"},"messaging_type":"RESPONSE","message":{"text":"hi","metadata":"corral:r1:0"}}`)
	if r.body["recipient_id"] != "73" || !strings.HasPrefix(r.body["message_id"].(string), "m_") {
		t.Fatalf("answer %s", r.raw)
	}
	sent := fake.Sent()
	if len(sent) != 2 || sent[0].MessageID != id || sent[0].ReplyTo != "wamid.IN" || sent[0].Text != "hola" ||
		sent[1].Platform != ms || sent[1].Metadata != "corral:r1:0" || sent[1].Recipient != "73" {
		t.Fatalf("sent %+v", sent)
	}
}

func TestFaults(t *testing.T) {
	waBody := `{"messaging_product":"whatsapp","to":"5215512345678","type":"text","text":{"body":"hi"}}`
	t.Run("burst of three then success", func(t *testing.T) {
		fake, url := start(t, graphtest.Options{})
		f := graphtest.ServerError()
		f.Count = 3
		fake.Inject(f)
		var statuses []int
		for range 5 {
			statuses = append(statuses, post(t, url+"/v25.0/1/messages", "t", waBody).status)
		}
		if got := statuses; got[0] != 500 || got[2] != 500 || got[3] != 200 || got[4] != 200 {
			t.Fatalf("statuses %v", got)
		}
	})
	t.Run("per recipient permanent", func(t *testing.T) {
		fake, url := start(t, graphtest.Options{})
		f := graphtest.OutsideWindow(wa)
		f.Recipient = "5215512345678"
		fake.Inject(f)
		r := post(t, url+"/v25.0/1/messages", "t", waBody)
		if code, _ := r.code(); code != 131047 {
			t.Fatalf("%s", r.raw)
		}
		r = post(t, url+"/v25.0/1/messages", "t", strings.Replace(waBody, "5215512345678", "447700900123", 1))
		if r.status != 200 {
			t.Fatalf("other recipient: %s", r.raw)
		}
	})
	t.Run("rate with seed", func(t *testing.T) {
		fake, url := start(t, graphtest.Options{Seed: 42})
		f := graphtest.RateLimited(wa)
		f.Rate = 0.3
		f.RetryAfter = 2 * time.Second
		fake.Inject(f)
		hit, run, longest := 0, 0, 0
		for range 200 {
			r := post(t, url+"/v25.0/1/messages", "t", waBody)
			if r.status != 200 {
				if code, _ := r.code(); code != 130429 || r.retryAfter != "2" {
					t.Fatalf("%s retry-after %q", r.raw, r.retryAfter)
				}
				hit, run = hit+1, 0
				continue
			}
			run++
			longest = max(longest, run)
		}
		// Spread evenly: 60 of 200, never 4 calls in a row untouched.
		if hit < 59 || hit > 61 || longest > 3 {
			t.Fatalf("%d of 200 hit at rate 0.3, %d in a row without", hit, longest)
		}
	})
	t.Run("raw 502 and removal", func(t *testing.T) {
		fake, url := start(t, graphtest.Options{})
		id := fake.Inject(graphtest.BadGateway())
		if r := post(t, url+"/v25.0/1/messages", "t", waBody); r.status != 502 || !strings.Contains(r.raw, "Bad Gateway") {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		fake.RemoveFault(id)
		if r := post(t, url+"/v25.0/1/messages", "t", waBody); r.status != 200 {
			t.Fatalf("after removal %d", r.status)
		}
	})
	t.Run("sends only skips typing", func(t *testing.T) {
		fake, url := start(t, graphtest.Options{})
		f := graphtest.UserUnavailable(ms)
		f.SendsOnly = true
		fake.Inject(f)
		if r := post(t, url+"/v25.0/me/messages", "t", `{"recipient":{"id":"7"},"sender_action":"typing_on"}`); r.status != 200 {
			t.Fatalf("typing %s", r.raw)
		}
		r := post(t, url+"/v25.0/me/messages", "t", `{"recipient":{"id":"7"},"messaging_type":"RESPONSE","message":{"text":"x"}}`)
		if code, sub := r.code(); code != 551 || sub != 1545041 {
			t.Fatalf("%s", r.raw)
		}
	})
	t.Run("drop", func(t *testing.T) {
		fake, url := start(t, graphtest.Options{})
		fake.Inject(graphtest.Fault{Drop: true, Count: 1})
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/v25.0/1/messages", strings.NewReader(waBody))
		req.Header.Set("Authorization", "Bearer t")
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			t.Fatalf("dropped call answered %d", res.StatusCode)
		}
		if c := fake.Calls(); len(c) != 1 || c[0].Status != 0 {
			t.Fatalf("calls %+v", c)
		}
	})
	t.Run("delay only", func(t *testing.T) {
		fake, url := start(t, graphtest.Options{})
		fake.Inject(graphtest.Fault{Delay: 80 * time.Millisecond})
		begin := time.Now()
		if r := post(t, url+"/v25.0/1/messages", "t", waBody); r.status != 200 {
			t.Fatal(r.raw)
		}
		if took := time.Since(begin); took < 80*time.Millisecond {
			t.Fatalf("answered after %v", took)
		}
	})
}

func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	_, url := start(t, graphtest.Options{Now: clock, RateLimit: &graphtest.RateLimit{PerSecond: 2, Burst: 2, PairPerSecond: 1.0 / 6, RetryAfter: true}})
	send := func(to string) reply {
		return post(t, url+"/v25.0/1/messages", "t", `{"messaging_product":"whatsapp","to":"`+to+`","type":"text","text":{"body":"hi"}}`)
	}
	if r := send("111111"); r.status != 200 {
		t.Fatal(r.raw)
	}
	// Same user again at once: pair limit, about 6 s to wait.
	r := send("111111")
	if code, _ := r.code(); code != 131056 || r.retryAfter != "6" {
		t.Fatalf("pair: %s, retry-after %q", r.raw, r.retryAfter)
	}
	// Read receipts are not throttled.
	if r := post(t, url+"/v25.0/1/messages", "t", `{"messaging_product":"whatsapp","status":"read","message_id":"w"}`); r.status != 200 {
		t.Fatal(r.raw)
	}
	// The pair-limited call spent a channel token; the burst of 2 is gone.
	r = send("222222")
	if code, _ := r.code(); code != 130429 || r.retryAfter != "1" {
		t.Fatalf("throughput: %s, retry-after %q", r.raw, r.retryAfter)
	}
	advance(500 * time.Millisecond)
	if r := send("222222"); r.status != 200 {
		t.Fatalf("after refill: %s", r.raw)
	}
	advance(6 * time.Second)
	if r := send("111111"); r.status != 200 {
		t.Fatalf("pair after 6s: %s", r.raw)
	}
	// Messenger uses 613 and has no pair limit.
	advance(time.Second)
	msg := `{"recipient":{"id":"7"},"messaging_type":"RESPONSE","message":{"text":"hi"}}`
	for i := range 3 {
		r := post(t, url+"/v25.0/me/messages", "t", msg)
		code, _ := r.code()
		if (i < 2 && r.status != 200) || (i == 2 && code != 613) {
			t.Fatalf("messenger call %d: %s", i, r.raw)
		}
	}
}

func TestWaitAndOnCall(t *testing.T) {
	var mu sync.Mutex
	var seen []int64
	fake, url := start(t, graphtest.Options{NoRecord: true, OnCall: func(c graphtest.Call) {
		mu.Lock()
		seen = append(seen, c.Seq)
		mu.Unlock()
	}})
	post(t, url+"/v25.0/me/messages", "t", `{"recipient":{"id":"7"},"sender_action":"mark_seen"}`)
	if len(fake.Calls()) != 0 {
		t.Fatal("NoRecord kept calls")
	}
	mu.Lock()
	if len(seen) != 1 || seen[0] != 1 {
		t.Fatalf("OnCall saw %v", seen)
	}
	mu.Unlock()

	fake2, url2 := start(t, graphtest.Options{})
	done := make(chan error, 1)
	go func() {
		done <- fake2.Wait(t.Context(), func(calls []graphtest.Call) bool { return len(calls) >= 2 })
	}()
	for range 2 {
		post(t, url2+"/v25.0/me/messages", "t", `{"recipient":{"id":"7"},"sender_action":"mark_seen"}`)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return")
	}
}

func TestNotPost(t *testing.T) {
	_, url := start(t, graphtest.Options{})
	res, err := http.Get(url + "/v25.0/me/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	if res.StatusCode != 400 || !strings.Contains(b.String(), `"code":100`) {
		t.Fatalf("%d %s", res.StatusCode, b.String())
	}
}
