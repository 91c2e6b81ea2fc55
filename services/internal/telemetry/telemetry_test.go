package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel"
)

func TestLoggerCarriesTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	tel, err := Setup(t.Context(), Config{ServiceName: "test"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })

	ctx, span := otel.Tracer("test").Start(t.Context(), "op")
	tel.Logger.InfoContext(ctx, "inside", "k", "v")
	span.End()
	tel.Logger.Info("outside")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 log lines, got %q", buf.String())
	}
	var in, out map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &in); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &out); err != nil {
		t.Fatal(err)
	}
	if in["trace_id"] != span.SpanContext().TraceID().String() || in["span_id"] != span.SpanContext().SpanID().String() {
		t.Errorf("log inside span: got %v, want trace %s", in, span.SpanContext().TraceID())
	}
	if _, ok := out["trace_id"]; ok {
		t.Errorf("log outside a span has a trace id: %v", out)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{}, ""},
		{"text debug", Config{LogFormat: "text", LogLevel: "debug"}, ""},
		{"auto", Config{LogFormat: "auto"}, ""},
		{"bad format", Config{LogFormat: "xml"}, "CORRAL_LOG_FORMAT: log format"},
		{"bad level", Config{LogLevel: "loud"}, "CORRAL_LOG_LEVEL: log level"},
		{"otlp endpoint", Config{OTLPEndpoint: "https://collector.example:4318"}, ""},
		{"otlp without scheme", Config{OTLPEndpoint: "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"otlp grpc scheme", Config{OTLPEndpoint: "grpc://collector:4317"}, "want an http:// or https:// URL"},
		{"otlp no host", Config{OTLPEndpoint: "http://"}, "has no host"},
		{"otlp not a URL", Config{OTLPEndpoint: "http://a b:1/%zz"}, "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestMetricsHandlerServesOTelInstruments(t *testing.T) {
	tel, err := Setup(t.Context(), Config{ServiceName: "test"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	c, err := otel.Meter("test").Int64Counter("corral_test_events")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(t.Context(), 3)

	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if !strings.Contains(body, "corral_test_events_total 3") {
		t.Errorf("metrics lack the counter:\n%s", body)
	}
	if !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics lack Go runtime metrics")
	}
}

// TestOTLPExportOnShutdown checks that with an endpoint configured, spans
// reach an OTLP/HTTP receiver when the process shuts down.
func TestOTLPExportOnShutdown(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" && r.Method == http.MethodPost {
			posts.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	tel, err := Setup(t.Context(), Config{ServiceName: "test", OTLPEndpoint: srv.URL}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("test").Start(t.Context(), "exported")
	span.End()
	if err := tel.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Fatal("no spans were exported to the OTLP endpoint")
	}
}
