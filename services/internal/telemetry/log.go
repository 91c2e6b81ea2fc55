package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/term"
)

// NewLogger builds the process logger: JSON or text records on w at the given
// level, each carrying trace_id and span_id when its context holds a span.
// Format "auto" (or empty) means text when w is a terminal, where a person
// reads it, and JSON otherwise, where a log collector does.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	f, err := formatOf(format)
	if err != nil {
		return nil, err
	}
	if f == "auto" {
		f = "json"
		if isTerminal(w) {
			f = "text"
		}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if f == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(traceHandler{h}), nil
}

// formatOf checks a log format name; empty means auto.
func formatOf(format string) (string, error) {
	switch format {
	case "", "auto":
		return "auto", nil
	case "json", "text":
		return format, nil
	}
	return "", fmt.Errorf("log format %q: want auto, json or text", format)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// traceHandler adds the ids of the span in a record's context, so a log line
// can be found from its trace and the other way round.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
