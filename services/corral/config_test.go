package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfigLayers(t *testing.T) {
	env := map[string]string{
		"CORRAL_HTTP_ADDR":  "127.0.0.1:9000",
		"CORRAL_APP_SECRET": " s1, s2 ,,",
		"NATS_URL":          "nats://127.0.0.1:4222",
		"CORRAL_LOG_LEVEL":  "debug",
	}
	cfg, err := parseConfig("serve", []string{"--http", "127.0.0.1:9100", "--shutdown-timeout", "5s"}, envOf(env), io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:9100" {
		t.Errorf("flag should beat env: HTTPAddr = %q", cfg.HTTPAddr)
	}
	if cfg.NATSURL != "nats://127.0.0.1:4222" || cfg.LogLevel != "debug" {
		t.Errorf("env not applied: %+v", cfg)
	}
	if strings.Join(cfg.AppSecrets, "|") != "s1|s2" {
		t.Errorf("AppSecrets = %q", cfg.AppSecrets)
	}
	if cfg.ShutdownTimeout != 5*time.Second || cfg.DataDir != "./data" || cfg.GraphVersion != defaultGraphVersion {
		t.Errorf("defaults or durations wrong: %+v", cfg)
	}
	if d := strings.Join(toStrings(cfg.describe()), " "); strings.Contains(d, "s1") {
		t.Errorf("describe leaks a secret: %s", d)
	}
	withPassword, err := parseConfig("serve", []string{"--redis", "redis://user:hunter2@db:6379/0", "--nats", "nats://a:b@n1:4222,nats://n2:4222"}, envOf(nil), io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := strings.Join(toStrings(withPassword.describe()), " "); strings.Contains(d, "hunter2") || strings.Contains(d, "a:b@") || !strings.Contains(d, "db:6379") {
		t.Errorf("describe must mask URL passwords and keep the rest: %s", d)
	}
}

func toStrings(v []any) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = x.(string)
	}
	return out
}

func TestParseConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"bad http", nil, []string{"--http", "8080"}, []string{"CORRAL_HTTP_ADDR"}},
		{"bad nats scheme", map[string]string{"NATS_URL": "http://x:4222"}, nil, []string{"NATS_URL", "scheme"}},
		{"bad redis", map[string]string{"REDIS_URL": "mysql://x"}, nil, []string{"REDIS_URL"}},
		{"missing model", nil, []string{"--model", filepath.Join(dir, "none.gguf")}, []string{"CORRAL_MODEL", "no such file"}},
		{"model is folder", nil, []string{"--model", dir}, []string{"is a folder"}},
		{"bad graph version", map[string]string{"CORRAL_GRAPH_VERSION": "25"}, nil, []string{"CORRAL_GRAPH_VERSION"}},
		{"bad graph url", nil, []string{"--graph-url", "ftp://graph"}, []string{"CORRAL_GRAPH_URL"}},
		{"bad duration", map[string]string{"CORRAL_SHUTDOWN_TIMEOUT": "soon"}, nil, []string{"CORRAL_SHUTDOWN_TIMEOUT", "soon"}},
		{"bad log format", nil, []string{"--log-format", "xml"}, []string{"CORRAL_LOG_FORMAT"}},
		{"several at once", nil, []string{"--http", "x", "--log-level", "loud"}, []string{"CORRAL_HTTP_ADDR", "CORRAL_LOG_LEVEL"}},
		{"parse and validation errors together", nil,
			[]string{"--http", "foo", "--stream-replicas", "x", "--shutdown-timeout", "5", "--graph-url", "ftp://x", "--log-level", "loud", "--data", ""},
			[]string{"CORRAL_HTTP_ADDR", "CORRAL_STREAM_REPLICAS", "CORRAL_SHUTDOWN_TIMEOUT", "CORRAL_GRAPH_URL", "CORRAL_LOG_LEVEL", "CORRAL_DATA_DIR"}},
		{"negative delay", map[string]string{"CORRAL_SHUTDOWN_DELAY": "-1s"}, nil, []string{"CORRAL_SHUTDOWN_DELAY", "negative"}},
		{"stray argument", nil, []string{"extra"}, []string{"unexpected arguments"}},
		{"unknown flag", nil, []string{"--nope"}, []string{"not defined"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig("serve", tt.args, envOf(tt.env), io.Discard, nil)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestREADMEConfigTable keeps the README's configuration table true: every
// setting appears there with its flag and default.
func TestREADMEConfigTable(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 3 {
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = line
		}
	}
	for _, s := range settings {
		row, ok := rows[s.env]
		if !ok {
			t.Errorf("README configuration table lacks %s", s.env)
			continue
		}
		if s.flag != "" && !strings.Contains(row, "`--"+s.flag+"`") {
			t.Errorf("README row for %s lacks flag --%s: %s", s.env, s.flag, row)
		}
		if s.def != "" && !strings.Contains(row, s.def) {
			t.Errorf("README row for %s lacks default %q: %s", s.env, s.def, row)
		}
	}
}

// TestDeployUsesKnownSettings checks that the deployment files only set
// variables corral reads, so a renamed setting cannot silently stop working.
func TestDeployUsesKnownSettings(t *testing.T) {
	known := map[string]bool{}
	for _, s := range settings {
		known[s.env] = true
	}
	varLine := regexp.MustCompile(`^\s+((?:CORRAL|NATS|REDIS|OTEL)_[A-Z_]+):`)
	for _, f := range []string{"k8s/config.yaml", "compose.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "deploy", f))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(string(data), "\n") {
			if m := varLine.FindStringSubmatch(line); m != nil {
				n++
				if !known[m[1]] {
					t.Errorf("deploy/%s sets %s, which corral does not read", f, m[1])
				}
			}
		}
		if n == 0 {
			t.Errorf("deploy/%s sets no variables; the pattern is out of date", f)
		}
	}
}
