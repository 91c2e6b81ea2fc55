package importrules_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/corral-ai/corral/services/internal/importrules"
)

// TestModuleImports is the check itself: every import of the module, test
// files included, points the allowed way.
func TestModuleImports(t *testing.T) {
	pkgs, err := importrules.List(t.Context(), filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// A listing that silently came back short would pass; make sure it
	// holds what it must.
	byPath := map[string][]string{}
	for _, p := range pkgs {
		byPath[p.Path] = append(byPath[p.Path], p.Imports...) // with its external tests'
	}
	for path, imp := range map[string]string{
		"inference/model":               "inference/kernels",
		"inference/model/synth":         "inference/tokenizer",
		"services/corral":               "inference/shareddata", // a test-only import
		"services/internal/importrules": "",
		"services/internal/natstest":    "services/internal/embedded",
		"inference/kernels":             "",
		"proto/corral/v1":               "",
		"services/internal/lifecycle":   "",
		"services/internal/embedded":    "",
		"services/internal/telemetry":   "",
		"inference/tokenizer":           "inference/gguf",
		"inference/chattemplate":        "inference/tokenizer",
		"inference/llama2c":             "inference/gguf",
		"inference/sample":              "inference/kernels",
		"services/internal/natsbus":     "",
		"inference/shareddata":          "",
		"inference/gguf":                "inference/shareddata", // from its tests
		"inference/bytesize":            "",
	} {
		imports, ok := byPath[path]
		if !ok {
			t.Errorf("package %s missing from the listing", path)
			continue
		}
		if imp != "" && !slices.Contains(imports, imp) {
			t.Errorf("%s: imports %v, want %s among them", path, imports, imp)
		}
	}
	for _, v := range importrules.Check(pkgs) {
		t.Errorf("%v", v)
	}
}

func TestRule(t *testing.T) {
	tests := []struct {
		from, to string
		want     string
	}{
		{"proto/corral/v1", "proto/corral/v2", ""},
		{"proto/corral/v1", "inference/gguf", importrules.RuleProto},
		{"inference/model", "inference/kernels", ""},
		{"inference/engine", "proto/corral/v1", ""},
		{"inference/engine", "services/internal/natsbus", importrules.RuleInference},
		{"inference/safety", "bots/whatsapp", importrules.RuleInference},
		{"inference/model", "persona", importrules.RuleInference},
		{"persona", "proto/corral/v1", ""},
		{"persona/store", "persona", ""},
		{"persona/store", "bots/conversation", importrules.RulePersona},
		{"persona", "services/internal/natsbus", importrules.RulePersona},
		{"persona", "inference/tokenizer", importrules.RulePersona},
		{"bots/whatsapp", "persona", ""},
		{"bots/whatsapp", "proto/corral/v1", ""},
		{"bots/conversation", "bots/whatsapp", ""},
		{"bots/whatsapp", "inference/tokenizer", importrules.RuleBots},
		{"bots/messenger", "services/gateway", importrules.RuleBots},
		{"services/gateway", "bots/whatsapp", ""},
		{"services/chat", "inference/engine", ""},
		{"services/chat", "services/internal/natsbus", ""},
		{"services/gateway/webhook", "services/gateway", ""},
		{"services/corral", "services/gateway", ""},
		{"services/corral/cli", "services/studio/page", ""},
		{"services/chat", "services/gateway", importrules.RuleRole},
		{"services/internal/run", "services/chat", importrules.RuleRole},
		{"deploy", "services/gateway", importrules.RuleRole},
		{"deploy", "services/internal/natsbus", ""},
		{"services/chat", "services/corral", ""}, // the binary is not a role; main cannot be imported anyway
		{"cmd/tool", "inference/gguf", importrules.RuleTopLevel},
		{".", "inference/gguf", importrules.RuleTopLevel},
	}
	for _, tt := range tests {
		t.Run(tt.from+"→"+tt.to, func(t *testing.T) {
			if got := importrules.Rule(tt.from, tt.to); got != tt.want {
				t.Fatalf("Rule(%q, %q) = %q, want %q", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	pkgs := []importrules.Package{
		{Path: "inference/model", Imports: []string{"inference/gguf", "services/corral"}},
		{Path: "bots/whatsapp", Imports: []string{"persona", "inference/tokenizer"}},
		{Path: "services/corral", Imports: []string{"services/gateway", "inference/model"}},
		{Path: "tools/gen"},
		{Path: "persona", Imports: []string{"proto/corral/v1", "inference/chattemplate"}},
		{Path: "persona", XTest: true, Imports: []string{"persona", "inference/chattemplate", "inference/shareddata", "inference/model"}},
	}
	var got []string
	for _, v := range importrules.Check(pkgs) {
		got = append(got, v.String())
	}
	want := []string{
		"bots/whatsapp imports inference/tokenizer: " + importrules.RuleBots,
		"inference/model imports services/corral: " + importrules.RuleInference,
		"persona imports inference/chattemplate: " + importrules.RulePersona,
		"persona imports inference/model: " + importrules.RulePersona,
		"tools/gen: " + importrules.RuleTopLevel,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Check:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestListCatchesWrongImports builds a small module with deliberate wrong
// imports, one of them only in a test file, and runs the real listing and
// check over it.
func TestListCatchesWrongImports(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                           "module example.com/corral\n\ngo 1.26\n",
		"proto/v1/v1.go":                   "package v1\n",
		"services/internal/bus/bus.go":     "package bus\n\nimport _ \"example.com/corral/services/gateway\"\n",
		"services/gateway/gateway.go":      "package gateway\n\nimport _ \"example.com/corral/bots/whatsapp\"\n",
		"services/corral/main.go":          "package main\n\nimport _ \"example.com/corral/services/gateway\"\n\nfunc main() {}\n",
		"bots/whatsapp/whatsapp.go":        "package whatsapp\n\nimport _ \"example.com/corral/proto/v1\"\n",
		"bots/whatsapp/whatsapp_test.go":   "package whatsapp_test\n\nimport _ \"example.com/corral/inference/tokenizer\"\n",
		"inference/tokenizer/tokenizer.go": "package tokenizer\n\nimport _ \"example.com/corral/proto/v1\"\n",
		"inference/engine/engine.go":       "package engine\n\nimport _ \"example.com/corral/services/gateway\"\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkgs, err := importrules.List(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range importrules.Check(pkgs) {
		got = append(got, v.String())
	}
	want := []string{
		"bots/whatsapp imports inference/tokenizer: " + importrules.RuleBots,
		"inference/engine imports services/gateway: " + importrules.RuleInference,
		"services/internal/bus imports services/gateway: " + importrules.RuleRole,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("violations:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
