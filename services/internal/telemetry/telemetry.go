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
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/corral-ai/corral/services/internal/settings"
)

// Config says how a process reports. The zero value logs at info level,
// as text in a terminal and JSON otherwise, and exports no traces.
type Config struct {
	// ServiceName names the process in traces and metrics (service.name).
	ServiceName string
	// Version is the build version, reported as service.version.
	Version string
	// LogFormat is "auto" (default: text when the log goes to a terminal,
	// JSON otherwise), "json" or "text".
	LogFormat string
	// LogLevel is "debug", "info" (default), "warn" or "error".
	LogLevel string
	// OTLPEndpoint, when set, sends traces over OTLP/HTTP to this http:// or
	// https:// base URL. The exporter reads it and the other standard
	// OTEL_EXPORTER_OTLP_* variables from the environment itself, so the
	// setting is read from the environment only.
	OTLPEndpoint string
}

// Names of the settings Config declares.
const (
	EnvLogFormat    = "CORRAL_LOG_FORMAT"
	EnvLogLevel     = "CORRAL_LOG_LEVEL"
	EnvOTLPEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT"
)

// Settings declares the reporting settings of every Corral process.
func (c *Config) Settings() []settings.Setting {
	return []settings.Setting{
		{Env: EnvLogFormat, Flag: "log-format", Default: "auto", Help: "log format: auto (text in a terminal, else json), json or text",
			Set: settings.String(&c.LogFormat)},
		{Env: EnvLogLevel, Flag: "log-level", Default: "info", Help: "log level: debug, info, warn or error",
			Set: settings.String(&c.LogLevel)},
		{Env: EnvOTLPEndpoint, Help: "standard OTel variable: send traces over OTLP/HTTP to this http(s) URL",
			Set: settings.String(&c.OTLPEndpoint)},
	}
}

// Validate reports settings that cannot work, each as a settings.Problem.
func (c Config) Validate() error {
	var errs []error
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, settings.Problem{Env: EnvLogLevel, Err: err})
	}
	if _, err := formatOf(c.LogFormat); err != nil {
		errs = append(errs, settings.Problem{Env: EnvLogFormat, Err: err})
	}
	if c.OTLPEndpoint != "" {
		if err := checkEndpoint(c.OTLPEndpoint); err != nil {
			errs = append(errs, settings.Problem{Env: EnvOTLPEndpoint, Err: err})
		}
	}
	return errors.Join(errs...)
}

// checkEndpoint accepts what the OTLP/HTTP exporter can send to: an http or
// https URL with a host. The exporter itself drops a bad one without a word,
// leaving tracing off.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want an http:// or https:// URL such as http://collector:4318", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
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

// MeterProvider is the process's meter provider, for components that take
// one instead of using the global.
func (t *Telemetry) MeterProvider() metric.MeterProvider { return t.meter }

// TracerProvider is the process's tracer provider.
func (t *Telemetry) TracerProvider() trace.TracerProvider { return t.tracer }

// Shutdown flushes pending spans and metrics. Safe to call more than once.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	return errors.Join(t.tracer.Shutdown(ctx), t.meter.Shutdown(ctx))
}
