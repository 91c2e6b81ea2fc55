package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/corral-ai/corral/services/inference"
	"github.com/corral-ai/corral/services/internal/backends"
	"github.com/corral-ai/corral/services/internal/role"
	"github.com/corral-ai/corral/services/internal/settings"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// serveConfig parses a `corral serve` configuration.
func serveConfig(args []string, env map[string]string) (*Config, error) {
	return parseConfig("serve", roles, backends.All(), args, envOf(env), io.Discard, nil)
}

func TestParseConfigLayers(t *testing.T) {
	env := map[string]string{
		"CORRAL_HTTP_ADDR": "127.0.0.1:9000",
		"NATS_URL":         "nats://127.0.0.1:4222",
		"CORRAL_LOG_LEVEL": "debug",
		"CORRAL_MODEL":     "/models/x.gguf",
	}
	cfg, err := serveConfig([]string{"--http", "127.0.0.1:9100", "--shutdown-timeout", "5s", "--model", os.Args[0]}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Process.HTTPAddr != "127.0.0.1:9100" {
		t.Errorf("flag should beat env: HTTPAddr = %q", cfg.Process.HTTPAddr)
	}
	if cfg.Backends.NATSURL != "nats://127.0.0.1:4222" || cfg.Telemetry.LogLevel != "debug" {
		t.Errorf("env not applied: %+v", cfg)
	}
	if cfg.Process.ShutdownTimeout != 5*time.Second || cfg.Process.DataDir != "./data" || cfg.Backends.DataDir != "./data" ||
		cfg.Backends.StreamReplicas != 1 || cfg.Telemetry.LogFormat != "auto" {
		t.Errorf("defaults or durations wrong: %+v", cfg)
	}
	withPassword, err := serveConfig([]string{"--redis", "redis://user:hunter2@db:6379/0", "--nats", "nats://a:b@n1:4222,nats://n2:4222", "--api-key", "sk-hunter3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := strings.Join(toStrings(withPassword.describe()), " "); strings.Contains(d, "hunter2") || strings.Contains(d, "hunter3") || strings.Contains(d, "a:b@") || !strings.Contains(d, "db:6379") {
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
		not  []string
	}{
		{"bad http flag", nil, []string{"--http", "8080"}, []string{`--http: "8080" is not host:port`}, []string{"CORRAL_HTTP_ADDR"}},
		{"bad http variable", map[string]string{"CORRAL_HTTP_ADDR": "8080"}, nil, []string{`CORRAL_HTTP_ADDR: "8080"`}, []string{"--http"}},
		{"bad nats scheme", map[string]string{"NATS_URL": "http://x:4222"}, nil, []string{"NATS_URL", "scheme"}, nil},
		{"bad redis", map[string]string{"REDIS_URL": "mysql://x"}, nil, []string{"REDIS_URL"}, nil},
		{"missing model", nil, []string{"--model", filepath.Join(dir, "none.gguf")}, []string{"--model", "no such file"}, nil},
		{"model is folder", map[string]string{"CORRAL_MODEL": dir}, nil, []string{"CORRAL_MODEL", "is a folder"}, nil},
		{"bad duration", map[string]string{"CORRAL_SHUTDOWN_TIMEOUT": "soon"}, nil, []string{`CORRAL_SHUTDOWN_TIMEOUT "soon": not a duration`}, []string{"time:"}},
		{"replicas not a number", nil, []string{"--stream-replicas", "x"}, []string{`--stream-replicas "x": not a whole number`}, []string{"strconv", "Atoi"}},
		{"bad log format", nil, []string{"--log-format", "xml"}, []string{"--log-format"}, nil},
		{"bad otlp endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, nil, []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://"}, nil},
		{"several at once", nil, []string{"--http", "x", "--log-level", "loud"}, []string{"--http", "--log-level"}, nil},
		{"parse and validation errors together", nil,
			[]string{"--http", "foo", "--stream-replicas", "x", "--shutdown-timeout", "5", "--log-level", "loud", "--data", ""},
			[]string{"--http", "--stream-replicas", "--shutdown-timeout", "--log-level", "--data"}, nil},
		{"negative delay", map[string]string{"CORRAL_SHUTDOWN_DELAY": "-1s"}, nil, []string{"CORRAL_SHUTDOWN_DELAY", "negative"}, nil},
		{"negative threads", nil, []string{"--threads", "-1"}, []string{"--threads", "negative"}, nil},
		{"threads not a number", map[string]string{"CORRAL_THREADS": "all"}, nil, []string{`CORRAL_THREADS "all": not a whole number`}, nil},
		{"bad kv type", map[string]string{"CORRAL_KV_TYPE": "q4"}, nil, []string{`CORRAL_KV_TYPE "q4": want f16 or f32`}, nil},
		{"bad kv memory", nil, []string{"--kv-memory", "lots"}, []string{`--kv-memory "lots": not a size`}, nil},
		{"empty queue", map[string]string{"CORRAL_QUEUE_SIZE": "0"}, nil, []string{"CORRAL_QUEUE_SIZE", "want 1 to"}, nil},
		{"no tokens allowed", nil, []string{"--max-tokens", "0"}, []string{"--max-tokens", "want 1 to"}, nil},
		{"stray argument", nil, []string{"extra"}, []string{"takes no arguments"}, nil},
		{"unknown flag", nil, []string{"--nope"}, []string{"not defined"}, nil},
		{"bad graph version", map[string]string{"CORRAL_GRAPH_VERSION": "25"}, nil, []string{"CORRAL_GRAPH_VERSION", "v25.0"}, nil},
		{"bad secret key", map[string]string{"CORRAL_SECRET_KEY": "short"}, nil, []string{"CORRAL_SECRET_KEY", "64 hex digits"}, []string{"short"}},
		{"bad publish timeout", nil, []string{"--gateway-publish-timeout", "1m"}, []string{"--gateway-publish-timeout", "20s"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := serveConfig(tt.args, tt.env)
			if err == nil {
				t.Fatal("want an error")
			}
			if code := exitCode(err); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q should not say %q", err, w)
				}
			}
		})
	}
}

// TestRoleConfigHasOnlyWhatItReads checks that `corral inference`, which
// needs NATS but not Redis, neither offers nor checks the Redis settings.
func TestRoleConfigHasOnlyWhatItReads(t *testing.T) {
	env := map[string]string{"REDIS_URL": "mysql://not-read-by-this-role"}
	inf := []role.Definition{inference.Definition}
	cfg, err := parseConfig("inference", inf, inference.Definition.Needs, nil, envOf(env), io.Discard, nil)
	if err != nil {
		t.Fatalf("a bad REDIS_URL stopped a role that does not use Redis: %v", err)
	}
	var envs []string
	for _, s := range cfg.catalogue.Settings() {
		envs = append(envs, s.Env)
	}
	for _, want := range []string{"CORRAL_HTTP_ADDR", "CORRAL_DATA_DIR", "CORRAL_MODEL", "CORRAL_LOG_FORMAT", "NATS_URL", "CORRAL_THREADS", "CORRAL_API_KEY"} {
		if !slices.Contains(envs, want) {
			t.Errorf("inference settings %v lack %s", envs, want)
		}
	}
	for _, not := range []string{"REDIS_URL", "CORRAL_REDIS_LISTEN"} {
		if slices.Contains(envs, not) {
			t.Errorf("inference settings offer %s", not)
		}
	}
	if _, err := parseConfig("inference", inf, inference.Definition.Needs, []string{"--redis", "redis://x:6379"}, envOf(nil), io.Discard, nil); err == nil {
		t.Error("inference accepts --redis")
	}
}

// comingSettings are the settings the README lists for roles not built
// yet. They keep their names; a role that reads one moves its row up.
var comingSettings []string

// readmeSettings reads the rows of the tables in the README's
// Configuration section: the variable in the first column, and whether the
// row sits under a "coming" heading.
func readmeSettings(t *testing.T) (rows map[string]string, coming map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows, coming = map[string]string{}, map[string]bool{}
	inConfig, inComing := false, false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			inConfig, inComing = line == "## Configuration", false
		case strings.HasPrefix(line, "### ") && inConfig:
			inComing = strings.Contains(strings.ToLower(line), "coming")
		}
		cells := strings.Split(line, "|")
		if !inConfig || len(cells) < 4 {
			continue
		}
		env := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if !regexp.MustCompile(`^[A-Z][A-Z0-9_]+$`).MatchString(env) {
			continue // header or separator row
		}
		rows[env] = line
		coming[env] = inComing
	}
	if len(rows) == 0 {
		t.Fatal("README has no configuration tables under ## Configuration")
	}
	return rows, coming
}

// TestREADMEConfigTable keeps the README's configuration tables true:
// every setting appears with its flag and default, every row names a
// setting the binary has, and the settings of roles still to come are
// listed apart.
func TestREADMEConfigTable(t *testing.T) {
	cfg, err := serveConfig(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, coming := readmeSettings(t)
	known := map[string]settings.Setting{}
	// The settings of serve, then those only the persona-store commands
	// (creator, channel) read.
	all := cfg.catalogue.Settings()
	all = append(all, newStoreCommand("channel add", io.Discard, "", "", true).cat.Settings()...)
	for _, s := range all {
		if _, dup := known[s.Env]; dup {
			continue
		}
		known[s.Env] = s
		row, ok := rows[s.Env]
		switch {
		case !ok:
			t.Errorf("README configuration tables lack %s", s.Env)
			continue
		case coming[s.Env]:
			t.Errorf("README lists %s as coming, but corral reads it: move its row up", s.Env)
		}
		if s.Flag != "" && !strings.Contains(row, "`--"+s.Flag+"`") {
			t.Errorf("README row for %s lacks flag --%s: %s", s.Env, s.Flag, row)
		}
		if s.Default != "" && !strings.Contains(row, s.Default) {
			t.Errorf("README row for %s lacks default %q: %s", s.Env, s.Default, row)
		}
	}
	for env := range rows {
		if _, ok := known[env]; !ok && !coming[env] {
			t.Errorf("README lists %s, which corral does not read, outside the coming settings", env)
		}
	}
	for _, env := range comingSettings {
		if !coming[env] {
			t.Errorf("README does not list %s among the coming settings", env)
		}
	}
}

// TestDeployUsesKnownSettings checks that the deployment files only set
// variables corral reads, so a renamed setting cannot silently stop working.
func TestDeployUsesKnownSettings(t *testing.T) {
	cfg, err := serveConfig(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, s := range cfg.catalogue.Settings() {
		known[s.Env] = true
	}
	for _, f := range []string{"k8s/config.yaml", "compose.yaml"} {
		vars := deployVars(t, f)
		if len(vars) == 0 {
			t.Errorf("deploy/%s sets no variables; the pattern is out of date", f)
		}
		for name := range vars {
			if !known[name] {
				t.Errorf("deploy/%s sets %s, which corral does not read", f, name)
			}
		}
	}
}

// deployVars reads the Corral variables a deployment file sets.
func deployVars(t *testing.T, file string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", file))
	if err != nil {
		t.Fatal(err)
	}
	varLine := regexp.MustCompile(`^\s+((?:CORRAL|NATS|REDIS|OTEL)_[A-Z_]+):\s*(.*)$`)
	vars := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if m := varLine.FindStringSubmatch(line); m != nil {
			vars[m[1]] = strings.Trim(strings.TrimSpace(m[2]), `"'`)
		}
	}
	return vars
}
