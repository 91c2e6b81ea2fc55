// Package telemetry sets up what every Corral process reports: structured
// logs that carry trace ids, OpenTelemetry traces (exported over OTLP when an
// endpoint is configured) and metrics served in the Prometheus format.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Config says how a process reports. The zero value logs JSON at info level
// and exports no traces.
type Config struct {
	// ServiceName names the process in traces and metrics (service.name).
	ServiceName string
	// Version is the build version, reported as service.version.
	Version string
	// LogFormat is "json" (default) or "text".
	LogFormat string
	// LogLevel is "debug", "info" (default), "warn" or "error".
	LogLevel string
	// OTLPEndpoint, when set, sends traces over OTLP/HTTP. The exporter reads
	// the other standard OTEL_EXPORTER_OTLP_* variables itself.
	OTLPEndpoint string
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	switch c.LogFormat {
	case "", "json", "text":
	default:
		return fmt.Errorf("log format %q: want json or text", c.LogFormat)
	}
	return nil
}

// Telemetry owns the providers it set up; Shutdown flushes them.
type Telemetry struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry
	tracer   *sdktrace.TracerProvider
	meter    *sdkmetric.MeterProvider
}

// Setup builds the logger, the trace and meter providers, installs them and
// the W3C trace-context propagator as the process globals, and returns what
// must be shut down at exit. Logs go to logOut.
func Setup(ctx context.Context, cfg Config, logOut io.Writer) (*Telemetry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("telemetry config: %w", err)
	}
	logger, err := NewLogger(logOut, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", cfg.ServiceName),
		attribute.String("service.version", cfg.Version),
	))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}

	traceOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if cfg.OTLPEndpoint != "" {
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("otlp trace exporter: %w", err)
		}
		traceOpts = append(traceOpts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(traceOpts...)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	promExp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(promExp))

	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(Propagator())
	return &Telemetry{Logger: logger, Registry: reg, tracer: tp, meter: mp}, nil
}

// Propagator is the W3C trace context and baggage propagator every hop uses.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// MetricsHandler serves the registry in the Prometheus text format.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.Registry, promhttp.HandlerOpts{Registry: t.Registry})
}

// Shutdown flushes pending spans and metrics. Safe to call more than once.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	return errors.Join(t.tracer.Shutdown(ctx), t.meter.Shutdown(ctx))
}
