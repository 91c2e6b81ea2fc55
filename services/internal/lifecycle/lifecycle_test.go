package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestGroupStopsInReverseAfterGoroutines(t *testing.T) {
	g := NewGroup(t.Context(), slog.New(slog.DiscardHandler))
	var mu sync.Mutex
	var order []string
	record := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	g.OnStop("first", func(context.Context) error { record("stop first"); return nil })
	g.OnStop("second", func(context.Context) error { record("stop second"); return errors.New("boom") })
	started := make(chan struct{})
	g.Go("worker", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		record("worker done")
		return ctx.Err()
	})
	<-started
	err := g.Stop(t.Context())
	if err == nil || !strings.Contains(err.Error(), "stop second: boom") {
		t.Fatalf("Stop = %v, want the failing stop reported", err)
	}
	want := "worker done,stop second,stop first"
	if got := strings.Join(order, ","); got != want {
		t.Fatalf("order = %s, want %s", got, want)
	}
	if err := g.Stop(t.Context()); err != nil {
		t.Fatalf("second Stop = %v, want nil", err)
	}
}

func TestGroupReportsGoroutineErrors(t *testing.T) {
	g := NewGroup(t.Context(), slog.New(slog.DiscardHandler))
	g.Go("bad", func(context.Context) error { return errors.New("broken") })
	<-g.Failed()
	if err := g.Stop(t.Context()); err == nil || !strings.Contains(err.Error(), "bad: broken") {
		t.Fatalf("Stop = %v", err)
	}
}

func TestReady(t *testing.T) {
	tests := []struct {
		name     string
		checks   map[string]error
		draining bool
		want     int
		wantBody string
	}{
		{"no checks", nil, false, 200, `"ready":true`},
		{"all ok", map[string]error{"nats": nil, "redis": nil}, false, 200, `"redis":"ok"`},
		{"one down", map[string]error{"nats": nil, "redis": errors.New("connection refused")}, false, 503, `"redis":"connection refused"`},
		{"draining", map[string]error{"nats": nil}, true, 503, `"shutdown":"draining"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Health
			for name, err := range tt.checks {
				h.AddCheck(name, func(context.Context) error { return err })
			}
			if tt.draining {
				h.SetDraining()
			}
			rec := httptest.NewRecorder()
			h.Ready(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d", rec.Code, tt.want)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body %s lacks %s", rec.Body, tt.wantBody)
			}
			var v map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Errorf("body is not JSON: %v", err)
			}
		})
	}
}
