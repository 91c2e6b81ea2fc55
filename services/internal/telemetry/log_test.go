package telemetry

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// sink is where a test logger writes and how the test reads it back.
type sink func(t *testing.T) (io.Writer, func() string)

func toBuffer(*testing.T) (io.Writer, func() string) {
	var b bytes.Buffer
	return &b, b.String
}

func toFile(t *testing.T) (io.Writer, func() string) {
	f, err := os.Create(t.TempDir() + "/log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, func() string {
		data, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
}

func TestLogFormat(t *testing.T) {
	tests := []struct {
		name     string
		format   string
		out      sink
		wantJSON bool
	}{
		{"auto to a buffer is json", "auto", toBuffer, true},
		{"empty to a buffer is json", "", toBuffer, true},
		{"auto to a file is json", "auto", toFile, true},
		{"text to a file", "text", toFile, false},
		{"json to a terminal", "json", toTerminal, true},
		{"auto to a terminal is text", "auto", toTerminal, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, read := tt.out(t)
			l, err := NewLogger(w, tt.format, "info")
			if err != nil {
				t.Fatal(err)
			}
			l.Info("hello")
			got := read()
			if isJSON := strings.HasPrefix(got, "{"); isJSON != tt.wantJSON || !strings.Contains(got, "hello") {
				t.Errorf("log %q: json = %v, want %v", got, isJSON, tt.wantJSON)
			}
		})
	}
	if _, err := NewLogger(&bytes.Buffer{}, "xml", "info"); err == nil {
		t.Error("format xml accepted")
	}
}
