package gateway_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/corral-ai/corral/bots/webhook"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/gateway"
)

// FuzzDelivery posts arbitrary bodies, signed or not, to both endpoints of
// a gateway on a real JetStream. An unsigned body is always refused with
// nothing published; a signed one is always answered 200 (published, or
// kept in the DLQ), never a crash or a 4xx/5xx while NATS is up.
func FuzzDelivery(f *testing.F) {
	seeds := [][]byte{
		waBody(waMsg{from: "5215512345678", id: "wamid.F1", text: "hola"}),
		msBody(msText("73", "m_F1", "hi", 1733310000045), msEcho("73", "m_F2", "own", "corral:r:0.0", 1733310000046)),
		[]byte(`{"object":"page","entry":[{"id":1,"messaging":[{"sender":{"id":2},"recipient":{"id":1},"timestamp":"x","postback":{"payload":"GET_STARTED"}}]}]}`),
		[]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":4},"messages":[{"from":5,"id":6,"type":"text","text":{"body":"n"}}]}}]}]}`),
		[]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"id":"w","status":"sent"}]}}]}]}`),
		[]byte(`[]`), []byte(``), []byte(`{"entry":null}`), []byte(`{"object":"page","entry":[[[[[[[[]]]]]]]]}`),
	}
	for _, s := range seeds {
		f.Add(s, true, false)
		f.Add(s, true, true)
		f.Add(s, false, true)
	}
	e := newEnv(f)
	mux := http.NewServeMux()
	e.role.Routes(mux)
	f.Fuzz(func(t *testing.T, body []byte, signed, messenger bool) {
		path := gateway.PathWhatsApp
		if messenger {
			path = gateway.PathMessenger
		}
		before := e.count(t, corralv1.StreamChatIn)
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		if signed {
			req.Header.Set(webhook.SignatureHeader, webhook.Sign(appSecret, body))
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		switch {
		case !signed && rec.Code != http.StatusUnauthorized:
			t.Fatalf("unsigned body answered %d, want 401", rec.Code)
		case !signed && e.count(t, corralv1.StreamChatIn) != before:
			t.Fatal("unsigned body published something")
		case signed && rec.Code != http.StatusOK:
			t.Fatalf("signed body answered %d, want 200", rec.Code)
		}
	})
}
