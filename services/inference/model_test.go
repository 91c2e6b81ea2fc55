package inference

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/model/synth"
	"github.com/corral-ai/corral/services/internal/role"
	"github.com/corral-ai/corral/services/internal/settings"
)

// demoModel writes the demo model into a temporary folder.
func demoModel(t testing.TB) string {
	t.Helper()
	path, _, err := synth.EnsureDemo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// rewrite writes a copy of the GGUF file src: its metadata with edits
// applied (a nil value drops the key; keys with a dropPrefix are dropped),
// and its tensors when keepTensors is set.
func rewrite(t *testing.T, src string, edits map[string]any, dropPrefix string, keepTensors bool) string {
	t.Helper()
	in, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	path := filepath.Join(t.TempDir(), "rewritten.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter(f)
	for _, k := range in.Keys() {
		if dropPrefix != "" && strings.HasPrefix(k, dropPrefix) {
			continue
		}
		v, _ := in.Value(k)
		if e, ok := edits[k]; ok {
			if e == nil {
				continue
			}
			if err := w.Set(k, e); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if keepTensors {
		for _, tn := range in.Tensors() {
			if err := w.AddTensor(tn.Name, tn.Type, tn.Shape...); err != nil {
				t.Fatal(err)
			}
		}
		for _, tn := range in.Tensors() {
			if err := w.WriteTensor(tn.Name, tn.Data()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInspect(t *testing.T) {
	demo := demoModel(t)
	notGGUF := filepath.Join(t.TempDir(), "weights.bin")
	if err := os.WriteFile(notGGUF, []byte("definitely not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want string // in the error; empty means valid
	}{
		{"demo model", demo, ""},
		{"missing", filepath.Join(t.TempDir(), "none.gguf"), "no such file"},
		{"folder", t.TempDir(), "is a folder, want a GGUF file"},
		{"not a GGUF file", notGGUF, "magic"},
		{"vocabulary only", rewrite(t, demo, nil, "", false), "no weights (0 tensors): it holds only a tokenizer vocabulary"},
		{"nothing at all", rewrite(t, demo, nil, "tokenizer.", false), "no weights (0 tensors); want"},
		{"weights without tokenizer", rewrite(t, demo, nil, "tokenizer.", true), "tokenizer"},
		{"unsupported architecture", rewrite(t, demo, map[string]any{gguf.KeyArchitecture: "mamba"}, "", true), `"mamba"`},
		{"missing hyperparameter", rewrite(t, demo, map[string]any{"llama.block_count": nil}, "", true), "block_count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Inspect(tt.path)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if st.Architecture != "llama" || st.Parameters == 0 || st.WeightType == "" || st.ContextLength == 0 ||
					st.Tokenizer != "SentencePiece" || st.VocabSize == 0 || st.FileSize == 0 || st.Path != tt.path {
					t.Errorf("status %+v", st)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Inspect = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestValidateAndVerify(t *testing.T) {
	vocab := rewrite(t, demoModel(t), nil, "", false)
	tests := []struct {
		name         string
		path         string
		validate     string // in Validate's error
		verify       string // in Verify's error
		validateOnly bool
	}{
		{"demo", "", "", "", false},
		{"missing", filepath.Join(t.TempDir(), "none.gguf"), "no such file", "no such file", false},
		{"vocabulary only passes the cheap check", vocab, "", "no weights", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Path = tt.path
			for _, step := range []struct {
				name string
				err  error
				want string
			}{{"Validate", c.Validate(), tt.validate}, {"Verify", c.Verify(t.Context()), tt.verify}} {
				if step.want == "" {
					if step.err != nil {
						t.Errorf("%s = %v", step.name, step.err)
					}
					continue
				}
				var p settings.Problem
				if !errors.As(step.err, &p) || p.Env != EnvModel || !strings.Contains(step.err.Error(), step.want) {
					t.Errorf("%s = %v, want a %s problem containing %q", step.name, step.err, EnvModel, step.want)
				}
			}
		})
	}
}

func TestRoleServesDemoModel(t *testing.T) {
	data := t.TempDir()
	r, err := New(DefaultConfig(), role.Deps{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	st := r.Status()
	if !st.Demo || filepath.Dir(st.Path) != filepath.Join(data, "models") {
		t.Errorf("status %+v: want the demo model in the data folder", st)
	}
	if entries, err := os.ReadDir(filepath.Join(data, "models")); err != nil || len(entries) != 1 || entries[0].Name() != synth.DemoFile {
		t.Errorf("models folder holds %v (%v), want only %s", entries, err, synth.DemoFile)
	}
	mux := http.NewServeMux()
	r.Routes(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/models", nil))
	var body struct {
		Models []map[string]any `json:"models"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 200 || len(body.Models) != 1 {
		t.Fatalf("GET /models = %d %s (%v)", rec.Code, rec.Body, err)
	}
	for _, k := range []string{"path", "architecture", "parameters", "weight_type", "context_length", "tokenizer", "vocab_size", "file_size", "demo"} {
		if _, ok := body.Models[0][k]; !ok {
			t.Errorf("GET /models lacks %s: %s", k, rec.Body)
		}
	}
	if body.Models[0]["demo"] != true {
		t.Errorf("demo = %v", body.Models[0]["demo"])
	}

	check := r.Checks()["model"]
	if check == nil {
		t.Fatalf("checks %v lack model", r.Checks())
	}
	if err := check(t.Context()); err != nil {
		t.Fatalf("check on an unchanged file: %v", err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(st.Path, later, later); err != nil {
		t.Fatal(err)
	}
	if err := check(t.Context()); !errors.Is(err, ErrChanged) {
		t.Errorf("check after the file changed = %v, want ErrChanged", err)
	}
	if err := os.Remove(st.Path); err != nil {
		t.Fatal(err)
	}
	if err := check(t.Context()); err == nil {
		t.Error("check passes with the file gone")
	}

	// A second start finds the demo model already written.
	again, err := New(DefaultConfig(), role.Deps{DataDir: data})
	if err != nil || again.Status().FileSize != st.FileSize {
		t.Fatalf("second New = %v, %v", again, err)
	}
}

func TestNewRefusesVocabularyOnly(t *testing.T) {
	vocab := rewrite(t, demoModel(t), nil, "", false)
	_, err := New(withModel(vocab), role.Deps{DataDir: t.TempDir()})
	var p settings.Problem
	if !errors.As(err, &p) || p.Env != EnvModel || !strings.Contains(err.Error(), "no weights") {
		t.Fatalf("New = %v, want a %s problem about missing weights", err, EnvModel)
	}
}

func TestRunEndsWithContext(t *testing.T) {
	r, err := New(withModel(demoModel(t)), role.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
}

// withModel is the default configuration serving the model in path.
func withModel(path string) Config {
	c := DefaultConfig()
	c.Path = path
	return c
}
