package lifecycle

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Health answers /healthz (the process is up) and /readyz (its backends
// answer and it is not shutting down).
type Health struct {
	mu       sync.RWMutex
	checks   []readyCheck
	draining atomic.Bool
	// Timeout bounds each readiness check (default 2s).
	Timeout time.Duration
}

type readyCheck struct {
	name  string
	check func(ctx context.Context) error
}

// AddCheck adds a readiness check, such as a ping of Redis.
func (h *Health) AddCheck(name string, check func(ctx context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, readyCheck{name, check})
}

// SetDraining makes /readyz fail from now on, so load balancers stop
// sending work while in-flight work drains.
func (h *Health) SetDraining() { h.draining.Store(true) }

// Live serves /healthz.
func (h *Health) Live(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// Ready serves /readyz: 200 with every check "ok", or 503 naming what failed.
func (h *Health) Ready(w http.ResponseWriter, r *http.Request) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	h.mu.RLock()
	checks := append([]readyCheck(nil), h.checks...)
	h.mu.RUnlock()

	status := map[string]string{}
	ok := true
	if h.draining.Load() {
		status["shutdown"] = "draining"
		ok = false
	}
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(checks))
	for _, c := range checks {
		go func() {
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			results <- result{c.name, c.check(ctx)}
		}()
	}
	for range checks {
		res := <-results
		if res.err != nil {
			status[res.name] = res.err.Error()
			ok = false
		} else {
			status[res.name] = "ok"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ready": ok, "checks": status})
}
