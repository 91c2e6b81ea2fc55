package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corral-ai/corral/bots/graph"
	"github.com/corral-ai/corral/bots/messenger"
	"github.com/corral-ai/corral/bots/webhook"
	"github.com/corral-ai/corral/bots/whatsapp"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// responder is a small deployment for tests: it checks a webhook's
// signature, acknowledges it, and answers each message through the real
// Send API clients with two parts, as gateway, chat and sender together
// would. Its faults make the losses and duplicates loadgen must catch.
type responder struct {
	t        *testing.T
	verifier *webhook.Verifier
	wa       *whatsapp.Client
	ms       *messenger.Client
	delay    time.Duration

	// dedupe answers a message id once, as Corral does; without it a
	// replayed webhook is answered again.
	dedupe bool
	// dropEvery drops every n-th message after acknowledging it (lost).
	dropEvery int
	// repeatEvery sends the first part of every n-th reply twice.
	repeatEvery int

	mu   sync.Mutex
	seen map[string]bool
	n    atomic.Int64
	wg   sync.WaitGroup
	ctx  context.Context
}

const testSecret = "loadgen-test-secret"

// newResponder serves a responder that sends to the fake Graph API at
// graphURL; it returns its base URL.
func newResponder(t *testing.T, graphURL string, adjust func(*responder)) string {
	t.Helper()
	v, err := webhook.NewVerifier(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := graph.Config{BaseURL: graphURL, Version: graph.DefaultVersion}
	wa, err := whatsapp.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := messenger.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &responder{t: t, verifier: v, wa: wa, ms: ms, delay: 20 * time.Millisecond, dedupe: true, seen: map[string]bool{}, ctx: ctx}
	if adjust != nil {
		adjust(r)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/whatsapp", func(w http.ResponseWriter, req *http.Request) { r.serve(w, req, whatsapp.Parse) })
	mux.HandleFunc("POST /webhooks/messenger", func(w http.ResponseWriter, req *http.Request) { r.serve(w, req, messenger.Parse) })
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		r.wg.Wait()
	})
	return srv.URL
}

func (r *responder) serve(w http.ResponseWriter, req *http.Request, parse func([]byte) (*webhook.Result, error)) {
	body, _ := io.ReadAll(req.Body)
	if err := r.verifier.Verify(req.Header.Get("X-Hub-Signature-256"), body); err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	res, err := parse(body)
	if err != nil {
		r.t.Errorf("loadgen sent a webhook its platform's parser refuses: %v\n%s", err, body)
		w.WriteHeader(http.StatusOK)
		return
	}
	for _, m := range res.Messages {
		r.mu.Lock()
		dup := r.seen[m.GetPlatformMessageId()]
		r.seen[m.GetPlatformMessageId()] = true
		r.mu.Unlock()
		if dup && r.dedupe {
			continue
		}
		n := int(r.n.Add(1))
		if r.dropEvery > 0 && n%r.dropEvery == 0 {
			continue
		}
		r.wg.Go(func() { r.answer(m, r.repeatEvery > 0 && n%r.repeatEvery == 0) })
	}
	w.WriteHeader(http.StatusOK)
}

// answer sends a two-part reply, the way the sender does: WhatsApp quotes
// the message on the first part, Messenger tags each part with metadata.
func (r *responder) answer(m *corralv1.ChatMessage, repeat bool) {
	select {
	case <-time.After(r.delay):
	case <-r.ctx.Done():
		return
	}
	parts := []string{"You said: " + m.GetText(), "Anything else?"}
	replyID := m.DedupeID()
	for i, text := range parts {
		times := 1
		if i == 0 && repeat {
			times = 2
		}
		for range times {
			var err error
			if m.GetPlatform() == corralv1.Platform_PLATFORM_WHATSAPP {
				t := whatsapp.Text{To: m.GetUserId(), Body: text}
				if i == 0 {
					t.ReplyTo = m.GetPlatformMessageId()
				}
				_, err = r.wa.SendText(r.ctx, whatsapp.Channel{PhoneNumberID: m.GetChannelId(), AccessToken: "t"}, t)
			} else {
				_, err = r.ms.SendText(r.ctx, messenger.Channel{PageID: m.GetChannelId(), AccessToken: "t"},
					messenger.Text{To: m.GetUserId(), Text: text, MessagingType: messenger.MessagingResponse,
						Metadata: webhook.OwnSendMetadata(replyID, string(rune('0'+i))+".0")})
			}
			if err != nil && r.ctx.Err() == nil {
				return // a refused send is a lost part; loadgen counts the refusal
			}
		}
	}
}
