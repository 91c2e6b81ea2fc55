package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corral-ai/corral/bots/webhook"
	"github.com/corral-ai/corral/inference/bytesize"
	"github.com/corral-ai/corral/services/gateway"
	"github.com/corral-ai/corral/services/internal/gcpace"
)

// BenchmarkWebhook measures accepted webhooks per second and the p99 of
// their answers, over real HTTP on loopback, for:
//
//   - gateway: the gateway role, publishing each message to a real
//     JetStream (NATS_URL, file storage; else an embedded nats-server) and
//     answering after the acknowledgement;
//   - bare: a plain net/http handler that only reads the body and checks
//     its HMAC, the ceiling any webhook endpoint is held to.
//
// Every request is a signed one-message WhatsApp delivery with a new
// message id, sent by 8 clients per CPU. The target is a gateway rate of
// at least half the bare one. Run it against the real NATS with
//
//	NATS_URL=nats://127.0.0.1:4222 go test -run '^$' -bench Webhook -benchtime 20000x ./services/gateway/
func BenchmarkWebhook(b *testing.B) {
	// The GC pacing `corral serve` applies, from the same setting, for
	// both handlers alike; unset, Go's own.
	if v := os.Getenv(gcpace.EnvFloor); v != "" {
		floor, err := bytesize.Parse(v)
		if err != nil {
			b.Fatalf("%s: %v", gcpace.EnvFloor, err)
		}
		defer gcpace.Start(uint64(floor)).Stop()
	}
	b.Run("bare", func(b *testing.B) {
		v, err := webhook.NewVerifier(appSecret)
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, gateway.DefaultMaxBody))
			if err != nil {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
			if v.Verify(r.Header.Get(webhook.SignatureHeader), body) != nil {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.WriteHeader(http.StatusOK)
		}))
		defer srv.Close()
		loadWebhooks(b, srv.URL+gateway.PathWhatsApp)
	})
	b.Run("gateway", func(b *testing.B) {
		e := newEnv(b)
		loadWebhooks(b, e.srv.URL+gateway.PathWhatsApp)
	})
}

// loadWebhooks posts b.N signed webhooks to url from concurrent clients and
// reports their rate and latency percentiles.
func loadWebhooks(b *testing.B, url string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 1024}}
	defer client.CloseIdleConnections()
	var seq atomic.Int64
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var mu sync.Mutex
	var all []time.Duration
	b.SetParallelism(parallelism)
	b.ResetTimer()
	began := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var lat []time.Duration
		for pb.Next() {
			n := seq.Add(1)
			body := waBody(waMsg{from: "5215512345678", id: "wamid.bench." + run + "." + strconv.FormatInt(n, 10), text: "hola, ¿qué tal?"})
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set(webhook.SignatureHeader, webhook.Sign(appSecret, body))
			t0 := time.Now()
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			lat = append(lat, time.Since(t0))
			if res.StatusCode != http.StatusOK {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	elapsed := time.Since(began)
	b.StopTimer()
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "webhooks/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// parallelism is the clients per CPU of BenchmarkWebhook: Meta delivers
// many webhooks at once, and a gateway's rate is its concurrency over its
// latency, which includes a JetStream round trip the bare handler has not.
const parallelism = 8
